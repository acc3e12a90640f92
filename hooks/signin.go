package hooks

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"
)

// Sign-in limit per account.
//
// PocketBase's rate limiter counts per client address, so a guesser with
// many addresses is not slowed down on one account. This file counts the
// failed password sign-ins of each account, from any address: once an
// account has SignInMaxFailures inside SignInWindow, its password
// sign-ins answer 429, even with the right password, until the oldest of
// them leaves the window. The account is the record PocketBase found for
// the identity; an identity that matches no account is counted under its
// normalised spelling, so probing unknown e-mails is limited too.
//
// An attempt takes its place before the password is checked (no bcrypt
// work once the limit is reached) and gives it back unless the password
// was wrong, so parallel guesses cannot overshoot the limit. The
// per-address limiter (the settings migration) stays as well.
const (
	SignInMaxFailures = 10
	SignInWindow      = 15 * time.Minute
)

// registerSignInLimit binds the limit onto the password sign-in of every
// auth collection. now is the clock (nil: time.Now).
func registerSignInLimit(app core.App, now func() time.Time) {
	failures := newFloodGuard(SignInMaxFailures, SignInWindow)
	if now != nil {
		failures.now = now
	}
	app.OnRecordAuthWithPasswordRequest().BindFunc(func(e *core.RecordAuthWithPasswordRequestEvent) error {
		account := signInAccount(e)
		slot, ok := failures.reserve(account)
		if !ok {
			wait := failures.retryAfter(account)
			e.Response.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait.Round(time.Second).Seconds()))))
			return e.TooManyRequestsError(fmt.Sprintf(
				"Too many failed sign-ins for this account. Try again in %s.", wholeMinutes(wait)), nil)
		}
		err := e.Next()
		if !isWrongCredentials(err) {
			// Signed in, or refused for another reason (MFA, a server
			// error): not a failed guess.
			failures.release(account, slot)
		}
		return err
	})
}

// signInAccount names the account a sign-in is for: the record PocketBase
// found for the identity, else the identity trimmed and in lower case.
func signInAccount(e *core.RecordAuthWithPasswordRequestEvent) string {
	if e.Record != nil {
		return e.Record.Collection().Id + "/" + e.Record.Id
	}
	return e.Collection.Id + "?" + strings.ToLower(strings.TrimSpace(e.Identity))
}

// isWrongCredentials reports whether err is PocketBase's answer to a wrong
// identity or password: a 400 (the body was validated before the hooks).
func isWrongCredentials(err error) bool {
	var apiErr *router.ApiError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest
}

// wholeMinutes renders d in whole minutes, rounded up, at least one.
func wholeMinutes(d time.Duration) string {
	minutes := max(1, int((d+time.Minute-1)/time.Minute))
	if minutes == 1 {
		return "1 minute"
	}
	return strconv.Itoa(minutes) + " minutes"
}
