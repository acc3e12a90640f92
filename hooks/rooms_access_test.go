package hooks_test

// Who sees a room and its messages: participants list and view them,
// everyone else learns nothing, not even through filters (rooms.go rules,
// queryguard.go).

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/pocketbase/pocketbase/tests"
)

// roomsSecrets are the fixture room and message ids and texts; a response
// to someone outside every fixture room must contain none of them.
var roomsSecrets = []string{
	roomBike, roomGroup,
	msgBobHello, msgAliceHi, msgDaveGroup,
	textBobHello, textAliceHi, textDaveGroup,
}

// roomBikeSecrets are what a participant of roomGroup only (dave) must not
// learn about roomBike.
var roomBikeSecrets = []string{roomBike, msgBobHello, msgAliceHi, textBobHello, textAliceHi}

// TestRoomsListAndView: only participants list and view a room.
func TestRoomsListAndView(t *testing.T) {
	t.Parallel()
	const list = "/api/collections/rooms/records"
	const view = list + "/" + roomBike
	scenarios := []tests.ApiScenario{
		{
			Name:               "guest lists no rooms",
			Method:             http.MethodGet,
			URL:                list,
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusOK,
			ExpectedContent:    []string{`"totalItems":0`},
			NotExpectedContent: roomsSecrets,
		},
		{
			Name:           "participant bob lists his two rooms",
			Method:         http.MethodGet,
			URL:            list,
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			ExpectedStatus: http.StatusOK,
			ExpectedContent: []string{
				`"totalItems":2`,
				`"id":"` + roomBike + `"`,
				`"id":"` + roomGroup + `"`,
				`"last_message":"` + textAliceHi + `"`,
				`"unread":`,
			},
		},
		{
			Name:               "dave lists roomGroup only",
			Method:             http.MethodGet,
			URL:                list,
			Headers:            auth(dave),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusOK,
			ExpectedContent:    []string{`"totalItems":1`, `"id":"` + roomGroup + `"`},
			NotExpectedContent: roomBikeSecrets,
		},
		{
			Name:               "stranger carol lists no rooms",
			Method:             http.MethodGet,
			URL:                list,
			Headers:            auth(carol),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusOK,
			ExpectedContent:    []string{`"totalItems":0`},
			NotExpectedContent: roomsSecrets,
		},
		{
			Name:            "superuser lists every room",
			Method:          http.MethodGet,
			URL:             list,
			Headers:         auth("superuser"),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"totalItems":2`, `"id":"` + roomBike + `"`, `"id":"` + roomGroup + `"`},
		},
		{
			Name:               "guest views roomBike: 404",
			Method:             http.MethodGet,
			URL:                view,
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusNotFound,
			ExpectedContent:    []string{`"status":404`},
			NotExpectedContent: roomsSecrets,
		},
		{
			Name:           "participant alice views roomBike",
			Method:         http.MethodGet,
			URL:            view,
			Headers:        auth(alice),
			TestAppFactory: newTestApp,
			ExpectedStatus: http.StatusOK,
			ExpectedContent: []string{
				`"id":"` + roomBike + `"`,
				`"post":"` + postBike + `"`,
				`"participants":["` + alice + `","` + bob + `"]`,
				`"last_message":"` + textAliceHi + `"`,
				`"unread":1`,
			},
		},
		{
			Name:               "stranger carol views roomBike: 404",
			Method:             http.MethodGet,
			URL:                view,
			Headers:            auth(carol),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusNotFound,
			ExpectedContent:    []string{`"status":404`},
			NotExpectedContent: roomsSecrets,
		},
		{
			Name:               "dave (roomGroup only) views roomBike: 404",
			Method:             http.MethodGet,
			URL:                view,
			Headers:            auth(dave),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusNotFound,
			ExpectedContent:    []string{`"status":404`},
			NotExpectedContent: roomBikeSecrets,
		},
		{
			Name:            "superuser views roomBike",
			Method:          http.MethodGet,
			URL:             view,
			Headers:         auth("superuser"),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"id":"` + roomBike + `"`, `"last_message":"` + textAliceHi + `"`, `"unread":`},
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

// TestRoomsStrangerLearnsNothing tries every way to learn about a room
// through filter, expand, sort and fields on any collection. Guests and
// the stranger carol must get no room id, message id or message text, and
// no 5xx; bob and the superuser get the data, which shows each probe
// really reaches it.
func TestRoomsStrangerLearnsNothing(t *testing.T) {
	t.Parallel()
	probes := []struct {
		name string
		url  string
		// stranger is what carol and guests must see (besides no secret).
		stranger []string
		// insider is what bob and the superuser see.
		insider []string
		// superuserOnly: bob gets nothing from this probe, not even his
		// own data (PocketBase resolves the filter and the list rule on
		// one join of the same relation), so only the superuser shows the
		// probe reaches the data.
		superuserOnly bool
		// refused: the filter goes through a hidden back-relation, which
		// the query guard refuses (400) to everyone but superusers.
		refused bool
	}{
		{
			name:     "rooms filtered by id",
			url:      `/api/collections/rooms/records?` + roomsFilter(`id="`+roomBike+`"`),
			stranger: []string{`"totalItems":0`},
			insider:  []string{`"totalItems":1`, `"id":"` + roomBike + `"`},
		},
		{
			name:     "rooms sorted by last_message",
			url:      `/api/collections/rooms/records?sort=last_message`,
			stranger: []string{`"totalItems":0`},
			insider:  []string{`"totalItems":2`},
		},
		{
			name:     "rooms with fields id,last_message",
			url:      `/api/collections/rooms/records?fields=id,last_message`,
			stranger: []string{`"totalItems":0`},
			insider:  []string{`"last_message":"` + textAliceHi + `"`},
		},
		{
			name:     "rooms filtered by last_message",
			url:      `/api/collections/rooms/records?` + roomsFilter(`last_message~"secret"`),
			stranger: []string{`"totalItems":0`},
			insider:  []string{`"totalItems":1`, `"id":"` + roomGroup + `"`},
		},
		{
			name:          "rooms filtered by a participant",
			url:           `/api/collections/rooms/records?` + roomsFilter(`participants.id?="`+alice+`"`),
			stranger:      []string{`"totalItems":0`},
			insider:       []string{`"totalItems":2`},
			superuserOnly: true,
		},
		{
			name:     "rooms filtered by post title, with expand",
			url:      `/api/collections/rooms/records?expand=participants,post&` + roomsFilter(`post.title="Bike"`),
			stranger: []string{`"totalItems":0`},
			insider:  []string{`"totalItems":1`, `"id":"` + roomBike + `"`, `"expand":{`},
		},
		{
			name:     "messages expanding their room",
			url:      `/api/collections/messages/records?expand=room`,
			stranger: []string{`"totalItems":0`},
			insider:  []string{`"totalItems":3`, `"expand":{"room":{`},
		},
		{
			name:          "messages filtered by a room participant",
			url:           `/api/collections/messages/records?` + roomsFilter(`room.participants.id?="`+alice+`"`),
			stranger:      []string{`"totalItems":0`},
			insider:       []string{`"totalItems":3`},
			superuserOnly: true,
		},
		{
			name:     "messages filtered by the room's post",
			url:      `/api/collections/messages/records?` + roomsFilter(`room.post="`+postBike+`"`),
			stranger: []string{`"totalItems":0`},
			insider:  []string{`"totalItems":2`},
		},
		{
			name:     "messages filtered by the room's last_message",
			url:      `/api/collections/messages/records?` + roomsFilter(`room.last_message~"bike"`),
			stranger: []string{`"totalItems":0`},
			insider:  []string{`"totalItems":2`},
		},
		{
			name:     "messages filtered by room id",
			url:      `/api/collections/messages/records?` + roomsFilter(`room="`+roomBike+`"`),
			stranger: []string{`"totalItems":0`},
			insider:  []string{`"totalItems":2`, textBobHello},
		},
		{
			name:     "posts expanding the back-relation rooms_via_post",
			url:      `/api/collections/posts/records?expand=rooms_via_post`,
			stranger: []string{`"totalItems":2`, `"id":"` + postBike + `"`},
			insider:  []string{`"rooms_via_post":[{`, `"id":"` + roomBike + `"`},
		},
		{
			name:    "posts filtered through rooms_via_post.last_message",
			url:     `/api/collections/posts/records?` + roomsFilter(`rooms_via_post.last_message~"bike"`),
			refused: true,
			insider: []string{`"totalItems":1`, `"id":"` + postBike + `"`},
		},
		{
			name:    "posts filtered through rooms_via_post.id",
			url:     `/api/collections/posts/records?` + roomsFilter(`rooms_via_post.id="`+roomBike+`"`),
			refused: true,
			insider: []string{`"totalItems":1`, `"id":"` + postBike + `"`},
		},
		{
			name:    "users filtered through rooms_via_participants.last_message",
			url:     `/api/collections/users/records?` + roomsFilter(`rooms_via_participants.last_message?~"bike"`),
			refused: true,
			insider: []string{`"totalItems":2`},
		},
		{
			name:    "users filtered through rooms_via_participants.id",
			url:     `/api/collections/users/records?` + roomsFilter(`rooms_via_participants.id?="`+roomGroup+`"`),
			refused: true,
			insider: []string{`"totalItems":3`},
		},
		{
			name:    "users filtered through messages_via_sender.text",
			url:     `/api/collections/users/records?` + roomsFilter(`messages_via_sender.text?~"secret"`),
			refused: true,
			insider: []string{`"totalItems":1`, `"id":"` + dave + `"`},
		},
		{
			name:    "users filtered through rooms_via_participants.messages_via_room.text",
			url:     `/api/collections/users/records?` + roomsFilter(`rooms_via_participants.messages_via_room.text?~"secret"`),
			refused: true,
			insider: []string{`"totalItems":3`},
		},
		{
			name:     "users expanding rooms_via_participants",
			url:      `/api/collections/users/records?expand=rooms_via_participants`,
			stranger: nil, // carol sees the users, guests none; neither any room
			insider:  []string{`"rooms_via_participants":[{`, `"id":"` + roomBike + `"`},
		},
	}

	var scenarios []tests.ApiScenario
	for _, p := range probes {
		if p.refused {
			for _, actor := range []string{"", carol, bob} {
				scenarios = append(scenarios, tests.ApiScenario{
					Name:               p.name + " as " + actorName(actor) + " is refused",
					Method:             http.MethodGet,
					URL:                p.url,
					Headers:            auth(actor),
					TestAppFactory:     newTestApp,
					ExpectedStatus:     http.StatusBadRequest,
					ExpectedContent:    []string{`"status":400`, `is not allowed`},
					NotExpectedContent: roomsSecrets,
				})
			}
			scenarios = append(scenarios, tests.ApiScenario{
				Name:            p.name + " as the superuser",
				Method:          http.MethodGet,
				URL:             p.url,
				Headers:         auth("superuser"),
				TestAppFactory:  newTestApp,
				ExpectedStatus:  http.StatusOK,
				ExpectedContent: p.insider,
			})
			continue
		}
		for _, actor := range []string{"", carol} {
			scenarios = append(scenarios, tests.ApiScenario{
				Name:               p.name + " as " + actorName(actor),
				Method:             http.MethodGet,
				URL:                p.url,
				Headers:            auth(actor),
				TestAppFactory:     newTestApp,
				ExpectedStatus:     http.StatusOK,
				ExpectedContent:    p.stranger,
				NotExpectedContent: roomsSecrets,
			})
		}
		insiders := []string{bob, "superuser"}
		if p.superuserOnly {
			insiders = insiders[1:]
		}
		for _, actor := range insiders {
			scenarios = append(scenarios, tests.ApiScenario{
				Name:            p.name + " as " + actorName(actor),
				Method:          http.MethodGet,
				URL:             p.url,
				Headers:         auth(actor),
				TestAppFactory:  newTestApp,
				ExpectedStatus:  http.StatusOK,
				ExpectedContent: p.insider,
			})
		}
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

// TestRoomsFilterByParticipant backs the README's advice: "participants ~"
// finds your rooms with a given user, where "participants.id ?=" cannot
// (it shares the access rule's join).
func TestRoomsFilterByParticipant(t *testing.T) {
	t.Parallel()
	scenarios := []tests.ApiScenario{
		{
			Name:            "bob finds his rooms with dave",
			Method:          http.MethodGet,
			URL:             "/api/collections/rooms/records?filter=" + url.QueryEscape(`participants ~ "`+dave+`"`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"totalItems":1`, `"id":"` + roomGroup + `"`},
		},
		{
			Name:               "carol finds nothing with the same filter",
			Method:             http.MethodGet,
			URL:                "/api/collections/rooms/records?filter=" + url.QueryEscape(`participants ~ "`+dave+`"`),
			Headers:            auth(carol),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusOK,
			ExpectedContent:    []string{`"totalItems":0`},
			NotExpectedContent: []string{roomGroup},
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

// roomsFilter is a "filter=" query parameter, URL-encoded.
func roomsFilter(filter string) string {
	return "filter=" + url.QueryEscape(filter)
}
