package hooks_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
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
					Name:               p.name + " as " + roomsActorName(actor) + " is refused",
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
				Name:               p.name + " as " + roomsActorName(actor),
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
				Name:            p.name + " as " + roomsActorName(actor),
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

// TestRoomsUnread: "unread" is on every room the API returns and counts
// messages from others stored after the viewer's last read.
func TestRoomsUnread(t *testing.T) {
	const view = "/api/collections/rooms/records/" + roomBike
	scenarios := []tests.ApiScenario{
		{
			Name:            "bob before reading: alice's message is unread",
			Method:          http.MethodGet,
			URL:             view,
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"unread":1`, `"reads":{}`},
		},
		{
			Name:            "bob's list carries unread",
			Method:          http.MethodGet,
			URL:             "/api/collections/rooms/records?" + roomsFilter(`id="`+roomBike+`"`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"totalItems":1`, `"unread":1`},
		},
		{
			Name:            "bob's expanded room carries unread",
			Method:          http.MethodGet,
			URL:             "/api/collections/messages/records?expand=room&" + roomsFilter(`id="`+msgAliceHi+`"`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"expand":{"room":{`, `"id":"` + roomBike + `"`, `"unread":1`},
		},
		{
			Name:            "bob's room expanded from the post carries unread",
			Method:          http.MethodGet,
			URL:             "/api/collections/posts/records/" + postBike + "?expand=rooms_via_post",
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"rooms_via_post":[{`, `"id":"` + roomBike + `"`, `"unread":1`},
		},
		{
			Name:           "bob after reading: 0, and reads shows his read time",
			Method:         http.MethodGet,
			URL:            view,
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				roomsMarkRead(tb, e, bob, roomBike)
			},
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"unread":0`, `"reads":{"` + bob + `":"`},
			AfterTestFunc:   roomsCheckReadTime(roomBike, bob),
		},
		{
			Name:           "alice after bob read: still 1, and sees bob's read time",
			Method:         http.MethodGet,
			URL:            view,
			Headers:        auth(alice),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				roomsMarkRead(tb, e, bob, roomBike)
			},
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"unread":1`, `"reads":{"` + bob + `":"`},
			AfterTestFunc:   roomsCheckReadTime(roomBike, bob),
		},
		{
			Name:           "bob's read of roomBike leaves roomGroup unread",
			Method:         http.MethodGet,
			URL:            "/api/collections/rooms/records/" + roomGroup,
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				roomsMarkRead(tb, e, bob, roomBike)
			},
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"unread":1`, `"reads":{}`},
		},
		{
			Name:           "a message after bob's read is unread again",
			Method:         http.MethodGet,
			URL:            view,
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				roomsMarkRead(tb, e, bob, roomBike)
				// No pause: a message stored in the read's millisecond
				// still comes after it (stampMessage).
				if err := saveRecord(app, "messages", "", map[string]any{"room": roomBike, "sender": alice, "text": "one more"}); err != nil {
					tb.Fatal(err)
				}
			},
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"unread":1`, `"last_message":"one more"`},
		},
		{
			Name:           "bob's own messages never count as unread",
			Method:         http.MethodGet,
			URL:            view,
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				roomsMarkRead(tb, e, bob, roomBike)
				if err := saveRecord(app, "messages", "", map[string]any{"room": roomBike, "sender": bob, "text": "mine"}); err != nil {
					tb.Fatal(err)
				}
			},
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"unread":0`, `"last_message":"mine"`},
		},
		{
			Name:            "superuser's view carries unread",
			Method:          http.MethodGet,
			URL:             view,
			Headers:         auth("superuser"),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"unread":`},
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

// TestRoomsMarkRead covers POST /api/rooms/{id}/read.
func TestRoomsMarkRead(t *testing.T) {
	const url = "/api/rooms/" + roomBike + "/read"
	scenarios := []tests.ApiScenario{
		{
			Name:            "guest: 401",
			Method:          http.MethodPost,
			URL:             url,
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusUnauthorized,
			ExpectedContent: []string{`"status":401`},
			AfterTestFunc:   afterCount("room_reads", 0, dbx.HashExp{"room": roomBike}),
		},
		{
			Name:           "participant bob: 204 and his read is stored",
			Method:         http.MethodPost,
			URL:            url,
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			ExpectedStatus: http.StatusNoContent,
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				afterCount("room_reads", 1, dbx.HashExp{"room": roomBike})(tb, app, res)
				roomsReadAt(tb, app, roomBike, bob)
			},
		},
		{
			Name:           "participant bob reading twice keeps one read",
			Method:         http.MethodPost,
			URL:            url,
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				roomsMarkRead(tb, e, bob, roomBike)
			},
			ExpectedStatus: http.StatusNoContent,
			AfterTestFunc:  afterCount("room_reads", 1, dbx.HashExp{"room": roomBike}),
		},
		{
			Name:               "stranger carol: 404",
			Method:             http.MethodPost,
			URL:                url,
			Headers:            auth(carol),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusNotFound,
			ExpectedContent:    []string{`"status":404`},
			NotExpectedContent: roomsSecrets,
			AfterTestFunc:      afterCount("room_reads", 0, dbx.HashExp{"room": roomBike}),
		},
		{
			Name:            "dave (roomGroup only): 404",
			Method:          http.MethodPost,
			URL:             url,
			Headers:         auth(dave),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusNotFound,
			ExpectedContent: []string{`"status":404`},
			AfterTestFunc:   afterCount("room_reads", 0, dbx.HashExp{"room": roomBike}),
		},
		{
			Name:            "unknown room: 404",
			Method:          http.MethodPost,
			URL:             "/api/rooms/nosuchroom00001/read",
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusNotFound,
			ExpectedContent: []string{`"status":404`},
		},
		{
			Name:            "superuser: 403 (reads are per user)",
			Method:          http.MethodPost,
			URL:             url,
			Headers:         auth("superuser"),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusForbidden,
			ExpectedContent: []string{`"status":403`},
			AfterTestFunc:   afterCount("room_reads", 0, dbx.HashExp{"room": roomBike}),
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

// TestRoomsCreate: a signed-in user creates a group chat they are in, with
// 2 to 50 participants, no post and no server-maintained field.
func TestRoomsCreate(t *testing.T) {
	const url = "/api/collections/rooms/records"
	refused := func(field string) []string {
		return []string{`"status":400`, `"data":{"` + field + `":{"code":`}
	}
	scenarios := []tests.ApiScenario{
		{
			Name:            "guest: 400, the create rule fails",
			Method:          http.MethodPost,
			URL:             url,
			Body:            strings.NewReader(`{"participants":["` + alice + `","` + bob + `"]}`),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: []string{`"status":400`},
			AfterTestFunc:   afterCount("rooms", 2),
		},
		{
			Name:           "alice creates a group with carol",
			Method:         http.MethodPost,
			URL:            url,
			Body:           strings.NewReader(`{"participants":["` + alice + `","` + carol + `"]}`),
			Headers:        auth(alice),
			TestAppFactory: newTestApp,
			ExpectedStatus: http.StatusOK,
			ExpectedContent: []string{
				`"participants":["` + alice + `","` + carol + `"]`,
				`"post":""`,
				`"last_message":""`,
				`"unread":0`,
			},
			AfterTestFunc: afterCount("rooms", 3),
		},
		{
			Name:           "stranger carol creates a group with dave",
			Method:         http.MethodPost,
			URL:            url,
			Body:           strings.NewReader(`{"participants":["` + carol + `","` + dave + `"]}`),
			Headers:        auth(carol),
			TestAppFactory: newTestApp,
			ExpectedStatus: http.StatusOK,
			ExpectedContent: []string{
				`"participants":["` + carol + `","` + dave + `"]`,
			},
			NotExpectedContent: roomsSecrets,
			AfterTestFunc:      afterCount("rooms", 3),
		},
		{
			Name:            "with post: 400 naming post",
			Method:          http.MethodPost,
			URL:             url,
			Body:            strings.NewReader(`{"participants":["` + alice + `","` + carol + `"],"post":"` + postBike + `"}`),
			Headers:         auth(alice),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("post"),
			AfterTestFunc:   afterCount("rooms", 2),
		},
		{
			Name:            "without the creator: 400 naming participants",
			Method:          http.MethodPost,
			URL:             url,
			Body:            strings.NewReader(`{"participants":["` + bob + `","` + carol + `"]}`),
			Headers:         auth(alice),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("participants"),
			AfterTestFunc:   afterCount("rooms", 2),
		},
		{
			Name:            "one participant: 400 naming participants",
			Method:          http.MethodPost,
			URL:             url,
			Body:            strings.NewReader(`{"participants":["` + alice + `"]}`),
			Headers:         auth(alice),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("participants"),
			AfterTestFunc:   afterCount("rooms", 2),
		},
		{
			Name:            "the creator twice is one participant: 400 naming participants",
			Method:          http.MethodPost,
			URL:             url,
			Body:            strings.NewReader(`{"participants":["` + alice + `","` + alice + `"]}`),
			Headers:         auth(alice),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("participants"),
			AfterTestFunc:   afterCount("rooms", 2),
		},
		{
			Name:            "an unknown user: 400 naming participants",
			Method:          http.MethodPost,
			URL:             url,
			Body:            strings.NewReader(`{"participants":["` + alice + `","nosuchuser00001"]}`),
			Headers:         auth(alice),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("participants"),
			AfterTestFunc:   afterCount("rooms", 2),
		},
		{
			Name:           "50 participants: ok",
			Method:         http.MethodPost,
			URL:            url,
			Body:           strings.NewReader(roomsParticipantsBody(alice, roomsExtraIDs(49)...)),
			Headers:        auth(alice),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				roomsNewUsers(tb, app, 49)
			},
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"participants":["` + alice + `","` + roomsExtraIDs(1)[0] + `"`},
			AfterTestFunc:   afterCount("rooms", 3),
		},
		{
			Name:           "51 participants: 400 naming participants",
			Method:         http.MethodPost,
			URL:            url,
			Body:           strings.NewReader(roomsParticipantsBody(alice, roomsExtraIDs(50)...)),
			Headers:        auth(alice),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				roomsNewUsers(tb, app, 50)
			},
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("participants"),
			AfterTestFunc:   afterCount("rooms", 2),
		},
		{
			Name:            "with last_message: 400 naming last_message",
			Method:          http.MethodPost,
			URL:             url,
			Body:            strings.NewReader(`{"participants":["` + alice + `","` + carol + `"],"last_message":"fake"}`),
			Headers:         auth(alice),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("last_message"),
			AfterTestFunc:   afterCount("rooms", 2),
		},
		{
			Name:            "with last_message_at: 400 naming last_message_at",
			Method:          http.MethodPost,
			URL:             url,
			Body:            strings.NewReader(`{"participants":["` + alice + `","` + carol + `"],"last_message_at":"2030-01-01 00:00:00.000Z"}`),
			Headers:         auth(alice),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("last_message_at"),
			AfterTestFunc:   afterCount("rooms", 2),
		},
		{
			Name:            "with unread: 400 naming unread",
			Method:          http.MethodPost,
			URL:             url,
			Body:            strings.NewReader(`{"participants":["` + alice + `","` + carol + `"],"unread":5}`),
			Headers:         auth(alice),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("unread"),
			AfterTestFunc:   afterCount("rooms", 2),
		},
		{
			Name:            "with reads: 400 naming reads",
			Method:          http.MethodPost,
			URL:             url,
			Body:            strings.NewReader(`{"participants":["` + alice + `","` + carol + `"],"reads":{"` + carol + `":"2030-01-01 00:00:00.000Z"}}`),
			Headers:         auth(alice),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("reads"),
			AfterTestFunc:   afterCount("rooms", 2),
		},
		{
			Name:           "superuser creates a room for alice and carol",
			Method:         http.MethodPost,
			URL:            url,
			Body:           strings.NewReader(`{"participants":["` + alice + `","` + carol + `"]}`),
			Headers:        auth("superuser"),
			TestAppFactory: newTestApp,
			ExpectedStatus: http.StatusOK,
			ExpectedContent: []string{
				`"participants":["` + alice + `","` + carol + `"]`,
			},
			AfterTestFunc: afterCount("rooms", 3),
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

// TestRoomsUpdate: participants invite and leave; nobody joins uninvited,
// removes others or writes server-maintained fields; the last leave
// deletes the room.
func TestRoomsUpdate(t *testing.T) {
	const url = "/api/collections/rooms/records/" + roomBike
	refused := func(field string) []string {
		return []string{`"status":400`, `"data":{"` + field + `":{"code":`}
	}
	unchanged := roomsCheckParticipants(roomBike, alice, bob)
	scenarios := []tests.ApiScenario{
		{
			Name:               "guest invites himself: 404",
			Method:             http.MethodPatch,
			URL:                url,
			Body:               strings.NewReader(`{"participants+":"` + carol + `"}`),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusNotFound,
			ExpectedContent:    []string{`"status":404`},
			NotExpectedContent: roomsSecrets,
			AfterTestFunc:      unchanged,
		},
		{
			Name:           "participant bob invites carol",
			Method:         http.MethodPatch,
			URL:            url,
			Body:           strings.NewReader(`{"participants+":"` + carol + `"}`),
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			ExpectedStatus: http.StatusOK,
			ExpectedContent: []string{
				`"participants":["` + alice + `","` + bob + `","` + carol + `"]`,
				`"unread":`,
			},
			AfterTestFunc: roomsCheckParticipants(roomBike, alice, bob, carol),
		},
		{
			Name:           "participant alice invites carol and dave",
			Method:         http.MethodPatch,
			URL:            url,
			Body:           strings.NewReader(`{"participants+":["` + carol + `","` + dave + `"]}`),
			Headers:        auth(alice),
			TestAppFactory: newTestApp,
			ExpectedStatus: http.StatusOK,
			ExpectedContent: []string{
				`"participants":["` + alice + `","` + bob + `","` + carol + `","` + dave + `"]`,
			},
			AfterTestFunc: roomsCheckParticipants(roomBike, alice, bob, carol, dave),
		},
		{
			Name:               "stranger carol adds herself: 404",
			Method:             http.MethodPatch,
			URL:                url,
			Body:               strings.NewReader(`{"participants+":"` + carol + `"}`),
			Headers:            auth(carol),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusNotFound,
			ExpectedContent:    []string{`"status":404`},
			NotExpectedContent: roomsSecrets,
			AfterTestFunc:      unchanged,
		},
		{
			Name:               "stranger carol sets a list with herself: 404",
			Method:             http.MethodPatch,
			URL:                url,
			Body:               strings.NewReader(`{"participants":["` + alice + `","` + bob + `","` + carol + `"]}`),
			Headers:            auth(carol),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusNotFound,
			ExpectedContent:    []string{`"status":404`},
			NotExpectedContent: roomsSecrets,
			AfterTestFunc:      unchanged,
		},
		{
			Name:               "dave (roomGroup only) adds himself: 404",
			Method:             http.MethodPatch,
			URL:                url,
			Body:               strings.NewReader(`{"participants+":"` + dave + `"}`),
			Headers:            auth(dave),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusNotFound,
			ExpectedContent:    []string{`"status":404`},
			NotExpectedContent: roomBikeSecrets,
			AfterTestFunc:      unchanged,
		},
		{
			Name:            "bob removes alice: 403",
			Method:          http.MethodPatch,
			URL:             url,
			Body:            strings.NewReader(`{"participants-":"` + alice + `"}`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusForbidden,
			ExpectedContent: []string{`"status":403`},
			AfterTestFunc:   unchanged,
		},
		{
			Name:            "bob replaces alice with carol: 403",
			Method:          http.MethodPatch,
			URL:             url,
			Body:            strings.NewReader(`{"participants":["` + bob + `","` + carol + `"]}`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusForbidden,
			ExpectedContent: []string{`"status":403`},
			AfterTestFunc:   unchanged,
		},
		{
			Name:            "bob leaves",
			Method:          http.MethodPatch,
			URL:             url,
			Body:            strings.NewReader(`{"participants-":"` + bob + `"}`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"participants":["` + alice + `"]`},
			AfterTestFunc:   roomsCheckParticipants(roomBike, alice),
		},
		{
			Name:           "bob after leaving views the room: 404",
			Method:         http.MethodGet,
			URL:            url,
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				roomsLeave(tb, e, bob, roomBike)
			},
			ExpectedStatus:     http.StatusNotFound,
			ExpectedContent:    []string{`"status":404`},
			NotExpectedContent: roomBikeSecrets,
		},
		{
			Name:           "bob after leaving lists the room's messages: none",
			Method:         http.MethodGet,
			URL:            "/api/collections/messages/records?" + roomsFilter(`room="`+roomBike+`"`),
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				roomsLeave(tb, e, bob, roomBike)
			},
			ExpectedStatus:     http.StatusOK,
			ExpectedContent:    []string{`"totalItems":0`},
			NotExpectedContent: roomBikeSecrets,
		},
		{
			Name:            "alice leaves",
			Method:          http.MethodPatch,
			URL:             url,
			Body:            strings.NewReader(`{"participants-":"` + alice + `"}`),
			Headers:         auth(alice),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"participants":["` + bob + `"]`},
			AfterTestFunc:   roomsCheckParticipants(roomBike, bob),
		},
		{
			Name:           "the last participant leaves: 204, room and messages deleted",
			Method:         http.MethodPatch,
			URL:            url,
			Body:           strings.NewReader(`{"participants-":"` + bob + `"}`),
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				roomsSetParticipants(tb, app, roomBike, bob) // alice left
			},
			ExpectedStatus: http.StatusNoContent,
			AfterTestFunc:  roomsCheckDeleted(roomBike),
		},
		{
			Name:           "the last participant empties the list: 204, room and messages deleted",
			Method:         http.MethodPatch,
			URL:            url,
			Body:           strings.NewReader(`{"participants":[]}`),
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				roomsSetParticipants(tb, app, roomBike, bob) // alice left
			},
			ExpectedStatus: http.StatusNoContent,
			AfterTestFunc:  roomsCheckDeleted(roomBike),
		},
		{
			Name:            "bob invites an unknown user: 400 naming participants",
			Method:          http.MethodPatch,
			URL:             url,
			Body:            strings.NewReader(`{"participants+":"nosuchuser00001"}`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("participants"),
			AfterTestFunc:   unchanged,
		},
		{
			Name:            "bob writes post: 400 naming post",
			Method:          http.MethodPatch,
			URL:             url,
			Body:            strings.NewReader(`{"post":"` + postLamp + `"}`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("post"),
			AfterTestFunc:   roomsCheckField(roomBike, "post", postBike),
		},
		{
			Name:            "bob clears post: 400 naming post",
			Method:          http.MethodPatch,
			URL:             url,
			Body:            strings.NewReader(`{"post":""}`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("post"),
			AfterTestFunc:   roomsCheckField(roomBike, "post", postBike),
		},
		{
			Name:            "bob writes last_message: 400 naming last_message",
			Method:          http.MethodPatch,
			URL:             url,
			Body:            strings.NewReader(`{"last_message":"fake"}`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("last_message"),
			AfterTestFunc:   roomsCheckField(roomBike, "last_message", textAliceHi),
		},
		{
			Name:            "bob writes last_message_at: 400 naming last_message_at",
			Method:          http.MethodPatch,
			URL:             url,
			Body:            strings.NewReader(`{"last_message_at":"2030-01-01 00:00:00.000Z"}`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("last_message_at"),
		},
		{
			Name:            "bob writes unread: 400 naming unread",
			Method:          http.MethodPatch,
			URL:             url,
			Body:            strings.NewReader(`{"unread":0}`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("unread"),
		},
		{
			Name:            "bob writes reads: 400 naming reads",
			Method:          http.MethodPatch,
			URL:             url,
			Body:            strings.NewReader(`{"reads":{"` + alice + `":"2030-01-01 00:00:00.000Z"}}`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("reads"),
			AfterTestFunc:   afterCount("room_reads", 0, dbx.HashExp{"room": roomBike}),
		},
		{
			Name:           "invite up to 50: ok",
			Method:         http.MethodPatch,
			URL:            url,
			Body:           strings.NewReader(`{"participants+":"` + carol + `"}`),
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				roomsSetParticipants(tb, app, roomBike, append([]string{alice, bob}, roomsNewUsers(tb, app, 47)...)...)
			},
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"` + carol + `"]`},
		},
		{
			Name:           "invite beyond 50: 400 naming participants",
			Method:         http.MethodPatch,
			URL:            url,
			Body:           strings.NewReader(`{"participants+":"` + carol + `"}`),
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				roomsSetParticipants(tb, app, roomBike, append([]string{alice, bob}, roomsNewUsers(tb, app, 48)...)...)
			},
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: refused("participants"),
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				room, err := app.FindRecordById("rooms", roomBike)
				if err != nil {
					tb.Fatalf("find room: %v", err)
				}
				if n := len(room.GetStringSlice("participants")); n != 50 {
					tb.Errorf("participants = %d; want 50", n)
				}
			},
		},
		{
			Name:            "superuser removes alice",
			Method:          http.MethodPatch,
			URL:             url,
			Body:            strings.NewReader(`{"participants-":"` + alice + `"}`),
			Headers:         auth("superuser"),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"participants":["` + bob + `"]`},
			AfterTestFunc:   roomsCheckParticipants(roomBike, bob),
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

// TestRoomsDelete: only superusers delete a room outright.
func TestRoomsDelete(t *testing.T) {
	const url = "/api/collections/rooms/records/" + roomBike
	kept := roomsCheckParticipants(roomBike, alice, bob)
	scenarios := []tests.ApiScenario{
		{
			Name:            "guest: 403",
			Method:          http.MethodDelete,
			URL:             url,
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusForbidden,
			ExpectedContent: []string{`"status":403`},
			AfterTestFunc:   kept,
		},
		{
			Name:            "participant bob: 403",
			Method:          http.MethodDelete,
			URL:             url,
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusForbidden,
			ExpectedContent: []string{`"status":403`},
			AfterTestFunc:   kept,
		},
		{
			Name:               "stranger carol: 403",
			Method:             http.MethodDelete,
			URL:                url,
			Headers:            auth(carol),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusForbidden,
			ExpectedContent:    []string{`"status":403`},
			NotExpectedContent: roomsSecrets,
			AfterTestFunc:      kept,
		},
		{
			Name:           "superuser: 204, messages deleted too",
			Method:         http.MethodDelete,
			URL:            url,
			Headers:        auth("superuser"),
			TestAppFactory: newTestApp,
			ExpectedStatus: http.StatusNoContent,
			AfterTestFunc:  roomsCheckDeleted(roomBike),
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

// roomsActorName names a fixture user id (or "superuser", or "" for a
// guest) in scenario names.
func roomsActorName(id string) string {
	switch id {
	case "":
		return "guest"
	case alice:
		return "alice"
	case bob:
		return "bob"
	case carol:
		return "carol"
	case dave:
		return "dave"
	case erin:
		return "erin"
	}
	return id
}

// roomsExtraIDs are the ids roomsNewUsers gives its first n users.
func roomsExtraIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("extrauser%06d", i)
	}
	return ids
}

// roomsNewUsers saves n users with the ids roomsExtraIDs(n) and returns
// those ids. They share alice's password hash (hashing 50 passwords would
// dominate the test's time).
func roomsNewUsers(tb testing.TB, app core.App, n int) []string {
	tb.Helper()
	a, err := app.FindRecordById("users", alice)
	if err != nil {
		tb.Fatalf("find alice: %v", err)
	}
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		tb.Fatalf("find users: %v", err)
	}
	ids := roomsExtraIDs(n)
	for _, id := range ids {
		u := core.NewRecord(users)
		u.Id = id
		u.SetEmail(id + "@example.com")
		u.SetRaw("password", &core.PasswordFieldValue{Hash: a.GetString("password:hash")})
		u.Set("name", "Extra")
		if err := app.Save(u); err != nil {
			tb.Fatalf("save user %q: %v", id, err)
		}
	}
	return ids
}

// roomsParticipantsBody is a room create body with the given participants.
func roomsParticipantsBody(first string, rest ...string) string {
	return `{"participants":["` + strings.Join(append([]string{first}, rest...), `","`) + `"]}`
}

// roomsSetParticipants sets roomID's participants directly in the app, as
// if they had joined or left.
func roomsSetParticipants(tb testing.TB, app core.App, roomID string, participants ...string) {
	tb.Helper()
	room, err := app.FindRecordById("rooms", roomID)
	if err != nil {
		tb.Fatalf("find room %q: %v", roomID, err)
	}
	room.Set("participants", participants)
	if err := app.Save(room); err != nil {
		tb.Fatalf("save room %q: %v", roomID, err)
	}
}

// roomsMarkRead marks roomID read for userID through the scenario's router.
func roomsMarkRead(tb testing.TB, e *core.ServeEvent, userID, roomID string) {
	tb.Helper()
	status, body := serveInScenario(tb, e, http.MethodPost, "/api/rooms/"+roomID+"/read", tokens[userID], "")
	if status != http.StatusNoContent {
		tb.Fatalf("mark %q read as %q = %d %s; want 204", roomID, userID, status, body)
	}
}

// roomsLeave makes userID leave roomID through the scenario's router.
func roomsLeave(tb testing.TB, e *core.ServeEvent, userID, roomID string) {
	tb.Helper()
	status, body := serveInScenario(tb, e, http.MethodPatch, "/api/collections/rooms/records/"+roomID,
		tokens[userID], `{"participants-":"`+userID+`"}`)
	if status != http.StatusOK {
		tb.Fatalf("%q leaves %q = %d %s; want 200", userID, roomID, status, body)
	}
}

// roomsReadAt returns the stored last read time of roomID by userID.
func roomsReadAt(tb testing.TB, app core.App, roomID, userID string) string {
	tb.Helper()
	read, err := app.FindFirstRecordByFilter("room_reads", "room = {:room} && user = {:user}",
		dbx.Params{"room": roomID, "user": userID})
	if err != nil {
		tb.Fatalf("find read of %q by %q: %v", roomID, userID, err)
	}
	return read.GetDateTime("last_read_at").String()
}

// roomsCheckReadTime returns an AfterTestFunc checking that the room in
// the response shows userID's stored read time in "reads".
func roomsCheckReadTime(roomID, userID string) func(testing.TB, *tests.TestApp, *http.Response) {
	return func(tb testing.TB, app *tests.TestApp, res *http.Response) {
		tb.Helper()
		want := roomsReadAt(tb, app, roomID, userID)
		reads, _ := decodeObject(tb, res)["reads"].(map[string]any)
		if got := reads[userID]; got != want {
			tb.Errorf("reads[%q] of %q = %v; want %q", userID, roomID, got, want)
		}
	}
}

// roomsCheckParticipants returns an AfterTestFunc checking roomID's
// participants.
func roomsCheckParticipants(roomID string, want ...string) func(testing.TB, *tests.TestApp, *http.Response) {
	return func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
		tb.Helper()
		room, err := app.FindRecordById("rooms", roomID)
		if err != nil {
			tb.Fatalf("find room %q: %v", roomID, err)
		}
		if got := room.GetStringSlice("participants"); !slices.Equal(got, want) {
			tb.Errorf("participants of %q = %v; want %v", roomID, got, want)
		}
	}
}

// roomsCheckField returns an AfterTestFunc checking a stored room field.
func roomsCheckField(roomID, field, want string) func(testing.TB, *tests.TestApp, *http.Response) {
	return func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
		tb.Helper()
		room, err := app.FindRecordById("rooms", roomID)
		if err != nil {
			tb.Fatalf("find room %q: %v", roomID, err)
		}
		if got := room.GetString(field); got != want {
			tb.Errorf("%s of %q = %q; want %q", field, roomID, got, want)
		}
	}
}

// roomsCheckDeleted returns an AfterTestFunc checking that roomID and its
// messages are gone.
func roomsCheckDeleted(roomID string) func(testing.TB, *tests.TestApp, *http.Response) {
	return func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
		tb.Helper()
		if _, err := app.FindRecordById("rooms", roomID); err == nil {
			tb.Errorf("room %q still exists; want it deleted", roomID)
		}
		checkCount(tb, app, "messages", 0, dbx.HashExp{"room": roomID})
	}
}

// TestRoomsFilterByParticipant backs the README's advice: "participants ~"
// finds your rooms with a given user, where "participants.id ?=" cannot
// (it shares the access rule's join).
func TestRoomsFilterByParticipant(t *testing.T) {
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
