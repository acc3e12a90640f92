package hooks_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/tests"
)

// muteEvents: a mute saved (or removed) inside the route, by its own
// record events.
var muteEvents = map[string]int{
	"*":              0,
	"OnRecordCreate": 1, "OnModelCreate": 1, "OnRecordValidate": 1, "OnModelValidate": 1,
	"OnRecordCreateExecute": 1, "OnModelCreateExecute": 1,
	"OnRecordAfterCreateSuccess": 1, "OnModelAfterCreateSuccess": 1,
}

// TestMuteRoute: POST /api/rooms/{id}/mute, one row per actor.
func TestMuteRoute(t *testing.T) {
	t.Parallel()
	path := "/api/rooms/" + roomBike + "/mute"
	muted := func(user string, want int) func(testing.TB, *tests.TestApp, *http.Response) {
		return afterCount("room_mutes", want, dbx.HashExp{"room": roomBike, "user": user})
	}
	scenarios := []tests.ApiScenario{
		{Name: "guest", Method: http.MethodPost, URL: path, Body: strings.NewReader(`{"muted":true}`),
			ExpectedStatus: 401, ExpectedContent: []string{`"data":{}`}, ExpectedEvents: noEvents},
		{Name: "carol, not in the room", Method: http.MethodPost, URL: path, Headers: auth(carol), Body: strings.NewReader(`{"muted":true}`),
			ExpectedStatus: 404, ExpectedContent: []string{`"data":{}`}, ExpectedEvents: noEvents, AfterTestFunc: afterCount("room_mutes", 0)},
		{Name: "dave, in another room of alice and bob", Method: http.MethodPost, URL: path, Headers: auth(dave), Body: strings.NewReader(`{"muted":true}`),
			ExpectedStatus: 404, ExpectedContent: []string{`"data":{}`}, ExpectedEvents: noEvents, AfterTestFunc: afterCount("room_mutes", 0)},
		{Name: "a room that does not exist", Method: http.MethodPost, URL: "/api/rooms/nosuchroom00000/mute", Headers: auth(bob), Body: strings.NewReader(`{"muted":true}`),
			ExpectedStatus: 404, ExpectedContent: []string{`"data":{}`}, ExpectedEvents: noEvents},
		{Name: "bob mutes", Method: http.MethodPost, URL: path, Headers: auth(bob), Body: strings.NewReader(`{"muted":true}`),
			ExpectedStatus: 204, ExpectedEvents: muteEvents, AfterTestFunc: muted(bob, 1)},
		{Name: "bob unmutes what is not muted", Method: http.MethodPost, URL: path, Headers: auth(bob), Body: strings.NewReader(`{"muted":false}`),
			ExpectedStatus: 204, ExpectedEvents: noEvents, AfterTestFunc: muted(bob, 0)},
		{Name: "no muted", Method: http.MethodPost, URL: path, Headers: auth(bob), Body: strings.NewReader(`{}`),
			ExpectedStatus: 400, ExpectedContent: []string{`"muted":{"code":"validation_required"`}, ExpectedEvents: noEvents},
		{Name: "muted not a bool", Method: http.MethodPost, URL: path, Headers: auth(bob), Body: strings.NewReader(`{"muted":"yes"}`),
			ExpectedStatus: 400, ExpectedContent: []string{`"muted":{"code":"validation_required"`}, ExpectedEvents: noEvents},
	}
	for _, sc := range scenarios {
		sc.TestAppFactory = newTestApp
		sc.Test(t)
	}
}

// TestMutedOnRooms: "muted" is the viewer's own, on views, lists and
// realtime room events; unmuting turns it back.
func TestMutedOnRooms(t *testing.T) {
	t.Parallel()
	s := newRealtimeServer(t)
	s.mustRequest(t, http.MethodPost, "/api/rooms/"+roomBike+"/mute", bob, map[string]any{"muted": true}, http.StatusNoContent)

	for user, want := range map[string]bool{bob: true, alice: false} {
		room := s.mustRequest(t, http.MethodGet, "/api/collections/rooms/records/"+roomBike, user, nil, http.StatusOK)
		if room["muted"] != want {
			t.Errorf("view as %s: muted = %v; want %v", actorName(user), room["muted"], want)
		}
	}
	list := s.mustRequest(t, http.MethodGet, "/api/collections/rooms/records?sort=id", bob, nil, http.StatusOK)
	items, _ := list["items"].([]any)
	for _, item := range items {
		room, _ := item.(map[string]any)
		if want := room["id"] == roomBike; room["muted"] != want {
			t.Errorf("bob's list: room %v muted = %v; want %v", room["id"], room["muted"], want)
		}
	}

	bobLive := s.connect(t, bob, "rooms/*")
	aliceLive := s.connect(t, alice, "rooms/*")
	s.sendMessage(t, alice, roomBike, "muted or not")
	wantRecord(t, "bob", bobLive.expectEvent(t, "rooms/*", realtimeEventTimeout), "update", map[string]any{"id": roomBike, "muted": true})
	wantRecord(t, "alice", aliceLive.expectEvent(t, "rooms/*", realtimeEventTimeout), "update", map[string]any{"id": roomBike, "muted": false})

	s.mustRequest(t, http.MethodPost, "/api/rooms/"+roomBike+"/mute", bob, map[string]any{"muted": false}, http.StatusNoContent)
	if room := s.mustRequest(t, http.MethodGet, "/api/collections/rooms/records/"+roomBike, bob, nil, http.StatusOK); room["muted"] != false {
		t.Errorf("after unmuting: muted = %v; want false", room["muted"])
	}
}
