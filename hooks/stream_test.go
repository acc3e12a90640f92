package hooks_test

// Realtime streams taken over from net/http (realtime/stream.go): the wire
// format and headers, the end of a stream (peer close, idle, max lifetime,
// terminate) and the memory a held stream costs.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/subscriptions"

	"github.com/marketchat/marketchat/hooks"
	"github.com/marketchat/marketchat/realtime"
)

// streamOrigin is the cross-origin web app of TestStreamWireFormat.
const streamOrigin = "http://shop.example"

// serveRealtimeWithCORS is serveRealtime with PocketBase's CORS middleware
// bound as apis.Serve binds it (appHandler has none), allowing streamOrigin.
func serveRealtimeWithCORS(tb testing.TB, app *tests.TestApp) *realtimeServer {
	tb.Helper()
	srv := httptest.NewServer(appHandler(tb, app, apis.CORS(apis.CORSConfig{AllowOrigins: []string{streamOrigin}})))
	tb.Cleanup(srv.Close)
	return &realtimeServer{app: app, srv: srv}
}

// rawStream is GET /api/realtime on a raw TCP connection.
type rawStream struct {
	conn net.Conn
	resp *http.Response
	body *bufio.Reader
}

// dialRaw sends GET /api/realtime with the extra request header lines
// and reads the response head.
func dialRaw(tb testing.TB, s *realtimeServer, headers ...string) *rawStream {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.srv.URL, "http://"), realtimeEventTimeout)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	tb.Cleanup(func() { conn.Close() })
	req := "GET /api/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
	for _, h := range headers {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		tb.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(realtimeEventTimeout))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		tb.Fatalf("read the response head: %v", err)
	}
	return &rawStream{conn: conn, resp: resp, body: bufio.NewReader(resp.Body)}
}

// nextRaw returns the next event exactly as sent, up to and including the
// blank line that ends it.
func (r *rawStream) nextRaw(tb testing.TB) []byte {
	tb.Helper()
	r.conn.SetReadDeadline(time.Now().Add(realtimeEventTimeout))
	var ev []byte
	for {
		line, err := r.body.ReadBytes('\n')
		ev = append(ev, line...)
		if err != nil {
			tb.Fatalf("read an event: %v (so far %q)", err, ev)
		}
		if string(line) == "\n" {
			return ev
		}
	}
}

// writeSSE is what PocketBase's loop writes for m on the stream of clientID.
func writeSSE(tb testing.TB, clientID, name string, data []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	m := subscriptions.Message{Name: name, Data: data}
	if err := m.WriteSSE(&buf, clientID); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// TestStreamWireFormat: a taken-over stream answers a cross-origin GET
// with PocketBase's headers, the middlewares' CORS and security headers,
// no framing and "Connection: close", then PB_CONNECT and record events
// byte for byte as PocketBase's loop writes them.
func TestStreamWireFormat(t *testing.T) {
	waitNoStreams(t) // this test counts stream goroutines
	s := serveRealtimeWithCORS(t, newTestApp(t))
	r := dialRaw(t, s, "Origin: "+streamOrigin)

	if r.resp.StatusCode != http.StatusOK || r.resp.Proto != "HTTP/1.1" {
		t.Fatalf("status line %s %s; want HTTP/1.1 200", r.resp.Proto, r.resp.Status)
	}
	for name, want := range map[string]string{
		"Content-Type":                "text/event-stream",
		"Cache-Control":               "no-store",
		"X-Accel-Buffering":           "no",
		"Access-Control-Allow-Origin": streamOrigin,
		"Vary":                        "Origin",
		"X-Content-Type-Options":      "nosniff",
		"X-Frame-Options":             "SAMEORIGIN",
	} {
		if got := r.resp.Header.Get(name); got != want {
			t.Errorf("header %s = %q; want %q", name, got, want)
		}
	}
	if date, err := http.ParseTime(r.resp.Header.Get("Date")); err != nil || time.Since(date) > time.Minute || time.Until(date) > time.Minute {
		t.Errorf("header Date = %q (%v); want the time now", r.resp.Header.Get("Date"), err)
	}
	// resp.Close: the response said "Connection: close" (the request did not).
	if r.resp.ContentLength != -1 || len(r.resp.TransferEncoding) != 0 || !r.resp.Close {
		t.Errorf("framing: Content-Length %d, Transfer-Encoding %v, Connection: close %v; want none, none, true (the body ends with the connection)",
			r.resp.ContentLength, r.resp.TransferEncoding, r.resp.Close)
	}

	connect := r.nextRaw(t)
	var hello struct {
		ClientID string `json:"clientId"`
	}
	_, data, _ := bytes.Cut(connect, []byte("\ndata:"))
	if err := json.Unmarshal(bytes.TrimSpace(data), &hello); err != nil || len(hello.ClientID) != 40 {
		t.Fatalf("PB_CONNECT %q: clientId %q (%v); want a 40-character id", connect, hello.ClientID, err)
	}
	want := writeSSE(t, hello.ClientID, "PB_CONNECT", []byte(`{"clientId":"`+hello.ClientID+`"}`))
	if !bytes.Equal(connect, want) {
		t.Errorf("PB_CONNECT bytes %q; want %q", connect, want)
	}

	// The stream was taken over: no PocketBase loop serves it, one reader
	// does. Both are counted until they settle: PB_CONNECT is written from
	// inside the request, so the client may read it while the request's
	// goroutine is still on its way out of PocketBase's handler, and before
	// the new reader goroutine has first run (until then its stack shows
	// only the go statement's wrapper). CI saw the first once, -count=800
	// the second once. A loop that served the stream would stay, and a
	// missing reader would stay missing.
	waitFor(t, realtimeEventTimeout, "0 PocketBase loops and 1 stream reader", func() bool {
		return goroutinesIn("apis.realtimeConnect") == 0 && goroutinesIn(realtime.StreamReaderFrame) == 1
	})

	s.mustRequest(t, http.MethodPost, "/api/realtime", "", map[string]any{
		"clientId": hello.ClientID, "subscriptions": []string{"posts/*"},
	}, http.StatusNoContent)
	for i := range 3 { // coalesced or not, each event is framed alone
		title := fmt.Sprintf("Armchair %d", i)
		s.mustRequest(t, http.MethodPost, "/api/collections/posts/records", alice, map[string]any{"title": title}, http.StatusOK)
		ev := r.nextRaw(t)
		prefix := "id:" + hello.ClientID + "\nevent:posts/*\ndata:"
		if !bytes.HasPrefix(ev, []byte(prefix)) {
			t.Fatalf("event %q; want it to start %q", ev, prefix)
		}
		data := bytes.TrimSuffix(ev[len(prefix):], []byte("\n\n"))
		if want := writeSSE(t, hello.ClientID, "posts/*", data); !bytes.Equal(ev, want) {
			t.Errorf("event bytes %q; want %q", ev, want)
		}
		var decoded recordEvent
		if err := json.Unmarshal(data, &decoded); err != nil {
			t.Fatalf("event data %q: %v", data, err)
		}
		wantRecord(t, "guest", decoded, "create", map[string]any{"title": title, "author": alice})
	}
}

// postEvery creates a post as alice every interval until the returned
// function is called; that function returns the first failure.
func (s *realtimeServer) postEvery(interval time.Duration) func() error {
	stop, done := make(chan struct{}), make(chan error, 1)
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(interval):
			}
			status, _, err := sendJSON(s.srv, http.MethodPost, "/api/collections/posts/records", tokens[alice], fmt.Sprintf(`{"title": "Post %d"}`, i))
			if err != nil {
				done <- err
				return
			}
			if status != http.StatusOK {
				done <- fmt.Errorf("post %d: status %d", i, status)
				return
			}
		}
	}()
	return func() error {
		close(stop)
		return <-done
	}
}

// TestStreamPeerCloseUnregisters: a client that closes its taken-over
// stream is out of the broker at once, its reader gone, and its place
// under the per-user cap free for another connection.
func TestStreamPeerCloseUnregisters(t *testing.T) {
	waitNoStreams(t) // this test counts stream goroutines
	s := serveRealtime(t, newTestAppWithConfig(t, hooks.Config{Realtime: realtime.Config{MaxConnectionsPerUser: 1}}))
	broker := s.app.SubscriptionsBroker()

	_, closeFirst := s.connectClosable(t, bob, "rooms/*")
	second := s.connect(t, bob)
	if n := broker.TotalClients(); n != 2 {
		t.Fatalf("%d realtime clients with two streams open; want 2", n)
	}
	status, body := s.request(t, http.MethodPost, "/api/realtime", bob, map[string]any{
		"clientId": second.id, "subscriptions": []string{"rooms/*"},
	})
	if status != http.StatusTooManyRequests {
		t.Fatalf("bob's second subscribed stream at a cap of 1: %d %s; want 429", status, body)
	}

	closeFirst()
	waitFor(t, realtimeEventTimeout, "the closed stream leaves the broker", func() bool { return broker.TotalClients() == 1 })
	waitFor(t, realtimeEventTimeout, "the closed stream's reader exits", func() bool { return goroutinesIn(realtime.StreamReaderFrame) == 1 })
	s.mustRequest(t, http.MethodPost, "/api/realtime", bob, map[string]any{
		"clientId": second.id, "subscriptions": []string{"rooms/*"},
	}, http.StatusNoContent)

	// The freed place is a real one: the second stream gets bob's events.
	s.sendMessage(t, alice, roomBike, "for the second stream")
	ev := second.expectEvent(t, "rooms/*", realtimeEventTimeout)
	wantRecord(t, bob, ev, "update", map[string]any{"id": roomBike, "last_message": "for the second stream"})
}

// TestStreamIdleTimeout: a stream that is sent nothing for the idle
// timeout is closed and unregistered; one that keeps getting events stays.
func TestStreamIdleTimeout(t *testing.T) {
	// Not parallel: the busy stream must get a post every 100 ms, well within the 400 ms idle timeout, which a loaded machine may not give.
	const idle = 400 * time.Millisecond
	s := serveRealtime(t, newTestAppWithConfig(t, hooks.Config{Realtime: realtime.Config{IdleTimeout: idle}}))

	quiet := s.connect(t, bob, "rooms/*") // nothing happens in bob's rooms
	busy := s.connect(t, carol, "posts/*")
	stopPosting := s.postEvery(100 * time.Millisecond)

	took := quiet.waitClosed(t, idle+realtimeEventTimeout)
	if took < idle-100*time.Millisecond {
		t.Errorf("the quiet stream closed after %v; want the idle timeout of %v first", took, idle)
	}
	// The busy stream outlives the idle timeout by far: it gets events
	// for three idle timeouts (each within realtimeEventTimeout).
	outlived := time.Now().Add(3 * idle)
	waitFor(t, 3*idle+realtimeEventTimeout, "the busy stream open for 3 idle timeouts", func() bool {
		busy.expectEvent(t, "posts/*", realtimeEventTimeout)
		return time.Now().After(outlived)
	})
	if err := stopPosting(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, realtimeEventTimeout, "one realtime client left", func() bool { return s.app.SubscriptionsBroker().TotalClients() == 1 })
}

// TestStreamMaxLifetime: every stream is closed after the max lifetime,
// however busy.
func TestStreamMaxLifetime(t *testing.T) {
	t.Parallel()
	const lifetime = 600 * time.Millisecond
	s := serveRealtime(t, newTestAppWithConfig(t, hooks.Config{Realtime: realtime.Config{MaxLifetime: lifetime}}))
	busy := s.connect(t, carol, "posts/*")
	opened := time.Now()

	stopPosting := s.postEvery(100 * time.Millisecond)

	busy.waitClosed(t, lifetime+realtimeEventTimeout)
	if took := time.Since(opened); took < lifetime-100*time.Millisecond {
		t.Errorf("the stream closed after %v; want the max lifetime of %v first", took, lifetime)
	}
	if err := stopPosting(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, realtimeEventTimeout, "no realtime client left", func() bool { return s.app.SubscriptionsBroker().TotalClients() == 0 })
}

// TestStreamTerminateClosesStreams: the app's terminate closes every
// taken-over stream and waits for their goroutines; a stream asked for
// afterwards is closed unanswered.
func TestStreamTerminateClosesStreams(t *testing.T) {
	waitNoStreams(t) // this test counts stream goroutines
	s := newRealtimeServer(t)
	streams := []*realtimeClient{s.connect(t, bob, "rooms/*"), s.connect(t, "", "posts/*")}

	if err := s.app.OnTerminate().Trigger(&core.TerminateEvent{App: s.app}); err != nil {
		t.Fatalf("terminate: %v", err)
	}
	// Nothing left once terminate returns.
	if n, readers, writers := s.app.SubscriptionsBroker().TotalClients(), goroutinesIn(realtime.StreamReaderFrame), goroutinesIn(realtime.StreamWriterFrame); n != 0 || readers != 0 || writers != 0 {
		t.Errorf("after terminate: %d realtime clients, %d stream readers, %d writers; want none", n, readers, writers)
	}
	for _, c := range streams {
		c.waitClosed(t, realtimeEventTimeout)
	}

	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.srv.URL, "http://"), realtimeEventTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /api/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(realtimeEventTimeout))
	if answer, err := io.ReadAll(conn); err != nil || len(answer) != 0 {
		t.Errorf("a stream asked for after terminate: answer %q, %v; want the connection closed unanswered", answer, err)
	}
	if n := s.app.SubscriptionsBroker().TotalClients(); n != 0 {
		t.Errorf("a stream opened after terminate is registered (%d clients); want none", n)
	}
}

// TestStreamHTTP2KeepsPocketBaseLoop: an HTTP/2 stream cannot be taken
// over; PocketBase's loop serves it with the liveClient's channel, through
// the fan-out as before.
func TestStreamHTTP2KeepsPocketBaseLoop(t *testing.T) {
	waitNoStreams(t) // this test counts stream goroutines
	app := newTestApp(t)
	srv := httptest.NewUnstartedServer(appHandler(t, app))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	s := &realtimeServer{app: app, srv: srv}

	topic := roomMessagesTopic(roomBike)
	bobStream := s.connect(t, bob, topic)
	if loops, readers := goroutinesIn("apis.realtimeConnect"), goroutinesIn(realtime.StreamReaderFrame); loops != 1 || readers != 0 {
		t.Fatalf("%d PocketBase loops and %d stream readers for one HTTP/2 stream; want 1 and 0", loops, readers)
	}
	id := s.sendMessage(t, alice, roomBike, "over HTTP/2")
	got := bobStream.expectEvent(t, topic, realtimeEventTimeout)
	wantRecord(t, bob, got, "create", map[string]any{"id": id, "text": "over HTTP/2"})
}

// BenchmarkRealtimeStreamMemory holds 1,000 realtime streams on loopback
// and reports what each costs in this process: live heap, goroutine
// stacks and goroutines, measured after a GC before and after. The
// clients are raw connections that read up to PB_CONNECT and then hold
// their net.Conn only (a few hundred bytes each, counted in). Compare the
// taken-over streams with PocketBase's loop (--realtime=plain serves every
// stream that way):
//
//	GOTOOLCHAIN=go1.27.3 go test ./hooks -run '^$' -bench RealtimeStreamMemory -benchtime 1x
func BenchmarkRealtimeStreamMemory(b *testing.B) {
	for _, bc := range []struct {
		name   string
		config hooks.Config
	}{
		{"taken-over", hooks.Config{}},
		{"pocketbase-loop", hooks.Config{Realtime: realtime.Config{Plain: true}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const streams = 1000
			app := newTestAppWithConfig(b, bc.config)
			// Every stream comes from 127.0.0.1: no rate limits, no per-address cap.
			settings := app.Settings()
			settings.RateLimits.Enabled = false
			if err := app.Save(settings); err != nil {
				b.Fatal(err)
			}
			s := serveRealtime(b, app)
			addr := strings.TrimPrefix(s.srv.URL, "http://")
			broker := s.app.SubscriptionsBroker()
			var heap, stack, goroutines float64
			for range b.N {
				baseG, baseHeap, baseStack := memNow()
				conns := make([]net.Conn, 0, streams)
				for range streams {
					conns = append(conns, holdStream(b, addr))
				}
				waitFor(b, realtimeEventTimeout, "every stream registered", func() bool { return broker.TotalClients() == streams })
				time.Sleep(200 * time.Millisecond) // let the handshakes' goroutines finish
				g, h, st := memNow()
				heap += float64(int64(h)-int64(baseHeap)) / streams
				stack += float64(int64(st)-int64(baseStack)) / streams
				goroutines += float64(g-baseG) / streams

				for _, c := range conns {
					c.Close()
				}
				waitFor(b, 10*time.Second, "every stream gone", func() bool { return broker.TotalClients() == 0 })
			}
			n := float64(b.N)
			b.ReportMetric(heap/n, "heap-B/stream")
			b.ReportMetric(stack/n, "stack-B/stream")
			b.ReportMetric((heap+stack)/n, "B/stream")
			b.ReportMetric(goroutines/n, "goroutines/stream")
		})
	}
}

// memNow returns the goroutine count, the live heap and the stack memory
// in use after a GC.
func memNow() (int, uint64, uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapAlloc, m.StackInuse
}

// holdStream opens GET /api/realtime on a raw connection, reads up to the
// end of PB_CONNECT and returns the connection with nothing else held.
func holdStream(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", addr, realtimeEventTimeout)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	if _, err := io.WriteString(conn, "GET /api/realtime HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		tb.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(realtimeEventTimeout))
	br := bufio.NewReaderSize(conn, 1024)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			tb.Fatalf("read up to PB_CONNECT (after %q): %v", line, err)
		}
		if strings.HasPrefix(line, "data:") && strings.Contains(line, "clientId") {
			break
		}
	}
	conn.SetReadDeadline(time.Time{})
	return conn
}
