package realtime

import (
	"bytes"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/subscriptions"
)

// Realtime streams taken over from net/http.
//
// PocketBase serves a realtime connection from inside its request: net/http's
// connection goroutine (with the whole middleware stack on its stack) and
// its background reader stay for the stream's life, with 8 KB of bufio
// buffers, the chunked writer, a cloned request and two timers: 60-75 KB of
// server memory per held connection. With the fan-out on, onConnect takes
// an HTTP/1.x connection over instead: it hijacks it, writes the response
// head and PB_CONNECT itself and returns, which ends the request. From then
// on a stream costs its liveClient, its net.Conn and:
//
//   - one reader goroutine blocked in conn.Read, there to notice the peer
//     closing (it then unregisters the client and closes the connection);
//   - only while events are pending, one writer goroutine that writes all
//     of them in one Write under the write deadline, then exits;
//   - no timer: one sweeper per fan-out closes streams idle for
//     Config.IdleTimeout or open for Config.MaxLifetime, as PocketBase's
//     loop does with two timers per stream.
//
// The response is HTTP/1.1 200 with every header set so far (PocketBase's
// text/event-stream, no-store and X-Accel-Buffering; CORS and security
// headers of the middlewares), a Date and "Connection: close": no
// Content-Length, no chunking, the body ends when the connection does. The
// events are byte for byte what subscriptions.Message.WriteSSE writes, with
// the client id as event id. OnRealtimeMessageSend hooks do not run for
// these streams (there is no request left to hand them). What PocketBase's
// loop does in apis/realtime.go realtimeConnect (v0.40.4) is mirrored:
// PB_CONNECT first, the idle and lifetime timeouts, unregistering on close.
//
// HTTP/2 (PocketBase's autocert), HEAD, --realtime=plain and anything that
// cannot be hijacked keep PocketBase's loop and the liveClient's channel.
// OnTerminate closes every taken-over stream: net/http's Shutdown and
// httptest.Server.Close do not track hijacked connections.

const (
	// streamSendBuffer is the kernel send buffer asked for a taken-over
	// stream (Linux doubles it and stops autotuning it): a stalled
	// reader otherwise pins up to tcp_wmem's maximum, 4 MB, until its
	// write deadline.
	streamSendBuffer = 64 << 10

	// maxPooledWrite is the largest write buffer kept for reuse.
	maxPooledWrite = 64 << 10
)

// streamSet is a fan-out's taken-over streams.
type streamSet struct {
	mu      sync.Mutex
	clients map[*liveClient]struct{}
	closed  bool           // terminating: no new stream
	running sync.WaitGroup // readers, writers and the sweeper
}

// add counts c in and reserves its reader's place in running; false when
// the fan-out is terminating.
func (s *streamSet) add(c *liveClient) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.clients == nil {
		s.clients = map[*liveClient]struct{}{}
	}
	s.clients[c] = struct{}{}
	s.running.Add(1)
	return true
}

func (s *streamSet) remove(c *liveClient) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.clients, c)
}

// expired appends to out the streams open since before maxOpened or
// silent since before maxSent (unix nanoseconds).
func (s *streamSet) expired(out []*liveClient, maxOpened, maxSent int64) []*liveClient {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.clients {
		if c.opened < maxOpened || c.lastSent.Load() < maxSent {
			out = append(out, c)
		}
	}
	return out
}

// takeOver serves the realtime connection e as a taken-over stream, if it
// can be hijacked, and reports whether it did; whatever happens after the
// hijack, the request is over. The address's place is already counted;
// discarding the client gives it back.
func (f *Fanout) takeOver(e *core.RealtimeConnectRequestEvent, address string) bool {
	if f.cfg.Plain || e.Request.Method != http.MethodGet || e.Request.ProtoMajor != 1 {
		return false
	}
	if e.Response.Header().Get("Content-Encoding") != "" {
		return false // a compressing middleware: its writer must see the bytes
	}
	conn, _, err := http.NewResponseController(e.Response).Hijack()
	if err != nil {
		return false // HTTP/2, a recorder: PocketBase's loop
	}
	// The bufio.ReadWriter is dropped with its 8 KB of buffers. Bytes it
	// may hold already would be a pipelined request: the stream owns the
	// connection until it closes, and never answers them.
	if tcp, ok := conn.(*net.TCPConn); ok {
		_ = tcp.SetWriteBuffer(streamSendBuffer)
	}

	c := newStreamClient(f, address, conn)
	c.Set(apis.RealtimeClientIPKey, address) // checked by PocketBase on subscribe
	e.Client = c
	if !f.streams.add(c) {
		c.Discard() // terminating: the place back, the connection closed
		return true
	}
	f.app.SubscriptionsBroker().Register(c)
	go c.read()

	buf := getWriteBuffer()
	writeStreamHead(buf, e.Request, e.Response.Header())
	connect := subscriptions.Message{Name: "PB_CONNECT", Data: []byte(`{"clientId":"` + c.Id() + `"}`)}
	appendSSE(buf, c.Id(), &connect)
	err = c.writeRaw(buf.Bytes())
	putWriteBuffer(buf)
	if err != nil {
		f.app.Logger().Debug("Realtime connection closed (failed to deliver PB_CONNECT)", "clientId", c.Id(), "error", err)
		c.end()
		return true
	}
	f.app.Logger().Debug("Realtime connection established", "clientId", c.Id())
	c.headWritten()
	return true
}

// writeStreamHead writes the response head of a taken-over stream: 200,
// the headers set so far, a Date, and "Connection: close" in place of any
// framing, so the body runs until the connection closes.
func writeStreamHead(buf *bytes.Buffer, r *http.Request, h http.Header) {
	if r.ProtoAtLeast(1, 1) {
		buf.WriteString("HTTP/1.1 200 OK\r\n")
	} else {
		buf.WriteString("HTTP/1.0 200 OK\r\n")
	}
	h.Del("Content-Length")
	h.Del("Transfer-Encoding")
	h.Set("Connection", "close")
	if _, ok := h["Date"]; !ok {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	_ = h.Write(buf) // a bytes.Buffer does not fail
	buf.WriteString("\r\n")
}

// appendSSE writes m as subscriptions.Message.WriteSSE(w, id) does.
func appendSSE(buf *bytes.Buffer, id string, m *subscriptions.Message) {
	buf.WriteString("id:")
	buf.WriteString(id)
	buf.WriteString("\nevent:")
	buf.WriteString(m.Name)
	buf.WriteString("\ndata:")
	buf.Write(m.Data)
	buf.WriteString("\n\n")
}

var writeBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getWriteBuffer() *bytes.Buffer {
	return writeBuffers.Get().(*bytes.Buffer)
}

func putWriteBuffer(buf *bytes.Buffer) {
	if buf.Cap() > maxPooledWrite {
		return
	}
	buf.Reset()
	writeBuffers.Put(buf)
}

// startStreamSweeper starts the goroutine that closes streams idle or open
// too long. It stops with the workers.
func (f *Fanout) startStreamSweeper() {
	f.streams.running.Add(1)
	go f.sweepStreams()
}

func (f *Fanout) sweepStreams() {
	defer f.streams.running.Done()
	idle, lifetime := f.idleTimeout(), f.maxLifetime()
	ticker := time.NewTicker(sweepInterval(idle, lifetime))
	defer ticker.Stop()
	var expired []*liveClient
	for {
		select {
		case <-f.done:
			return
		case <-ticker.C:
			now := time.Now()
			expired = f.streams.expired(expired[:0], now.Add(-lifetime).UnixNano(), now.Add(-idle).UnixNano())
			for _, c := range expired {
				f.app.Logger().Debug("Realtime connection closed (idle or max lifetime)", "clientId", c.Id())
				c.end() // its reader takes it out of the set
			}
			clear(expired)
		}
	}
}

// sweepInterval is how often the sweeper looks: a tenth of the shorter
// timeout, so a stream closes at most 10% late, between 10 ms and 30 s.
func sweepInterval(idle, lifetime time.Duration) time.Duration {
	return min(max(min(idle, lifetime)/10, 10*time.Millisecond), 30*time.Second)
}

// closeStreams ends every taken-over stream and waits for their readers
// and writers; no stream is taken over after it. Called on terminate,
// after the workers stopped.
func (f *Fanout) closeStreams() {
	s := &f.streams
	s.mu.Lock()
	s.closed = true
	open := make([]*liveClient, 0, len(s.clients))
	for c := range s.clients {
		open = append(open, c)
	}
	s.mu.Unlock()
	for _, c := range open {
		c.end()
	}
	s.running.Wait()
}

// Goroutine frames of a taken-over stream, for profiles and for tests
// that count streams: its reader, and its writer while events are pending.
var (
	StreamReaderFrame = funcName((*liveClient).read)
	StreamWriterFrame = funcName((*liveClient).write)
)

func funcName(fn any) string {
	return runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
}
