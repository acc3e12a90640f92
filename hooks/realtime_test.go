package hooks_test

// Realtime tests run the app behind a real HTTP server on loopback and talk
// to /api/realtime the way the JS SDK does: GET opens the SSE stream and
// answers PB_CONNECT with a clientId, POST sets the subscriptions with the
// user's token. No JS is involved, so these tests pin the wire behaviour.
//
// Every "receives nothing" check follows a positive control: the same event
// has already reached a participant, so the quiet window that follows is a
// real wait for a leak, not a race against a slow broadcast.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/tests"

	"github.com/marketchat/marketchat/hooks"
	"github.com/marketchat/marketchat/internal/sse"
	"github.com/marketchat/marketchat/realtime"
)

const (
	// realtimeEventTimeout bounds every wait for an event or a response.
	realtimeEventTimeout = 5 * time.Second

	// realtimeQuietWindow is how long a client that must get nothing is
	// watched after a participant has already received the same event.
	realtimeQuietWindow = 300 * time.Millisecond
)

// realtimeServer is a test app served over HTTP on 127.0.0.1.
type realtimeServer struct {
	app *tests.TestApp
	srv *httptest.Server
	// tokens overrides the fixture tokens for users made by one test.
	tokens map[string]string
}

// newRealtimeServer serves a fresh test app the way PocketBase's
// tests.ApiScenario builds it (router, OnServe so the project's routes are
// bound, BuildMux), but on a real loopback listener so SSE streams work.
func newRealtimeServer(tb testing.TB) *realtimeServer {
	tb.Helper()
	return serveRealtime(tb, newTestApp(tb))
}

// serveRealtime serves app on a loopback listener like newRealtimeServer.
func serveRealtime(tb testing.TB, app *tests.TestApp) *realtimeServer {
	tb.Helper()
	handler := appHandler(tb, app)

	srv := httptest.NewServer(handler)
	// Registered after newTestApp's cleanup and before any client's, so
	// clients disconnect first, then the server stops, then the app goes.
	tb.Cleanup(srv.Close)
	return &realtimeServer{app: app, srv: srv}
}

// request sends a JSON request as userID ("" for a guest) and returns the
// status and body.
func (s *realtimeServer) request(tb testing.TB, method, path, userID string, body any) (int, []byte) {
	tb.Helper()
	var reader io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			tb.Fatalf("json.Marshal(%v) = %v; want nil", body, err)
		}
		reader = bytes.NewReader(data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), realtimeEventTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.srv.URL+path, reader)
	if err != nil {
		tb.Fatalf("http.NewRequest(%q, %q) = %v; want nil", method, path, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if userID != "" {
		req.Header.Set("Authorization", cmp.Or(s.tokens[userID], tokens[userID]))
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s = %v; want a response", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("read %s %s body = %v; want nil", method, path, err)
	}
	return resp.StatusCode, data
}

// mustRequest is request that fails the test unless the status is want,
// and decodes the JSON answer (nil for an empty one).
func (s *realtimeServer) mustRequest(tb testing.TB, method, path, userID string, body any, want int) map[string]any {
	tb.Helper()
	status, data := s.request(tb, method, path, userID, body)
	if status != want {
		tb.Fatalf("%s %s as %q = %d %s; want %d", method, path, userID, status, data, want)
	}
	if len(data) == 0 {
		return nil
	}
	var decoded map[string]any
	if err := json.Unmarshal(data, &decoded); err != nil {
		tb.Fatalf("decode %s %s answer %s = %v; want nil", method, path, data, err)
	}
	return decoded
}

// sendMessage posts text to roomID as senderID through the records API and
// returns the new message's id.
func (s *realtimeServer) sendMessage(tb testing.TB, senderID, roomID, text string) string {
	tb.Helper()
	msg := s.mustRequest(tb, http.MethodPost, "/api/collections/messages/records", senderID,
		map[string]any{"room": roomID, "text": text}, http.StatusOK)
	id, _ := msg["id"].(string)
	return id
}

// sseEvent is one server-sent event.
type sseEvent struct {
	name string
	data string
}

// recordEvent is the data of a record event.
type recordEvent struct {
	Action string         `json:"action"`
	Record map[string]any `json:"record"`
}

// realtimeClient is one SSE connection to /api/realtime.
type realtimeClient struct {
	who     string // the user id, or "guest"
	id      string // the clientId from PB_CONNECT
	events  chan sseEvent
	backlog []sseEvent // read while waiting for another topic
}

// connect opens a realtime stream as userID ("" for a guest) and, when
// topics are given, subscribes to them. The stream closes when the test ends.
func (s *realtimeServer) connect(tb testing.TB, userID string, topics ...string) *realtimeClient {
	tb.Helper()
	return s.connectCtx(tb, context.Background(), userID, topics...)
}

// connectCtx is connect with a stream that also closes when parent is done.
func (s *realtimeServer) connectCtx(tb testing.TB, parent context.Context, userID string, topics ...string) *realtimeClient {
	tb.Helper()
	who := userID
	if who == "" {
		who = "guest"
	}

	ctx, cancel := context.WithCancel(parent)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL+"/api/realtime", nil)
	if err != nil {
		cancel()
		tb.Fatalf("http.NewRequest(GET /api/realtime) = %v; want nil", err)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		cancel()
		tb.Fatalf("GET /api/realtime as %s = %v; want a stream", who, err)
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		resp.Body.Close()
		tb.Fatalf("GET /api/realtime as %s = %d; want %d", who, resp.StatusCode, http.StatusOK)
	}

	c := &realtimeClient{who: who, events: make(chan sseEvent, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		readSSE(ctx, resp.Body, c.events)
	}()
	tb.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done // the read ends once the body is closed
	})

	connected := c.next(tb, "PB_CONNECT", realtimeEventTimeout)
	var hello struct {
		ClientID string `json:"clientId"`
	}
	if err := json.Unmarshal([]byte(connected.data), &hello); err != nil || hello.ClientID == "" {
		tb.Fatalf("PB_CONNECT data %q gives clientId %q (err %v); want a clientId", connected.data, hello.ClientID, err)
	}
	c.id = hello.ClientID

	if len(topics) > 0 {
		s.mustRequest(tb, http.MethodPost, "/api/realtime", userID,
			map[string]any{"clientId": c.id, "subscriptions": topics}, http.StatusNoContent)
	}
	return c
}

// readSSE parses the stream into events until it ends or ctx is done, then
// closes out.
func readSSE(ctx context.Context, body io.Reader, out chan<- sseEvent) {
	defer close(out)
	br := bufio.NewReader(body)
	for {
		ev, err := sse.ReadEvent(br)
		if err != nil {
			return
		}
		select {
		case out <- sseEvent{name: ev.Name, data: string(ev.Data)}:
		case <-ctx.Done():
			return
		}
	}
}

// next returns the first event named name, keeping other events for later
// waits. It fails the test after timeout or when the stream ends.
func (c *realtimeClient) next(tb testing.TB, name string, timeout time.Duration) sseEvent {
	tb.Helper()
	for i, ev := range c.backlog {
		if ev.name == name {
			c.backlog = slices.Delete(c.backlog, i, i+1)
			return ev
		}
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				tb.Fatalf("%s: stream closed while waiting for %q", c.who, name)
			}
			if ev.name == name {
				return ev
			}
			c.backlog = append(c.backlog, ev)
		case <-timer.C:
			tb.Fatalf("%s: no %q event within %v (other events: %v)", c.who, name, timeout, c.backlog)
		}
	}
}

// expectEvent waits up to timeout for a record event on topic (the exact
// subscription string, which is also the SSE event name).
func (c *realtimeClient) expectEvent(tb testing.TB, topic string, timeout time.Duration) recordEvent {
	tb.Helper()
	ev := c.next(tb, topic, timeout)
	var decoded recordEvent
	if err := json.Unmarshal([]byte(ev.data), &decoded); err != nil {
		tb.Fatalf("%s: decode %q event %q = %v; want nil", c.who, topic, ev.data, err)
	}
	return decoded
}

// expectNoEvent fails the test if any event is waiting or arrives within
// the window. Call it only after a positive control.
func (c *realtimeClient) expectNoEvent(tb testing.TB, within time.Duration) {
	tb.Helper()
	if len(c.backlog) > 0 {
		tb.Errorf("%s received %v; want no event", c.who, c.backlog)
		return
	}
	timer := time.NewTimer(within)
	defer timer.Stop()
	select {
	case ev, ok := <-c.events:
		if !ok {
			tb.Errorf("%s: stream closed during the quiet window; want it open and silent", c.who)
			return
		}
		tb.Errorf("%s received %q: %s; want no event", c.who, ev.name, ev.data)
	case <-timer.C:
	}
}

// withOptions encodes subscription options the way the JS SDK does:
// topic?options=<URL-encoded {"query": {...}}>.
func withOptions(topic string, query map[string]string) string {
	options, err := json.Marshal(map[string]any{"query": query})
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	return topic + "?options=" + url.QueryEscape(string(options))
}

// roomMessagesTopic is the SDK's messages.subscribe('*', cb, {filter: 'room = "ID"'}).
func roomMessagesTopic(roomID string) string {
	return withOptions("messages/*", map[string]string{"filter": fmt.Sprintf("room = %q", roomID)})
}

// wantRecord checks the event's action and the named record fields.
func wantRecord(tb testing.TB, who string, got recordEvent, action string, fields map[string]any) {
	tb.Helper()
	if got.Action != action {
		tb.Errorf("%s: event action = %q; want %q", who, got.Action, action)
	}
	for name, want := range fields {
		if value, ok := got.Record[name]; !ok || value != want {
			tb.Errorf("%s: event record[%q] = %v (present %v); want %v", who, name, value, ok, want)
		}
	}
}

// Contract: a participant subscribed to messages/* with filter room = "ID"
// gets the room's new messages.
func TestRealtimeParticipantReceivesMessage(t *testing.T) {
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
	for _, config := range []struct {
		name string
		cfg  hooks.Config
	}{
		{"fan-out", hooks.Config{}},
		{"PocketBase's broadcast", hooks.Config{Realtime: realtime.Config{Plain: true}}},
	} {
		t.Run(config.name, func(t *testing.T) {
			s := serveRealtime(t, newTestAppWithConfig(t, config.cfg))
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
