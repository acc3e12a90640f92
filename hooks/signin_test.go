package hooks_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/marketchat/marketchat/hooks"
)

// signInEnv is an app whose sign-in limit runs on a clock the test moves,
// and which numbers the client addresses so that every request comes
// from a new one: the per-address limiter (10 sign-ins a minute) is then
// never what answers.
type signInEnv struct {
	h         http.Handler
	addresses atomic.Uint32

	mu  sync.Mutex
	now time.Time
}

func newSignInEnv(tb testing.TB) *signInEnv {
	tb.Helper()
	env := &signInEnv{now: time.Now()}
	env.h = appHandler(tb, newTestAppWithConfig(tb, hooks.Config{Now: env.clock}))
	return env
}

func (env *signInEnv) clock() time.Time {
	env.mu.Lock()
	defer env.mu.Unlock()
	return env.now
}

func (env *signInEnv) advance(d time.Duration) {
	env.mu.Lock()
	defer env.mu.Unlock()
	env.now = env.now.Add(d)
}

// signIn sends a users password sign-in from a new client address.
func (env *signInEnv) signIn(identity, pass string) *httptest.ResponseRecorder {
	n := env.addresses.Add(1)
	ip := fmt.Sprintf("10.%d.%d.%d", byte(n>>16), byte(n>>8), byte(n))
	body, _ := json.Marshal(map[string]string{"identity": identity, "password": pass}) // strings always marshal
	return serveJSON(env.h, ip, http.MethodPost, "/api/collections/users/auth-with-password", "", string(body))
}

// mustSignIn fails the test unless the sign-in answers want.
func (env *signInEnv) mustSignIn(tb testing.TB, what, identity, pass string, want int) *httptest.ResponseRecorder {
	tb.Helper()
	got := env.signIn(identity, pass)
	if got.Code != want {
		tb.Fatalf("%s: sign-in as %q = %d %s; want %d", what, identity, got.Code, got.Body, want)
	}
	return got
}

// wantLimited checks a 429 in PocketBase's error JSON with a sentence
// for people and a Retry-After.
func wantLimited(tb testing.TB, got *httptest.ResponseRecorder) {
	tb.Helper()
	var body struct {
		Status  int            `json:"status"`
		Message string         `json:"message"`
		Data    map[string]any `json:"data"`
	}
	if err := json.Unmarshal(got.Body.Bytes(), &body); err != nil {
		tb.Fatalf("429 body %s: %v; want PocketBase's error JSON", got.Body, err)
	}
	if body.Status != http.StatusTooManyRequests || !strings.Contains(body.Message, "Too many failed sign-ins for this account") {
		tb.Errorf("429 body = %+v; want status 429 and the account's message", body)
	}
	if got.Header().Get("Retry-After") == "" {
		tb.Errorf("429 without Retry-After")
	}
}

// Contract (Budgets): after 10 failed password sign-ins for one account
// within 15 minutes, from any addresses, that account's password sign-ins
// answer 429 until the window has passed, even with the right password;
// other accounts are unaffected.
func TestSignInLimitPerAccount(t *testing.T) {
	t.Parallel()
	env := newSignInEnv(t)
	for i := 1; i <= hooks.SignInMaxFailures; i++ {
		env.mustSignIn(t, fmt.Sprintf("wrong password #%d", i), emails[alice], "wrong-guess", http.StatusBadRequest)
		env.advance(time.Minute) // the last failure is 9 minutes after the first
	}

	wantLimited(t, env.mustSignIn(t, "the right password after 10 failures", emails[alice], password, http.StatusTooManyRequests))
	// Others are unaffected, wrong guesses and right ones.
	env.mustSignIn(t, "another account, wrong password", emails[bob], "wrong-guess", http.StatusBadRequest)
	env.mustSignIn(t, "another account, right password", emails[bob], password, http.StatusOK)

	// 15 minutes after the first failure, it leaves the window: one
	// place frees (the other nine failures are still inside).
	env.advance(hooks.SignInWindow - hooks.SignInMaxFailures*time.Minute + time.Second)
	env.mustSignIn(t, "the right password once the first failure left the window", emails[alice], password, http.StatusOK)
	env.mustSignIn(t, "a wrong password again", emails[alice], "wrong-guess", http.StatusBadRequest)
	env.mustSignIn(t, "the 10th failure in the window counts", emails[alice], password, http.StatusTooManyRequests)

	// Once the whole window has passed, the account is free again.
	env.advance(hooks.SignInWindow)
	env.mustSignIn(t, "the right password after the window", emails[alice], password, http.StatusOK)
}

// Successful sign-ins do not count: nine failures, a success, and one
// more failure are ten failures, not eleven attempts.
func TestSignInLimitCountsFailuresOnly(t *testing.T) {
	t.Parallel()
	env := newSignInEnv(t)
	for i := 1; i < hooks.SignInMaxFailures; i++ {
		env.mustSignIn(t, fmt.Sprintf("wrong password #%d", i), emails[alice], "wrong-guess", http.StatusBadRequest)
	}
	env.mustSignIn(t, "the right password after 9 failures", emails[alice], password, http.StatusOK)
	env.mustSignIn(t, "the 10th failure", emails[alice], "wrong-guess", http.StatusBadRequest)
	env.mustSignIn(t, "after the 10th failure", emails[alice], password, http.StatusTooManyRequests)
}

// An identity that matches no account is limited under its normalised
// spelling, so probing unknown e-mails gets 429 too.
func TestSignInLimitUnknownIdentity(t *testing.T) {
	t.Parallel()
	env := newSignInEnv(t)
	const nobody = "nobody@example.com"
	for i := 1; i <= hooks.SignInMaxFailures; i++ {
		env.mustSignIn(t, fmt.Sprintf("unknown account #%d", i), nobody, "wrong-guess", http.StatusBadRequest)
	}
	wantLimited(t, env.mustSignIn(t, "the 11th try", nobody, "wrong-guess", http.StatusTooManyRequests))
	env.mustSignIn(t, "another spelling of it", " NoBody@Example.COM ", "wrong-guess", http.StatusTooManyRequests)
	env.mustSignIn(t, "a real account", emails[alice], password, http.StatusOK)
}

// Guesses sent in parallel cannot overshoot the limit: an attempt holds
// its place while the password is checked.
func TestSignInLimitParallelGuesses(t *testing.T) {
	t.Parallel()
	env := newSignInEnv(t)
	const guesses = 3 * hooks.SignInMaxFailures
	codes := make([]int, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() { codes[i] = env.signIn(emails[alice], fmt.Sprintf("guess-%d", i)).Code })
	}
	wg.Wait()
	counts := map[int]int{}
	for _, code := range codes {
		counts[code]++
	}
	if counts[http.StatusBadRequest] != hooks.SignInMaxFailures || counts[http.StatusTooManyRequests] != guesses-hooks.SignInMaxFailures {
		t.Errorf("%d parallel wrong guesses answered %v; want %d × 400 and the rest 429", guesses, counts, hooks.SignInMaxFailures)
	}
}
