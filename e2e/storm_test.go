package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketchat/marketchat/internal/sse"
	"github.com/marketchat/marketchat/realtime"
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
	addrLimit := realtime.DefaultMaxConnectionsPerAddress
	userLimit := realtime.DefaultMaxConnectionsPerUser
	topicLimit := realtime.DefaultMaxSubscriptionsPerConnection

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
	addrLimit := realtime.DefaultMaxConnectionsPerAddress
	userLimit := realtime.DefaultMaxConnectionsPerUser
	topicLimit := realtime.DefaultMaxSubscriptionsPerConnection

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

	limit := realtime.DefaultWriteTimeout + 5*time.Second
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
