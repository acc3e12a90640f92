package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/marketchat/marketchat/internal/sse"
)

// What the storm test runs on: the binary with its users (stormEnv), and
// realtime streams each on its own TCP connection (stormStream).

// stormEnv is the running binary, its superuser and the users.
type stormEnv struct {
	s          *server
	addr       string // 127.0.0.1:port
	serverPort int
	hc         *http.Client // REST calls (subscriptions included)
	su         string       // superuser token
	users      []stormUser  // the storm's
	capUsers   []stormUser  // kept out of the storm
	roomID     string       // a room of users[0] and users[1]
}

type stormUser struct{ id, token string }

// newStormEnv starts the binary, signs in its superuser, raises the rate
// limiter's /api/ rule (the limiter stays on, so the per-address cap
// applies), and creates the users, their tokens and one room.
func newStormEnv(t *testing.T) *stormEnv {
	t.Helper()
	s := startServer(t)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	e := &stormEnv{
		s: s, addr: u.Host, serverPort: port,
		hc: &http.Client{Transport: &http.Transport{
			Proxy:               nil, // loopback only
			MaxIdleConnsPerHost: 256,
			MaxConnsPerHost:     256, // bounds the subscribe requests in flight
			DisableCompression:  true,
		}},
	}
	t.Cleanup(e.hc.CloseIdleConnections)

	s.superuser(t, stormSuperuserEmail, stormPassword)
	var auth struct{ Token string }
	e.must(t, "POST", "/api/collections/_superusers/auth-with-password", "",
		map[string]any{"identity": stormSuperuserEmail, "password": stormPassword}, http.StatusOK, &auth)
	e.su = auth.Token

	// The limiter counts every request per address, and all of the storm
	// comes from 127.0.0.1: its generous "/api/" rule (300 per 10 s) would
	// answer the storm before the connection cap does. Raise that rule
	// only; the limiter stays on, which is what turns the cap on.
	var settings struct {
		RateLimits struct {
			Enabled     bool             `json:"enabled"`
			ExcludedIPs []string         `json:"excludedIPs"`
			Rules       []map[string]any `json:"rules"`
		} `json:"rateLimits"`
	}
	e.must(t, "GET", "/api/settings", e.su, nil, http.StatusOK, &settings)
	if !settings.RateLimits.Enabled {
		t.Fatalf("rate limiter enabled = false on a fresh data dir; want true")
	}
	raised := false
	for _, rule := range settings.RateLimits.Rules {
		if rule["label"] == "/api/" {
			rule["maxRequests"], raised = 1_000_000, true
		}
	}
	if !raised {
		settings.RateLimits.Rules = append(settings.RateLimits.Rules,
			map[string]any{"label": "/api/", "maxRequests": 1_000_000, "duration": 10})
	}
	e.must(t, "PATCH", "/api/settings", e.su, map[string]any{"rateLimits": map[string]any{
		"enabled": true, "excludedIPs": []string{}, "rules": settings.RateLimits.Rules,
	}}, http.StatusOK, nil)

	// Hashing 107 passwords at bcrypt's default cost would take longer
	// than the storm; tokens come from impersonation.
	var users struct {
		Fields []map[string]any `json:"fields"`
	}
	e.must(t, "GET", "/api/collections/users", e.su, nil, http.StatusOK, &users)
	for _, f := range users.Fields {
		if f["type"] == "password" {
			f["cost"] = 4
		}
	}
	e.must(t, "PATCH", "/api/collections/users", e.su, map[string]any{"fields": users.Fields}, http.StatusOK, nil)

	all := make([]stormUser, stormUsers+stormCapUsers)
	stormParallel(t, len(all), 4, func(i int) error {
		var rec struct{ ID string }
		if st, raw, err := e.call(context.Background(), "POST", "/api/collections/users/records", e.su, map[string]any{
			"email": fmt.Sprintf("storm%03d@example.com", i), "password": stormPassword,
			"passwordConfirm": stormPassword, "name": fmt.Sprintf("Storm %d", i),
		}, &rec); err != nil || st != http.StatusOK {
			return fmt.Errorf("create user %d = %d %s, %v; want 200", i, st, raw, err)
		}
		var tok struct{ Token string }
		if st, raw, err := e.call(context.Background(), "POST", "/api/collections/users/impersonate/"+rec.ID, e.su,
			map[string]any{"duration": 3600}, &tok); err != nil || st != http.StatusOK || tok.Token == "" {
			return fmt.Errorf("impersonate user %d = %d %s, %v; want 200 and a token", i, st, raw, err)
		}
		all[i] = stormUser{id: rec.ID, token: tok.Token}
		return nil
	})
	e.users, e.capUsers = all[:stormUsers], all[stormUsers:]

	var post struct{ ID string }
	e.must(t, "POST", "/api/collections/posts/records", e.users[0].token,
		map[string]any{"title": "Storm bike", "price": 10}, http.StatusOK, &post)
	var room struct{ ID string }
	e.must(t, "POST", "/api/posts/"+post.ID+"/chat", e.users[1].token, nil, http.StatusCreated, &room)
	e.roomID = room.ID

	// Fill the server's database connection pool, so that the baseline
	// holds as many idle SQLite files as the server keeps after a load.
	stormParallel(t, 64, 64, func(int) error {
		st, raw, err := e.call(context.Background(), "GET", "/api/collections/users/records?perPage=50", e.su, nil, nil)
		if err != nil || st != http.StatusOK {
			return fmt.Errorf("list users = %d %s, %v; want 200", st, raw, err)
		}
		return nil
	})
	return e
}

// call sends a JSON request and decodes a 2xx JSON answer into out.
func (e *stormEnv) call(ctx context.Context, method, path, token string, body, out any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, stormHandshakeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.s.URL+path, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := e.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return res.StatusCode, raw, err
	}
	if out != nil && res.StatusCode/100 == 2 && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return res.StatusCode, raw, fmt.Errorf("decode %s %s answer %q: %w", method, path, raw, err)
		}
	}
	return res.StatusCode, raw, nil
}

// must is call that fails the test unless the answer is want.
func (e *stormEnv) must(t *testing.T, method, path, token string, body any, want int, out any) {
	t.Helper()
	st, raw, err := e.call(context.Background(), method, path, token, body, out)
	if err != nil || st != want {
		t.Fatalf("%s %s = %d %s, %v; want %d", method, path, st, raw, err, want)
	}
}

// subscribe sets a stream's topics as token ("" for a guest).
func (e *stormEnv) subscribe(ctx context.Context, token, clientID string, topics []string) (stormAnswer, error) {
	st, raw, err := e.call(ctx, "POST", "/api/realtime", token, map[string]any{
		"clientId": clientID, "subscriptions": topics,
	}, nil)
	return stormAnswer{status: st, body: raw}, err
}

// mustSubscribe fails the test unless the subscription is accepted.
func (e *stormEnv) mustSubscribe(t *testing.T, token string, st *stormStream, topics []string) {
	t.Helper()
	ans, err := e.subscribe(context.Background(), token, st.clientID, topics)
	if err != nil || ans.status != http.StatusNoContent {
		t.Fatalf("POST /api/realtime with %d topics = %d %s, %v; want 204", len(topics), ans.status, ans.body, err)
	}
}

// connect opens a stream and fails the test unless it is accepted.
func (e *stormEnv) connect(t *testing.T) *stormStream {
	t.Helper()
	st, ans, err := e.tryConnect(context.Background(), 0)
	if err != nil || st == nil {
		t.Fatalf("GET /api/realtime = %d %s, %v; want 200 and PB_CONNECT", ans.status, ans.body, err)
	}
	return st
}

func (e *stormEnv) tryConnect(ctx context.Context, rcvbuf int) (*stormStream, stormAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, stormHandshakeTimeout)
	defer cancel()
	return stormConnect(ctx, e.addr, rcvbuf)
}

// connectMany opens n streams, 50 handshakes at a time, and fails the
// test unless every one is accepted.
func (e *stormEnv) connectMany(t *testing.T, n int) []*stormStream {
	t.Helper()
	streams, refused := e.tryConnectMany(t, n)
	if len(refused) > 0 {
		stormCloseAll(streams)
		t.Fatalf("opening %d streams: %d refused, first: %s; want all accepted", n, len(refused), refused[0])
	}
	return streams
}

// tryConnectMany opens n streams, 50 handshakes at a time, and returns
// those accepted (nil for the others) and the refusals.
func (e *stormEnv) tryConnectMany(t *testing.T, n int) ([]*stormStream, []string) {
	t.Helper()
	streams := make([]*stormStream, n)
	var mu sync.Mutex
	var refused []string
	stormParallel(t, n, 50, func(i int) error {
		st, ans, err := e.tryConnect(context.Background(), 0)
		if err != nil || st == nil {
			mu.Lock()
			refused = append(refused, fmt.Sprintf("%d %s %v", ans.status, ans.body, err))
			mu.Unlock()
			return nil
		}
		streams[i] = st
		return nil
	})
	return streams, refused
}

// stormStream is one realtime connection on its own TCP connection.
type stormStream struct {
	conn     net.Conn
	events   *bufio.Reader
	clientID string
}

func (s *stormStream) Close() { s.conn.Close() }

func (s *stormStream) localPort() int { return s.conn.LocalAddr().(*net.TCPAddr).Port }

func stormCloseAll(streams []*stormStream) {
	for _, s := range streams {
		if s != nil {
			s.Close()
		}
	}
}

// stormAnswer is a refused request's answer.
type stormAnswer struct {
	status      int
	contentType string
	body        []byte
}

// isCapError reports whether the answer is PocketBase's error JSON with
// status and a message naming the cap ("... (at most N).").
func (a stormAnswer) isCapError(status, limit int) bool {
	var e struct {
		Status  int             `json:"status"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	}
	return a.status == status && json.Unmarshal(a.body, &e) == nil && e.Status == status &&
		strings.Contains(e.Message, fmt.Sprintf("(at most %d)", limit)) && string(e.Data) == "{}"
}

// stormConnect opens GET /api/realtime on its own TCP connection (with
// receive buffer rcvbuf when > 0) and reads PB_CONNECT. A refused connect
// returns the answer and no stream. ctx must have a deadline.
func stormConnect(ctx context.Context, addr string, rcvbuf int) (*stormStream, stormAnswer, error) {
	d := net.Dialer{}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, raw syscall.RawConn) error {
			var sockErr error
			err := raw.Control(func(fd uintptr) {
				sockErr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			return errors.Join(err, sockErr)
		}
	}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, stormAnswer{}, err
	}
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	fail := func(ans stormAnswer, err error) (*stormStream, stormAnswer, error) {
		conn.Close()
		return nil, ans, err
	}

	if _, err := io.WriteString(conn, "GET /api/realtime HTTP/1.1\r\nHost: "+addr+"\r\nAccept: text/event-stream\r\n\r\n"); err != nil {
		return fail(stormAnswer{}, err)
	}
	res, err := http.ReadResponse(bufio.NewReaderSize(conn, 4096), nil)
	if err != nil {
		return fail(stormAnswer{}, err)
	}
	if res.StatusCode != http.StatusOK {
		body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		return fail(stormAnswer{status: res.StatusCode, contentType: res.Header.Get("Content-Type"), body: body}, err)
	}
	ans := stormAnswer{status: res.StatusCode, contentType: res.Header.Get("Content-Type")}
	events := bufio.NewReaderSize(res.Body, 4096)
	ev, err := sse.ReadEvent(events)
	if err != nil {
		return fail(ans, fmt.Errorf("read PB_CONNECT: %w", err))
	}
	var hello struct {
		ClientID string `json:"clientId"`
	}
	if ev.Name != "PB_CONNECT" || json.Unmarshal(ev.Data, &hello) != nil || hello.ClientID == "" {
		return fail(ans, fmt.Errorf("first event %q %q; want PB_CONNECT with a clientId", ev.Name, ev.Data))
	}
	if !stop() { // ctx ended just now
		return fail(ans, ctx.Err())
	}
	conn.SetDeadline(time.Time{})
	return &stormStream{conn: conn, events: events, clientID: hello.ClientID}, ans, nil
}

// stormTopics returns n distinct topics of the collections the fan-out
// indexes.
func stormTopics(n int) []string {
	topics := []string{"posts/*", "rooms/*", "messages/*"}
	for i := len(topics); i < n; i++ {
		topics = append(topics, fmt.Sprintf("posts/storm%010d", i))
	}
	return topics[:n]
}

// stormSDKTopic is the topic the JS SDK sends for
// pb.collection(collection).subscribe("*", cb, {filter}).
func stormSDKTopic(collection, filter string) string {
	opts, _ := json.Marshal(map[string]any{"query": map[string]string{"filter": filter}})
	return collection + "/*?options=" + strings.ReplaceAll(url.QueryEscape(string(opts)), "+", "%20")
}

// stormParallel runs fn(0..n-1) on conc goroutines and fails the test
// with the first error.
func stormParallel(t *testing.T, n, conc int, fn func(i int) error) {
	t.Helper()
	next := make(chan int)
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range min(n, conc) {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}

// stormRaiseFileLimit raises the open-file limit to its hard maximum
// (inherited by the server, which the test starts afterwards) and fails
// when that is below need.
func stormRaiseFileLimit(t *testing.T, need uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			t.Fatal(err)
		}
	}
	if lim.Cur < need {
		t.Fatalf("open-file limit %d; the storm needs %d (raise the hard limit or set %s lower)", lim.Cur, need, stormClientsEnv)
	}
}
