package hooks_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// signInWithPassword signs in through the API and returns the new token.
func signInWithPassword(tb testing.TB, s *realtimeServer, email string) string {
	tb.Helper()
	status, data := s.requestWithToken(tb, http.MethodPost, "/api/collections/users/auth-with-password", "",
		map[string]string{"identity": email, "password": password})
	var answer struct{ Token string }
	if status != http.StatusOK || json.Unmarshal(data, &answer) != nil || answer.Token == "" {
		tb.Fatalf("sign in as %s = %d %s; want 200 with a token", email, status, data)
	}
	return answer.Token
}

// Contract (Budgets): POST /api/auth/revoke makes every token the user
// holds invalid at once, REST and realtime (204). Checked on the fan-out's
// streams and on PocketBase's own loop (PlainRealtime): the old token gets
// 401 on REST although the auth cache had it, the streams it opened close,
// a new subscribe with it fails; another user keeps theirs; a fresh
// sign-in works, REST and realtime.
func TestRevoke(t *testing.T) {
	t.Parallel()
	for _, mode := range realtimeModes {
		t.Run(mode.name, func(t *testing.T) {
			s := serveRealtime(t, newTestAppWithConfig(t, mode.config))
			oldToken := tokens[bob]
			for i := range 2 { // the first verifies and caches, the second hits the cache
				if got := authRefresh(t, s, oldToken); got != http.StatusOK {
					t.Fatalf("auth-refresh #%d with bob's token = %d; want 200", i+1, got)
				}
			}
			bobStreams := []*realtimeClient{s.connect(t, bob, "rooms/*"), s.connect(t, bob, roomMessagesTopic(roomBike))}
			aliceStream := s.connect(t, alice, "rooms/*")

			s.mustRequest(t, http.MethodPost, "/api/auth/revoke", bob, nil, http.StatusNoContent)

			if got := authRefresh(t, s, oldToken); got != http.StatusUnauthorized {
				t.Errorf("auth-refresh with bob's old token = %d; want 401", got)
			}
			if got := statusWithToken(t, s, http.MethodPost, "/api/rooms/"+roomBike+"/read", oldToken); got != http.StatusUnauthorized {
				t.Errorf("mark read with bob's old token = %d; want 401", got)
			}
			for _, stream := range bobStreams {
				stream.waitClosed(t, realtimeEventTimeout)
			}
			guest := s.connect(t, "")
			status, body := s.requestWithToken(t, http.MethodPost, "/api/realtime", oldToken,
				map[string]any{"clientId": guest.id, "subscriptions": []string{"rooms/*"}})
			if status != http.StatusUnauthorized {
				t.Errorf("subscribe with bob's old token = %d %s; want 401", status, body)
			}

			// Alice keeps her token and her stream.
			if got := authRefresh(t, s, tokens[alice]); got != http.StatusOK {
				t.Errorf("auth-refresh with alice's token = %d; want 200", got)
			}
			s.sendMessage(t, alice, roomBike, "still here")
			wantRecord(t, alice, aliceStream.expectEvent(t, "rooms/*", realtimeEventTimeout), "update", map[string]any{"id": roomBike})

			// Bob signs in again: REST and realtime work with the new token.
			newToken := signInWithPassword(t, s, emails[bob])
			if got := authRefresh(t, s, newToken); got != http.StatusOK {
				t.Errorf("auth-refresh with bob's new token = %d; want 200", got)
			}
			fresh := s.connect(t, "")
			if status, body := s.requestWithToken(t, http.MethodPost, "/api/realtime", newToken,
				map[string]any{"clientId": fresh.id, "subscriptions": []string{"rooms/*"}}); status != http.StatusNoContent {
				t.Fatalf("subscribe with bob's new token = %d %s; want 204", status, body)
			}
			const text = "welcome back"
			s.sendMessage(t, alice, roomBike, text)
			wantRecord(t, bob, fresh.expectEvent(t, "rooms/*", realtimeEventTimeout), "update", map[string]any{"id": roomBike, "last_message": text})
		})
	}
}

// POST /api/auth/revoke is for signed-in users: 401 for a guest, 403 for
// a superuser; an expired token on a subscribe stays a guest, as in
// PocketBase (only an unexpired token that no longer verifies is refused).
func TestRevokeAccess(t *testing.T) {
	t.Parallel()
	s := newRealtimeServer(t)
	s.mustRequest(t, http.MethodPost, "/api/auth/revoke", "", nil, http.StatusUnauthorized)
	s.mustRequest(t, http.MethodPost, "/api/auth/revoke", "superuser", nil, http.StatusForbidden)

	user, err := s.app.FindRecordById("users", bob)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := user.NewStaticAuthToken(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // exp has one-second resolution
	guest := s.connect(t, "")
	if status, body := s.requestWithToken(t, http.MethodPost, "/api/realtime", expired,
		map[string]any{"clientId": guest.id, "subscriptions": []string{"posts/*"}}); status != http.StatusNoContent {
		t.Errorf("subscribe with an expired token = %d %s; want 204 (a guest)", status, body)
	}
}
