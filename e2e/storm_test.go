package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/marketchat/marketchat/hooks"
	"github.com/marketchat/marketchat/internal/sse"
)

// A reconnect storm against the shipped binary: thousands of realtime
// clients, all from 127.0.0.1, connect, subscribe, drop and reconnect at
// once, while the test checks the realtime caps of hooks/realtime.go (per
// signed-in user, per client address, per connection), that a stalled
// reader is cut off, that the server keeps answering, and that its open
// files return to their baseline afterwards.

const (
	// stormClientsEnv sets the storm's client count (issue 5: 2,000).
	stormClientsEnv     = "MARKETCHAT_STORM_CLIENTS"
	stormDefaultClients = 2000

	stormUsers       = 100  // signed-in users the storm's clients belong to
	stormRounds      = 4    // connect, subscribe, hold, drop: this many times per client
	stormHeavyShare  = 50   // clients of each "heavy" user: 2.5 times the per-user cap
	stormConcurrency = 1000 // clients between connect and drop at once: twice the per-address cap
	stormMaxRetries  = 400  // refused connects per round before a client gives up
	stormAbuseEvery  = 10   // every 10th client first asks for one topic too many

	stormRaceTrials  = 10                  // users whose streams all subscribe at the same instant
	stormRaceStreams = 40                  // streams of each of them
	stormCapUsers    = 2 + stormRaceTrials // users kept out of the storm for the exact cap checks

	stormHandshakeTimeout = 15 * time.Second // one connect or subscribe
	stormDeadline         = 3 * time.Minute  // the whole storm
	stormHealthEvery      = 200 * time.Millisecond
	stormHealthMax        = 3 * time.Second // /api/health must answer within this
	stormSettle           = 10 * time.Second
	stormFDSlack          = 16 // server files (besides its databases) allowed above the baseline once everyone left

	stormStalledReaders = 3
	// 5 KB posts: more than a stalled socket's buffers hold (the kernel
	// lets the server's send buffer grow to 4 MB, net.ipv4.tcp_wmem).
	stormPosts = 1200

	stormSuperuserEmail = "storm-admin@example.com"
	stormPassword       = "password1234"
)

// TestRealtimeReconnectStorm: MARKETCHAT_STORM_CLIENTS clients (default
// 2,000) storm /api/realtime from one address.
//
//   - Per address (rate limiter on, its /api/ rule raised so that it is
//     the connection cap that answers): 500 streams are accepted, the next
//     get 429 with PocketBase's error JSON, a dropped stream frees its
//     place; an address in the limiter's excluded list (by itself or in a
//     subnet) is exempt.
//   - Per connection: 51 topics get 400, 50 are accepted.
//   - Per user: 20 subscribed streams, the 21st gets 429, also when 40
//     subscribe at the same instant; a dropped stream frees its place;
//     other users are unaffected.
//   - The storm: every client connects, subscribes, holds, drops and
//     reconnects for stormRounds rounds. Never more than 500 streams open
//     from the address or 20 subscribed for a user at once, every refusal
//     is the cap's own (429 / 400 with its message), no 5xx, no transport
//     error, /api/health answers within 3 s throughout.
//   - A client that stops reading is cut off within the write deadline
//     while another reader gets every event.
//   - Afterwards the server's open files return to their baseline (its
//     SQLite files aside, which stay bounded by its connection pools),
//     and a message still reaches a freshly connected participant.
func TestRealtimeReconnectStorm(t *testing.T) {
	clients := stormDefaultClients
	if v := os.Getenv(stormClientsEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q; want a positive number", stormClientsEnv, v)
		}
		clients = n
	}
	concurrency := min(clients, stormConcurrency)
	stormRaiseFileLimit(t, uint64(2*concurrency+2048))

	e := newStormEnv(t)
	base := e.settleFDs(t, nil)
	t.Logf("server baseline: %d open files (%d sockets, %d of the databases), %d threads, RSS %d KB",
		base.fds, base.sockets, base.dbFDs, base.threads, base.rssKB)

	e.checkAddressCap(t)
	e.settleFDs(t, &base)
	e.checkTopicCap(t)
	e.checkUserCap(t)
	e.settleFDs(t, &base)

	e.storm(t, clients, concurrency)
	e.checkStalledReaders(t)

	after := e.settleFDs(t, &base)
	t.Logf("server after: %d open files (%d sockets, %d of the databases), %d threads, RSS %d KB",
		after.fds, after.sockets, after.dbFDs, after.threads, after.rssKB)

	e.checkDeliveryAfterStorm(t)
}

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

// checkAddressCap: with no other stream open, exactly the per-address cap
// is accepted, the next get 429 with the cap's error JSON, dropped streams
// free their places, and an excluded address is not capped.
func (e *stormEnv) checkAddressCap(t *testing.T) {
	t.Helper()
	limit := hooks.DefaultMaxConnectionsPerAddress
	streams := e.connectMany(t, limit)
	defer func() { stormCloseAll(streams) }()

	badType := ""
	for range 10 {
		st, ans, err := e.tryConnect(context.Background(), 0)
		if st != nil {
			st.Close()
			t.Fatalf("GET /api/realtime with %d streams open = 200; want 429", limit)
		}
		if err != nil || !ans.isCapError(http.StatusTooManyRequests, limit) {
			t.Fatalf("GET /api/realtime with %d streams open = %d %s, %v; want 429 with PocketBase's error JSON naming the cap of %d",
				limit, ans.status, ans.body, err, limit)
		}
		if !strings.HasPrefix(ans.contentType, "application/json") {
			badType = ans.contentType
		}
	}
	if badType != "" {
		// The refusal comes after PocketBase's realtime handler has set
		// the stream's headers, and its JSON error does not replace them.
		t.Errorf("GET /api/realtime refused at the address cap: Content-Type %q; want application/json (the body is PocketBase's error JSON)", badType)
	}

	// Drop 50; their places come back once the server has seen them go.
	const dropped = 50
	stormCloseAll(streams[:dropped])
	refusals, reconnected := 0, 0
	err := waitFor(stormSettle, 20*time.Millisecond, func() error {
		for reconnected < dropped {
			st, ans, err := e.tryConnect(context.Background(), 0)
			switch {
			case st != nil:
				streams[reconnected] = st
				reconnected++
			case err == nil && ans.isCapError(http.StatusTooManyRequests, limit):
				refusals++
				return fmt.Errorf("%d reconnected; want %d", reconnected, dropped)
			default:
				t.Fatalf("GET /api/realtime after dropping %d streams = %d %s, %v; want 200 or the cap's 429", dropped, ans.status, ans.body, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v after dropping %d of %d streams: %v", stormSettle, dropped, limit, err)
	}
	if st, ans, err := e.tryConnect(context.Background(), 0); st != nil || err != nil || ans.status != http.StatusTooManyRequests {
		if st != nil {
			st.Close()
		}
		t.Fatalf("GET /api/realtime once %d are open again = %d, %v; want 429", limit, ans.status, err)
	}
	t.Logf("address cap: %d accepted, 11 refused at the cap, %d dropped and reconnected (%d refusals while the server saw them go)",
		limit, dropped, refusals)
	stormCloseAll(streams)

	// An address the rate limiter excludes is not capped, whether the
	// list names it or a subnet holding it (the limiter takes both).
	for _, excluded := range []string{"127.0.0.1", "127.0.0.0/8"} {
		e.must(t, "PATCH", "/api/settings", e.su, map[string]any{"rateLimits": map[string]any{"excludedIPs": []string{excluded}}}, http.StatusOK, nil)
		streams, refused := e.tryConnectMany(t, limit+10)
		stormCloseAll(streams)
		if len(refused) > 0 {
			t.Errorf("with %q in the rate limiter's excluded list: %d of %d streams from 127.0.0.1 refused, first: %s; want all accepted",
				excluded, len(refused), limit+10, refused[0])
		}
	}
	e.must(t, "PATCH", "/api/settings", e.su, map[string]any{"rateLimits": map[string]any{"excludedIPs": []string{}}}, http.StatusOK, nil)
}

// checkTopicCap: 51 topics on one connection are refused with 400, 50 are
// accepted.
func (e *stormEnv) checkTopicCap(t *testing.T) {
	t.Helper()
	limit := hooks.DefaultMaxSubscriptionsPerConnection
	st := e.connect(t)
	defer st.Close()
	ans, err := e.subscribe(context.Background(), e.capUsers[1].token, st.clientID, stormTopics(limit+1))
	if err != nil || !ans.isCapError(http.StatusBadRequest, limit) {
		t.Fatalf("POST /api/realtime with %d topics = %d %s, %v; want 400 naming the cap of %d", limit+1, ans.status, ans.body, err, limit)
	}
	e.mustSubscribe(t, e.capUsers[1].token, st, stormTopics(limit))
}

// checkUserCap: one user's 21st subscribed stream gets 429 while another
// user subscribes; a dropped stream frees its place; 40 streams of one
// user subscribing at once get exactly 20 acceptances.
func (e *stormEnv) checkUserCap(t *testing.T) {
	t.Helper()
	limit := hooks.DefaultMaxConnectionsPerUser
	user := e.capUsers[0]
	streams := make([]*stormStream, limit+1)
	defer func() { stormCloseAll(streams) }()
	for i := range streams {
		streams[i] = e.connect(t)
	}
	for _, st := range streams[:limit] {
		e.mustSubscribe(t, user.token, st, stormTopics(3))
	}
	extra := streams[limit]
	ans, err := e.subscribe(context.Background(), user.token, extra.clientID, stormTopics(3))
	if err != nil || !ans.isCapError(http.StatusTooManyRequests, limit) {
		t.Fatalf("subscribe user's stream %d = %d %s, %v; want 429 naming the cap of %d", limit+1, ans.status, ans.body, err, limit)
	}
	// Another user is not affected.
	other := e.connect(t)
	e.mustSubscribe(t, e.capUsers[1].token, other, stormTopics(3))
	other.Close()

	streams[0].Close()
	err = waitFor(stormSettle, 20*time.Millisecond, func() error {
		ans, err := e.subscribe(context.Background(), user.token, extra.clientID, stormTopics(3))
		switch {
		case err == nil && ans.status == http.StatusNoContent:
			return nil
		case err == nil && ans.isCapError(http.StatusTooManyRequests, limit):
			return fmt.Errorf("%d %s", ans.status, ans.body)
		default:
			t.Fatalf("subscribe after dropping one of %d streams = %d %s, %v; want 204 or the cap's 429", limit, ans.status, ans.body, err)
			return nil
		}
	})
	if err != nil {
		t.Fatalf("subscribe after dropping one of %d streams = %v; want 204 within %v", limit, err, stormSettle)
	}
	stormCloseAll(streams)

	// The same cap when 40 streams of one user subscribe at the same instant.
	var results []string
	for trial := range stormRaceTrials {
		user := e.capUsers[2+trial]
		streams := e.connectMany(t, stormRaceStreams)
		start := make(chan struct{})
		var accepted, capped atomic.Int64
		var wg sync.WaitGroup
		var mu sync.Mutex
		var other []string
		for _, st := range streams {
			wg.Go(func() {
				<-start
				ans, err := e.subscribe(context.Background(), user.token, st.clientID, stormTopics(3))
				switch {
				case err == nil && ans.status == http.StatusNoContent:
					accepted.Add(1)
				case err == nil && ans.isCapError(http.StatusTooManyRequests, limit):
					capped.Add(1)
				default:
					mu.Lock()
					other = append(other, fmt.Sprintf("%d %s %v", ans.status, ans.body, err))
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		stormCloseAll(streams)
		if len(other) > 0 {
			t.Errorf("trial %d: %d of %d simultaneous subscriptions answered otherwise, first: %s; want 204 or the cap's 429", trial, len(other), stormRaceStreams, other[0])
		}
		if accepted.Load() != int64(limit) || capped.Load() != int64(stormRaceStreams-limit) {
			t.Errorf("trial %d: %d streams of one user subscribing at once: %d accepted, %d got 429; want %d and %d",
				trial, stormRaceStreams, accepted.Load(), capped.Load(), limit, stormRaceStreams-limit)
		}
		results = append(results, fmt.Sprintf("%d/%d", accepted.Load(), capped.Load()))
	}
	t.Logf("user cap: %d subscribed, the next 429; %d streams of one user subscribing at once, accepted/429 per trial: %s",
		limit, stormRaceStreams, strings.Join(results, " "))
}

// stormTally is what the storm's clients saw.
type stormTally struct {
	attempts, accepted, refusedAddress, gaveUp atomic.Int64
	subscribed, refusedUser, refusedTopics     atomic.Int64
	abuseTries                                 atomic.Int64

	open, maxOpen       atomic.Int64   // streams accepted and not yet dropped
	perUser, maxPerUser []atomic.Int64 // streams subscribed and not yet dropped

	mu         sync.Mutex
	unexpected []string // first few
	nUnexpect  int
	n5xx       int
}

func (tl *stormTally) fail(status int, format string, args ...any) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.nUnexpect++
	if status >= 500 {
		tl.n5xx++
	}
	if len(tl.unexpected) < 10 {
		tl.unexpected = append(tl.unexpected, fmt.Sprintf(format, args...))
	}
}

func stormRaiseMax(peak *atomic.Int64, v int64) {
	for {
		m := peak.Load()
		if v <= m || peak.CompareAndSwap(m, v) {
			return
		}
	}
}

// storm runs the reconnect storm and checks what the clients saw.
func (e *stormEnv) storm(t *testing.T, clients, concurrency int) {
	t.Helper()
	addrLimit := hooks.DefaultMaxConnectionsPerAddress
	userLimit := hooks.DefaultMaxConnectionsPerUser
	topicLimit := hooks.DefaultMaxSubscriptionsPerConnection

	// Users 0..heavy-1 have stormHeavyShare clients each, over the cap;
	// the other clients are spread over the other users.
	heavy := max(1, clients/100)
	owner := make([]int, clients)
	for i := range owner {
		if i < heavy*stormHeavyShare {
			owner[i] = i / stormHeavyShare
		} else {
			owner[i] = heavy + (i-heavy*stormHeavyShare)%(stormUsers-heavy)
		}
	}
	tl := &stormTally{perUser: make([]atomic.Int64, stormUsers), maxPerUser: make([]atomic.Int64, stormUsers)}

	ctx, cancel := context.WithTimeout(context.Background(), stormDeadline)
	defer cancel()
	health := e.sampleHealth(ctx)

	began := time.Now()
	sem := make(chan struct{}, concurrency)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), 5))
			for round := range stormRounds {
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				e.stormRound(ctx, tl, rng, i, round, owner[i])
				<-sem
			}
		})
	}
	wg.Wait()
	took := time.Since(began)
	samples := health.stop()

	if ctx.Err() != nil {
		t.Fatalf("the storm did not end within %v", stormDeadline)
	}
	t.Logf("storm: %d clients (%d users, %d over the per-user cap with %d clients each), %d rounds, at most %d at once, took %v",
		clients, stormUsers, heavy, stormHeavyShare, stormRounds, concurrency, took.Round(time.Millisecond))
	t.Logf("storm: %d connects: %d accepted, %d got 429 at the address cap, %d rounds gave up; %d subscribes accepted, %d got 429 at the user cap; %d of %d over-long topic lists got 400",
		tl.attempts.Load(), tl.accepted.Load(), tl.refusedAddress.Load(), tl.gaveUp.Load(), tl.subscribed.Load(), tl.refusedUser.Load(), tl.refusedTopics.Load(), tl.abuseTries.Load())
	most, mostUser := int64(0), 0
	for u := range tl.maxPerUser {
		if m := tl.maxPerUser[u].Load(); m > most {
			most, mostUser = m, u
		}
	}
	t.Logf("storm: at most %d streams open at once from 127.0.0.1, at most %d subscribed at once for one user (user %d)",
		tl.maxOpen.Load(), most, mostUser)
	t.Logf("storm: /api/health answered %d samples, slowest %v", samples.n, samples.slowest.Round(time.Millisecond))

	if tl.gaveUp.Load() > 0 {
		t.Errorf("storm: %d client rounds refused %d times in a row at the address cap; want every client let in again as others drop", tl.gaveUp.Load(), stormMaxRetries+1)
	}
	if tl.nUnexpect > 0 {
		t.Errorf("storm: %d unexpected answers (%d of them 5xx); first: %s", tl.nUnexpect, tl.n5xx, strings.Join(tl.unexpected, "; "))
	}
	if m := tl.maxOpen.Load(); m > int64(addrLimit) {
		t.Errorf("storm: %d streams accepted and open at once from one address; want at most %d", m, addrLimit)
	}
	for u := range tl.maxPerUser {
		if m := tl.maxPerUser[u].Load(); m > int64(userLimit) {
			t.Errorf("storm: user %d had %d subscribed streams at once; want at most %d", u, m, userLimit)
		}
	}
	if tl.refusedTopics.Load() != tl.abuseTries.Load() {
		t.Errorf("storm: %d of %d subscriptions with %d topics got 400; want all", tl.refusedTopics.Load(), tl.abuseTries.Load(), topicLimit+1)
	}
	if tl.subscribed.Load() == 0 || tl.accepted.Load() == 0 {
		t.Errorf("storm: %d streams accepted, %d subscribed; want some of each", tl.accepted.Load(), tl.subscribed.Load())
	}
	if concurrency > addrLimit+addrLimit/5 && tl.refusedAddress.Load() == 0 {
		t.Errorf("storm: %d clients at once from one address and no 429 at the address cap of %d; want some", concurrency, addrLimit)
	}
	if samples.failed > 0 || samples.n == 0 {
		t.Errorf("storm: /api/health failed %d of %d samples (first: %s); want every one 200 within %v", samples.failed, samples.n, samples.firstFailure, stormHealthMax)
	}
}

// stormRound is one client's connect, subscribe, hold and drop.
func (e *stormEnv) stormRound(ctx context.Context, tl *stormTally, rng *rand.Rand, client, round, user int) {
	addrLimit := hooks.DefaultMaxConnectionsPerAddress
	userLimit := hooks.DefaultMaxConnectionsPerUser
	topicLimit := hooks.DefaultMaxSubscriptionsPerConnection

	// Connect, and reconnect at once while the address is at its cap.
	var st *stormStream
	for try := 0; st == nil; try++ {
		tl.attempts.Add(1)
		var ans stormAnswer
		var err error
		st, ans, err = e.tryConnect(ctx, 0)
		switch {
		case st != nil:
			tl.accepted.Add(1)
			stormRaiseMax(&tl.maxOpen, tl.open.Add(1))
		case err == nil && ans.isCapError(http.StatusTooManyRequests, addrLimit):
			tl.refusedAddress.Add(1)
			if try == stormMaxRetries {
				tl.gaveUp.Add(1)
				return
			}
			stormPause(ctx, time.Duration(5+rng.IntN(20))*time.Millisecond)
		default:
			if ctx.Err() == nil {
				tl.fail(ans.status, "client %d round %d: GET /api/realtime = %d %s, %v", client, round, ans.status, ans.body, err)
			}
			return
		}
	}
	subscribed := false
	defer func() {
		// The counts drop before the stream does, so they never exceed
		// what the server holds.
		if subscribed {
			tl.perUser[user].Add(-1)
		}
		tl.open.Add(-1)
		st.Close()
	}()

	if client%stormAbuseEvery == 0 {
		tl.abuseTries.Add(1)
		ans, err := e.subscribe(ctx, e.users[user].token, st.clientID, stormTopics(topicLimit+1))
		if err == nil && ans.isCapError(http.StatusBadRequest, topicLimit) {
			tl.refusedTopics.Add(1)
		} else if ctx.Err() == nil {
			tl.fail(ans.status, "client %d round %d: %d topics = %d %s, %v", client, round, topicLimit+1, ans.status, ans.body, err)
		}
	}

	ans, err := e.subscribe(ctx, e.users[user].token, st.clientID, stormTopics(3))
	switch {
	case err == nil && ans.status == http.StatusNoContent:
		subscribed = true
		tl.subscribed.Add(1)
		stormRaiseMax(&tl.maxPerUser[user], tl.perUser[user].Add(1))
	case err == nil && ans.isCapError(http.StatusTooManyRequests, userLimit):
		tl.refusedUser.Add(1)
	default:
		if ctx.Err() == nil {
			tl.fail(ans.status, "client %d round %d: POST /api/realtime = %d %s, %v", client, round, ans.status, ans.body, err)
		}
	}
	stormPause(ctx, time.Duration(50+rng.IntN(200))*time.Millisecond)
}

func stormPause(ctx context.Context, d time.Duration) {
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
}

// stormHealth samples /api/health until stopped.
type stormHealth struct {
	done    chan struct{}
	stopped chan stormHealthSamples
}

type stormHealthSamples struct {
	n, failed    int
	slowest      time.Duration
	firstFailure string
}

func (e *stormEnv) sampleHealth(ctx context.Context) *stormHealth {
	h := &stormHealth{done: make(chan struct{}), stopped: make(chan stormHealthSamples, 1)}
	hc := &http.Client{Timeout: stormHealthMax, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	go func() {
		var s stormHealthSamples
		defer func() { h.stopped <- s }()
		tick := time.NewTicker(stormHealthEvery)
		defer tick.Stop()
		for {
			select {
			case <-h.done:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			began := time.Now()
			res, err := hc.Get(e.s.URL + "/api/health")
			took := time.Since(began)
			s.n++
			s.slowest = max(s.slowest, took)
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
			if err != nil || res.StatusCode != http.StatusOK || took > stormHealthMax {
				s.failed++
				if s.firstFailure == "" {
					status := 0
					if err == nil {
						status = res.StatusCode
					}
					s.firstFailure = fmt.Sprintf("%d after %v, %v", status, took, err)
				}
			}
		}
	}()
	return h
}

func (h *stormHealth) stop() stormHealthSamples {
	close(h.done)
	return <-h.stopped
}

// checkStalledReaders: streams that stop reading are cut off within the
// write deadline (+5 s) while a reading stream gets every event.
func (e *stormEnv) checkStalledReaders(t *testing.T) {
	t.Helper()
	reader := e.connect(t)
	e.mustSubscribe(t, "", reader, []string{"posts/*"})
	var received atomic.Int64
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			ev, err := sse.ReadEvent(reader.events)
			if err != nil {
				return
			}
			if ev.Name == "posts/*" {
				received.Add(1)
			}
		}
	}()
	defer func() {
		reader.Close()
		<-readerDone
	}()

	var stalled []*stormStream
	defer func() { stormCloseAll(stalled) }()
	for range stormStalledReaders {
		st, ans, err := e.tryConnect(context.Background(), 4096)
		if err != nil || st == nil {
			t.Fatalf("GET /api/realtime (stalled reader) = %d %s, %v; want 200", ans.status, ans.body, err)
		}
		stalled = append(stalled, st)
		e.mustSubscribe(t, "", st, []string{"posts/*"})
	}

	body := strings.Repeat("x", 5000)
	stormParallel(t, stormPosts, 4, func(i int) error {
		st, raw, err := e.call(context.Background(), "POST", "/api/collections/posts/records", e.su, map[string]any{
			"title": fmt.Sprintf("storm post %d", i), "body": body, "price": i, "author": e.users[0].id,
		}, nil)
		if err != nil || st != http.StatusOK {
			return fmt.Errorf("create post %d = %d %s, %v; want 200", i, st, raw, err)
		}
		return nil
	})
	posted := time.Now()

	err := waitFor(time.Until(posted.Add(stormSettle)), 20*time.Millisecond, func() error {
		if got := received.Load(); got < stormPosts {
			return fmt.Errorf("the reading stream got %d of %d posts", got, stormPosts)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v within %v of the last; want all", err, stormSettle)
	}

	limit := hooks.DefaultRealtimeWriteTimeout + 5*time.Second
	err = waitFor(time.Until(posted.Add(limit)), 100*time.Millisecond, func() error {
		open := 0
		for _, st := range stalled {
			closed, err := stormServerClosed(e.serverPort, st.localPort())
			if err != nil {
				t.Fatal(err)
			}
			if !closed {
				open++
			}
		}
		if open > 0 {
			return fmt.Errorf("%d of %d stalled readers still connected", open, len(stalled))
		}
		return nil
	})
	if err != nil {
		var queues []string // state, send and receive queues of both ends
		for _, st := range stalled {
			srv, _ := stormSocket(e.serverPort, st.localPort())
			cli, _ := stormSocket(st.localPort(), e.serverPort)
			queues = append(queues, fmt.Sprintf("server %v client %v", stormRowSummary(srv), stormRowSummary(cli)))
		}
		t.Fatalf("%v %v after the last of %d 5 KB posts (%s); want all cut off",
			err, limit, stormPosts, strings.Join(queues, "; "))
	}
	t.Logf("stalled readers: all %d cut off %v after the last of %d 5 KB posts; the reading stream got all of them",
		len(stalled), time.Since(posted).Round(100*time.Millisecond), stormPosts)
}

// checkDeliveryAfterStorm: a participant's new message reaches the
// other participant on a fresh stream.
func (e *stormEnv) checkDeliveryAfterStorm(t *testing.T) {
	t.Helper()
	st := e.connect(t)
	defer st.Close()
	topic := stormSDKTopic("messages", fmt.Sprintf("room = %q", e.roomID))
	e.mustSubscribe(t, e.users[0].token, st, []string{topic})
	const text = "still there after the storm?"
	e.must(t, "POST", "/api/collections/messages/records", e.users[1].token,
		map[string]any{"room": e.roomID, "text": text}, http.StatusOK, nil)

	st.conn.SetReadDeadline(time.Now().Add(stormHealthMax + 2*time.Second))
	for {
		ev, err := sse.ReadEvent(st.events)
		if err != nil {
			t.Fatalf("waiting for the message after the storm: %v; want the event on %q", err, topic)
		}
		var data struct {
			Action string
			Record struct{ Text string }
		}
		if ev.Name == topic && json.Unmarshal(ev.Data, &data) == nil && data.Record.Text == text {
			t.Logf("after the storm: a participant's message reached the other participant's fresh stream")
			return
		}
	}
}

// settleFDs closes the test's idle connections and waits until the
// server is back near base (nil: until its open files hold still), and
// returns its figures.
func (e *stormEnv) settleFDs(t *testing.T, base *stormProcStats) stormProcStats {
	t.Helper()
	var last, cur stormProcStats
	err := waitFor(stormSettle, 200*time.Millisecond, func() error {
		e.hc.CloseIdleConnections()
		http.DefaultClient.CloseIdleConnections()
		last, cur = cur, e.proc(t)
		switch {
		case base == nil && cur.fds == last.fds:
			return nil
		case base != nil && cur.otherFDs() <= base.otherFDs()+stormFDSlack && cur.dbFDs <= stormDBFDBound:
			return nil
		}
		return errors.New("not settled")
	})
	if err != nil && base != nil {
		t.Fatalf("%v after every stream closed, the server has %d open files besides %d of its databases (baseline %d; %s); want at most %d besides at most %d",
			stormSettle, cur.otherFDs(), cur.dbFDs, base.otherFDs(), stormDescribeFDs(e.s.cmd.Process.Pid), base.otherFDs()+stormFDSlack, stormDBFDBound)
	}
	// With no base, a server whose files never hold still gives its last
	// figures: the baseline is a figure to compare with, not a check.
	return cur
}

// stormDBFDBound bounds the server's open files of its SQLite databases.
// SQLite keeps a closed connection's file descriptor open while another
// connection of the process holds a lock on the file (POSIX locks belong
// to the process) and reuses it for the next connection, so after a load
// these stay near the pools' peak: at most one database and one WAL file
// per connection of each pool (PocketBase's defaults), and the shm files.
const stormDBFDBound = 2*(core.DefaultDataMaxOpenConns+1) + 2*(core.DefaultAuxMaxOpenConns+1) + 2

type stormProcStats struct {
	fds, dbFDs, sockets int // open files: all, those of the data dir, sockets
	threads, rssKB      int
}

// otherFDs is the open files that are not the databases.
func (s stormProcStats) otherFDs() int { return s.fds - s.dbFDs }

// proc reads the server's open files, threads and resident memory.
func (e *stormEnv) proc(t *testing.T) stormProcStats {
	t.Helper()
	pid := e.s.cmd.Process.Pid
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read the server's open files: %v", err)
	}
	s := stormProcStats{fds: len(entries)}
	for _, entry := range entries {
		target, err := os.Readlink(dir + "/" + entry.Name())
		switch {
		case err != nil: // closed meanwhile
		case strings.HasPrefix(target, e.s.DataDir+"/"):
			s.dbFDs++
		case strings.HasPrefix(target, "socket:"):
			s.sockets++
		}
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the server's status: %v", err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		key, value, _ := strings.Cut(line, ":")
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		switch key {
		case "Threads":
			s.threads, _ = strconv.Atoi(fields[0])
		case "VmRSS":
			s.rssKB, _ = strconv.Atoi(fields[0])
		}
	}
	return s
}

// stormDescribeFDs counts a process's open files by kind, its TCP sockets
// by state (/proc/net/tcp's hex codes: 01 ESTABLISHED, 0A LISTEN, 08
// CLOSE_WAIT...).
func stormDescribeFDs(pid int) string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	states := map[string]string{} // socket inode -> state
	if raw, err := os.ReadFile("/proc/net/tcp"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if f := strings.Fields(line); len(f) > 9 && f[0] != "sl" {
				states[f[9]] = f[3]
			}
		}
	}
	kinds := map[string]int{}
	for _, entry := range entries {
		target, err := os.Readlink(dir + "/" + entry.Name())
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(target, "socket:["):
			inode := strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")
			if st, ok := states[inode]; ok {
				kinds["tcp "+st]++
			} else {
				kinds["other socket"]++
			}
		case strings.HasPrefix(target, "/"):
			kinds[target]++
		default:
			kinds[target]++
		}
	}
	var out []string
	for kind, n := range kinds {
		out = append(out, fmt.Sprintf("%d %s", n, kind))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// stormServerClosed reports whether the server's end of the connection
// from clientPort is closed: its socket gone or past ESTABLISHED. It reads
// /proc/net/tcp, so a stalled client is checked without reading from it.
func stormServerClosed(serverPort, clientPort int) (bool, error) {
	row, err := stormSocket(serverPort, clientPort)
	if err != nil {
		return false, err
	}
	return row == nil || row[3] != "01", nil // 01: ESTABLISHED
}

// stormSocket returns the /proc/net/tcp row of the socket from localPort
// to remotePort on 127.0.0.1, or nil.
func stormSocket(localPort, remotePort int) ([]string, error) {
	raw, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return nil, fmt.Errorf("read /proc/net/tcp: %w", err)
	}
	port := func(hexAddr string) int {
		_, p, _ := strings.Cut(hexAddr, ":")
		n, _ := strconv.ParseInt(p, 16, 32)
		return int(n)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] == "sl" {
			continue
		}
		if port(f[1]) == localPort && port(f[2]) == remotePort {
			return f, nil
		}
	}
	return nil, nil
}

// stormRowSummary is a /proc/net/tcp row's state and tx:rx queues.
func stormRowSummary(row []string) string {
	if row == nil {
		return "gone"
	}
	return "st " + row[3] + " tx:rx " + row[4]
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
