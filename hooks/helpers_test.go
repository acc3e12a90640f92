package hooks_test

// The plumbing every test file shares, each piece once: requests (JSON and
// multipart), PocketBase's error JSON, record counts, the hooks a scenario
// fires, waitFor, and the realtime server and SSE client. Fixtures, the
// template and newTestApp are in main_test.go.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/marketchat/marketchat/hooks"
	"github.com/marketchat/marketchat/internal/sse"
	"github.com/marketchat/marketchat/realtime"
)

// Requests.

// requestTimeout bounds one request of a test over loopback, answer
// included; generous, for many requests at once on a busy machine.
const requestTimeout = 30 * time.Second

// serveTestApp serves app's API (appHandler) over a loopback httptest
// server. Inside a scenario use serveJSON with the scenario's router.
func serveTestApp(tb testing.TB, app core.App) *httptest.Server {
	tb.Helper()
	srv := httptest.NewServer(appHandler(tb, app))
	tb.Cleanup(srv.Close)
	return srv
}

// sendRequest sends body with headers to srv through the server's own
// client (so that TLS servers work) and returns the status and body. It
// reports failure as an error, for goroutines.
func sendRequest(srv *httptest.Server, method, path string, body io.Reader, headers map[string]string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, body)
	if err != nil {
		return 0, nil, fmt.Errorf("new request %s %s: %w", method, path, err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read %s %s: %w", method, path, err)
	}
	return res.StatusCode, data, nil
}

// jsonHeaders are the headers of a JSON request with token as its
// Authorization (none when empty).
func jsonHeaders(token string) map[string]string {
	headers := map[string]string{"Content-Type": "application/json"}
	if token != "" {
		headers["Authorization"] = token
	}
	return headers
}

// headersOf are actor's headers (a fixture id, "superuser" or "" for a
// guest) with the given Content-Type.
func headersOf(actor, contentType string) map[string]string {
	headers := map[string]string{"Content-Type": contentType}
	if actor != "" {
		headers["Authorization"] = tokens[actor]
	}
	return headers
}

// jsonBody encodes body as a request body; nil is no body.
func jsonBody(tb testing.TB, body any) io.Reader {
	tb.Helper()
	if body == nil {
		return nil
	}
	data, err := json.Marshal(body)
	if err != nil {
		tb.Fatalf("json.Marshal(%v) = %v; want nil", body, err)
	}
	return bytes.NewReader(data)
}

// sendJSON sends a JSON body (none when empty) to srv with token as its
// Authorization (none when empty) and returns the status and body; it
// reports failure as an error, for goroutines.
func sendJSON(srv *httptest.Server, method, path, token, body string) (int, []byte, error) {
	return sendRequest(srv, method, path, strings.NewReader(body), jsonHeaders(token))
}

// doJSON is sendJSON that fails the test on a transport error.
func doJSON(tb testing.TB, srv *httptest.Server, method, path, token, body string) (int, []byte) {
	tb.Helper()
	status, data, err := sendJSON(srv, method, path, token, body)
	if err != nil {
		tb.Fatal(err)
	}
	return status, data
}

// serveJSON serves one JSON request (body "" for none) through h, without
// a network, from the client address ip ("" for httptest's) with token as
// its Authorization (none when empty), and returns the recorded answer.
func serveJSON(h http.Handler, ip, method, target, token, body string) *httptest.ResponseRecorder {
	var reader io.Reader
	if body != "" {
		reader = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, reader)
	if ip != "" {
		req.RemoteAddr = ip + ":40000"
	}
	for k, v := range jsonHeaders(token) {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// serveInScenario serves one JSON request through the router of a
// scenario's serve event (for steps before the scenario's own request)
// and returns the status and body. Use it, not serveTestApp, inside a
// scenario: PocketBase's apis.NewRouter may run only once per app.
func serveInScenario(tb testing.TB, e *core.ServeEvent, method, path, token, body string) (int, []byte) {
	tb.Helper()
	mux, err := e.Router.BuildMux()
	if err != nil {
		tb.Fatalf("build mux: %v", err)
	}
	rec := serveJSON(mux, "", method, path, token, body)
	return rec.Code, rec.Body.Bytes()
}

// decodeObject decodes a JSON object response body.
func decodeObject(tb testing.TB, res *http.Response) map[string]any {
	tb.Helper()
	var obj map[string]any
	if err := json.NewDecoder(res.Body).Decode(&obj); err != nil {
		tb.Fatalf("decode response body: %v", err)
	}
	return obj
}

// checkErrorJSON checks that body is PocketBase's error JSON with the
// given status: {"status", "message", "data"}.
func checkErrorJSON(tb testing.TB, body []byte, status int) {
	tb.Helper()
	var apiErr struct {
		Status  any            `json:"status"`
		Message any            `json:"message"`
		Data    map[string]any `json:"data"`
	}
	err := json.Unmarshal(body, &apiErr)
	if err != nil || apiErr.Status != float64(status) || apiErr.Message == "" || apiErr.Message == nil || apiErr.Data == nil {
		tb.Errorf("answer = %q; want PocketBase's error JSON {\"status\":%d,\"message\":\"...\",\"data\":{...}}", body, status)
	}
}

// Multipart bodies.

// upload is one file of a multipart request.
type upload struct {
	field, filename string
	content         []byte
}

// tinyPNG returns a valid 1x1 PNG.
func tinyPNG(tb testing.TB) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 1, 1))); err != nil {
		tb.Fatalf("png.Encode() error = %v", err)
	}
	return buf.Bytes()
}

// pngUploads returns n tiny PNG uploads for the field, named photo.png.
func pngUploads(tb testing.TB, field string, n int) []upload {
	tb.Helper()
	uploads := make([]upload, n)
	for i := range uploads {
		uploads[i] = upload{field: field, filename: "photo.png", content: tinyPNG(tb)}
	}
	return uploads
}

// multipartForm builds a multipart body with the text fields and files, and
// returns it with the headers of actor (a fixture id, "superuser" or "" for
// a guest) plus the matching Content-Type. Its Bytes() send it again.
func multipartForm(tb testing.TB, actor string, fields map[string]string, files ...upload) (*bytes.Buffer, map[string]string) {
	tb.Helper()
	var body bytes.Buffer
	mp := multipart.NewWriter(&body)
	for k, v := range fields {
		if err := mp.WriteField(k, v); err != nil {
			tb.Fatalf("WriteField(%q) error = %v", k, err)
		}
	}
	for _, f := range files {
		w, err := mp.CreateFormFile(f.field, f.filename)
		if err != nil {
			tb.Fatalf("CreateFormFile(%q, %q) error = %v", f.field, f.filename, err)
		}
		if _, err := w.Write(f.content); err != nil {
			tb.Fatalf("write %q error = %v", f.filename, err)
		}
	}
	if err := mp.Close(); err != nil {
		tb.Fatalf("multipart Close() error = %v", err)
	}
	return &body, headersOf(actor, mp.FormDataContentType())
}

// Records.

// countRecords counts the records of collection that match where (all of
// them without it).
func countRecords(tb testing.TB, app core.App, collection string, where ...dbx.Expression) int {
	tb.Helper()
	n, err := app.CountRecords(collection, where...)
	if err != nil {
		tb.Fatalf("CountRecords(%q, %v) error = %v", collection, where, err)
	}
	return int(n)
}

// checkCount fails the test unless collection holds want records that
// match where (all of them without it).
func checkCount(tb testing.TB, app core.App, collection string, want int, where ...dbx.Expression) {
	tb.Helper()
	if got := countRecords(tb, app, collection, where...); got != want {
		tb.Errorf("CountRecords(%q, %v) = %d; want %d", collection, where, got, want)
	}
}

// afterCount is checkCount as a scenario's AfterTestFunc.
func afterCount(collection string, want int, where ...dbx.Expression) func(testing.TB, *tests.TestApp, *http.Response) {
	return func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
		tb.Helper()
		checkCount(tb, app, collection, want, where...)
	}
}

// checkExists fails the test unless the record id of collection exists
// (or, with want false, unless it is gone).
func checkExists(tb testing.TB, app core.App, collection, id string, want bool) {
	tb.Helper()
	_, err := app.FindRecordById(collection, id)
	if got := err == nil; got != want {
		tb.Errorf("FindRecordById(%q, %q) found = %v (err %v); want %v", collection, id, got, err, want)
	}
}

// Hook events, for tests.ApiScenario.ExpectedEvents. Each starts with
// "*": 0: no hook outside the list may fire. A refusal never fires an
// after-success hook, so nothing downstream (the realtime fan-out, the
// upload charge) sees it.
var (
	// noEvents: refused before any record hook runs (the collection's
	// rule, an unreadable or oversized body, a record that is not there).
	noEvents = map[string]int{"*": 0}

	// createRefusedEvents: refused by a create request hook of this
	// package (sender or participant checks, body kinds, budgets), before
	// the record is validated.
	createRefusedEvents = map[string]int{"*": 0, "OnRecordCreateRequest": 1}

	// createInvalidEvents: refused by validation; the error hooks fire,
	// the insert does not run.
	createInvalidEvents = map[string]int{
		"*": 0, "OnRecordCreateRequest": 1,
		"OnRecordCreate": 1, "OnModelCreate": 1, "OnRecordValidate": 1, "OnModelValidate": 1,
		"OnRecordAfterCreateError": 1, "OnModelAfterCreateError": 1,
	}

	// createFailedEvents: valid, but refused inside the insert (a budget
	// counted in the transaction, a unique id); the error hooks fire.
	createFailedEvents = map[string]int{
		"*": 0, "OnRecordCreateRequest": 1,
		"OnRecordCreate": 1, "OnModelCreate": 1, "OnRecordValidate": 1, "OnModelValidate": 1,
		"OnRecordCreateExecute": 1, "OnModelCreateExecute": 1,
		"OnRecordAfterCreateError": 1, "OnModelAfterCreateError": 1,
	}

	// createdEvents: one record created through the records API.
	createdEvents = map[string]int{
		"*": 0, "OnRecordCreateRequest": 1,
		"OnRecordCreate": 1, "OnModelCreate": 1, "OnRecordValidate": 1, "OnModelValidate": 1,
		"OnRecordCreateExecute": 1, "OnModelCreateExecute": 1,
		"OnRecordAfterCreateSuccess": 1, "OnModelAfterCreateSuccess": 1,
		"OnRecordEnrich": 1,
	}

	// updateRefusedEvents: refused by an update request hook of this
	// package, before the record is validated.
	updateRefusedEvents = map[string]int{"*": 0, "OnRecordUpdateRequest": 1}

	// updateInvalidEvents: refused by validation; the error hooks fire.
	updateInvalidEvents = map[string]int{
		"*": 0, "OnRecordUpdateRequest": 1,
		"OnRecordUpdate": 1, "OnModelUpdate": 1, "OnRecordValidate": 1, "OnModelValidate": 1,
		"OnRecordAfterUpdateError": 1, "OnModelAfterUpdateError": 1,
	}

	// updateFailedEvents: valid, but refused inside the update (a budget
	// counted in the transaction); the error hooks fire.
	updateFailedEvents = map[string]int{
		"*": 0, "OnRecordUpdateRequest": 1,
		"OnRecordUpdate": 1, "OnModelUpdate": 1, "OnRecordValidate": 1, "OnModelValidate": 1,
		"OnRecordUpdateExecute": 1, "OnModelUpdateExecute": 1,
		"OnRecordAfterUpdateError": 1, "OnModelAfterUpdateError": 1,
	}

	// updatedEvents: one record updated through the records API.
	updatedEvents = map[string]int{
		"*": 0, "OnRecordUpdateRequest": 1,
		"OnRecordUpdate": 1, "OnModelUpdate": 1, "OnRecordValidate": 1, "OnModelValidate": 1,
		"OnRecordUpdateExecute": 1, "OnModelUpdateExecute": 1,
		"OnRecordAfterUpdateSuccess": 1, "OnModelAfterUpdateSuccess": 1,
		"OnRecordEnrich": 1,
	}

	// deletedEvents: one record deleted through the records API, nothing
	// pointing at it.
	deletedEvents = map[string]int{
		"*": 0, "OnRecordDeleteRequest": 1,
		"OnRecordDelete": 1, "OnModelDelete": 1, "OnRecordDeleteExecute": 1, "OnModelDeleteExecute": 1,
		"OnRecordAfterDeleteSuccess": 1, "OnModelAfterDeleteSuccess": 1,
	}
)

// createOrUpdate is create for a POST and update for any other method:
// one outcome's hook events for a table that mixes creates and updates.
func createOrUpdate(method string, create, update map[string]int) map[string]int {
	if method == http.MethodPost {
		return create
	}
	return update
}

// Waiting.

// waitFor polls cond until it holds, failing the test after timeout. It
// is the only polling loop of the tests: whatever must happen "within
// moments" waits here.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// realtimeModes are the two ways the app serves realtime: through the
// fan-out (the default; a new message updates its room's preview in one
// UPDATE) and PocketBase's broadcast alone (Plain; the room is saved).
var realtimeModes = []struct {
	name   string
	config hooks.Config
}{
	{"fan-out", hooks.Config{}},
	{"PocketBase's broadcast", hooks.Config{Realtime: realtime.Config{Plain: true}}},
}

// Realtime: the app behind a real HTTP server on loopback, and SSE
// clients that talk to /api/realtime the way the JS SDK does: GET opens
// the stream and answers PB_CONNECT with a clientId, POST sets the
// subscriptions with the user's token.

const (
	// realtimeEventTimeout bounds every wait for an event.
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
// The server is closed after the clients (whose cleanups come later) and
// before the app (whose cleanup came first).
func serveRealtime(tb testing.TB, app *tests.TestApp) *realtimeServer {
	tb.Helper()
	return &realtimeServer{app: app, srv: serveTestApp(tb, app)}
}

// requestWithToken sends a JSON request (body nil for none) with token as
// its Authorization ("" for none) and returns the status and body.
func (s *realtimeServer) requestWithToken(tb testing.TB, method, path, token string, body any) (int, []byte) {
	tb.Helper()
	status, data, err := sendRequest(s.srv, method, path, jsonBody(tb, body), jsonHeaders(token))
	if err != nil {
		tb.Fatal(err)
	}
	return status, data
}

// request sends a JSON request as userID ("" for a guest) and returns the
// status and body.
func (s *realtimeServer) request(tb testing.TB, method, path, userID string, body any) (int, []byte) {
	tb.Helper()
	token := ""
	if userID != "" {
		token = cmp.Or(s.tokens[userID], tokens[userID])
	}
	return s.requestWithToken(tb, method, path, token, body)
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

// waitClosed reads c's stream, skipping any events still on it, until the
// server ends it and returns how long that took; it fails the test after
// timeout.
func (c *realtimeClient) waitClosed(tb testing.TB, timeout time.Duration) time.Duration {
	tb.Helper()
	start := time.Now()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-c.events:
			if !ok {
				return time.Since(start)
			}
		case <-timer.C:
			tb.Fatalf("%s: stream still open after %v; want it closed by the server", c.who, timeout)
		}
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
