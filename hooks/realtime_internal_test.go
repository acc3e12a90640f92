package hooks

import (
	"testing"

	"github.com/pocketbase/pocketbase/tools/subscriptions"
)

// TestLiveClientCutsOffStalledReader: Send never blocks; the send that finds
// the buffer full discards the client, which closes its channel (ending the
// SSE stream) after what was queued, and frees its place in the indexes.
func TestLiveClientCutsOffStalledReader(t *testing.T) {
	f := &fanout{
		byUser:       map[string]map[*liveClient]struct{}{},
		superusers:   map[*liveClient]struct{}{},
		byCollection: map[string]map[*liveClient]struct{}{},
		byAddress:    map[string]int{"127.0.0.1": 1},
	}
	c := newLiveClient(f, "127.0.0.1")
	f.byCollection[postsCollection] = map[*liveClient]struct{}{c: {}}
	c.collections = []string{postsCollection}

	for i := range clientBufferSize {
		c.Send(subscriptions.Message{Name: "posts/*", Data: []byte{byte(i)}})
	}
	if c.IsDiscarded() {
		t.Fatalf("client discarded after %d sends; want it kept until the buffer overflows", clientBufferSize)
	}
	c.Send(subscriptions.Message{Name: "posts/*", Data: []byte("overflow")}) // must not block
	if !c.IsDiscarded() {
		t.Fatal("client not discarded after its buffer overflowed")
	}
	c.Send(subscriptions.Message{Name: "posts/*"}) // after discard: a no-op, no panic

	got := 0
	for range c.Channel() {
		got++
	}
	if got != clientBufferSize {
		t.Errorf("drained %d queued messages; want %d", got, clientBufferSize)
	}
	if n := len(f.byCollection[postsCollection]); n != 0 {
		t.Errorf("posts index holds %d clients after discard; want 0", n)
	}
	if n, ok := f.byAddress["127.0.0.1"]; ok {
		t.Errorf("address count = %d after discard; want the entry removed", n)
	}
}
