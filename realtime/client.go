package realtime

import (
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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

// newStreamClient is a liveClient for a taken-over stream on conn. Its
// writer stays held off (writing) until the response head is out.
func newStreamClient(f *Fanout, address string, conn net.Conn) *liveClient {
	c := &liveClient{
		DefaultClient: subscriptions.NewDefaultClient(),
		fan:           f,
		address:       address,
		conn:          conn,
		writing:       true,
		opened:        time.Now().UnixNano(),
	}
	c.lastSent.Store(c.opened)
	return c
}

// queue is Send for a taken-over stream: m joins the pending events and a
// writer starts unless one runs. A stream that falls clientBufferSize
// events behind has stopped reading: it is cut off.
func (c *liveClient) queue(m subscriptions.Message) {
	c.mu.Lock()
	if c.discarded {
		c.mu.Unlock()
		return
	}
	if len(c.pending) >= clientBufferSize {
		c.discardLocked()
		c.mu.Unlock()
		c.conn.Close() // its reader unregisters it
		return
	}
	c.pending = append(c.pending, m)
	if !c.writing {
		c.startWriterLocked()
	}
	c.mu.Unlock()
}

// startWriterLocked starts the writer. Called with mu held and c not
// discarded, so that closeStreams, which discards every stream before it
// waits, never sees running grow during its wait.
func (c *liveClient) startWriterLocked() {
	c.writing = true
	c.fan.streams.running.Add(1)
	go c.write()
}

// headWritten lets writers run once the response head is out, and starts
// one for anything queued meanwhile.
func (c *liveClient) headWritten() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writing = false
	if !c.discarded && len(c.pending) > 0 {
		c.startWriterLocked()
	}
}

// write is a stream's writer: it writes what is pending, in one Write per
// round, until nothing is, then exits. A failed write (the peer gone, or
// the write deadline passed) ends the stream.
func (c *liveClient) write() {
	defer c.fan.streams.running.Done()
	id := c.Id()
	var batch []subscriptions.Message
	for {
		c.mu.Lock()
		if c.discarded || len(c.pending) == 0 {
			c.writing = false
			c.pending = nil // nothing held while idle
			c.mu.Unlock()
			return
		}
		batch, c.pending = c.pending, batch[:0] // the spent slice is the next queue
		c.mu.Unlock()

		buf := getWriteBuffer()
		for i := range batch {
			appendSSE(buf, id, &batch[i])
		}
		clear(batch) // let the events' data go
		err := c.writeRaw(buf.Bytes())
		putWriteBuffer(buf)
		if err != nil {
			c.fan.app.Logger().Debug("Realtime connection closed (failed to deliver message)", "clientId", id, "error", err)
			c.end()
			return
		}
	}
}

// writeRaw writes p under the write deadline.
func (c *liveClient) writeRaw(p []byte) error {
	if err := c.conn.SetWriteDeadline(time.Now().Add(c.fan.writeTimeout())); err != nil {
		return err
	}
	if _, err := c.conn.Write(p); err != nil {
		return err
	}
	c.lastSent.Store(time.Now().UnixNano())
	return nil
}

// read is a stream's reader. The client has nothing to say on an SSE
// stream: the read returns when the peer closes the connection (or the
// server does), and the stream ends.
func (c *liveClient) read() {
	defer c.fan.streams.running.Done()
	buf := make([]byte, 1)
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			break
		}
		if n > 0 && len(buf) == 1 {
			buf = make([]byte, 512) // a client that talks anyway: not one syscall per byte
		}
	}
	c.end()
	c.fan.streams.remove(c)
}

// end ends a taken-over stream: out of the broker, discarded (out of the
// fan-out's indexes), its connection closed. Safe to call more than once.
func (c *liveClient) end() {
	c.fan.app.SubscriptionsBroker().Unregister(c.Id()) // calls Discard when still registered
	c.Discard()
}
