// Package push sends Web Push notifications: RFC 8030 delivery, the
// payload encrypted per RFC 8291 (aes128gcm) and the server identified
// per RFC 8292 (VAPID), both done by github.com/SherClockHolmes/webpush-go.
// It knows no chat rule: the app says who gets which payload on which
// subscription (hooks/push.go).
//
// What it adds around the library:
//
//   - a queue and a few workers, so that no request waits for a push
//     service (Enqueue never blocks; a full queue drops and logs);
//   - retries with exponential back-off (or the service's Retry-After)
//     on 429 and 5xx answers and on network errors;
//   - Gone, called when a service answers 404 or 410: the subscription
//     has expired or was revoked and must be deleted;
//   - the SSRF guard (guard.go): only https endpoints on public
//     addresses, checked at every connection, no redirects.
//
// Example usage:
//
//	sender := push.New(push.Config{
//		Keys: func() (push.Keys, error) { return keys, nil },
//		Gone: func(sub push.Subscription) { deleteSubscription(sub.ID) },
//	})
//	defer sender.Stop()
//	sender.Enqueue(push.Message{Subscription: sub, Payload: payload, Topic: roomID})
package push

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"
)

// Defaults, defined once; Config may override them.
const (
	// DefaultTTL is how long a push service keeps a message for a device
	// that is offline (seconds): a day, so a phone that was off overnight
	// still hears about the buyer's question.
	DefaultTTL = 24 * 60 * 60

	// DefaultWorkers send at the same time. Sending is mostly waiting on
	// the network, the encryption is about 0.2 ms.
	DefaultWorkers = 4

	// DefaultTimeout bounds one request to a push service.
	DefaultTimeout = 10 * time.Second

	// DefaultMaxAttempts is how often one message is tried in all.
	DefaultMaxAttempts = 4

	// DefaultBackoff is the wait before the first retry; it doubles for
	// each next one.
	DefaultBackoff = time.Second

	// maxRetryAfter caps a service's Retry-After.
	maxRetryAfter = 10 * time.Minute

	// queueSize is how many messages may wait; past it Enqueue drops.
	queueSize = 10000
)

// Keys is the server's VAPID key pair, base64url (no padding): the
// uncompressed P-256 public point and the private scalar.
type Keys struct {
	Public  string
	Private string
}

// GenerateKeys makes a new VAPID key pair.
func GenerateKeys() (Keys, error) {
	private, public, err := webpush.GenerateVAPIDKeys()
	if err != nil {
		return Keys{}, fmt.Errorf("generate VAPID keys: %w", err)
	}
	return Keys{Public: public, Private: private}, nil
}

// Subscription is one browser's PushSubscription as the app stored it.
type Subscription struct {
	ID       string // the app's id for it, handed back to Gone
	Endpoint string
	P256dh   string
	Auth     string
}

// Urgency is RFC 8030's Urgency header.
type Urgency = webpush.Urgency

// Urgencies of RFC 8030.
const (
	UrgencyVeryLow = webpush.UrgencyVeryLow
	UrgencyLow     = webpush.UrgencyLow
	UrgencyNormal  = webpush.UrgencyNormal
	UrgencyHigh    = webpush.UrgencyHigh
)

// Message is one payload for one subscription.
type Message struct {
	Subscription Subscription
	Payload      []byte

	// Topic lets a newer message replace an older one still waiting at
	// the push service: up to 32 characters of the base64url alphabet.
	Topic string

	// Urgency tells the service how soon the device must wake up for it.
	Urgency Urgency

	// TTL in seconds; 0 means DefaultTTL.
	TTL int
}

// Config tunes a Sender. Keys is required.
type Config struct {
	// Keys returns the VAPID key pair at send time.
	Keys func() (Keys, error)

	// Subscriber is the VAPID "sub" claim: a mailto: address or https URL
	// the push service can contact; "" means "mailto:admin@localhost".
	Subscriber string

	// Gone is called (on a worker) when a push service answers 404 or
	// 410: the subscription no longer exists.
	Gone func(sub Subscription)

	// Guard decides which endpoints may be dialled.
	Guard Guard

	// Workers, Timeout, MaxAttempts and Backoff: 0 means the defaults.
	Workers     int
	Timeout     time.Duration
	MaxAttempts int
	Backoff     time.Duration

	// Logger gets a line per dropped or failed message; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Sender sends Messages on its own workers.
type Sender struct {
	cfg    Config
	client *http.Client
	queue  chan attempt
	done   chan struct{}
	stop   sync.Once
	wg     sync.WaitGroup
}

type attempt struct {
	msg Message
	n   int // attempts made before this one
}

// New starts a Sender's workers. Call Stop when done.
func New(cfg Config) *Sender {
	s := &Sender{
		cfg:   cfg,
		queue: make(chan attempt, queueSize),
		done:  make(chan struct{}),
	}
	s.client = cfg.Guard.Client(s.timeout())
	for range cmp.Or(cfg.Workers, DefaultWorkers) {
		s.wg.Add(1)
		go s.work()
	}
	return s
}

// Stop ends the workers after the message in hand and drops what waits.
func (s *Sender) Stop() {
	s.stop.Do(func() { close(s.done) })
	s.wg.Wait()
}

// Enqueue hands m to the workers and reports whether it was taken. It
// never blocks: when the queue is full (push services far slower than
// the chat) the message is dropped and logged.
func (s *Sender) Enqueue(m Message) bool {
	return s.enqueue(attempt{msg: m})
}

func (s *Sender) enqueue(a attempt) bool {
	select {
	case <-s.done:
		return false
	default:
	}
	select {
	case s.queue <- a:
		return true
	default:
		s.logger().Warn("push queue full: message dropped", "subscription", a.msg.Subscription.ID)
		return false
	}
}

func (s *Sender) work() {
	defer s.wg.Done()
	for {
		select {
		case <-s.done:
			return
		case a := <-s.queue:
			s.try(a)
		}
	}
}

// try sends a once and decides what follows: done, Gone, or a retry
// after a back-off.
func (s *Sender) try(a attempt) {
	status, retryAfter, err := s.send(a.msg)
	switch {
	case err == nil && status >= 200 && status < 300:
		return
	case status == http.StatusNotFound || status == http.StatusGone:
		if s.cfg.Gone != nil {
			s.cfg.Gone(a.msg.Subscription)
		}
		return
	case errors.Is(err, ErrRefused):
		s.logger().Warn("push endpoint refused by the guard", "subscription", a.msg.Subscription.ID, "error", err)
		return
	case err == nil && status != http.StatusTooManyRequests && status < 500:
		// 400 (bad payload), 401/403 (VAPID refused), 413: a retry
		// would get the same answer.
		s.logger().Warn("push refused by the push service", "subscription", a.msg.Subscription.ID, "status", status)
		return
	}
	a.n++
	if a.n >= cmp.Or(s.cfg.MaxAttempts, DefaultMaxAttempts) {
		s.logger().Warn("push failed, giving up", "subscription", a.msg.Subscription.ID, "status", status, "error", err, "attempts", a.n)
		return
	}
	wait := cmp.Or(s.cfg.Backoff, DefaultBackoff) << (a.n - 1)
	if retryAfter > wait {
		wait = min(retryAfter, maxRetryAfter)
	}
	// A timer, not a sleep: the worker goes on with other messages.
	time.AfterFunc(wait, func() { s.enqueue(a) })
}

// send makes one request and returns the service's status and
// Retry-After.
func (s *Sender) send(m Message) (int, time.Duration, error) {
	keys, err := s.cfg.Keys()
	if err != nil {
		return 0, 0, fmt.Errorf("VAPID keys: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout())
	defer cancel()
	go func() { // a stopping sender does not wait out a slow service
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	res, err := webpush.SendNotificationWithContext(ctx, m.Payload,
		&webpush.Subscription{Endpoint: m.Subscription.Endpoint, Keys: webpush.Keys{P256dh: m.Subscription.P256dh, Auth: m.Subscription.Auth}},
		&webpush.Options{
			HTTPClient:      s.client,
			Subscriber:      cmp.Or(s.cfg.Subscriber, "mailto:admin@localhost"),
			Topic:           m.Topic,
			TTL:             cmp.Or(m.TTL, DefaultTTL),
			Urgency:         m.Urgency,
			VAPIDPublicKey:  keys.Public,
			VAPIDPrivateKey: keys.Private,
		})
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // lets the connection be reused
	var retryAfter time.Duration
	if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && secs > 0 {
		retryAfter = time.Duration(secs) * time.Second
	}
	return res.StatusCode, retryAfter, nil
}

func (s *Sender) timeout() time.Duration {
	return cmp.Or(s.cfg.Timeout, DefaultTimeout)
}

func (s *Sender) logger() *slog.Logger {
	if s.cfg.Logger != nil {
		return s.cfg.Logger
	}
	return slog.Default()
}
