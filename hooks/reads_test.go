package hooks_test

// Read state (reads.go): "unread" on every room, POST /api/rooms/{id}/read
// and the read times in "reads".

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"
)

// TestRoomsUnread: "unread" is on every room the API returns and counts
// messages from others stored after the viewer's last read.
func TestRoomsUnread(t *testing.T) {
	t.Parallel()
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

// Hooks a mark-read fires: the read is stored (created the first time,
// updated after) and the room saved, so that its participants get the
// room event. No request hook: the route saves them itself.
var (
	markReadFirstEvents = map[string]int{
		"*": 0, "OnRecordCreate": 1, "OnModelCreate": 1, "OnRecordCreateExecute": 1, "OnModelCreateExecute": 1,
		"OnRecordAfterCreateSuccess": 1, "OnModelAfterCreateSuccess": 1,
		"OnRecordUpdate": 1, "OnModelUpdate": 1, "OnRecordUpdateExecute": 1, "OnModelUpdateExecute": 1,
		"OnRecordAfterUpdateSuccess": 1, "OnModelAfterUpdateSuccess": 1,
		"OnRecordValidate": 2, "OnModelValidate": 2,
	}
	markReadAgainEvents = map[string]int{
		"*": 0, "OnRecordUpdate": 2, "OnModelUpdate": 2, "OnRecordValidate": 2, "OnModelValidate": 2,
		"OnRecordUpdateExecute": 2, "OnModelUpdateExecute": 2,
		"OnRecordAfterUpdateSuccess": 2, "OnModelAfterUpdateSuccess": 2,
	}
)

// TestRoomsMarkRead covers POST /api/rooms/{id}/read.
func TestRoomsMarkRead(t *testing.T) {
	t.Parallel()
	const url = "/api/rooms/" + roomBike + "/read"
	scenarios := []tests.ApiScenario{
		{
			Name:            "guest: 401",
			Method:          http.MethodPost,
			URL:             url,
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusUnauthorized,
			ExpectedEvents:  noEvents,
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
			ExpectedEvents: markReadFirstEvents,
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
			ExpectedEvents: markReadAgainEvents,
			AfterTestFunc:  afterCount("room_reads", 1, dbx.HashExp{"room": roomBike}),
		},
		{
			Name:               "stranger carol: 404",
			Method:             http.MethodPost,
			URL:                url,
			Headers:            auth(carol),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusNotFound,
			ExpectedEvents:     noEvents,
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
			ExpectedEvents:  noEvents,
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
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":404`},
		},
		{
			Name:            "superuser: 403 (reads are per user)",
			Method:          http.MethodPost,
			URL:             url,
			Headers:         auth("superuser"),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusForbidden,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":403`},
			AfterTestFunc:   afterCount("room_reads", 0, dbx.HashExp{"room": roomBike}),
		},
	}
	for _, s := range scenarios {
		s.Test(t)
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

// TestMessagesUnreadAcrossReadsInOneMillisecond: a message stored right
// after a read, in the same millisecond, is unread; a read covers every
// message stored before it, even one whose time is ahead of the clock.
func TestMessagesUnreadAcrossReadsInOneMillisecond(t *testing.T) {
	t.Parallel()
	for _, mode := range realtimeModes {
		t.Run(mode.name, func(t *testing.T) { testUnreadAcrossReads(t, serveRealtime(t, newTestAppWithConfig(t, mode.config))) })
	}
}

func testUnreadAcrossReads(t *testing.T, s *realtimeServer) {
	markRead := "/api/rooms/" + roomBike + "/read"
	unread := func(tb testing.TB) float64 {
		tb.Helper()
		room := s.mustRequest(tb, http.MethodGet, "/api/collections/rooms/records/"+roomBike, bob, nil, http.StatusOK)
		n, ok := room["unread"].(float64)
		if !ok {
			tb.Fatalf("bob's view of the room has unread %v; want a number", room["unread"])
		}
		return n
	}

	for i := range 100 { // a read and a message a fraction of a millisecond apart (without the fix about one round in 20 fails)
		s.mustRequest(t, http.MethodPost, markRead, bob, nil, http.StatusNoContent)
		if err := saveRecord(s.app, "messages", "", map[string]any{"room": roomBike, "sender": alice, "text": fmt.Sprint("right after ", i)}); err != nil {
			t.Fatal(err)
		}
		if got := unread(t); got != 1 {
			t.Fatalf("round %d: unread %v after a read and one message from alice; want 1", i, got)
		}
	}

	// The clock steps back an hour (or another message took that time):
	// a new message still comes after the newest, and a read covers it.
	ahead := time.Now().UTC().Add(time.Hour).Truncate(time.Millisecond)
	if _, err := s.app.DB().NewQuery("UPDATE rooms SET last_message_at = {:at} WHERE id = {:room}").
		Bind(dbx.Params{"at": ahead.Format(types.DefaultDateLayout), "room": roomBike}).Execute(); err != nil {
		t.Fatal(err)
	}
	id := s.sendMessage(t, alice, roomBike, "after the clock stepped back")
	msg, err := s.app.FindRecordById("messages", id)
	if err != nil {
		t.Fatal(err)
	}
	if created := msg.GetDateTime("created").Time(); !created.After(ahead) {
		t.Errorf("created %s; want after the room's newest message at %s", created, ahead)
	}
	if got := unread(t); got != 2 {
		t.Errorf("unread %v; want 2 (the last round's message and this one)", got)
	}
	s.mustRequest(t, http.MethodPost, markRead, bob, nil, http.StatusNoContent)
	if got := unread(t); got != 0 {
		t.Errorf("unread %v after reading; want 0", got)
	}
	s.sendMessage(t, alice, roomBike, "and one more")
	if got := unread(t); got != 1 {
		t.Errorf("unread %v after one more message; want 1", got)
	}
}
