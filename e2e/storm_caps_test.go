package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketchat/marketchat/realtime"
)

// The storm test's exact checks of the realtime caps, one at a time:
// per client address, per connection, per signed-in user.

// checkAddressCap: with no other stream open, exactly the per-address cap
// is accepted, the next get 429 with the cap's error JSON, dropped streams
// free their places, and an excluded address is not capped.
func (e *stormEnv) checkAddressCap(t *testing.T) {
	t.Helper()
	limit := realtime.DefaultMaxConnectionsPerAddress
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
	limit := realtime.DefaultMaxSubscriptionsPerConnection
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
	limit := realtime.DefaultMaxConnectionsPerUser
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
