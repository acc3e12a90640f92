package hooks_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
)

// usersHiddenEmails lists the fixture e-mails that viewer must never see:
// everyone's but their own ("" is a guest and sees none).
func usersHiddenEmails(viewer string) []string {
	var hidden []string
	for id, email := range emails {
		if id != viewer {
			hidden = append(hidden, email)
		}
	}
	return hidden
}

// userDeletedEvents: alice and her post (cascade) are deleted, and the
// four records that named them are updated: her two rooms' participants,
// the bike room's post and her message's sender.
var userDeletedEvents = map[string]int{
	"*": 0, "OnRecordDeleteRequest": 1,
	"OnRecordDelete": 2, "OnModelDelete": 2, "OnRecordDeleteExecute": 2, "OnModelDeleteExecute": 2,
	"OnRecordAfterDeleteSuccess": 2, "OnModelAfterDeleteSuccess": 2,
	"OnRecordUpdate": 4, "OnModelUpdate": 4, "OnRecordUpdateExecute": 4, "OnModelUpdateExecute": 4,
	"OnRecordAfterUpdateSuccess": 4, "OnModelAfterUpdateSuccess": 4,
}

// TestUsersAccess covers the contract's users section per actor: signed-in
// users list and view each other's id, name and avatar; e-mails stay hidden
// from everyone but the owner (and superusers); only the owner changes or
// deletes the account.
func TestUsersAccess(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("n", 51)

	scenarios := []tests.ApiScenario{
		// list
		{
			Name:               "guest lists users and gets none",
			Method:             http.MethodGet,
			URL:                "/api/collections/users/records",
			ExpectedStatus:     200,
			ExpectedContent:    []string{`"totalItems":0`, `"items":[]`},
			NotExpectedContent: append(usersHiddenEmails(""), `"name":"Alice"`),
		},
		{
			Name:           "bob lists users and sees names but only his own e-mail",
			Method:         http.MethodGet,
			URL:            "/api/collections/users/records?sort=name",
			Headers:        auth(bob),
			ExpectedStatus: 200,
			ExpectedContent: []string{
				`"totalItems":4`,
				`"id":"` + alice + `"`, `"name":"Alice"`, `"avatar":""`,
				`"id":"` + carol + `"`, `"id":"` + dave + `"`,
				`"email":"` + emails[bob] + `"`,
			},
			NotExpectedContent: usersHiddenEmails(bob),
		},
		{
			Name:            "superuser lists users with e-mails",
			Method:          http.MethodGet,
			URL:             "/api/collections/users/records",
			Headers:         auth("superuser"),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"totalItems":4`, emails[alice], emails[bob], emails[carol], emails[dave]},
		},
		{
			Name:               "carol filters users by alice's e-mail: refused, naming filter",
			Method:             http.MethodGet,
			URL:                "/api/collections/users/records?filter=" + url.QueryEscape(`email="`+emails[alice]+`"`),
			Headers:            auth(carol),
			ExpectedStatus:     400,
			ExpectedContent:    []string{`"filter":{"code":"validation_filter_not_allowed"`},
			NotExpectedContent: usersHiddenEmails(carol),
		},
		{
			Name:               "carol filters users by an e-mail prefix: refused, naming filter",
			Method:             http.MethodGet,
			URL:                "/api/collections/users/records?filter=" + url.QueryEscape(`email~"alice%"`),
			Headers:            auth(carol),
			ExpectedStatus:     400,
			ExpectedContent:    []string{`"filter":{"code":"validation_filter_not_allowed"`},
			NotExpectedContent: usersHiddenEmails(carol),
		},
		{
			Name:            "superuser filters users by alice's e-mail and finds her",
			Method:          http.MethodGet,
			URL:             "/api/collections/users/records?filter=" + url.QueryEscape(`email="`+emails[alice]+`"`),
			Headers:         auth("superuser"),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"totalItems":1`, `"id":"` + alice + `"`},
		},

		// view
		{
			Name:               "guest views alice",
			Method:             http.MethodGet,
			URL:                "/api/collections/users/records/" + alice,
			ExpectedStatus:     404,
			ExpectedContent:    []string{`"status":404`},
			NotExpectedContent: append(usersHiddenEmails(""), `"name":"Alice"`),
		},
		{
			Name:               "bob views alice without her e-mail",
			Method:             http.MethodGet,
			URL:                "/api/collections/users/records/" + alice,
			Headers:            auth(bob),
			ExpectedStatus:     200,
			ExpectedContent:    []string{`"id":"` + alice + `"`, `"name":"Alice"`, `"avatar":""`},
			NotExpectedContent: usersHiddenEmails(bob),
		},
		{
			Name:            "alice views herself with her e-mail",
			Method:          http.MethodGet,
			URL:             "/api/collections/users/records/" + alice,
			Headers:         auth(alice),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"email":"` + emails[alice] + `"`},
		},
		{
			Name:            "superuser views alice with her e-mail",
			Method:          http.MethodGet,
			URL:             "/api/collections/users/records/" + alice,
			Headers:         auth("superuser"),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"email":"` + emails[alice] + `"`},
		},

		// create (sign-up)
		{
			Name:   "guest signs up with e-mail and password",
			Method: http.MethodPost,
			URL:    "/api/collections/users/records",
			Body: strings.NewReader(`{"email":"zoe@example.com","password":"password123",` +
				`"passwordConfirm":"password123","name":"  Zoe  "}`),
			ExpectedStatus:     200,
			ExpectedEvents:     createdEvents,
			ExpectedContent:    []string{`"name":"Zoe"`, `"verified":false`},
			NotExpectedContent: usersHiddenEmails(""),
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				zoe, err := app.FindAuthRecordByEmail("users", "zoe@example.com")
				if err != nil {
					tb.Fatalf("FindAuthRecordByEmail(%q) error = %v; want the new user", "zoe@example.com", err)
				}
				if !zoe.ValidatePassword("password123") {
					tb.Errorf("ValidatePassword(%q) = false; want true", "password123")
				}
			},
		},
		{
			Name:   "guest signs up with a name over 50 characters",
			Method: http.MethodPost,
			URL:    "/api/collections/users/records",
			Body: strings.NewReader(`{"email":"zoe@example.com","password":"password123",` +
				`"passwordConfirm":"password123","name":"` + long + `"}`),
			ExpectedStatus:  400,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: []string{`"name":{"code"`},
		},

		// update
		{
			Name:            "guest renames alice",
			Method:          http.MethodPatch,
			URL:             "/api/collections/users/records/" + alice,
			Body:            strings.NewReader(`{"name":"Mallory"}`),
			ExpectedStatus:  404,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":404`},
		},
		{
			Name:               "bob renames alice",
			Method:             http.MethodPatch,
			URL:                "/api/collections/users/records/" + alice,
			Body:               strings.NewReader(`{"name":"Mallory"}`),
			Headers:            auth(bob),
			ExpectedStatus:     404,
			ExpectedEvents:     noEvents,
			ExpectedContent:    []string{`"status":404`},
			NotExpectedContent: usersHiddenEmails(bob),
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				usersNameIs(tb, app, alice, "Alice")
			},
		},
		{
			Name:            "alice renames herself with surrounding spaces",
			Method:          http.MethodPatch,
			URL:             "/api/collections/users/records/" + alice,
			Body:            strings.NewReader(`{"name":"  Zed  "}`),
			Headers:         auth(alice),
			ExpectedStatus:  200,
			ExpectedEvents:  updatedEvents,
			ExpectedContent: []string{`"name":"Zed"`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				usersNameIs(tb, app, alice, "Zed")
			},
		},
		{
			Name:            "alice renames herself with 50 characters",
			Method:          http.MethodPatch,
			URL:             "/api/collections/users/records/" + alice,
			Body:            strings.NewReader(`{"name":"` + long[:50] + `"}`),
			Headers:         auth(alice),
			ExpectedStatus:  200,
			ExpectedEvents:  updatedEvents,
			ExpectedContent: []string{`"name":"` + long[:50] + `"`},
		},
		{
			Name:            "alice renames herself with 51 characters",
			Method:          http.MethodPatch,
			URL:             "/api/collections/users/records/" + alice,
			Body:            strings.NewReader(`{"name":"` + long + `"}`),
			Headers:         auth(alice),
			ExpectedStatus:  400,
			ExpectedEvents:  updateInvalidEvents,
			ExpectedContent: []string{`"name":{"code"`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				usersNameIs(tb, app, alice, "Alice")
			},
		},
		{
			Name:            "superuser renames alice",
			Method:          http.MethodPatch,
			URL:             "/api/collections/users/records/" + alice,
			Body:            strings.NewReader(`{"name":"Alicia"}`),
			Headers:         auth("superuser"),
			ExpectedStatus:  200,
			ExpectedEvents:  updatedEvents,
			ExpectedContent: []string{`"name":"Alicia"`},
		},

		// delete
		{
			Name:            "guest deletes alice",
			Method:          http.MethodDelete,
			URL:             "/api/collections/users/records/" + alice,
			ExpectedStatus:  404,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":404`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				checkExists(tb, app, "users", alice, true)
			},
		},
		{
			Name:            "bob deletes alice",
			Method:          http.MethodDelete,
			URL:             "/api/collections/users/records/" + alice,
			Headers:         auth(bob),
			ExpectedStatus:  404,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":404`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				checkExists(tb, app, "users", alice, true)
			},
		},
		{
			Name:           "alice deletes herself",
			Method:         http.MethodDelete,
			URL:            "/api/collections/users/records/" + alice,
			Headers:        auth(alice),
			ExpectedStatus: 204,
			ExpectedEvents: userDeletedEvents,
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				checkExists(tb, app, "users", alice, false)
			},
		},
		{
			Name:           "superuser deletes alice",
			Method:         http.MethodDelete,
			URL:            "/api/collections/users/records/" + alice,
			Headers:        auth("superuser"),
			ExpectedStatus: 204,
			ExpectedEvents: userDeletedEvents,
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				checkExists(tb, app, "users", alice, false)
			},
		},
	}

	for _, s := range scenarios {
		s.TestAppFactory = newTestApp
		s.Test(t)
	}
}

// usersNameIs fails the test unless the stored name of user id is want.
func usersNameIs(tb testing.TB, app core.App, id, want string) {
	tb.Helper()
	user, err := app.FindRecordById("users", id)
	if err != nil {
		tb.Fatalf("FindRecordById(%q, %q) error = %v", "users", id, err)
	}
	if got := user.GetString("name"); got != want {
		tb.Errorf("user %q name = %q; want %q", id, got, want)
	}
}

// TestUsersEmailsHiddenThroughOtherCollections checks that e-mails stay
// hidden when users are reached through expand and filter on other
// collections.
func TestUsersEmailsHiddenThroughOtherCollections(t *testing.T) {
	t.Parallel()
	scenarios := []tests.ApiScenario{
		{
			Name:               "guest lists posts expanding author",
			Method:             http.MethodGet,
			URL:                "/api/collections/posts/records?expand=author",
			ExpectedStatus:     200,
			ExpectedContent:    []string{`"totalItems":2`},
			NotExpectedContent: append(usersHiddenEmails(""), `"name":"Alice"`, `"name":"Carol"`),
		},
		{
			Name:               "bob lists posts expanding author",
			Method:             http.MethodGet,
			URL:                "/api/collections/posts/records?expand=author",
			Headers:            auth(bob),
			ExpectedStatus:     200,
			ExpectedContent:    []string{`"totalItems":2`, `"name":"Alice"`, `"name":"Carol"`},
			NotExpectedContent: usersHiddenEmails(bob),
		},
		{
			Name:               "bob views the bike expanding author",
			Method:             http.MethodGet,
			URL:                "/api/collections/posts/records/" + postBike + "?expand=author",
			Headers:            auth(bob),
			ExpectedStatus:     200,
			ExpectedContent:    []string{`"name":"Alice"`},
			NotExpectedContent: usersHiddenEmails(bob),
		},
		{
			Name:               "bob asks for the author's e-mail through fields",
			Method:             http.MethodGet,
			URL:                "/api/collections/posts/records?expand=author&fields=id,expand.author.email,expand.author.name",
			Headers:            auth(bob),
			ExpectedStatus:     200,
			ExpectedContent:    []string{`"name":"Alice"`},
			NotExpectedContent: usersHiddenEmails(bob),
		},
		{
			Name:               "bob lists rooms expanding participants",
			Method:             http.MethodGet,
			URL:                "/api/collections/rooms/records?expand=participants,post.author",
			Headers:            auth(bob),
			ExpectedStatus:     200,
			ExpectedContent:    []string{`"totalItems":2`, `"name":"Alice"`, `"name":"Dave"`},
			NotExpectedContent: usersHiddenEmails(bob),
		},
		{
			Name:               "bob lists messages expanding sender and room participants",
			Method:             http.MethodGet,
			URL:                "/api/collections/messages/records?expand=sender,room.participants",
			Headers:            auth(bob),
			ExpectedStatus:     200,
			ExpectedContent:    []string{`"totalItems":3`, `"name":"Alice"`, `"name":"Dave"`},
			NotExpectedContent: usersHiddenEmails(bob),
		},
		{
			Name:               "carol filters posts by the author's e-mail: refused, naming filter",
			Method:             http.MethodGet,
			URL:                "/api/collections/posts/records?filter=" + url.QueryEscape(`author.email="`+emails[alice]+`"`),
			Headers:            auth(carol),
			ExpectedStatus:     400,
			ExpectedContent:    []string{`"filter":{"code":"validation_filter_not_allowed"`},
			NotExpectedContent: usersHiddenEmails(carol),
		},
		{
			Name:            "superuser filters posts by the author's e-mail and finds the bike",
			Method:          http.MethodGet,
			URL:             "/api/collections/posts/records?filter=" + url.QueryEscape(`author.email="`+emails[alice]+`"`),
			Headers:         auth("superuser"),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"totalItems":1`, `"id":"` + postBike + `"`},
		},
	}

	for _, s := range scenarios {
		s.TestAppFactory = newTestApp
		s.Test(t)
	}
}

// TestUsersSignUpThenSignIn checks that registration is open and needs no
// e-mail verification: a new account signs in with its password at once.
func TestUsersSignUpThenSignIn(t *testing.T) {
	t.Parallel()
	h := appHandler(t, newTestApp(t))

	signUp := serveJSON(h, "192.0.2.10", http.MethodPost, "/api/collections/users/records", "",
		`{"email":"zoe@example.com","password":"password123","passwordConfirm":"password123"}`)
	if signUp.Code != http.StatusOK {
		t.Fatalf("sign up: status = %d; want %d\n%s", signUp.Code, http.StatusOK, signUp.Body)
	}

	signIn := serveJSON(h, "192.0.2.10", http.MethodPost, "/api/collections/users/auth-with-password", "",
		`{"identity":"zoe@example.com","password":"password123"}`)
	if signIn.Code != http.StatusOK {
		t.Fatalf("sign in: status = %d; want %d\n%s", signIn.Code, http.StatusOK, signIn.Body)
	}
	for _, want := range []string{`"token":"`, `"verified":false`, `"email":"zoe@example.com"`} {
		if !strings.Contains(signIn.Body.String(), want) {
			t.Errorf("sign in body = %s; want it to contain %s", signIn.Body, want)
		}
	}
}

// TestUsersRateLimits checks the limits the settings migration turns on, per
// client address: password sign-in (brute force, "*:auth") and sign-up
// ("users:create") allow 10 requests a minute; the 11th gets 429, while
// another address is unaffected.
func TestUsersRateLimits(t *testing.T) {
	t.Parallel()
	const limit = 10
	cases := []struct {
		name   string
		target string
		// body of the i-th request from one address.
		body func(i int) string
		// status of the requests within the limit.
		allowed int
	}{
		{
			name:   "wrong-password sign-in",
			target: "/api/collections/users/auth-with-password",
			// Past the limit, another account: alice has 10 failures by
			// then, and the per-account limit (signin.go) would answer
			// 429 from any address.
			body: func(i int) string {
				account := alice
				if i > limit {
					account = bob
				}
				return `{"identity":"` + emails[account] + `","password":"wrong-guess"}`
			},
			allowed: http.StatusBadRequest,
		},
		{
			name:   "sign-up",
			target: "/api/collections/users/records",
			body: func(i int) string {
				return fmt.Sprintf(`{"email":"spam%d@example.com","password":"password123","passwordConfirm":"password123"}`, i)
			},
			allowed: http.StatusOK,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := appHandler(t, newTestApp(t))
			const attacker, neighbour = "192.0.2.66", "192.0.2.77"

			for i := 1; i <= limit; i++ {
				if got := serveJSON(h, attacker, http.MethodPost, c.target, "", c.body(i)); got.Code != c.allowed {
					t.Fatalf("request %d: status = %d; want %d\n%s", i, got.Code, c.allowed, got.Body)
				}
			}
			got := serveJSON(h, attacker, http.MethodPost, c.target, "", c.body(limit+1))
			if got.Code != http.StatusTooManyRequests {
				t.Errorf("request %d: status = %d; want %d\n%s", limit+1, got.Code, http.StatusTooManyRequests, got.Body)
			}
			if got := serveJSON(h, neighbour, http.MethodPost, c.target, "", c.body(limit+2)); got.Code != c.allowed {
				t.Errorf("request from another address: status = %d; want %d\n%s", got.Code, c.allowed, got.Body)
			}
		})
	}

	t.Run("right password after the limit", func(t *testing.T) {
		h := appHandler(t, newTestApp(t))
		const attacker = "192.0.2.66"
		for i := 1; i <= limit; i++ {
			serveJSON(h, attacker, http.MethodPost, "/api/collections/users/auth-with-password", "",
				`{"identity":"`+emails[alice]+`","password":"wrong-guess"}`)
		}
		got := serveJSON(h, attacker, http.MethodPost, "/api/collections/users/auth-with-password", "",
			`{"identity":"`+emails[alice]+`","password":"`+password+`"}`)
		if got.Code != http.StatusTooManyRequests {
			t.Errorf("sign in with the right password: status = %d; want %d\n%s", got.Code, http.StatusTooManyRequests, got.Body)
		}
	})
}
