package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Signing out in the browser: on every device at once.

// TestBrowserSignOutEverywhere: one user signed in on a phone and a
// laptop; "Sign out on every device" on the phone signs both out, the
// laptop by itself (its live stream is closed, it asks whether its sign-in
// still holds), and the old token is refused.
func TestBrowserSignOutEverywhere(t *testing.T) {
	s, ctx := startBrowserTest(t, 3*time.Minute)

	s.signUp(t, "mina@example.com", "Mina")
	phone := openBrowser(ctx, t, "phone", s.URL, "en-US,en")
	laptop := openBrowser(ctx, t, "laptop", s.URL, "ko-KR,ko")
	phone.signIn("mina@example.com")
	laptop.signIn("mina@example.com")
	token := evalJS[string](laptop, `JSON.parse(localStorage.getItem('pocketbase_auth')).token`)
	laptop.navigate("/#/chats")
	laptop.waitJS("the laptop's chat list", `location.hash === '#/chats' && document.querySelector('.list-status')?.textContent.length > 0`)

	phone.navigate("/#/me")
	phone.waitJS("the button in English", `document.querySelector('#sign-out-everywhere')?.textContent === 'Sign out on every device'`)
	laptop.navigate("/#/me")
	laptop.waitJS("the button in Korean", `document.querySelector('#sign-out-everywhere')?.textContent === '모든 기기에서 로그아웃'`)
	laptop.navigate("/#/chats")
	laptop.waitJS("the laptop's chat list again", `location.hash === '#/chats' && document.body.dataset.signedIn === 'true'`)

	phone.click(`#sign-out-everywhere`)
	// Both pages reload when signed out.
	phone.waitJSAcrossRestore("the phone is signed out", `document.body.dataset.signedIn === 'false' && !localStorage.getItem('pocketbase_auth')`)
	laptop.waitJSAcrossRestore("the laptop signs out by itself", `document.body.dataset.signedIn === 'false' && !localStorage.getItem('pocketbase_auth')`)
	if st := s.do(t, "POST", "/api/collections/users/auth-refresh", token, nil, nil); st != http.StatusUnauthorized {
		t.Errorf("auth-refresh with the laptop's old token = %d; want 401", st)
	}
	phone.mu.Lock()
	dialogs := fmt.Sprintf("%q", phone.dialogs)
	phone.mu.Unlock()
	if !strings.Contains(dialogs, "Sign out on every device, this one included?") {
		t.Errorf("confirm dialogs = %s; want the sign-out question", dialogs)
	}
	// Each page's stream is closed by the revoke, and its check of the
	// old sign-in is answered 401 (the phone's may race its own reload).
	const refused = "the server responded with a status of 401"
	phone.checkConsole(refused)
	laptop.checkConsole(refused)
}
