package hooks_test

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/marketchat/marketchat/hooks"
	_ "github.com/marketchat/marketchat/migrations"
)

// Fixture ids. Every test app starts from the same seeded data:
//
//	alice  sells the bike (postBike); in roomBike with bob and in roomGroup
//	bob    the bike's buyer; in roomBike and roomGroup
//	carol  a stranger to every room; sells the lamp (postLamp)
//	dave   in roomGroup only
//
//	roomBike   post=postBike, [alice, bob]; msgBobHello (bob) then msgAliceHi (alice)
//	roomGroup  no post, [alice, bob, dave]; msgDaveGroup (dave)
//
// No room has been read by anyone yet.
const (
	alice = "aliceaaaaaaaaaa"
	bob   = "bobbbbbbbbbbbbb"
	carol = "carolcccccccccc"
	dave  = "davedddddddddd1"

	postBike = "postbike0000001"
	postLamp = "postlamp0000001"

	roomBike  = "roombike0000001"
	roomGroup = "roomgroup000001"

	msgBobHello  = "msgbobhello0001"
	msgAliceHi   = "msgalicehi00001"
	msgDaveGroup = "msggroupdave001"

	// Texts that must never reach a stranger.
	textBobHello  = "hello from bob about the bike"
	textAliceHi   = "hi bob the bike is still available"
	textDaveGroup = "secret group plan"

	superuserEmail = "admin@example.com"
	password       = "password123"
)

// emails of the fixture users, to check they never leak.
var emails = map[string]string{
	alice: "alice@example.com",
	bob:   "bob@example.com",
	carol: "carol@example.com",
	dave:  "dave@example.com",
}

// tokens holds an auth token per fixture user id and "superuser"; they are
// valid in every test app because each is a copy of the same template.
var tokens = map[string]string{}

// templateDir is the seeded data dir every test app is cloned from.
var templateDir string

func TestMain(m *testing.M) {
	dir, err := buildTemplate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "build test template:", err)
		os.Exit(1)
	}
	templateDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newTestApp returns a fresh app cloned from the seeded template with the
// project's hooks bound, removed when the test ends.
func newTestApp(tb testing.TB) *tests.TestApp {
	tb.Helper()
	return newTestAppWithConfig(tb, hooks.Config{})
}

// newTestAppWithConfig is newTestApp with the hooks registered with config.
func newTestAppWithConfig(tb testing.TB, config hooks.Config) *tests.TestApp {
	tb.Helper()
	return newTestAppFromWithConfig(tb, templateDir, config)
}

// newTestAppFrom is newTestApp cloned from dataDir instead of the template
// (checkpoint a running app's WAL before cloning its data dir).
func newTestAppFrom(tb testing.TB, dataDir string) *tests.TestApp {
	tb.Helper()
	return newTestAppFromWithConfig(tb, dataDir, hooks.Config{})
}

func newTestAppFromWithConfig(tb testing.TB, dataDir string, config hooks.Config) *tests.TestApp {
	tb.Helper()
	app, err := tests.NewTestApp(dataDir)
	if err != nil {
		tb.Fatalf("new test app: %v", err)
	}
	if err := hooks.Register(app, config); err != nil {
		tb.Fatalf("register hooks: %v", err)
	}
	tb.Cleanup(app.Cleanup)
	return app
}

// auth returns the Authorization header for the fixture user id (or
// "superuser"); an empty id means a guest.
func auth(id string) map[string]string {
	if id == "" {
		return nil
	}
	return map[string]string{"Authorization": tokens[id]}
}

func buildTemplate() (string, error) {
	empty, err := os.MkdirTemp("", "marketchat_empty_")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(empty)

	app, err := tests.NewTestApp(empty) // clones empty, runs all migrations
	if err != nil {
		return "", err
	}
	if err := hooks.Register(app, hooks.Config{}); err != nil {
		return "", err
	}
	if err := seed(app); err != nil {
		app.Cleanup()
		return "", err
	}
	dir := app.DataDir()
	if err := app.ResetBootstrapState(); err != nil {
		return "", err
	}
	return dir, nil
}

func seed(app core.App) error {
	superusers, err := app.FindCollectionByNameOrId(core.CollectionNameSuperusers)
	if err != nil {
		return err
	}
	su := core.NewRecord(superusers)
	su.SetEmail(superuserEmail)
	su.SetPassword(password)
	if err := app.Save(su); err != nil {
		return fmt.Errorf("save superuser: %w", err)
	}
	if tokens["superuser"], err = su.NewAuthToken(); err != nil {
		return err
	}

	for _, u := range []struct{ id, name string }{{alice, "Alice"}, {bob, "Bob"}, {carol, "Carol"}, {dave, "Dave"}} {
		if err := saveRecord(app, "users", u.id, map[string]any{
			"email": emails[u.id], "password": password, "name": u.name,
		}); err != nil {
			return err
		}
		rec, err := app.FindRecordById("users", u.id)
		if err != nil {
			return err
		}
		if tokens[u.id], err = rec.NewAuthToken(); err != nil {
			return err
		}
	}

	steps := []struct {
		collection, id string
		data           map[string]any
	}{
		{"posts", postBike, map[string]any{"title": "Bike", "price": 120, "author": alice, "body": "A red bike."}},
		{"posts", postLamp, map[string]any{"title": "Lamp", "price": 15, "author": carol}},
		{"rooms", roomBike, map[string]any{"post": postBike, "participants": []string{alice, bob}}},
		{"rooms", roomGroup, map[string]any{"participants": []string{alice, bob, dave}}},
		{"messages", msgBobHello, map[string]any{"room": roomBike, "sender": bob, "text": textBobHello}},
		{"messages", msgAliceHi, map[string]any{"room": roomBike, "sender": alice, "text": textAliceHi}},
		{"messages", msgDaveGroup, map[string]any{"room": roomGroup, "sender": dave, "text": textDaveGroup}},
	}
	for _, s := range steps {
		if err := saveRecord(app, s.collection, s.id, s.data); err != nil {
			return err
		}
	}
	return nil
}

func saveRecord(app core.App, collection, id string, data map[string]any) error {
	c, err := app.FindCollectionByNameOrId(collection)
	if err != nil {
		return err
	}
	rec := core.NewRecord(c)
	rec.Id = id
	for k, v := range data {
		if k == "password" {
			rec.SetPassword(v.(string))
			continue
		}
		rec.Set(k, v)
	}
	if err := app.Save(rec); err != nil {
		return fmt.Errorf("save %s %s: %w", collection, id, err)
	}
	return nil
}

// appHandler serves app's API the way tests.ApiScenario does: a router from
// apis.NewRouter, the app's OnServe hooks run (they add the project's
// routes), then BuildMux. Use it for tests that send several requests to
// one app. Call it at most once per app and never inside an ApiScenario:
// every apis.NewRouter binds another OnServe handler for the dashboard's
// extension routes, and a second one panics on a duplicate pattern.
// middlewares are bound first, as apis.Serve binds its CORS.
func appHandler(tb testing.TB, app core.App, middlewares ...*hook.Handler[*core.RequestEvent]) http.Handler {
	tb.Helper()
	router, err := apis.NewRouter(app)
	if err != nil {
		tb.Fatalf("apis.NewRouter() = %v; want nil", err)
	}
	router.Bind(middlewares...)
	var mux http.Handler
	serveEvent := &core.ServeEvent{App: app, Router: router}
	err = app.OnServe().Trigger(serveEvent, func(e *core.ServeEvent) error {
		var err error
		mux, err = e.Router.BuildMux()
		return err
	})
	if err != nil {
		tb.Fatalf("OnServe().Trigger() = %v; want nil", err)
	}
	return mux
}

// actorName names a fixture user id (or "superuser", or "" for a
// guest) in scenario names.
func actorName(id string) string {
	switch id {
	case "":
		return "guest"
	case alice:
		return "alice"
	case bob:
		return "bob"
	case carol:
		return "carol"
	case dave:
		return "dave"
	case erin:
		return "erin"
	}
	return id
}

// extraUserIDs are the ids saveExtraUsers gives its first n users.
func extraUserIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("extrauser%06d", i)
	}
	return ids
}

// saveExtraUsers saves n users with the ids extraUserIDs(n) and returns
// those ids. They share alice's password hash (hashing 50 passwords would
// dominate the test's time).
func saveExtraUsers(tb testing.TB, app core.App, n int) []string {
	tb.Helper()
	a, err := app.FindRecordById("users", alice)
	if err != nil {
		tb.Fatalf("find alice: %v", err)
	}
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		tb.Fatalf("find users: %v", err)
	}
	ids := extraUserIDs(n)
	for _, id := range ids {
		u := core.NewRecord(users)
		u.Id = id
		u.SetEmail(id + "@example.com")
		u.SetRaw("password", &core.PasswordFieldValue{Hash: a.GetString("password:hash")})
		u.Set("name", "Extra")
		if err := app.Save(u); err != nil {
			tb.Fatalf("save user %q: %v", id, err)
		}
	}
	return ids
}
