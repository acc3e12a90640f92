package hooks_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/tests"

	"github.com/marketchat/marketchat/hooks"
)

// testClock is a clock a test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func newTestClock() *testClock { return &testClock{now: time.Now()} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestTypingRoute: 204 for participants, 404 for others, 401 signed out;
// nothing is stored.
func TestTypingRoute(t *testing.T) {
	t.Parallel()
	path := "/api/rooms/" + roomBike + "/typing"
	scenarios := []tests.ApiScenario{
		{Name: "guest", Method: http.MethodPost, URL: path, ExpectedStatus: 401, ExpectedContent: []string{`"data":{}`}, ExpectedEvents: noEvents},
		{Name: "carol, not in the room", Method: http.MethodPost, URL: path, Headers: auth(carol), ExpectedStatus: 404, ExpectedContent: []string{`"data":{}`}, ExpectedEvents: noEvents},
		{Name: "dave, in another room of both", Method: http.MethodPost, URL: path, Headers: auth(dave), ExpectedStatus: 404, ExpectedContent: []string{`"data":{}`}, ExpectedEvents: noEvents},
		// No record event at all: never stored.
		{Name: "bob", Method: http.MethodPost, URL: path, Headers: auth(bob), ExpectedStatus: 204, ExpectedEvents: noEvents},
	}
	for _, sc := range scenarios {
		sc.TestAppFactory = newTestApp
		sc.Test(t)
	}
}

// TestTypingRealtime: the other participants subscribed to "typing" get
// {"room","user","name"}; the typist, strangers and people of other rooms
// do not; one event per user and room every 2 s; someone who left gets
// nothing more.
func TestTypingRealtime(t *testing.T) {
	t.Parallel()
	clock := newTestClock()
	s := serveRealtime(t, newTestAppWithConfig(t, hooks.Config{Now: clock.Now}))
	aliceLive := s.connect(t, alice, hooks.TypingTopic)
	bobLive := s.connect(t, bob, hooks.TypingTopic)
	carolLive := s.connect(t, carol, hooks.TypingTopic)
	daveLive := s.connect(t, dave, hooks.TypingTopic)
	bobOther := s.connect(t, bob, "rooms/*") // bob's connection without the topic

	typing := func(user, room string) {
		t.Helper()
		s.mustRequest(t, http.MethodPost, "/api/rooms/"+room+"/typing", user, nil, http.StatusNoContent)
	}
	expectTyping := func(c *realtimeClient, room, user, name string) {
		t.Helper()
		ev := c.next(t, hooks.TypingTopic, realtimeEventTimeout)
		var got map[string]any
		if err := json.Unmarshal([]byte(ev.data), &got); err != nil {
			t.Fatalf("%s: typing event %q: %v", c.who, ev.data, err)
		}
		want := map[string]any{"room": room, "user": user, "name": name}
		if len(got) != len(want) || got["room"] != room || got["user"] != user || got["name"] != name {
			t.Errorf("%s: typing event = %v; want %v", c.who, got, want)
		}
	}

	typing(alice, roomBike)
	expectTyping(bobLive, roomBike, alice, "Alice")
	for _, c := range []*realtimeClient{aliceLive, carolLive, daveLive, bobOther} {
		c.expectNoEvent(t, realtimeQuietWindow)
	}

	// Within 2 s: answered, not sent on. After 2 s: sent again.
	clock.Add(hooks.TypingInterval - time.Millisecond)
	typing(alice, roomBike)
	typing(alice, roomGroup) // another room has its own limit
	expectTyping(bobLive, roomGroup, alice, "Alice")
	expectTyping(daveLive, roomGroup, alice, "Alice")
	bobLive.expectNoEvent(t, realtimeQuietWindow)
	clock.Add(time.Millisecond)
	typing(alice, roomBike)
	expectTyping(bobLive, roomBike, alice, "Alice")

	// bob leaves the group: dave's typing no longer reaches him.
	s.mustRequest(t, http.MethodPatch, "/api/collections/rooms/records/"+roomGroup, bob,
		map[string]any{"participants-": bob}, http.StatusOK)
	typing(dave, roomGroup)
	expectTyping(aliceLive, roomGroup, dave, "Dave")
	bobLive.expectNoEvent(t, realtimeQuietWindow)
	if status, _ := s.request(t, http.MethodPost, "/api/rooms/"+roomGroup+"/typing", bob, nil); status != http.StatusNotFound {
		t.Errorf("bob typing in the room he left = %d; want 404", status)
	}
}
