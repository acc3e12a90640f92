// Package pushtest is a Web Push service for tests, on loopback: it
// checks every request's VAPID authorization (RFC 8292: the ES256
// signature by the key in "k", "aud" the endpoint's origin, "exp" in the
// future and at most 24 hours ahead) and decrypts the aes128gcm payload
// (RFC 8291) with the subscription's private key, the way a browser's
// push service and the browser would. It is written from the RFCs, not
// from the library the server uses, so that it checks that library too.
package pushtest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Subscriber is one browser: its key pair and auth secret, as the Push
// API makes them.
type Subscriber struct {
	key  *ecdh.PrivateKey
	auth []byte
}

// NewSubscriber makes a browser's subscription keys.
func NewSubscriber(tb testing.TB) *Subscriber {
	tb.Helper()
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatalf("generate P-256 key: %v", err)
	}
	auth := make([]byte, 16)
	if _, err := rand.Read(auth); err != nil {
		tb.Fatalf("auth secret: %v", err)
	}
	return &Subscriber{key: key, auth: auth}
}

// P256dh is the public key as PushSubscription.toJSON() gives it.
func (s *Subscriber) P256dh() string {
	return base64.RawURLEncoding.EncodeToString(s.key.PublicKey().Bytes())
}

// Auth is the auth secret as PushSubscription.toJSON() gives it.
func (s *Subscriber) Auth() string { return base64.RawURLEncoding.EncodeToString(s.auth) }

// Decrypt opens an aes128gcm body (RFC 8291 section 3, RFC 8188) for s.
func (s *Subscriber) Decrypt(body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("body shorter than the aes128gcm header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if len(body) < 21+idlen || idlen != 65 {
		return nil, fmt.Errorf("key id of %d bytes; want the server's 65-byte public key", idlen)
	}
	serverPub, ciphertext := body[21:21+idlen], body[21+idlen:]
	if uint32(len(ciphertext)) > rs {
		return nil, fmt.Errorf("more than one record (%d > %d): not what a push message is", len(ciphertext), rs)
	}
	pub, err := ecdh.P256().NewPublicKey(serverPub)
	if err != nil {
		return nil, fmt.Errorf("server key: %w", err)
	}
	secret, err := s.key.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("ecdh: %w", err)
	}
	info := append([]byte("WebPush: info\x00"), s.key.PublicKey().Bytes()...)
	info = append(info, serverPub...)
	ikm, err := hkdf.Key(sha256.New, secret, s.auth, string(info), 32)
	if err != nil {
		return nil, err
	}
	cek, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: aes128gcm\x00", 16)
	if err != nil {
		return nil, err
	}
	nonce, err := hkdf.Key(sha256.New, ikm, salt, "Content-Encoding: nonce\x00", 12)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, ciphertext, nil)
	if err != nil {
		return nil, fmt.Errorf("decrypt: %w", err)
	}
	// The last record: data, then 0x02, then zero padding.
	plain = bytes.TrimRight(plain, "\x00")
	if len(plain) == 0 || plain[len(plain)-1] != 0x02 {
		return nil, errors.New("no last-record delimiter")
	}
	return plain[:len(plain)-1], nil
}

// Push is one request the service accepted.
type Push struct {
	Path    string // the endpoint's path: which subscription
	Header  http.Header
	Body    []byte // still encrypted
	Claims  jwt.MapClaims
	Arrived time.Time
}

// Service is a push service on loopback.
type Service struct {
	*httptest.Server

	// PublicKey, when set, is the VAPID key every request must carry.
	PublicKey string

	mu     sync.Mutex
	pushes []Push
	errs   []error
	answer func(path string, n int) (status int, delay time.Duration) // n: the path's requests so far
	counts map[string]int
	got    chan struct{}
}

// NewService starts a push service answering 201 to every valid request,
// closed when the test ends.
func NewService(tb testing.TB) *Service {
	tb.Helper()
	s := &Service{counts: map[string]int{}, got: make(chan struct{}, 1000)}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// Answer sets how the service answers: status and a delay before it, by
// the endpoint path and how many requests it had before this one.
func (s *Service) Answer(answer func(path string, n int) (int, time.Duration)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answer = answer
}

// Endpoint is the URL of a subscription named name on this service.
func (s *Service) Endpoint(name string) string { return s.URL + "/push/" + name }

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	claims, err := s.check(r)
	s.mu.Lock()
	n := s.counts[r.URL.Path]
	s.counts[r.URL.Path]++
	answer := s.answer
	if err != nil {
		s.errs = append(s.errs, fmt.Errorf("%s: %w", r.URL.Path, err))
	} else {
		s.pushes = append(s.pushes, Push{Path: r.URL.Path, Header: r.Header.Clone(), Body: body, Claims: claims, Arrived: time.Now()})
	}
	s.mu.Unlock()
	select {
	case s.got <- struct{}{}:
	default:
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	status := http.StatusCreated
	if answer != nil {
		var delay time.Duration
		status, delay = answer(r.URL.Path, n)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
		}
	}
	w.WriteHeader(status)
}

// check verifies the request as a push service does: method, encoding,
// TTL, and the VAPID JWT.
func (s *Service) check(r *http.Request) (jwt.MapClaims, error) {
	if r.Method != http.MethodPost {
		return nil, fmt.Errorf("method %s; want POST", r.Method)
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "aes128gcm" {
		return nil, fmt.Errorf("Content-Encoding %q; want aes128gcm", ce)
	}
	if r.Header.Get("TTL") == "" {
		return nil, errors.New("no TTL header (RFC 8030 requires it)")
	}
	auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "vapid ")
	if !ok {
		return nil, fmt.Errorf("Authorization %q; want the vapid scheme", r.Header.Get("Authorization"))
	}
	var token, key string
	for _, part := range strings.Split(auth, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			token = v
		case "k":
			key = v
		}
	}
	if s.PublicKey != "" && key != s.PublicKey {
		return nil, fmt.Errorf("k=%q; want the server's public key %q", key, s.PublicKey)
	}
	raw, err := base64.RawURLEncoding.DecodeString(key)
	if err != nil || len(raw) != 65 || raw[0] != 4 {
		return nil, fmt.Errorf("k=%q is not an uncompressed P-256 point", key)
	}
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(raw[1:33]), Y: new(big.Int).SetBytes(raw[33:])}
	claims := jwt.MapClaims{}
	_, err = jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return pub, nil },
		jwt.WithValidMethods([]string{"ES256"}), jwt.WithExpirationRequired(), jwt.WithAudience("http://"+r.Host))
	if err != nil {
		return nil, fmt.Errorf("VAPID JWT: %w", err)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp.After(time.Now().Add(24*time.Hour)) {
		return nil, fmt.Errorf("exp %v; want at most 24 hours ahead (RFC 8292)", exp)
	}
	if sub, _ := claims["sub"].(string); !strings.HasPrefix(sub, "mailto:") && !strings.HasPrefix(sub, "https:") {
		return nil, fmt.Errorf("sub %q; want a mailto: or https: contact", sub)
	}
	return claims, nil
}

// Pushes returns the requests accepted so far.
func (s *Service) Pushes() []Push {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Push(nil), s.pushes...)
}

// Errors returns what was wrong with refused requests.
func (s *Service) Errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// Requests counts every request to path, valid or not.
func (s *Service) Requests(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[path]
}

// Wait waits until cond holds on the accepted pushes, or timeout.
func (s *Service) Wait(timeout time.Duration, cond func([]Push) bool) bool {
	deadline := time.After(timeout)
	for !cond(s.Pushes()) {
		select {
		case <-s.got:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			return cond(s.Pushes())
		}
	}
	return true
}
