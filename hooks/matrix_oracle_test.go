package hooks_test

// The access matrix's oracle (see matrix_test.go): the app under test and
// the control app without the victims' rooms, the secrets an actor may
// never see, and the comparison of the two answers.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
)

// matrixSecrets is what actor may never see: every victim room and
// message id and text (with a 12-character prefix, for excerpts), and the
// e-mail of everyone else.
func matrixSecrets(actor string) []string {
	secrets := append(slices.Clone(roomsSecrets), roomDesk, msgDaveDesk, textDesk)
	for _, text := range []string{textBobHello, textAliceHi, textDaveGroup, textDesk} {
		secrets = append(secrets, text[:12])
	}
	hidden := usersHiddenEmails(actor)
	if actor != erin {
		hidden = append(hidden, erinEmail)
	}
	sort.Strings(hidden)
	return append(secrets, hidden...)
}

// matrixEnv is the app under test and the control app, each behind its
// own router (apis.NewRouter may run once per app).
type matrixEnv struct {
	app     http.Handler
	control http.Handler
	// erinToken signs erin in on both apps (she is made per env).
	erinToken string
	// collectionIDs maps collection names to ids, the same in both apps.
	collectionIDs map[string]string
	// addresses numbers the client addresses; see matrixEnv.do.
	addresses *atomic.Uint32
}

// newMatrixEnv serves newMatrixApps' two apps, each behind its own router.
func newMatrixEnv(tb testing.TB) matrixEnv {
	tb.Helper()
	app, control, erinToken := newMatrixApps(tb)
	ids := map[string]string{}
	collections, err := app.FindAllCollections()
	if err != nil {
		tb.Fatalf("FindAllCollections() = %v; want nil", err)
	}
	for _, c := range collections {
		ids[c.Name] = c.Id
	}
	return matrixEnv{
		app: appHandler(tb, app), control: appHandler(tb, control),
		erinToken: erinToken, collectionIDs: ids, addresses: new(atomic.Uint32),
	}
}

// newMatrixApps builds the app under test, with erin, her rooms and
// alice's desk added through the hooks, and the control app: a copy of it
// with the victims' rooms, messages and read states deleted and the
// e-mails of alice, bob and dave changed, by raw SQL so that no hook runs
// and no "updated" changes. It returns erin's token, valid on both.
func newMatrixApps(tb testing.TB) (app, control *tests.TestApp, erinToken string) {
	tb.Helper()
	app = newTestApp(tb)
	erinToken = seedAttacker(tb, app)
	// Everything in the main database file before it is copied.
	if _, err := app.NonconcurrentDB().NewQuery("PRAGMA wal_checkpoint(TRUNCATE)").Execute(); err != nil {
		tb.Fatalf("checkpoint: %v", err)
	}
	control = newTestAppFrom(tb, app.DataDir())

	victims := "('" + roomBike + "', '" + roomGroup + "', '" + roomDesk + "')"
	statements := []string{
		"DELETE FROM messages WHERE room IN " + victims,
		"DELETE FROM room_reads WHERE room IN " + victims,
		"DELETE FROM rooms WHERE id IN " + victims,
	}
	for _, id := range []string{alice, bob, dave} {
		statements = append(statements, fmt.Sprintf("UPDATE users SET email = 'zz-%s@control.invalid' WHERE id = '%s'", id, id))
	}
	for _, sql := range statements {
		if _, err := control.NonconcurrentDB().NewQuery(sql).Execute(); err != nil {
			tb.Fatalf("control app: %s: %v", sql, err)
		}
	}
	return app, control, erinToken
}

// seedAttacker adds erin, her rooms and their messages, and alice's desk
// with its chat, to app through its hooks (as the API would store them)
// and returns erin's auth token.
func seedAttacker(tb testing.TB, app core.App) string {
	tb.Helper()
	steps := []struct {
		collection, id string
		data           map[string]any
	}{
		{"users", erin, map[string]any{"email": erinEmail, "password": password, "name": "Erin"}},
		{"rooms", roomErinBike, map[string]any{"post": postBike, "participants": []string{alice, erin}}},
		{"rooms", roomErinGroup, map[string]any{"participants": []string{bob, dave, erin}}},
		{"messages", msgErinAsk, map[string]any{"room": roomErinBike, "sender": erin, "text": "is the bike still for sale"}},
		{"messages", msgAliceToErin, map[string]any{"room": roomErinBike, "sender": alice, "text": "yes, come by"}},
		{"messages", msgErinGroup, map[string]any{"room": roomErinGroup, "sender": erin, "text": "hi all"}},
		{"posts", postDesk, map[string]any{"title": "Desk", "price": 40, "author": alice}},
		{"rooms", roomDesk, map[string]any{"post": postDesk, "participants": []string{alice, dave}}},
		{"messages", msgDaveDesk, map[string]any{"room": roomDesk, "sender": dave, "text": textDesk}},
	}
	for _, step := range steps {
		if err := saveRecord(app, step.collection, step.id, step.data); err != nil {
			tb.Fatalf("seed attacker: %v", err)
		}
	}
	user, err := app.FindRecordById("users", erin)
	if err != nil {
		tb.Fatalf("FindRecordById(users, erin) = %v; want nil", err)
	}
	token, err := user.NewAuthToken()
	if err != nil {
		tb.Fatalf("erin.NewAuthToken() = %v; want nil", err)
	}
	return token
}

// matrixAnswer is one recorded response.
type matrixAnswer struct {
	status int
	body   string
}

// do sends q to h. Every request comes from a new client address: the
// matrix sends thousands of requests, and PocketBase both rate-limits per
// address (the migrated "/api/" rule) and sleeps up to 500 ms before an
// empty filtered list once an address has had three in 3 s (its guard
// against timing attacks). Neither is what the matrix tests, and with one
// address the run would take minutes; TestUsersRateLimits tests the
// limiter.
func (env matrixEnv) do(h http.Handler, q matrixQuery) matrixAnswer {
	n := env.addresses.Add(1)
	req := httptest.NewRequest(http.MethodGet, q.url(), nil)
	req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:40000", byte(n>>16), byte(n>>8), byte(n))
	switch q.actor {
	case "":
	case erin:
		req.Header.Set("Authorization", env.erinToken)
	default:
		req.Header.Set("Authorization", tokens[q.actor])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return matrixAnswer{status: rec.Code, body: rec.Body.String()}
}

// matrixResult is what the oracle found for one query; every field is
// empty when the query passed.
type matrixResult struct {
	fiveXX  int      // the status, when it is a 5xx
	leaks   []string // secrets found in the answer
	differs string   // how the answer differs from the control app's
	refused bool     // the query was refused with a 400 naming filter or sort
}

func (r matrixResult) failed() bool {
	return r.fiveXX != 0 || len(r.leaks) > 0 || r.differs != ""
}

func (r matrixResult) String() string {
	var problems []string
	if r.fiveXX != 0 {
		problems = append(problems, fmt.Sprintf("status %d", r.fiveXX))
	}
	if len(r.leaks) > 0 {
		problems = append(problems, fmt.Sprintf("leaks %q", r.leaks))
	}
	if r.differs != "" {
		problems = append(problems, r.differs)
	}
	return strings.Join(problems, "\n  ")
}

// check sends q to the app under test and to the control app and applies
// the oracle.
func (env matrixEnv) check(q matrixQuery) matrixResult {
	var res matrixResult
	got := env.do(env.app, q)
	if got.status >= 500 {
		res.fiveXX = got.status
	}
	// A secret the query itself carries may come back in an error that
	// quotes the query: the client knew it already. Whether the server
	// says more about it is for the control comparison to find.
	asked := strings.Join(slices.Concat(q.params["filter"], q.params["sort"], q.params["expand"], q.params["fields"]), "\x00")
	for _, secret := range matrixSecrets(q.actor) {
		if strings.Contains(got.body, secret) && !strings.Contains(asked, secret) {
			res.leaks = append(res.leaks, secret)
		}
	}
	res.refused = got.status == http.StatusBadRequest &&
		(strings.Contains(got.body, `"validation_filter_not_allowed"`) || strings.Contains(got.body, `"validation_sort_not_allowed"`))
	res.differs = matrixSameAnswer(q, got, env.do(env.control, q))
	return res
}

// matrixSameAnswer describes how the answer of the app under test differs
// from the control app's. Under a @random sort only the totals, and the
// ids when the list is not paged, are compared.
func matrixSameAnswer(q matrixQuery, got, want matrixAnswer) string {
	if got.status != want.status {
		return fmt.Sprintf("status %d; control app %d", got.status, want.status)
	}
	g, w := matrixList(got.body), matrixList(want.body)
	if strings.Contains(q.params.Get("sort"), "@random") {
		if g.TotalItems != w.TotalItems || (q.params.Get("perPage") == "" && !slices.Equal(g.ids(), w.ids())) {
			return fmt.Sprintf("totalItems %d, ids %q; control app %d, %q", g.TotalItems, g.ids(), w.TotalItems, w.ids())
		}
		return ""
	}
	if gb, wb := matrixNormalJSON(got.body), matrixNormalJSON(want.body); gb != wb {
		return fmt.Sprintf("answer differs from the control app's:\n    got  %s\n    want %s", gb, wb)
	}
	return ""
}

// matrixListAnswer is the part of a list answer the oracle compares.
type matrixListAnswer struct {
	TotalItems int `json:"totalItems"`
	Items      []struct {
		ID string `json:"id"`
	} `json:"items"`
}

func matrixList(body string) matrixListAnswer {
	var list matrixListAnswer
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		list.TotalItems = -2 // not a list: differs from any list
	}
	return list
}

// ids are the list's item ids, sorted.
func (l matrixListAnswer) ids() []string {
	var ids []string
	for _, item := range l.Items {
		ids = append(ids, item.ID)
	}
	sort.Strings(ids)
	return ids
}

// matrixNormalJSON re-encodes a JSON body with its object keys sorted
// (PocketBase writes lists from maps, in no fixed key order).
func matrixNormalJSON(body string) string {
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		return body
	}
	normal, err := json.Marshal(v)
	if err != nil {
		return body
	}
	return string(normal)
}

// matrixTally counts requests and oracle failures of one kind.
type matrixTally struct {
	requests, refused, fiveXX, leaks, differs int
}

func (t *matrixTally) add(r matrixResult) {
	t.requests++
	if r.fiveXX != 0 {
		t.fiveXX++
	}
	if len(r.leaks) > 0 {
		t.leaks++
	}
	if r.refused {
		t.refused++
	}
	if r.differs != "" {
		t.differs++
	}
}

func (t matrixTally) String() string {
	return fmt.Sprintf("requests %4d  refused %4d  5xx %d  leaks %d  differs from control %d",
		t.requests, t.refused, t.fiveXX, t.leaks, t.differs)
}
