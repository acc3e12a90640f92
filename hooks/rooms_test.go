package hooks_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
)

// Hooks that delete roomBike with its two messages (three records): the
// last participant's leave (through the update request, the room is
// deleted instead of saved empty) and a superuser's delete.
var (
	lastLeaveEvents = map[string]int{
		"*": 0, "OnRecordUpdateRequest": 1,
		"OnRecordDelete": 3, "OnModelDelete": 3, "OnRecordDeleteExecute": 3, "OnModelDeleteExecute": 3,
		"OnRecordAfterDeleteSuccess": 3, "OnModelAfterDeleteSuccess": 3,
	}
	roomDeletedEvents = map[string]int{
		"*": 0, "OnRecordDeleteRequest": 1,
		"OnRecordDelete": 3, "OnModelDelete": 3, "OnRecordDeleteExecute": 3, "OnModelDeleteExecute": 3,
		"OnRecordAfterDeleteSuccess": 3, "OnModelAfterDeleteSuccess": 3,
	}
)

// TestRoomsCreate: a signed-in user creates a group chat they are in, with
// 2 to 50 participants, no post and no server-maintained field.
func TestRoomsCreate(t *testing.T) {
	t.Parallel()
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
			ExpectedEvents:  noEvents,
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
			ExpectedEvents: createdEvents,
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
			ExpectedEvents: createdEvents,
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
			ExpectedEvents:  createRefusedEvents,
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
			ExpectedEvents:  createRefusedEvents,
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
			ExpectedEvents:  createInvalidEvents,
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
			ExpectedEvents:  createInvalidEvents,
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
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: refused("participants"),
			AfterTestFunc:   afterCount("rooms", 2),
		},
		{
			Name:           "50 participants: ok",
			Method:         http.MethodPost,
			URL:            url,
			Body:           strings.NewReader(roomsParticipantsBody(alice, extraUserIDs(49)...)),
			Headers:        auth(alice),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				saveExtraUsers(tb, app, 49)
			},
			ExpectedStatus:  http.StatusOK,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"participants":["` + alice + `","` + extraUserIDs(1)[0] + `"`},
			AfterTestFunc:   afterCount("rooms", 3),
		},
		{
			Name:           "51 participants: 400 naming participants",
			Method:         http.MethodPost,
			URL:            url,
			Body:           strings.NewReader(roomsParticipantsBody(alice, extraUserIDs(50)...)),
			Headers:        auth(alice),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				saveExtraUsers(tb, app, 50)
			},
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedEvents:  createInvalidEvents,
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
			ExpectedEvents:  createRefusedEvents,
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
			ExpectedEvents:  createRefusedEvents,
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
			ExpectedEvents:  createRefusedEvents,
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
			ExpectedEvents:  createRefusedEvents,
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
			ExpectedEvents: createdEvents,
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
	t.Parallel()
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
			ExpectedEvents:     noEvents,
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
			ExpectedEvents: updatedEvents,
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
			ExpectedEvents: updatedEvents,
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
			ExpectedEvents:     noEvents,
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
			ExpectedEvents:     noEvents,
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
			ExpectedEvents:     noEvents,
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
			ExpectedEvents:  updateRefusedEvents,
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
			ExpectedEvents:  updateRefusedEvents,
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
			ExpectedEvents:  updatedEvents,
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
			ExpectedEvents:  updatedEvents,
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
			ExpectedEvents: lastLeaveEvents,
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
			ExpectedEvents: lastLeaveEvents,
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
			ExpectedEvents:  updateInvalidEvents,
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
			ExpectedEvents:  updateRefusedEvents,
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
			ExpectedEvents:  updateRefusedEvents,
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
			ExpectedEvents:  updateRefusedEvents,
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
			ExpectedEvents:  updateRefusedEvents,
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
			ExpectedEvents:  updateRefusedEvents,
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
			ExpectedEvents:  updateRefusedEvents,
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
				roomsSetParticipants(tb, app, roomBike, append([]string{alice, bob}, saveExtraUsers(tb, app, 47)...)...)
			},
			ExpectedStatus:  http.StatusOK,
			ExpectedEvents:  updatedEvents,
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
				roomsSetParticipants(tb, app, roomBike, append([]string{alice, bob}, saveExtraUsers(tb, app, 48)...)...)
			},
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedEvents:  updateInvalidEvents,
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
			ExpectedEvents:  updatedEvents,
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
	t.Parallel()
	const url = "/api/collections/rooms/records/" + roomBike
	kept := roomsCheckParticipants(roomBike, alice, bob)
	scenarios := []tests.ApiScenario{
		{
			Name:            "guest: 403",
			Method:          http.MethodDelete,
			URL:             url,
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusForbidden,
			ExpectedEvents:  noEvents,
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
			ExpectedEvents:  noEvents,
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
			ExpectedEvents:     noEvents,
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
			ExpectedEvents: roomDeletedEvents,
			AfterTestFunc:  roomsCheckDeleted(roomBike),
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
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

// roomsLeave makes userID leave roomID through the scenario's router.
func roomsLeave(tb testing.TB, e *core.ServeEvent, userID, roomID string) {
	tb.Helper()
	status, body := serveInScenario(tb, e, http.MethodPatch, "/api/collections/rooms/records/"+roomID,
		tokens[userID], `{"participants-":"`+userID+`"}`)
	if status != http.StatusOK {
		tb.Fatalf("%q leaves %q = %d %s; want 200", userID, roomID, status, body)
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
