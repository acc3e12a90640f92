package push_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketchat/marketchat/internal/pushtest"
	"github.com/marketchat/marketchat/push"
)

// newSender starts a Sender for a loopback service (AllowPrivate) with
// short back-offs; gone collects the subscriptions Gone was called for.
func newSender(t *testing.T, service *pushtest.Service) (*push.Sender, *goneList) {
	t.Helper()
	keys, err := push.GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	service.PublicKey = keys.Public
	gone := &goneList{}
	s := push.New(push.Config{
		Keys:    func() (push.Keys, error) { return keys, nil },
		Gone:    gone.add,
		Guard:   push.Guard{AllowPrivate: true},
		Backoff: 20 * time.Millisecond,
	})
	t.Cleanup(s.Stop)
	return s, gone
}

type goneList struct {
	mu  sync.Mutex
	ids []string
}

func (g *goneList) add(sub push.Subscription) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ids = append(g.ids, sub.ID)
}

func (g *goneList) list() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.ids...)
}

func subscription(service *pushtest.Service, browser *pushtest.Subscriber, name string) push.Subscription {
	return push.Subscription{ID: name, Endpoint: service.Endpoint(name), P256dh: browser.P256dh(), Auth: browser.Auth()}
}

// TestSenderDelivers: the service sees a valid VAPID JWT for its origin
// and the headers asked for, and the browser's key opens the payload.
func TestSenderDelivers(t *testing.T) {
	t.Parallel()
	service := pushtest.NewService(t)
	sender, _ := newSender(t, service)
	browser := pushtest.NewSubscriber(t)

	payload := `{"type":"message","body":"안녕 <b>"}`
	sender.Enqueue(push.Message{Subscription: subscription(service, browser, "a"), Payload: []byte(payload),
		Topic: "roombike0000001", Urgency: push.UrgencyHigh, TTL: 7200})
	if !service.Wait(5*time.Second, func(p []pushtest.Push) bool { return len(p) == 1 }) {
		t.Fatalf("no push accepted within 5s (refused: %v)", service.Errors())
	}
	got := service.Pushes()[0]
	plain, err := browser.Decrypt(got.Body)
	if err != nil || string(plain) != payload {
		t.Errorf("Decrypt() = %q, %v; want %q", plain, err, payload)
	}
	for name, want := range map[string]string{"TTL": "7200", "Topic": "roombike0000001", "Urgency": "high"} {
		if v := got.Header.Get(name); v != want {
			t.Errorf("header %s = %q; want %q", name, v, want)
		}
	}
	// Another browser's key does not open it.
	if _, err := pushtest.NewSubscriber(t).Decrypt(got.Body); err == nil {
		t.Errorf("another subscriber decrypted the payload; want an error")
	}
}

// TestSenderGoneAndRetries: 404 and 410 call Gone once, without retries;
// 429 and 503 are retried until the service accepts; 400 is not retried.
func TestSenderGoneAndRetries(t *testing.T) {
	t.Parallel()
	service := pushtest.NewService(t)
	service.Answer(func(path string, n int) (int, time.Duration) {
		switch {
		case strings.HasSuffix(path, "/gone"):
			return http.StatusGone, 0
		case strings.HasSuffix(path, "/missing"):
			return http.StatusNotFound, 0
		case strings.HasSuffix(path, "/busy") && n < 2:
			return []int{http.StatusTooManyRequests, http.StatusServiceUnavailable}[n], 0
		case strings.HasSuffix(path, "/bad"):
			return http.StatusBadRequest, 0
		}
		return http.StatusCreated, 0
	})
	sender, gone := newSender(t, service)
	browser := pushtest.NewSubscriber(t)
	for _, name := range []string{"gone", "missing", "busy", "bad"} {
		sender.Enqueue(push.Message{Subscription: subscription(service, browser, name), Payload: []byte("x")})
	}
	if !service.Wait(5*time.Second, func([]pushtest.Push) bool { return service.Requests("/push/busy") == 3 }) {
		t.Fatalf("/push/busy asked %d times; want 3 (429, 503, then 201)", service.Requests("/push/busy"))
	}
	time.Sleep(200 * time.Millisecond) // any wrong retry of the others would come by now
	for name, want := range map[string]int{"gone": 1, "missing": 1, "bad": 1, "busy": 3} {
		if got := service.Requests("/push/" + name); got != want {
			t.Errorf("/push/%s asked %d times; want %d", name, got, want)
		}
	}
	ids := gone.list()
	if len(ids) != 2 || !(ids[0] == "gone" && ids[1] == "missing" || ids[0] == "missing" && ids[1] == "gone") {
		t.Errorf("Gone called for %v; want gone and missing, once each", ids)
	}
}

// TestSenderEnqueueNeverBlocks: with every worker held by a slow
// service, Enqueue still returns at once.
func TestSenderEnqueueNeverBlocks(t *testing.T) {
	t.Parallel()
	service := pushtest.NewService(t)
	service.Answer(func(string, int) (int, time.Duration) { return http.StatusCreated, 3 * time.Second })
	sender, _ := newSender(t, service)
	browser := pushtest.NewSubscriber(t)
	start := time.Now()
	for i := range 50 {
		sender.Enqueue(push.Message{Subscription: subscription(service, browser, string(rune('a'+i%26))), Payload: []byte("x")})
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("50 Enqueue calls took %v with a slow service; want well under 500ms", d)
	}
}
