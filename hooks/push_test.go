package hooks_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"

	"github.com/marketchat/marketchat/hooks"
	"github.com/marketchat/marketchat/internal/pushtest"
)

// pushConfig serves push endpoints on loopback (the test's push service)
// and retries fast.
var pushConfig = hooks.Config{PushAllowPrivate: true, PushBackoff: 20 * time.Millisecond}

// pushServer is a served test app with a loopback push service that knows
// the app's VAPID public key.
func pushServer(t *testing.T, config hooks.Config) (*realtimeServer, *pushtest.Service) {
	t.Helper()
	s := serveRealtime(t, newTestAppWithConfig(t, config))
	service := pushtest.NewService(t)
	key := s.mustRequest(t, http.MethodGet, "/api/push/key", "", nil, http.StatusOK)
	service.PublicKey, _ = key["publicKey"].(string)
	return s, service
}

// subscribePush saves a subscription for userID on service's endpoint
// named after them and returns the browser that can open its pushes.
func subscribePush(t *testing.T, s *realtimeServer, service *pushtest.Service, userID string) *pushtest.Subscriber {
	t.Helper()
	browser := pushtest.NewSubscriber(t)
	s.mustRequest(t, http.MethodPost, "/api/collections/push_subscriptions/records", userID, map[string]any{
		"endpoint": service.Endpoint(actorName(userID)), "p256dh": browser.P256dh(), "auth": browser.Auth(),
	}, http.StatusOK)
	return browser
}

// pushesTo returns the accepted pushes to userID's endpoint.
func pushesTo(service *pushtest.Service, userID string) []pushtest.Push {
	var out []pushtest.Push
	for _, p := range service.Pushes() {
		if p.Path == "/push/"+actorName(userID) {
			out = append(out, p)
		}
	}
	return out
}

// TestPushKey: GET /api/push/key answers a P-256 public key to anyone,
// the same every time, kept in the data: an app started again on a copy
// of the data dir answers the same key.
func TestPushKey(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	s := serveRealtime(t, app)
	first := s.mustRequest(t, http.MethodGet, "/api/push/key", "", nil, http.StatusOK)
	key, _ := first["publicKey"].(string)
	raw, err := base64.RawURLEncoding.DecodeString(key)
	if err != nil || len(raw) != 65 || raw[0] != 4 {
		t.Fatalf("publicKey = %q; want an uncompressed P-256 point in base64url", key)
	}
	if again := s.mustRequest(t, http.MethodGet, "/api/push/key", bob, nil, http.StatusOK); again["publicKey"] != key {
		t.Errorf("second GET /api/push/key = %v; want %q again", again["publicKey"], key)
	}
	if _, err := app.DB().NewQuery("PRAGMA wal_checkpoint(TRUNCATE)").Execute(); err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	restarted := serveRealtime(t, newTestAppFrom(t, app.DataDir()))
	if got := restarted.mustRequest(t, http.MethodGet, "/api/push/key", "", nil, http.StatusOK); got["publicKey"] != key {
		t.Errorf("after a restart publicKey = %v; want %q", got["publicKey"], key)
	}
}

// seededSubscription is bob's subscription in the scenarios below.
const seededSubscription = "pushsubbob00001"

// seedSubscription saves bob's subscription on a loopback endpoint.
func seedSubscription(tb testing.TB, app core.App) {
	tb.Helper()
	browser := pushtest.NewSubscriber(tb)
	if err := saveRecord(app, "push_subscriptions", seededSubscription, map[string]any{
		"user": bob, "endpoint": "http://127.0.0.1:9/push/bob", "p256dh": browser.P256dh(), "auth": browser.Auth(),
	}); err != nil {
		tb.Fatal(err)
	}
}

// TestPushSubscriptionsAccess: owner only, one row per actor; the user is
// the requester; an endpoint saved again replaces the old row.
func TestPushSubscriptionsAccess(t *testing.T) {
	t.Parallel()
	browser := pushtest.NewSubscriber(t)
	body := func(endpoint, user string) string {
		m := map[string]any{"endpoint": endpoint, "p256dh": browser.P256dh(), "auth": browser.Auth()}
		if user != "" {
			m["user"] = user
		}
		data, _ := json.Marshal(m)
		return string(data)
	}
	factory := func(tb testing.TB) *tests.TestApp {
		app := newTestAppWithConfig(tb, pushConfig)
		seedSubscription(tb, app)
		return app
	}
	path := "/api/collections/push_subscriptions/records"
	replacedEvents := map[string]int{}
	for k, v := range createdEvents {
		replacedEvents[k] = v
	}
	for _, name := range []string{"OnRecordDelete", "OnModelDelete", "OnRecordDeleteExecute", "OnModelDeleteExecute",
		"OnRecordAfterDeleteSuccess", "OnModelAfterDeleteSuccess"} {
		replacedEvents[name] = 1
	}
	scenarios := []tests.ApiScenario{
		{Name: "guest creates", Method: http.MethodPost, URL: path, Body: strings.NewReader(body("http://127.0.0.1:9/push/x", "")),
			ExpectedStatus: 400, ExpectedContent: []string{`"data":{}`}, ExpectedEvents: noEvents,
			AfterTestFunc: afterCount("push_subscriptions", 1)},
		{Name: "alice creates her own", Method: http.MethodPost, URL: path, Headers: auth(alice),
			Body:           strings.NewReader(body("http://127.0.0.1:9/push/alice", "")),
			ExpectedStatus: 200, ExpectedContent: []string{`"user":"` + alice + `"`}, ExpectedEvents: createdEvents,
			AfterTestFunc: afterCount("push_subscriptions", 1, dbx.HashExp{"user": alice})},
		{Name: "alice names bob", Method: http.MethodPost, URL: path, Headers: auth(alice),
			Body:           strings.NewReader(body("http://127.0.0.1:9/push/alice", bob)),
			ExpectedStatus: 400, ExpectedContent: []string{`"user":{"code":"validation_user_not_requester"`}, ExpectedEvents: createRefusedEvents,
			AfterTestFunc: afterCount("push_subscriptions", 0, dbx.HashExp{"user": alice})},
		{Name: "alice saves bob's endpoint: replaced, now hers", Method: http.MethodPost, URL: path, Headers: auth(alice),
			Body:           strings.NewReader(body("http://127.0.0.1:9/push/bob", "")),
			ExpectedStatus: 200, ExpectedContent: []string{`"user":"` + alice + `"`}, ExpectedEvents: replacedEvents,
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				checkExists(tb, app, "push_subscriptions", seededSubscription, false)
				checkCount(tb, app, "push_subscriptions", 1, dbx.HashExp{"endpoint": "http://127.0.0.1:9/push/bob", "user": alice})
			}},
		{Name: "bad p256dh", Method: http.MethodPost, URL: path, Headers: auth(alice),
			Body:           strings.NewReader(`{"endpoint":"http://127.0.0.1:9/push/a","p256dh":"AAAA","auth":"` + browser.Auth() + `"}`),
			ExpectedStatus: 400, ExpectedContent: []string{`"p256dh":{"code":"validation_invalid_push_key"`}, ExpectedEvents: createInvalidEvents},
		{Name: "bad auth", Method: http.MethodPost, URL: path, Headers: auth(alice),
			Body:           strings.NewReader(`{"endpoint":"http://127.0.0.1:9/push/a","p256dh":"` + browser.P256dh() + `","auth":"AAAA"}`),
			ExpectedStatus: 400, ExpectedContent: []string{`"auth":{"code":"validation_invalid_push_key"`}, ExpectedEvents: createInvalidEvents},
		{Name: "bob lists his own", Method: http.MethodGet, URL: path, Headers: auth(bob),
			ExpectedStatus: 200, ExpectedContent: []string{`"totalItems":1`, seededSubscription}, ExpectedEvents: map[string]int{"*": 0, "OnRecordsListRequest": 1, "OnRecordEnrich": 1}},
		{Name: "alice lists: not bob's", Method: http.MethodGet, URL: path, Headers: auth(alice),
			ExpectedStatus: 200, ExpectedContent: []string{`"totalItems":0`}, NotExpectedContent: []string{seededSubscription}, ExpectedEvents: map[string]int{"*": 0, "OnRecordsListRequest": 1}},
		{Name: "alice views bob's", Method: http.MethodGet, URL: path + "/" + seededSubscription, Headers: auth(alice),
			ExpectedStatus: 404, ExpectedContent: []string{`"data":{}`}, ExpectedEvents: noEvents},
		{Name: "guest views bob's", Method: http.MethodGet, URL: path + "/" + seededSubscription,
			ExpectedStatus: 404, ExpectedContent: []string{`"data":{}`}, ExpectedEvents: noEvents},
		{Name: "alice deletes bob's", Method: http.MethodDelete, URL: path + "/" + seededSubscription, Headers: auth(alice),
			ExpectedStatus: 404, ExpectedContent: []string{`"data":{}`}, ExpectedEvents: noEvents,
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				checkExists(tb, app, "push_subscriptions", seededSubscription, true)
			}},
		{Name: "bob updates his", Method: http.MethodPatch, URL: path + "/" + seededSubscription, Headers: auth(bob),
			Body: strings.NewReader(`{"endpoint":"http://127.0.0.1:9/push/other"}`), ExpectedStatus: 403, ExpectedContent: []string{`"data":{}`}, ExpectedEvents: noEvents},
		{Name: "bob deletes his", Method: http.MethodDelete, URL: path + "/" + seededSubscription, Headers: auth(bob),
			ExpectedStatus: 204, ExpectedEvents: deletedEvents,
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				checkExists(tb, app, "push_subscriptions", seededSubscription, false)
			}},
	}
	for _, sc := range scenarios {
		sc.TestAppFactory = factory
		sc.Test(t)
	}
}

// resolverFunc resolves with a function; it never reaches a real DNS.
type resolverFunc func(host string) []string

func (f resolverFunc) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range f(host) {
		out = append(out, netip.MustParseAddr(s))
	}
	if len(out) == 0 {
		return nil, errors.New("no such host")
	}
	return out, nil
}

// TestPushSubscriptionEndpointGuard: without --push-allow-private an
// endpoint must be https on public addresses only: 400 naming endpoint
// otherwise, names resolving to private addresses included. Nothing is
// dialled: no message is sent here.
func TestPushSubscriptionEndpointGuard(t *testing.T) {
	t.Parallel()
	resolver := resolverFunc(func(host string) []string {
		return map[string][]string{
			"push.example.com":  {"93.184.216.34"},
			"evil.example.com":  {"127.0.0.1"},
			"intra.example.com": {"10.0.0.7"},
			"meta.example.com":  {"169.254.169.254"},
			"mixed.example.com": {"93.184.216.34", "192.168.0.2"},
			"v6map.example.com": {"::ffff:10.0.0.1"},
		}[host]
	})
	s := serveRealtime(t, newTestAppWithConfig(t, hooks.Config{PushResolver: resolver}))
	browser := pushtest.NewSubscriber(t)
	for endpoint, want := range map[string]int{
		"https://push.example.com/send/1":   http.StatusOK,
		"http://push.example.com/send/2":    http.StatusBadRequest,
		"https://evil.example.com/x":        http.StatusBadRequest,
		"https://intra.example.com/x":       http.StatusBadRequest,
		"https://meta.example.com/x":        http.StatusBadRequest,
		"https://mixed.example.com/x":       http.StatusBadRequest,
		"https://v6map.example.com/x":       http.StatusBadRequest,
		"https://nowhere.example.com/x":     http.StatusBadRequest,
		"https://127.0.0.1/x":               http.StatusBadRequest,
		"https://[::1]/x":                   http.StatusBadRequest,
		"https://[::ffff:127.0.0.1]:443/x":  http.StatusBadRequest,
		"https://[fe80::1]/x":               http.StatusBadRequest,
		"https://192.168.1.1/x":             http.StatusBadRequest,
		"https://user@push.example.com/x":   http.StatusBadRequest,
		"https://169.254.169.254/latest/x":  http.StatusBadRequest,
		"https://100.100.100.200/metadata/": http.StatusBadRequest,
	} {
		status, data := s.request(t, http.MethodPost, "/api/collections/push_subscriptions/records", alice,
			map[string]any{"endpoint": endpoint, "p256dh": browser.P256dh(), "auth": browser.Auth()})
		if status != want {
			t.Errorf("save endpoint %q = %d %s; want %d", endpoint, status, data, want)
			continue
		}
		if want == http.StatusBadRequest {
			checkErrorJSON(t, data, http.StatusBadRequest)
			if !strings.Contains(string(data), `"endpoint":{"code":`) {
				t.Errorf("save endpoint %q answered %s; want data naming endpoint", endpoint, data)
			}
		}
	}
}

// TestPushOnMessage: a new message reaches, within 5 s, every other
// participant who has no live connection and did not mute the room, on
// each subscription, as the contract's JSON, with a valid VAPID JWT, TTL
// at least an hour and the room as Topic; nobody connected, muted, the
// sender or a stranger gets one.
func TestPushOnMessage(t *testing.T) {
	t.Parallel()
	s, service := pushServer(t, pushConfig)
	aliceBrowser := subscribePush(t, s, service, alice)
	subscribePush(t, s, service, bob)
	subscribePush(t, s, service, dave)
	subscribePush(t, s, service, carol)
	s.mustRequest(t, http.MethodPost, "/api/rooms/"+roomGroup+"/mute", dave, map[string]any{"muted": true}, http.StatusNoContent)
	s.connect(t, bob, "rooms/*") // bob is in the app

	// alice's message: bob is connected, dave muted the room: no push.
	s.sendMessage(t, alice, roomGroup, "anyone?")
	// dave's message: alice, not connected, gets one. The worker takes
	// messages in order, so once it is there, alice's was decided too.
	start := time.Now()
	text := "Is the bike <b>still</b> there?"
	s.sendMessage(t, dave, roomGroup, text)
	if !service.Wait(5*time.Second, func([]pushtest.Push) bool { return len(pushesTo(service, alice)) == 1 }) {
		t.Fatalf("alice got %d pushes within 5s; want 1 (refused: %v)", len(pushesTo(service, alice)), service.Errors())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the push took %v; want within 5s", d)
	}
	got := pushesTo(service, alice)[0]
	plain, err := aliceBrowser.Decrypt(got.Body)
	if err != nil {
		t.Fatalf("decrypt alice's push: %v", err)
	}
	var payload map[string]any
	if err := json.Unmarshal(plain, &payload); err != nil {
		t.Fatalf("alice's payload %q is not JSON: %v", plain, err)
	}
	want := map[string]any{"type": "message", "room": roomGroup, "title": "Dave", "body": text, "url": "/#/room/" + roomGroup}
	for k, v := range want {
		if payload[k] != v {
			t.Errorf("payload[%q] = %v; want %v (payload %s)", k, payload[k], v, plain)
		}
	}
	if ttl, err := strconv.Atoi(got.Header.Get("TTL")); err != nil || ttl < 3600 {
		t.Errorf("TTL = %q; want at least 3600", got.Header.Get("TTL"))
	}
	if topic := got.Header.Get("Topic"); topic != roomGroup {
		t.Errorf("Topic = %q; want the room %q", topic, roomGroup)
	}
	if got.Header.Get("Urgency") == "" {
		t.Errorf("no Urgency header; want one")
	}

	time.Sleep(realtimeQuietWindow)
	for _, who := range []string{bob, dave, carol} {
		if n := len(pushesTo(service, who)); n != 0 {
			t.Errorf("%s got %d pushes; want none (connected, muted, not in the room)", actorName(who), n)
		}
	}

	// A post's room: the title names the post.
	s.sendMessage(t, bob, roomBike, "still there?")
	if !service.Wait(5*time.Second, func([]pushtest.Push) bool { return len(pushesTo(service, alice)) == 2 }) {
		t.Fatalf("alice got %d pushes; want 2", len(pushesTo(service, alice)))
	}
	plain, err = aliceBrowser.Decrypt(pushesTo(service, alice)[1].Body)
	if err != nil || !strings.Contains(string(plain), `"title":"Bob · Bike"`) {
		t.Errorf("second payload = %s, %v; want the title %q", plain, err, "Bob · Bike")
	}
}

// TestPushNotToBlockers: a recipient who blocks the sender gets no push
// (the BlockedBy call point); another recipient does.
func TestPushNotToBlockers(t *testing.T) {
	t.Parallel()
	config := pushConfig
	config.BlockedBy = func(_ core.App, recipient, sender string) bool { return recipient == alice && sender == dave }
	s, service := pushServer(t, config)
	subscribePush(t, s, service, alice)
	subscribePush(t, s, service, bob)
	s.sendMessage(t, dave, roomGroup, "hello all")
	if !service.Wait(5*time.Second, func([]pushtest.Push) bool { return len(pushesTo(service, bob)) == 1 }) {
		t.Fatalf("bob got %d pushes; want 1", len(pushesTo(service, bob)))
	}
	time.Sleep(realtimeQuietWindow)
	if n := len(pushesTo(service, alice)); n != 0 {
		t.Errorf("alice, who blocks dave, got %d pushes; want 0", n)
	}
}

// TestPushGoneDeletesSubscription: a subscription answered 410 is deleted.
func TestPushGoneDeletesSubscription(t *testing.T) {
	t.Parallel()
	s, service := pushServer(t, pushConfig)
	service.Answer(func(path string, _ int) (int, time.Duration) {
		if path == "/push/alice" {
			return http.StatusGone, 0
		}
		return http.StatusCreated, 0
	})
	subscribePush(t, s, service, alice)
	checkCount(t, s.app, "push_subscriptions", 1, dbx.HashExp{"user": alice})
	s.sendMessage(t, bob, roomBike, "are you there?")
	waitFor(t, 5*time.Second, "alice's subscription deleted after a 410", func() bool {
		n, err := s.app.CountRecords("push_subscriptions", dbx.HashExp{"user": alice})
		return err == nil && n == 0
	})
	if n := service.Requests("/push/alice"); n != 1 {
		t.Errorf("the push service was asked %d times; want 1 (no retry after 410)", n)
	}
}

// TestPushSlowServiceDelaysNoRequest: with a push service that takes 5 s
// to answer, sending messages answers as fast as without it.
func TestPushSlowServiceDelaysNoRequest(t *testing.T) {
	t.Parallel()
	s, service := pushServer(t, pushConfig)
	service.Answer(func(string, int) (int, time.Duration) { return http.StatusCreated, 5 * time.Second })
	subscribePush(t, s, service, alice)
	for i := range 10 {
		start := time.Now()
		s.sendMessage(t, bob, roomBike, "message "+strconv.Itoa(i))
		if d := time.Since(start); d > time.Second {
			t.Errorf("send %d took %v with a slow push service; want well under 1s", i, d)
		}
	}
	if !service.Wait(5*time.Second, func([]pushtest.Push) bool { return service.Requests("/push/alice") > 0 }) {
		t.Errorf("the push service got no request; want the pushes under way")
	}
}
