package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// api calls the server's REST API.
type api struct {
	base string
	hc   *http.Client
}

// apiError is a non-2xx answer.
type apiError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s = %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// newAPITransport is for short requests: keep-alive connections are
// reused (up to idle per host) so that thousands of requests do not use
// up loopback ports in TIME_WAIT.
func newAPITransport(idle int) *http.Transport {
	return &http.Transport{
		Proxy:               nil, // loopback only, whatever the environment says
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		MaxConnsPerHost:     0, // in-flight requests are bounded by the callers' pools
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// do sends body (JSON, nil for none) with the token (empty for none) and
// decodes a 2xx answer into out (nil to discard). It returns the HTTP
// status (0 when there was no answer).
func (a *api) do(ctx context.Context, method, path, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, &apiError{method, path, resp.StatusCode, truncate(string(b), 300)}
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// world is what the set-up created: users 0..roomUsers-1 in rooms of two
// (user u in room u/2 with user u^1), then the bystanders.
type world struct {
	roomUsers int
	userIDs   []string
	tokens    []string
	roomIDs   []string
}

// setupWorld prepares a fresh server through its public API, as its
// superuser: rate limiter off, users, their tokens and their rooms.
func setupWorld(ctx context.Context, a *api, s *server, roomUsers, bystanders int, cfg *config) (*world, error) {
	var auth struct {
		Token string `json:"token"`
	}
	if _, err := a.do(ctx, "POST", "/api/collections/_superusers/auth-with-password", "",
		map[string]string{"identity": s.email, "password": s.pass}, &auth); err != nil {
		return nil, fmt.Errorf("superuser sign-in: %w", err)
	}
	su := auth.Token

	// The built-in rate limiter counts per client address, and every
	// request of this benchmark comes from 127.0.0.1: thousands of users
	// behind one address would be throttled as one. Off for the run (which
	// also lifts the server's per-address cap on realtime connections, a
	// cap that applies only while the limiter is on).
	if _, err := a.do(ctx, "PATCH", "/api/settings", su,
		map[string]any{"rateLimits": map[string]any{"enabled": false}}, nil); err != nil {
		return nil, fmt.Errorf("disabling the rate limiter: %w", err)
	}

	if cfg.bcryptCost > 0 {
		if err := setPasswordCost(ctx, a, su, cfg.bcryptCost); err != nil {
			return nil, err
		}
	}

	n := roomUsers + bystanders
	w := &world{roomUsers: roomUsers, userIDs: make([]string, n), tokens: make([]string, n), roomIDs: make([]string, roomUsers/2)}
	pass := randomHex(12)
	err := parallel(ctx, n, cfg.setupConc, func(ctx context.Context, i int) error {
		var rec struct {
			ID string `json:"id"`
		}
		if _, err := a.do(ctx, "POST", "/api/collections/users/records", su, map[string]any{
			"email":           fmt.Sprintf("user%06d@example.com", i),
			"password":        pass,
			"passwordConfirm": pass,
			"name":            fmt.Sprintf("Load %d", i),
		}, &rec); err != nil {
			return err
		}
		// Impersonation gives a user's token without a password sign-in
		// (superuser only; duration in seconds).
		var tok struct {
			Token string `json:"token"`
		}
		if _, err := a.do(ctx, "POST", "/api/collections/users/impersonate/"+rec.ID, su,
			map[string]any{"duration": int((cfg.pointTimeout + time.Hour).Seconds())}, &tok); err != nil {
			return err
		}
		if tok.Token == "" {
			return errors.New("impersonate answered no token")
		}
		w.userIDs[i], w.tokens[i] = rec.ID, tok.Token
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("creating users: %w", err)
	}

	err = parallel(ctx, roomUsers/2, cfg.setupConc, func(ctx context.Context, r int) error {
		a0, a1 := 2*r, 2*r+1
		var rec struct {
			ID string `json:"id"`
		}
		if _, err := a.do(ctx, "POST", "/api/collections/rooms/records", w.tokens[a0],
			map[string]any{"participants": []string{w.userIDs[a0], w.userIDs[a1]}}, &rec); err != nil {
			return err
		}
		w.roomIDs[r] = rec.ID
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("creating rooms: %w", err)
	}
	return w, nil
}

// setPasswordCost lowers the users collection's bcrypt cost. Creating
// 10,000 users at PocketBase's default cost (10) spends minutes hashing
// passwords nobody will type: the tokens come from impersonation, and the
// benchmark is about realtime, not sign-up.
func setPasswordCost(ctx context.Context, a *api, su string, cost int) error {
	var coll struct {
		Fields []map[string]any `json:"fields"`
	}
	if _, err := a.do(ctx, "GET", "/api/collections/users", su, nil, &coll); err != nil {
		return fmt.Errorf("reading the users collection: %w", err)
	}
	found := false
	for _, f := range coll.Fields {
		if f["type"] == "password" {
			f["cost"] = cost
			found = true
		}
	}
	if !found {
		return errors.New("users collection has no password field")
	}
	if _, err := a.do(ctx, "PATCH", "/api/collections/users", su, map[string]any{"fields": coll.Fields}, nil); err != nil {
		return fmt.Errorf("setting the bcrypt cost: %w", err)
	}
	return nil
}

// parallel runs fn(0..n-1) on at most conc goroutines and returns the
// first error; after an error the remaining items are not started.
func parallel(ctx context.Context, n, conc int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(ctx, i); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return err
	}
	return nil
}
