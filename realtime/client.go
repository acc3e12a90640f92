package realtime

import (
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/subscriptions"
)

// liveClient is a realtime connection: PocketBase's DefaultClient for the
// subscriptions and store, a Send that never blocks, and index upkeep in
// the methods that change auth or topics. It serves two kinds of stream:
//
//   - taken over from net/http (conn set, stream.go): Send queues in
//     pending and starts a writer goroutine when none runs;
//   - PocketBase's loop (conn nil): Send queues in the buffered channel
//     the loop reads.
type liveClient struct {
	*subscriptions.DefaultClient
	fan     *Fanout
	address string
	conn    net.Conn // a taken-over stream's connection; nil on PocketBase's loop

	mu          sync.Mutex
	ch          chan subscriptions.Message // PocketBase's loop only
	discarded   bool
	authRec     *core.Record
	collections []string // names of the indexed collections among its topics

	// A taken-over stream's queue (stream.go).
	pending  []subscriptions.Message // events not yet written; nil while idle
	writing  bool                    // a writer goroutine runs (or the response head is being written)
	opened   int64                   // unix nanoseconds; for the max lifetime
	lastSent atomic.Int64            // unix nanoseconds of the last write; for the idle timeout

	reservedFor string // user whose place onSubscribe took for it; guarded by fan.mu
}

var _ subscriptions.Client = (*liveClient)(nil)

func newLiveClient(f *Fanout, address string) *liveClient {
	return &liveClient{
		DefaultClient: subscriptions.NewDefaultClient(),
		fan:           f,
		address:       address,
		ch:            make(chan subscriptions.Message, clientBufferSize),
	}
}

func (c *liveClient) Channel() chan subscriptions.Message { return c.ch }

// Send queues m without blocking. A connection whose buffer is full has
// stopped reading: it is discarded, which ends its stream.
func (c *liveClient) Send(m subscriptions.Message) {
	if c.conn != nil {
		c.queue(m)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.discarded {
		return
	}
	select {
	case c.ch <- m:
	default:
		c.discardLocked()
	}
}

// Discard ends the stream: PocketBase's loop sees the channel closed; a
// taken-over stream's connection is closed, and its reader unregisters it.
func (c *liveClient) Discard() {
	c.mu.Lock()
	c.discardLocked()
	c.mu.Unlock()
	if c.conn != nil {
		c.conn.Close()
	}
}

func (c *liveClient) discardLocked() {
	if c.discarded {
		return
	}
	c.discarded = true
	if c.ch != nil {
		close(c.ch)
	}
	c.pending = nil
	c.fan.forget(c, c.authRec, c.collections)
	c.authRec, c.collections = nil, nil
}

func (c *liveClient) IsDiscarded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.discarded
}

// signedInAs reports whether c is indexed as signed in as userID.
func (c *liveClient) signedInAs(userID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.authRec != nil && c.authRec.Id == userID
}

func (c *liveClient) auth() *core.Record {
	rec, _ := c.Get(apis.RealtimeClientAuthKey).(*core.Record)
	return rec
}

func (c *liveClient) Set(key string, value any) {
	c.DefaultClient.Set(key, value)
	if key == apis.RealtimeClientAuthKey {
		c.reindex()
	}
}

func (c *liveClient) Unset(key string) {
	c.DefaultClient.Unset(key)
	if key == apis.RealtimeClientAuthKey {
		c.reindex()
	}
}

func (c *liveClient) Subscribe(subs ...string) {
	c.DefaultClient.Subscribe(subs...)
	c.reindex()
}

func (c *liveClient) Unsubscribe(subs ...string) {
	c.DefaultClient.Unsubscribe(subs...)
	c.reindex()
}

// reindex brings the fan-out's indexes in line with c's current auth and
// topics.
func (c *liveClient) reindex() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.discarded {
		return
	}
	auth := c.auth()
	var collections []string
	for topic := range c.DefaultClient.Subscriptions() {
		name, _, _ := strings.Cut(topic, "/")
		name, _, _ = strings.Cut(name, "?")
		collection, err := c.fan.app.FindCachedCollectionByNameOrId(name) // topics may name the collection by id
		if err != nil {
			continue
		}
		if _, ok := c.fan.routes[collection.Name]; ok && !slices.Contains(collections, collection.Name) {
			collections = append(collections, collection.Name)
		}
	}
	c.fan.index(c, c.authRec, auth, c.collections, collections)
	c.authRec, c.collections = auth, collections
}
