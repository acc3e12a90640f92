package hooks

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/security"

	"github.com/marketchat/marketchat/realtime"
)

// Sign out everywhere.
//
// PocketBase signs every token of a record (auth, file, reset) with the
// record's tokenKey, so a new tokenKey invalidates them all. What else
// must follow at once:
//
//   - the auth token cache (authcache.go) drops the user's entries on any
//     users update, so it never answers an old token again;
//   - the user's realtime streams signed in with the old key are closed
//     (PocketBase would only sign them out and keep them open), on the
//     fan-out's streams and on PocketBase's own loop alike, whatever
//     changed the key (this route, a new password);
//   - a realtime subscribe that carries an unexpired token that no longer
//     verifies answers 401 instead of quietly subscribing as a guest, so a
//     device whose sign-in was revoked finds out.

// registerRevoke adds POST /api/auth/revoke and closes the realtime
// streams of a user whose token key changed.
func registerRevoke(app core.App, fan *realtime.Fanout) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.POST("/api/auth/revoke", revokeTokens).Bind(apis.RequireAuth(usersCollection))
		return se.Next()
	})

	// Before e.Next(): the streams still carry the old record here;
	// PocketBase's own handler, further down the model chain, signs them
	// out (and out of the fan-out's index).
	app.OnRecordAfterUpdateSuccess(usersCollection).BindFunc(func(e *core.RecordEvent) error {
		fan.CloseStreams(e.Record.Id, func(auth *core.Record) bool {
			return auth.TokenKey() != e.Record.TokenKey() // signed in with the old key
		})
		return e.Next()
	})

	app.OnRealtimeSubscribeRequest().BindFunc(func(e *core.RealtimeSubscribeRequestEvent) error {
		if e.Auth == nil && revokedToken(e.Request.Header.Get("Authorization")) {
			return e.UnauthorizedError("This sign-in is no longer valid. Please sign in again.", nil)
		}
		return e.Next()
	})
}

// revokeTokens handles POST /api/auth/revoke: a new token key for the
// requester, which makes every token they hold invalid.
//
// Returns 204, 401 when not signed in and 403 for a superuser.
func revokeTokens(e *core.RequestEvent) error {
	user, err := e.App.FindRecordById(usersCollection, e.Auth.Id)
	if err != nil {
		return e.NotFoundError("", err) // deleted since the token was checked
	}
	user.RefreshTokenKey()
	// Only the token key changes: a record that fails validation for an
	// unrelated reason must still be revocable.
	if err := e.App.SaveNoValidate(user); err != nil {
		return e.InternalServerError("Failed to sign out everywhere.", fmt.Errorf("save user %q: %w", user.Id, err))
	}
	return e.NoContent(http.StatusNoContent)
}

// revokedToken reports whether the Authorization value holds a token that
// has not expired (PocketBase already refused to verify it). An expired
// one keeps PocketBase's behaviour, a guest, as the SDK keeps sending it.
func revokedToken(header string) bool {
	token := header
	if len(token) > 7 && strings.EqualFold(token[:7], "Bearer ") {
		token = token[7:] // as PocketBase reads it (apis/middlewares.go loadAuthToken, v0.40.4)
	}
	if token == "" {
		return false
	}
	claims, err := security.ParseUnverifiedJWT(token)
	if err != nil {
		return false // not a token at all: a guest, as PocketBase has it
	}
	expires, err := claims.GetExpirationTime()
	return err == nil && expires != nil && expires.After(time.Now())
}
