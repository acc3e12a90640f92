package hooks_test

// Who receives which post, message and room live (delivery.go), through
// the fan-out and when it falls back to PocketBase's broadcast. The tests
// run the app behind a real HTTP server on loopback and talk to
// /api/realtime the way the JS SDK does (realtimeServer, realtimeClient in
// helpers_test.go). No JS is involved, so these tests pin the wire
// behaviour.
//
// Every "receives nothing" check follows a positive control: the same event
// has already reached a participant, so the quiet window that follows is a
// real wait for a leak, not a race against a slow broadcast.

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Contract: a participant subscribed to messages/* with filter room = "ID"
// gets the room's new messages.
func TestRealtimeParticipantReceivesMessage(t *testing.T) {
	t.Parallel()
	s := newRealtimeServer(t)
	topic := roomMessagesTopic(roomBike)
	bobStream := s.connect(t, bob, topic)

	const text = "can I see it on Saturday?"
	id := s.sendMessage(t, alice, roomBike, text)

	got := bobStream.expectEvent(t, topic, realtimeEventTimeout)
	wantRecord(t, bob, got, "create", map[string]any{"id": id, "text": text, "room": roomBike, "sender": alice})
}

// Contract: anyone but a participant gets nothing, "whatever the topic,
// filter, expand or fields they ask for"; rooms likewise.
func TestRealtimeStrangerReceivesNothing(t *testing.T) {
	t.Parallel()
	filterBike := map[string]string{"filter": fmt.Sprintf("room = %q", roomBike)}

	// Each cause makes an event in roomBike that bob must receive.
	sendBikeMessage := func(t *testing.T, s *realtimeServer) {
		s.sendMessage(t, alice, roomBike, "a new secret about the bike")
	}
	editBikeMessage := func(t *testing.T, s *realtimeServer) {
		// Clients cannot edit messages; the app (as an admin would) can.
		msg, err := s.app.FindRecordById("messages", msgAliceHi)
		if err != nil {
			t.Fatalf("FindRecordById(messages, %q) = %v; want nil", msgAliceHi, err)
		}
		msg.Set("text", "an edited secret about the bike")
		if err := s.app.Save(msg); err != nil {
			t.Fatalf("Save(message %q) = %v; want nil", msgAliceHi, err)
		}
	}

	scenarios := []struct {
		name  string
		topic string // the same subscription for bob, carol and the guest
		cause func(t *testing.T, s *realtimeServer)
	}{
		{"messages/* without filter", "messages/*", sendBikeMessage},
		{"messages/* filtered on the room", withOptions("messages/*", filterBike), sendBikeMessage},
		{"one message by id", "messages/" + msgAliceHi, editBikeMessage},
		{"one message by id with expand", withOptions("messages/"+msgAliceHi, map[string]string{"expand": "room"}), editBikeMessage},
		{"messages/* with expand room", withOptions("messages/*", map[string]string{"expand": "room"}), sendBikeMessage},
		{"messages/* with fields", withOptions("messages/*", map[string]string{"fields": "id,text,room"}), sendBikeMessage},
		{"messages/* with filter, expand and fields", withOptions("messages/*", map[string]string{
			"filter": filterBike["filter"], "expand": "room,sender", "fields": "text,expand.room.last_message",
		}), sendBikeMessage},
		{"rooms/*", "rooms/*", sendBikeMessage},
		{"rooms/* with fields", withOptions("rooms/*", map[string]string{"fields": "id,last_message,unread"}), sendBikeMessage},
		{"one room by id", "rooms/" + roomBike, sendBikeMessage},
		{"one room by id with expand", withOptions("rooms/"+roomBike, map[string]string{"expand": "participants,post"}), sendBikeMessage},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			s := newRealtimeServer(t)
			participant := s.connect(t, bob, sc.topic)
			outsiders := []*realtimeClient{s.connect(t, carol, sc.topic), s.connect(t, "", sc.topic)}

			sc.cause(t, s)

			participant.expectEvent(t, sc.topic, realtimeEventTimeout) // the positive control
			for _, outsider := range outsiders {
				outsider.expectNoEvent(t, realtimeQuietWindow)
			}
		})
	}
}

// Contract: rooms/* gives a user events for the rooms they are in (new
// room, new last message), with "unread" for that user; POST
// /api/rooms/{id}/read sends a room event to the room's participants.
func TestRealtimeRoomEvents(t *testing.T) {
	t.Parallel()
	t.Run("a new message updates the room", func(t *testing.T) {
		s := newRealtimeServer(t)
		bobStream := s.connect(t, bob, "rooms/*")

		const text = "I can lower the price"
		s.sendMessage(t, alice, roomBike, text)

		got := bobStream.expectEvent(t, "rooms/*", realtimeEventTimeout)
		// Bob had 1 unread (msgAliceHi); alice's new message makes 2.
		wantRecord(t, bob, got, "update", map[string]any{"id": roomBike, "last_message": text, "unread": float64(2)})
		// The event's room is the records API's room, field for field.
		view := s.mustRequest(t, http.MethodGet, "/api/collections/rooms/records/"+roomBike, bob, nil, http.StatusOK)
		if !reflect.DeepEqual(got.Record, view) {
			t.Errorf("room event record = %v\nwant the API's view %v", got.Record, view)
		}
	})

	t.Run("marking read sends a room event", func(t *testing.T) {
		s := newRealtimeServer(t)
		bobStream := s.connect(t, bob, "rooms/*")
		aliceStream := s.connect(t, alice, "rooms/*")

		s.mustRequest(t, http.MethodPost, "/api/rooms/"+roomBike+"/read", alice, nil, http.StatusNoContent)

		// Alice's read changes her count only: bob still has msgAliceHi unread.
		gotBob := bobStream.expectEvent(t, "rooms/*", realtimeEventTimeout)
		wantRecord(t, bob, gotBob, "update", map[string]any{"id": roomBike, "unread": float64(1)})
		gotAlice := aliceStream.expectEvent(t, "rooms/*", realtimeEventTimeout)
		wantRecord(t, alice, gotAlice, "update", map[string]any{"id": roomBike, "unread": float64(0)})
	})

	t.Run("the chat button announces the new room", func(t *testing.T) {
		s := newRealtimeServer(t)
		aliceStream := s.connect(t, alice, "rooms/*")
		carolStream := s.connect(t, carol, "rooms/*")
		bobStream := s.connect(t, bob, "rooms/*")

		room := s.mustRequest(t, http.MethodPost, "/api/posts/"+postBike+"/chat", carol, nil, http.StatusCreated)
		roomID, _ := room["id"].(string)

		for _, sc := range []struct {
			who    string
			stream *realtimeClient
		}{{alice, aliceStream}, {carol, carolStream}} {
			got := sc.stream.expectEvent(t, "rooms/*", realtimeEventTimeout)
			wantRecord(t, sc.who, got, "create", map[string]any{"id": roomID, "post": postBike, "unread": float64(0)})
			if participants, _ := got.Record["participants"].([]any); !slices.Contains(participants, any(sc.who)) {
				t.Errorf("%s: new room participants = %v; want them to include %q", sc.who, got.Record["participants"], sc.who)
			}
		}
		bobStream.expectNoEvent(t, realtimeQuietWindow) // not his room
	})
}

// Contract: a user who leaves a room stops receiving its events at once.
func TestRealtimeLeaverStopsReceiving(t *testing.T) {
	t.Parallel()
	s := newRealtimeServer(t)
	messagesTopic := roomMessagesTopic(roomBike)
	bobStream := s.connect(t, bob, messagesTopic, "rooms/*")
	aliceStream := s.connect(t, alice, messagesTopic) // roomBike's last participant: the control

	s.mustRequest(t, http.MethodPatch, "/api/collections/rooms/records/"+roomBike, bob,
		map[string]any{"participants-": bob}, http.StatusOK)

	const text = "pity, bye"
	s.sendMessage(t, alice, roomBike, text)

	got := aliceStream.expectEvent(t, messagesTopic, realtimeEventTimeout)
	wantRecord(t, alice, got, "create", map[string]any{"text": text})
	// Nothing at all: neither the message nor the room it updated.
	bobStream.expectNoEvent(t, realtimeQuietWindow)
}

// Contract: an invited user gets the room's events from then on, on the
// subscriptions they already had (participants changed, new messages).
func TestRealtimeInviteeStartsReceiving(t *testing.T) {
	t.Parallel()
	s := newRealtimeServer(t)
	messagesTopic := roomMessagesTopic(roomBike)
	carolStream := s.connect(t, carol, messagesTopic, "rooms/*") // subscribed before the invite
	bobStream := s.connect(t, bob, messagesTopic)

	s.mustRequest(t, http.MethodPatch, "/api/collections/rooms/records/"+roomBike, alice,
		map[string]any{"participants+": carol}, http.StatusOK)

	invited := carolStream.expectEvent(t, "rooms/*", realtimeEventTimeout)
	wantRecord(t, carol, invited, "update", map[string]any{"id": roomBike})
	if participants, _ := invited.Record["participants"].([]any); !slices.Contains(participants, any(carol)) {
		t.Errorf("carol: room participants after invite = %v; want them to include %q", invited.Record["participants"], carol)
	}

	const text = "carol, meet bob"
	s.sendMessage(t, alice, roomBike, text)

	for _, sc := range []struct {
		who    string
		stream *realtimeClient
	}{{bob, bobStream}, {carol, carolStream}} {
		got := sc.stream.expectEvent(t, messagesTopic, realtimeEventTimeout)
		wantRecord(t, sc.who, got, "create", map[string]any{"text": text, "room": roomBike})
	}
}

// Contract: anyone, signed in or not, gets new posts on posts/* (the live feed).
func TestRealtimeGuestReceivesNewPost(t *testing.T) {
	t.Parallel()
	s := newRealtimeServer(t)
	guestStream := s.connect(t, "", "posts/*")

	const title = "Blue armchair"
	post := s.mustRequest(t, http.MethodPost, "/api/collections/posts/records", alice,
		map[string]any{"title": title, "price": 40}, http.StatusOK)

	got := guestStream.expectEvent(t, "posts/*", realtimeEventTimeout)
	wantRecord(t, "guest", got, "create", map[string]any{"id": post["id"], "title": title, "author": alice})
}

// A room PATCH that changes nothing ({}, the same participants in another
// order, inviting someone already in) answers 200 with the room as the
// records API shows it, stores nothing and sends no realtime event to the
// other participants, on the fan-out and on PocketBase's broadcast; a
// real change (an invite) still does. Room events reach bob in order, so
// the invite being his first event shows that the no-ops sent nothing.
func TestRealtimeNoOpRoomUpdateIsSilent(t *testing.T) {
	t.Parallel()
	for _, mode := range realtimeModes {
		t.Run(mode.name, func(t *testing.T) {
			s := serveRealtime(t, newTestAppWithConfig(t, mode.config))
			bobStream := s.connect(t, bob, "rooms/*")
			roomPath := "/api/collections/rooms/records/" + roomBike
			before := s.mustRequest(t, http.MethodGet, roomPath, alice, nil, http.StatusOK)

			for _, body := range []map[string]any{
				{},
				{"participants": []string{bob, alice}},
				{"participants+": alice},
			} {
				got := s.mustRequest(t, http.MethodPatch, roomPath, alice, body, http.StatusOK)
				if !reflect.DeepEqual(got, before) {
					t.Errorf("PATCH %v answer = %v\nwant the room as it was %v", body, got, before)
				}
			}
			if after := s.mustRequest(t, http.MethodGet, roomPath, alice, nil, http.StatusOK); !reflect.DeepEqual(after, before) {
				t.Errorf("room after the no-op PATCHes = %v\nwant it unchanged %v", after, before)
			}

			s.mustRequest(t, http.MethodPatch, roomPath, alice, map[string]any{"participants+": carol}, http.StatusOK)
			invited := bobStream.expectEvent(t, "rooms/*", realtimeEventTimeout)
			if participants, _ := invited.Record["participants"].([]any); !slices.Contains(participants, any(carol)) {
				t.Errorf("bob's first room event = %v; want the invite (carol among the participants), no event for the no-ops", invited.Record)
			}
			bobStream.expectNoEvent(t, realtimeQuietWindow)
		})
	}
}

// openToSignedIn sets collection's list and view rules to any signed-in
// user, as an admin might in the dashboard.
func openToSignedIn(tb testing.TB, app core.App, collection string) {
	tb.Helper()
	c, err := app.FindCollectionByNameOrId(collection)
	if err != nil {
		tb.Fatal(err)
	}
	signedIn := `@request.auth.id != ""`
	c.ListRule = types.Pointer(signedIn)
	c.ViewRule = types.Pointer(signedIn)
	if err := app.Save(c); err != nil {
		tb.Fatal(err)
	}
}

// TestFanoutFallsBackWhenRulesChange: an admin who widens the messages
// rules in the dashboard gets PocketBase's broadcast, which applies the new
// rule; the fan-out only serves the rules it was written for.
func TestFanoutFallsBackWhenRulesChange(t *testing.T) {
	t.Parallel()
	s := newRealtimeServer(t)
	openToSignedIn(t, s.app, "messages")

	carolStream := s.connect(t, carol, "messages/*", "rooms/*")
	bobStream := s.connect(t, bob, "rooms/*")
	s.sendMessage(t, alice, roomBike, "visible to every signed-in user now")
	ev := carolStream.expectEvent(t, "messages/*", realtimeEventTimeout)
	wantRecord(t, carol, ev, "create", map[string]any{"text": "visible to every signed-in user now"})
	// The room's event still comes from the fan-out, to its participants only.
	ev = bobStream.expectEvent(t, "rooms/*", realtimeEventTimeout)
	wantRecord(t, bob, ev, "update", map[string]any{"id": roomBike, "last_message": "visible to every signed-in user now", "unread": float64(2)})
	carolStream.expectNoEvent(t, realtimeQuietWindow)
}

// TestFanoutFallsBackWhenRoomRulesChange: with the rooms rules changed, a
// new message saves its room the ordinary way, so PocketBase's broadcast
// sends the room event under the new rule, and the message itself still
// goes through the fan-out.
func TestFanoutFallsBackWhenRoomRulesChange(t *testing.T) {
	t.Parallel()
	s := newRealtimeServer(t)
	openToSignedIn(t, s.app, "rooms")

	carolStream := s.connect(t, carol, "rooms/*", "messages/*")
	bobStream := s.connect(t, bob, roomMessagesTopic(roomBike))
	s.sendMessage(t, alice, roomBike, "every signed-in user sees the room now")
	ev := carolStream.expectEvent(t, "rooms/*", realtimeEventTimeout)
	wantRecord(t, carol, ev, "update", map[string]any{"id": roomBike, "last_message": "every signed-in user sees the room now"})
	ev = bobStream.expectEvent(t, roomMessagesTopic(roomBike), realtimeEventTimeout)
	wantRecord(t, bob, ev, "create", map[string]any{"text": "every signed-in user sees the room now"})
	carolStream.expectNoEvent(t, realtimeQuietWindow) // not her room's message
}

// TestFanoutReplacesBuiltinBroadcast: for messages, rooms and posts the
// fan-out ends the after-success chain, so PocketBase's broadcast (bound on
// the model chain after core's record proxy) never sees those events, while
// record after-success hooks bound before it still run. Other collections
// keep the whole chain. A new message updates its room's preview in place:
// the room's record hooks do not run for it (the fan-out sends the room
// event itself, see TestRealtimeRoomEvents).
func TestFanoutReplacesBuiltinBroadcast(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	recordHooks := map[string]int{}
	modelChain := map[string]int{}
	var mu sync.Mutex
	count := func(m map[string]int, name string) {
		mu.Lock()
		defer mu.Unlock()
		m[name]++
	}
	app.OnRecordAfterCreateSuccess().BindFunc(func(e *core.RecordEvent) error {
		count(recordHooks, e.Record.Collection().Name)
		return e.Next()
	})
	app.OnRecordAfterUpdateSuccess().BindFunc(func(e *core.RecordEvent) error {
		count(recordHooks, e.Record.Collection().Name)
		return e.Next()
	})
	// Priority 0 runs after the broadcast's -99: what reaches it reached the broadcast.
	app.OnModelAfterCreateSuccess().BindFunc(func(e *core.ModelEvent) error {
		count(modelChain, e.Model.TableName())
		return e.Next()
	})
	app.OnModelAfterUpdateSuccess().BindFunc(func(e *core.ModelEvent) error {
		count(modelChain, e.Model.TableName())
		return e.Next()
	})

	if err := saveRecord(app, "posts", "postnewfanout01", map[string]any{"title": "Chair", "author": alice}); err != nil {
		t.Fatal(err)
	}
	if err := saveRecord(app, "messages", "msgnewfanout001", map[string]any{"room": roomBike, "sender": bob, "text": "hi"}); err != nil {
		t.Fatal(err)
	}
	room, err := app.FindRecordById("rooms", roomBike)
	if err != nil {
		t.Fatal(err)
	}
	if got := room.GetString("last_message"); got != "hi" {
		t.Fatalf("roomBike's last_message = %q after the message; want %q", got, "hi")
	}
	mu.Lock()
	if recordHooks["rooms"] != 0 {
		t.Errorf("room record hooks ran %d times for a new message; want 0 (preview updated in place)", recordHooks["rooms"])
	}
	mu.Unlock()
	room.Set("participants+", dave)
	if err := app.Save(room); err != nil {
		t.Fatal(err)
	}
	user, err := app.FindRecordById("users", carol)
	if err != nil {
		t.Fatal(err)
	}
	user.Set("name", "Carol K")
	if err := app.Save(user); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, name := range []string{"posts", "messages", "rooms", "users"} {
		if recordHooks[name] != 1 {
			t.Errorf("record after-success hooks ran %d times for %s; want 1", recordHooks[name], name)
		}
	}
	for _, name := range []string{"posts", "messages", "rooms"} {
		if modelChain[name] != 0 {
			t.Errorf("model chain after the broadcast ran %d times for %s; want 0 (fan-out only)", modelChain[name], name)
		}
	}
	if modelChain["users"] != 1 {
		t.Errorf("model chain after the broadcast ran %d times for users; want 1 (PocketBase's broadcast)", modelChain["users"])
	}
}
