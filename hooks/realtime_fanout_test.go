package hooks_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/marketchat/marketchat/hooks"
)

// The realtime tests in realtime_test.go run through the fan-out (it is on
// by default); these cover what is particular to it.

// TestFanoutKeepsOrderExactlyOnce sends bursts into two rooms at once and
// checks every participant gets each message once, in order, and nobody
// else gets any.
func TestFanoutKeepsOrderExactlyOnce(t *testing.T) {
	s := newRealtimeServer(t)
	bobBike := s.connect(t, bob, roomMessagesTopic(roomBike))
	aliceGroup := s.connect(t, alice, roomMessagesTopic(roomGroup))
	bobAll := s.connect(t, bob, "messages/*") // both rooms on one connection
	carolAll := s.connect(t, carol, "messages/*", "rooms/*")

	const perRoom = 20 // under the flood limit of each sender
	groupErrs := make(chan error, 1)
	go func() { // dave writes to the group while alice writes to the bike room
		defer close(groupErrs)
		for i := range perRoom {
			status, body := s.request(t, http.MethodPost, "/api/collections/messages/records", dave,
				map[string]any{"room": roomGroup, "text": fmt.Sprintf("group %02d", i)})
			if status != http.StatusOK {
				groupErrs <- fmt.Errorf("dave's message %d: %d %s", i, status, body)
				return
			}
		}
	}()
	for i := range perRoom {
		s.sendMessage(t, alice, roomBike, fmt.Sprintf("bike %02d", i))
	}
	if err := <-groupErrs; err != nil {
		t.Fatal(err)
	}

	wantInOrder := func(c *realtimeClient, topic, prefix string) {
		t.Helper()
		for i := range perRoom {
			ev := c.expectEvent(t, topic, realtimeEventTimeout)
			if want := fmt.Sprintf("%s %02d", prefix, i); ev.Record["text"] != want {
				t.Fatalf("%s event %d on %s: text %q; want %q", c.who, i, topic, ev.Record["text"], want)
			}
		}
	}
	wantInOrder(bobBike, roomMessagesTopic(roomBike), "bike")
	wantInOrder(aliceGroup, roomMessagesTopic(roomGroup), "group")

	// bobAll sees both rooms interleaved; per room, in order, once.
	next := map[string]int{"bike": 0, "group": 0}
	for range 2 * perRoom {
		ev := bobAll.expectEvent(t, "messages/*", realtimeEventTimeout)
		text, _ := ev.Record["text"].(string)
		prefix, _, _ := strings.Cut(text, " ")
		if want := fmt.Sprintf("%s %02d", prefix, next[prefix]); text != want {
			t.Fatalf("bob's messages/* got %q; want %q next", text, want)
		}
		next[prefix]++
	}
	bobAll.expectNoEvent(t, realtimeQuietWindow)
	bobBike.expectNoEvent(t, realtimeQuietWindow)
	carolAll.expectNoEvent(t, realtimeQuietWindow)
}

// TestFanoutFallsBackWhenRulesChange: an admin who widens the messages
// rules in the dashboard gets PocketBase's broadcast, which applies the new
// rule; the fan-out only serves the rules it was written for.
func TestFanoutFallsBackWhenRulesChange(t *testing.T) {
	s := newRealtimeServer(t)
	messages, err := s.app.FindCollectionByNameOrId("messages")
	if err != nil {
		t.Fatal(err)
	}
	signedIn := `@request.auth.id != ""`
	messages.ListRule = types.Pointer(signedIn)
	messages.ViewRule = types.Pointer(signedIn)
	if err := s.app.Save(messages); err != nil {
		t.Fatal(err)
	}

	carolStream := s.connect(t, carol, "messages/*")
	s.sendMessage(t, alice, roomBike, "visible to every signed-in user now")
	ev := carolStream.expectEvent(t, "messages/*", realtimeEventTimeout)
	wantRecord(t, carol, ev, "create", map[string]any{"text": "visible to every signed-in user now"})
}

// TestFanoutReconnect: a client that drops its stream and subscribes again
// on a new one gets the next message once, on the new stream only.
func TestFanoutReconnect(t *testing.T) {
	s := newRealtimeServer(t)
	topic := roomMessagesTopic(roomBike)

	first, closeFirst := s.connectClosable(t, bob, topic)
	s.sendMessage(t, alice, roomBike, "before the drop")
	first.expectEvent(t, topic, realtimeEventTimeout)
	closeFirst()

	second := s.connect(t, bob, topic)
	s.sendMessage(t, alice, roomBike, "after the drop")
	ev := second.expectEvent(t, topic, realtimeEventTimeout)
	wantRecord(t, bob, ev, "create", map[string]any{"text": "after the drop"})
	second.expectNoEvent(t, realtimeQuietWindow)
}

// TestRealtimeCaps: the per-connection subscription cap, the per-user
// connection cap and the per-address connection cap answer with
// PocketBase's error JSON, and a closed connection frees its place.
func TestRealtimeCaps(t *testing.T) {
	s := serveRealtime(t, newTestAppWithConfig(t, hooks.Config{
		MaxConnectionsPerUser:         2,
		MaxConnectionsPerAddress:      3,
		MaxSubscriptionsPerConnection: 3,
	}))

	t.Run("subscriptions per connection", func(t *testing.T) {
		c, closeIt := s.connectClosable(t, bob)
		defer closeIt()
		status, body := s.request(t, http.MethodPost, "/api/realtime", bob, map[string]any{
			"clientId": c.id, "subscriptions": []string{"posts/*", "rooms/*", "messages/*", "users/*"},
		})
		if status != http.StatusBadRequest || !strings.Contains(string(body), "at most 3") {
			t.Fatalf("4 subscriptions: %d %s; want 400 naming the cap", status, body)
		}
		s.mustRequest(t, http.MethodPost, "/api/realtime", bob, map[string]any{
			"clientId": c.id, "subscriptions": []string{"posts/*", "rooms/*", "messages/*"},
		}, http.StatusNoContent)
	})

	t.Run("connections per user and per address", func(t *testing.T) {
		_, close1 := s.connectClosable(t, bob, "rooms/*")
		_, close2 := s.connectClosable(t, bob, "rooms/*")
		third, close3 := s.connectClosable(t, bob)
		status, body := s.request(t, http.MethodPost, "/api/realtime", bob, map[string]any{
			"clientId": third.id, "subscriptions": []string{"rooms/*"},
		})
		if status != http.StatusTooManyRequests || !strings.Contains(string(body), "this account") {
			t.Fatalf("bob's third subscribed connection: %d %s; want 429 naming the account cap", status, body)
		}

		// Three streams are open from 127.0.0.1: a fourth is refused.
		if status, body := s.openStream(t); status != http.StatusTooManyRequests || !strings.Contains(string(body), "this address") {
			t.Fatalf("fourth stream from one address: %d %s; want 429 naming the address cap", status, body)
		}

		// Closing one frees its places (the server notices within moments).
		close1()
		deadline := time.Now().Add(realtimeEventTimeout)
		for {
			status, body := s.request(t, http.MethodPost, "/api/realtime", bob, map[string]any{
				"clientId": third.id, "subscriptions": []string{"rooms/*"},
			})
			if status == http.StatusNoContent {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after closing a stream bob's subscription still answers %d %s", status, body)
			}
			time.Sleep(20 * time.Millisecond)
		}
		close2()
		close3()
	})
}

// connectClosable is connect with a function that closes the stream now
// (it is also closed when the test ends).
func (s *realtimeServer) connectClosable(tb testing.TB, userID string, topics ...string) (*realtimeClient, func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	c := s.connectCtx(tb, ctx, userID, topics...)
	return c, cancel
}

// openStream opens GET /api/realtime and returns its status and, for a
// refusal, its body; an accepted stream is closed at once.
func (s *realtimeServer) openStream(tb testing.TB) (int, []byte) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), realtimeEventTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.srv.URL+"/api/realtime", nil)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		tb.Fatalf("GET /api/realtime = %v; want a response", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, nil
	}
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	return resp.StatusCode, buf[:n]
}
