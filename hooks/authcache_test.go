package hooks_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// authRefresh calls the users auth-refresh route with token and returns
// the status: 200 for a valid users token, 401 otherwise.
func authRefresh(tb testing.TB, s *realtimeServer, token string) int {
	tb.Helper()
	return statusWithToken(tb, s, http.MethodPost, "/api/collections/users/auth-refresh", token)
}

// statusWithToken sends an empty request with token as its Authorization
// and returns the status.
func statusWithToken(tb testing.TB, s *realtimeServer, method, path, token string) int {
	tb.Helper()
	status, _ := s.requestWithToken(tb, method, path, token, nil)
	return status
}

// TestAuthCacheRevocation: a token the cache has seen stops working as soon
// as what it depends on changes: the user's password (token key), the
// user's existence, the collection's token secret.
func TestAuthCacheRevocation(t *testing.T) {
	t.Parallel()
	changes := []struct {
		name       string
		revoke     func(tb testing.TB, app core.App)
		othersKeep bool // alice's token stays valid
	}{
		{"password changed", func(tb testing.TB, app core.App) {
			user, err := app.FindRecordById("users", bob)
			if err != nil {
				tb.Fatal(err)
			}
			user.SetPassword("a new password 123")
			if err := app.Save(user); err != nil {
				tb.Fatal(err)
			}
		}, true},
		{"user deleted", func(tb testing.TB, app core.App) {
			user, err := app.FindRecordById("users", bob)
			if err != nil {
				tb.Fatal(err)
			}
			if err := app.Delete(user); err != nil {
				tb.Fatal(err)
			}
		}, true},
		{"token secret rotated", func(tb testing.TB, app core.App) {
			users, err := app.FindCollectionByNameOrId("users")
			if err != nil {
				tb.Fatal(err)
			}
			users.AuthToken.Secret = "a-new-secret-of-at-least-thirty-characters"
			if err := app.Save(users); err != nil {
				tb.Fatal(err)
			}
		}, false},
	}
	for _, change := range changes {
		t.Run(change.name, func(t *testing.T) {
			s := newRealtimeServer(t)
			for i := range 3 { // the first verifies and caches, the others hit the cache
				if got := authRefresh(t, s, tokens[bob]); got != http.StatusOK {
					t.Fatalf("auth-refresh #%d with bob's token = %d; want 200", i+1, got)
				}
			}
			change.revoke(t, s.app)
			if got := authRefresh(t, s, tokens[bob]); got != http.StatusUnauthorized {
				t.Fatalf("auth-refresh with bob's old token after the change = %d; want 401", got)
			}
			want := http.StatusUnauthorized // every token of the collection is revoked
			if change.othersKeep {
				want = http.StatusOK
			}
			if got := authRefresh(t, s, tokens[alice]); got != want {
				t.Errorf("auth-refresh with alice's token = %d; want %d", got, want)
			}
		})
	}
}

// TestAuthCacheExpiry: a cached token is refused once it expires.
func TestAuthCacheExpiry(t *testing.T) {
	// Not parallel: both requests with the fresh token must come within its first second.
	s := newRealtimeServer(t)
	user, err := s.app.FindRecordById("users", bob)
	if err != nil {
		t.Fatal(err)
	}
	// exp has one-second resolution: this token expires 1 to 2 s from now.
	token, err := user.NewStaticAuthToken(2 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	markRead := "/api/rooms/" + roomBike + "/read" // 204 for bob, 401 for a guest
	for i := range 2 {
		if got := statusWithToken(t, s, http.MethodPost, markRead, token); got != http.StatusNoContent {
			t.Fatalf("mark read #%d with a fresh token = %d; want 204", i+1, got)
		}
	}
	time.Sleep(2500 * time.Millisecond)
	if got := statusWithToken(t, s, http.MethodPost, markRead, token); got != http.StatusUnauthorized {
		t.Fatalf("mark read with the expired token = %d; want 401", got)
	}
}

// TestAuthCacheForgetsOnlyTheChangedUser: saving one user drops that
// user's cached tokens only. Seen through a change the cache cannot
// notice: alice's token key rewritten in SQL, under the hooks, revokes
// her token for PocketBase, yet her cached entry still answers after bob
// is saved (and is dropped once alice herself is).
func TestAuthCacheForgetsOnlyTheChangedUser(t *testing.T) {
	t.Parallel()
	s := newRealtimeServer(t)
	for _, user := range []string{alice, bob} {
		if got := authRefresh(t, s, tokens[user]); got != http.StatusOK {
			t.Fatalf("auth-refresh as %s = %d; want 200", user, got)
		}
	}
	if _, err := s.app.DB().NewQuery("UPDATE users SET tokenKey = 'rewritten-under-the-hooks-0123456789' WHERE id = {:id}").
		Bind(dbx.Params{"id": alice}).Execute(); err != nil {
		t.Fatal(err)
	}

	save := func(id string) {
		t.Helper()
		user, err := s.app.FindRecordById("users", id)
		if err != nil {
			t.Fatal(err)
		}
		user.Set("name", "Renamed")
		if err := s.app.Save(user); err != nil {
			t.Fatal(err)
		}
	}
	save(bob)
	if got := authRefresh(t, s, tokens[alice]); got != http.StatusOK {
		t.Errorf("auth-refresh with alice's cached token after bob's save = %d; want 200 (her entry kept)", got)
	}
	if got := authRefresh(t, s, tokens[bob]); got != http.StatusOK {
		t.Errorf("auth-refresh with bob's token after his name changed = %d; want 200", got)
	}
	save(alice)
	if got := authRefresh(t, s, tokens[alice]); got != http.StatusUnauthorized {
		t.Errorf("auth-refresh with alice's token after her own save = %d; want 401 (her token key changed)", got)
	}
}
