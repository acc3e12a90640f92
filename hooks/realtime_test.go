package hooks_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/marketchat/marketchat/hooks"
	"github.com/marketchat/marketchat/realtime"
)

// The realtime fan-out's own behaviour through the app (the realtime
// package): order and exactly-once delivery, reconnects and resubscribes,
// the caps, and a stalled reader cut off. Who receives what is in
// delivery_test.go; the streams' wire format and ends in stream_test.go.

// TestFanoutKeepsOrderExactlyOnce sends bursts into two rooms at once and
// checks every participant gets each message once, in order, and nobody
// else gets any.
func TestFanoutKeepsOrderExactlyOnce(t *testing.T) {
	t.Parallel()
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

// TestFanoutReconnect: a client that drops its stream and subscribes again
// on a new one gets the next message once, on the new stream only.
func TestFanoutReconnect(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
	s := serveRealtime(t, newTestAppWithConfig(t, hooks.Config{Realtime: realtime.Config{
		MaxConnectionsPerUser:         2,
		MaxConnectionsPerAddress:      3,
		MaxSubscriptionsPerConnection: 3,
	}}))

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
		last := ""
		waitFor(t, realtimeEventTimeout, "bob's subscription accepted after closing a stream", func() bool {
			status, body := s.request(t, http.MethodPost, "/api/realtime", bob, map[string]any{
				"clientId": third.id, "subscriptions": []string{"rooms/*"},
			})
			if answer := fmt.Sprintf("%d %s", status, body); answer != last && status != http.StatusNoContent {
				t.Logf("after closing a stream bob's subscription answers %s", answer) // shown if the wait fails
				last = answer
			}
			return status == http.StatusNoContent
		})
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
	// Closing returns once the server has dropped the stream, so that the
	// caps count it no more.
	return c, func() {
		cancel()
		waitFor(tb, realtimeEventTimeout, "stream "+c.id+" unregistered after its client closed it", func() bool {
			_, err := s.app.SubscriptionsBroker().ClientById(c.id)
			return err != nil
		})
	}
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

// TestRealtimeStalledReaderIsCutOff: a client that stops reading its stream
// is cut off within the write deadline, the server's goroutines and heap
// return to their baseline within deadline + 5 s, and another client gets
// every event meanwhile.
func TestRealtimeStalledReaderIsCutOff(t *testing.T) {
	// Not parallel: it counts the process's goroutines and heap.
	const writeTimeout = time.Second
	app := newTestAppWithConfig(t, hooks.Config{Realtime: realtime.Config{WriteTimeout: writeTimeout}})
	s := serveRealtime(t, app)

	bobStream := s.connect(t, bob, "posts/*")
	baseGoroutines, baseHeap := settledRuntime()

	// The stalled client: a raw connection that subscribes, then never reads.
	// A small receive buffer makes the server's writes back up sooner.
	stalled := dialStalled(t, s)
	s.mustRequest(t, http.MethodPost, "/api/realtime", carol, map[string]any{
		"clientId": stalled.clientID, "subscriptions": []string{"posts/*"},
	}, http.StatusNoContent)

	// 5 KB events until the stalled stream's buffers are full many times over.
	const posts = 1500
	body := strings.Repeat("x", 5000)
	collection, err := app.FindCollectionByNameOrId("posts")
	if err != nil {
		t.Fatal(err)
	}
	// Bob reads as he should (each batch before the next); the stalled
	// client falls further behind with every batch.
	const batch = 50
	for start := 0; start < posts; start += batch {
		for i := start; i < start+batch; i++ {
			rec := core.NewRecord(collection)
			rec.Set("title", fmt.Sprintf("post %d", i))
			rec.Set("body", body)
			rec.Set("author", alice)
			if err := app.Save(rec); err != nil {
				t.Fatalf("save post %d: %v", i, err)
			}
		}
		for i := start; i < start+batch; i++ {
			ev := bobStream.expectEvent(t, "posts/*", realtimeEventTimeout)
			if want := fmt.Sprintf("post %d", i); ev.Record["title"] != want {
				t.Fatalf("bob's event %d: title %q; want %q", i, ev.Record["title"], want)
			}
		}
	}

	// The stalled stream's goroutines are gone (only bob's stream
	// remains: its reader, no writer once he has read everything) and the
	// totals are back to the baseline. One goroutine of slack: the test
	// process runs timers and pool goroutines of its own (seen once in CI:
	// 29 against 28, with the stream already gone).
	// Each new state is logged: the log shows only when the test fails.
	last := ""
	waitFor(t, writeTimeout+5*time.Second, "the stalled stream gone and the runtime back to its baseline", func() bool {
		goroutines, heap := settledRuntime()
		clients := app.SubscriptionsBroker().TotalClients()
		streams, writers := streamGoroutines()
		if state := fmt.Sprintf("%d realtime clients (want 1), %d streams (want 1), %d stream writers (want 0), %d goroutines (baseline %d)",
			clients, streams, writers, goroutines, baseGoroutines); state != last {
			t.Logf("after the stall: %s, heap %d KB (baseline %d KB)", state, heap>>10, baseHeap>>10)
			last = state
		}
		return clients == 1 && streams == 1 && writers == 0 && goroutines <= baseGoroutines+1 && heap <= baseHeap+8<<20
	})

	// The server closed the stalled connection: once the client reads
	// what the kernel still holds, the stream ends.
	stalled.conn.SetReadDeadline(time.Now().Add(realtimeEventTimeout))
	if _, err := io.Copy(io.Discard, stalled.conn); err != nil {
		t.Fatalf("reading the stalled stream to its end: %v; want the server to have closed it", err)
	}
}

// streamGoroutines counts the goroutines that serve realtime streams:
// PocketBase's loop (one per stream it serves) plus the readers of the
// streams taken over from net/http (one per stream), and, apart, the
// writers of taken-over streams (one per stream with events pending).
func streamGoroutines() (streams, writers int) {
	streams = goroutinesIn("apis.realtimeConnect") + goroutinesIn(realtime.StreamReaderFrame)
	return streams, goroutinesIn(realtime.StreamWriterFrame)
}

// waitNoStreams waits until no realtime stream goroutine (PocketBase's
// loop or a taken-over stream's reader) of an earlier test is left, so
// that a test can count its own: they end shortly after their test's
// server closes, not with it.
func waitNoStreams(tb testing.TB) {
	tb.Helper()
	waitFor(tb, realtimeEventTimeout, "realtime streams of earlier tests ended", func() bool {
		return goroutinesIn("apis.realtimeConnect")+goroutinesIn(realtime.StreamReaderFrame) == 0
	})
}

// goroutinesIn counts the goroutines whose stack holds a frame of fn.
func goroutinesIn(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn+"(") {
			count++
		}
	}
	return count
}

// settledRuntime returns the goroutine count and live heap after a GC.
func settledRuntime() (int, uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapAlloc
}

type stalledStream struct {
	conn     net.Conn
	clientID string
}

// dialStalled opens GET /api/realtime on a raw TCP connection with a 4 KB
// receive buffer, reads up to PB_CONNECT and then leaves the stream unread.
func dialStalled(tb testing.TB, s *realtimeServer) *stalledStream {
	tb.Helper()
	dialer := net.Dialer{Timeout: realtimeEventTimeout, Control: func(_, _ string, raw syscall.RawConn) error {
		var sockErr error
		err := raw.Control(func(fd uintptr) {
			sockErr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, sockErr)
	}}
	conn, err := dialer.Dial("tcp", strings.TrimPrefix(s.srv.URL, "http://"))
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	tb.Cleanup(func() { conn.Close() })
	if _, err := fmt.Fprintf(conn, "GET /api/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		tb.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(realtimeEventTimeout))
	reader := bufio.NewReader(conn)
	for {
		line, err := reader.ReadString('\n')
		if err != nil {
			tb.Fatalf("read the stalled stream's PB_CONNECT: %v", err)
		}
		if rest, ok := strings.CutPrefix(line, "data:"); ok && strings.Contains(rest, "clientId") {
			var hello struct {
				ClientID string `json:"clientId"`
			}
			if err := json.Unmarshal([]byte(strings.TrimSpace(rest)), &hello); err != nil {
				tb.Fatalf("PB_CONNECT %q: %v", rest, err)
			}
			return &stalledStream{conn: conn, clientID: hello.ClientID}
		}
	}
}

// TestFanoutResubscribeSameConnection: the SDK replaces a connection's
// whole topic set on every change; topics dropped stop at once, topics
// added start at once.
func TestFanoutResubscribeSameConnection(t *testing.T) {
	t.Parallel()
	s := newRealtimeServer(t)
	bobStream := s.connect(t, bob, roomMessagesTopic(roomBike))
	control := s.connect(t, alice, roomMessagesTopic(roomBike), "posts/*")

	// messages -> posts only
	s.mustRequest(t, http.MethodPost, "/api/realtime", bob, map[string]any{
		"clientId": bobStream.id, "subscriptions": []string{"posts/*"},
	}, http.StatusNoContent)
	s.sendMessage(t, alice, roomBike, "after bob dropped the room topic")
	control.expectEvent(t, roomMessagesTopic(roomBike), realtimeEventTimeout)
	bobStream.expectNoEvent(t, realtimeQuietWindow)

	s.mustRequest(t, http.MethodPost, "/api/collections/posts/records", alice, map[string]any{"title": "Desk"}, http.StatusOK)
	control.expectEvent(t, "posts/*", realtimeEventTimeout)
	ev := bobStream.expectEvent(t, "posts/*", realtimeEventTimeout)
	wantRecord(t, bob, ev, "create", map[string]any{"title": "Desk"})

	// posts -> messages again
	s.mustRequest(t, http.MethodPost, "/api/realtime", bob, map[string]any{
		"clientId": bobStream.id, "subscriptions": []string{roomMessagesTopic(roomBike)},
	}, http.StatusNoContent)
	s.sendMessage(t, alice, roomBike, "bob is back")
	ev = bobStream.expectEvent(t, roomMessagesTopic(roomBike), realtimeEventTimeout)
	wantRecord(t, bob, ev, "create", map[string]any{"text": "bob is back"})
	s.mustRequest(t, http.MethodPost, "/api/collections/posts/records", alice, map[string]any{"title": "Lamp 2"}, http.StatusOK)
	control.expectEvent(t, "posts/*", realtimeEventTimeout)
	bobStream.expectNoEvent(t, realtimeQuietWindow)
}
