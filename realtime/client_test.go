package realtime

import (
	"testing"

	"github.com/pocketbase/pocketbase/tools/subscriptions"
)

// TestLiveClientCutsOffStalledReader: Send never blocks; the send that finds
// the buffer full discards the client, which closes its channel (ending the
// SSE stream) after what was queued, and frees its place in the indexes.
func TestLiveClientCutsOffStalledReader(t *testing.T) {
	f := newIndexedFanout()
	c := newLiveClient(f, "127.0.0.1")
	overflow(t, f, c, "buffer")

	got := 0
	for range c.Channel() {
		got++
	}
	if got != clientBufferSize {
		t.Errorf("drained %d queued messages; want %d", got, clientBufferSize)
	}
	checkForgotten(t, f)
}

// newIndexedFanout is a fan-out with empty indexes and one connection
// counted from 127.0.0.1, for a client made by hand.
func newIndexedFanout() *Fanout {
	return &Fanout{
		byUser:       map[string]map[*liveClient]struct{}{},
		superusers:   map[*liveClient]struct{}{},
		byCollection: map[string]map[*liveClient]struct{}{},
		byAddress:    map[string]int{"127.0.0.1": 1},
	}
}

// overflow indexes c as a posts subscriber of f, fills what it may hold
// (its "what": buffer or queue) and checks that the next send, which must
// not block, discards it, and that sends after that are no-ops.
func overflow(t *testing.T, f *Fanout, c *liveClient, what string) {
	t.Helper()
	f.byCollection["posts"] = map[*liveClient]struct{}{c: {}}
	c.collections = []string{"posts"}

	for i := range clientBufferSize {
		c.Send(subscriptions.Message{Name: "posts/*", Data: []byte{byte(i)}})
	}
	if c.IsDiscarded() {
		t.Fatalf("client discarded after %d sends; want it kept until the %s overflows", clientBufferSize, what)
	}
	c.Send(subscriptions.Message{Name: "posts/*", Data: []byte("overflow")}) // must not block
	if !c.IsDiscarded() {
		t.Fatalf("client not discarded after its %s overflowed", what)
	}
	c.Send(subscriptions.Message{Name: "posts/*"}) // after discard: a no-op, no panic
}

// checkForgotten checks that a discarded client left f's indexes.
func checkForgotten(t *testing.T, f *Fanout) {
	t.Helper()
	if n := len(f.byCollection["posts"]); n != 0 {
		t.Errorf("posts index holds %d clients after discard; want 0", n)
	}
	if n, ok := f.byAddress["127.0.0.1"]; ok {
		t.Errorf("address count = %d after discard; want the entry removed", n)
	}
}
