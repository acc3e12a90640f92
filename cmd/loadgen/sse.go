package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/marketchat/marketchat/internal/sse"
)

// newSSETransport is for the long-lived event streams: one TCP connection
// each, no limit per host, small buffers (there are thousands), and no
// timeout on the body (a stream is ended by cancelling its context).
func newSSETransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		MaxConnsPerHost:     0,
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
		DisableKeepAlives:   true, // a stream's connection is never reused
		ReadBufferSize:      2048,
		WriteBufferSize:     1024,
	}
}

// encodeURIComponent is JavaScript's: the JS SDK builds its topics with
// it. url.QueryEscape differs only in writing a space as "+" (and in
// escaping !*'(), which our topics do not contain).
func encodeURIComponent(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// sdkTopic is the topic the JS SDK sends for
// pb.collection(collection).subscribe("*", cb, {filter}).
func sdkTopic(collection, filter string) string {
	topic := collection + "/*"
	if filter == "" {
		return topic
	}
	opts, _ := json.Marshal(map[string]any{"query": map[string]string{"filter": filter}})
	return topic + "?options=" + encodeURIComponent(string(opts))
}

// subscriptionsFor is what user u subscribes to: a room user follows its
// room's messages (the SDK's filter form) and its room list; a bystander
// asks for every message and every room, and must get none.
func subscriptionsFor(w *world, u int) []string {
	if u >= w.roomUsers {
		return []string{sdkTopic("messages", ""), sdkTopic("rooms", "")}
	}
	filter := fmt.Sprintf("room = %q", w.roomIDs[u/2])
	return []string{sdkTopic("messages", filter), sdkTopic("rooms", "")}
}

// stream is one held SSE connection.
type stream struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when the reader has returned
}

// openStream connects user u's event stream, subscribes it, and starts
// its reader, which hands every event to tr until the stream is closed.
// connectTimeout bounds the whole handshake.
func openStream(ctx context.Context, sseClient *http.Client, a *api, w *world, tr *tracker, u int, connectTimeout time.Duration) (*stream, error) {
	sctx, cancel := context.WithCancel(ctx)
	timer := time.AfterFunc(connectTimeout, cancel)
	fail := func(err error) (*stream, error) {
		timer.Stop()
		cancel()
		if errors.Is(err, context.Canceled) && ctx.Err() == nil {
			err = fmt.Errorf("handshake took over %v: %w", connectTimeout, err)
		}
		return nil, err
	}

	req, err := http.NewRequestWithContext(sctx, "GET", a.base+"/api/realtime", nil)
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := sseClient.Do(req)
	if err != nil {
		return fail(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		resp.Body.Close()
		return fail(fmt.Errorf("GET /api/realtime = %d: %s", resp.StatusCode, b))
	}
	br := bufio.NewReaderSize(resp.Body, 2048)
	ev, err := sse.ReadEvent(br)
	if err != nil {
		resp.Body.Close()
		return fail(fmt.Errorf("reading PB_CONNECT: %w", err))
	}
	var connect struct {
		ClientID string `json:"clientId"`
	}
	if ev.Name != "PB_CONNECT" || json.Unmarshal(ev.Data, &connect) != nil || connect.ClientID == "" {
		resp.Body.Close()
		return fail(fmt.Errorf("first event %q %q; want PB_CONNECT with a clientId", ev.Name, ev.Data))
	}
	if _, err := a.do(sctx, "POST", "/api/realtime", w.tokens[u], map[string]any{
		"clientId":      connect.ClientID,
		"subscriptions": subscriptionsFor(w, u),
	}, nil); err != nil {
		resp.Body.Close()
		return fail(err)
	}
	if !timer.Stop() { // the handshake timer fired just now
		resp.Body.Close()
		return fail(context.Canceled)
	}

	s := &stream{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer resp.Body.Close()
		for {
			ev, err := sse.ReadEvent(br)
			if err != nil {
				if sctx.Err() == nil {
					tr.dropped.Add(1)
				}
				return
			}
			tr.handle(u, ev, time.Now())
		}
	}()
	return s, nil
}

// openStreams connects every user's stream, conc handshakes at a time,
// trying each up to three times. It returns the streams it holds and the
// number of users it could not connect.
func openStreams(ctx context.Context, sseClient *http.Client, a *api, w *world, tr *tracker, conc int, connectTimeout time.Duration) ([]*stream, int) {
	n := len(w.userIDs)
	streams := make([]*stream, n)
	var mu sync.Mutex
	failed, firstErr := 0, error(nil)
	// The streams outlive parallel's context, which ends when it returns:
	// they hang off the point's ctx.
	_ = parallel(ctx, n, conc, func(pctx context.Context, u int) error {
		var err error
		for try := range 3 {
			if try > 0 {
				select {
				case <-pctx.Done():
					return nil
				case <-time.After(time.Duration(try) * 200 * time.Millisecond):
				}
			}
			var s *stream
			if s, err = openStream(ctx, sseClient, a, w, tr, u, connectTimeout); err == nil {
				streams[u] = s
				return nil
			}
		}
		mu.Lock()
		failed++
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		return nil // keep connecting the others; the point reports the failures
	})
	if firstErr != nil {
		logf("  %d streams failed to connect; first error: %v", failed, firstErr)
	}
	var held []*stream
	for _, s := range streams {
		if s != nil {
			held = append(held, s)
		}
	}
	return held, n - len(held)
}

// closeStreams ends every stream and waits (up to limit) for the readers.
func closeStreams(streams []*stream, limit time.Duration) {
	for _, s := range streams {
		s.cancel()
	}
	deadline := time.After(limit)
	for _, s := range streams {
		select {
		case <-s.done:
		case <-deadline:
			return
		}
	}
}
