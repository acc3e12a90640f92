package realtime

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/subscriptions"
	"github.com/pocketbase/pocketbase/tools/types"
)

// These tests use the package with a rule of their own, no chat: "notes"
// belong to an owner, who alone may see them; the audience is the owner.

const noteRule = "owner = @request.auth.id"

// noteApp is a test app with users ann and ben, a superuser, and the
// notes collection, served by a Fanout with the owner route. touched
// collects the viewers Touch was called for.
type noteApp struct {
	app        *tests.TestApp
	fan        *Fanout
	ann, ben   *core.Record
	superuser  *core.Record
	touched    chan string
	collection *core.Collection
}

func newNoteApp(t *testing.T) *noteApp {
	t.Helper()
	app, err := tests.NewTestApp()
	if err != nil {
		t.Fatalf("tests.NewTestApp() = %v; want nil", err)
	}
	t.Cleanup(app.Cleanup)

	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		t.Fatalf("find users: %v", err)
	}
	notes := core.NewBaseCollection("notes")
	notes.ListRule = types.Pointer(noteRule)
	notes.ViewRule = types.Pointer(noteRule)
	notes.Fields.Add(
		&core.RelationField{Name: "owner", CollectionId: users.Id, MaxSelect: 1},
		&core.TextField{Name: "text"},
	)
	if err := app.Save(notes); err != nil {
		t.Fatalf("save notes collection: %v", err)
	}

	// A served app: the router binds PocketBase's own broadcast.
	if _, err := apis.NewRouter(app); err != nil {
		t.Fatalf("apis.NewRouter() = %v; want nil", err)
	}
	n := &noteApp{app: app, touched: make(chan string, 100), collection: notes}
	n.fan = New(app, Config{}, Route{
		Collection: "notes",
		Rule:       noteRule,
		Key:        func(r *core.Record) string { return r.GetString("owner") },
		Audience: func(ev Event) ([]Delivery, error) {
			return []Delivery{{Action: ev.Action, Record: ev.Record, To: []string{ev.Record.GetString("owner")},
				Touch: func(r *core.Record, viewer string) {
					r.WithCustomData(true)
					r.Set("seenBy", viewer)
					n.touched <- viewer
				}}}, nil
		},
	})
	for i, name := range []string{"ann", "ben"} {
		u := core.NewRecord(users)
		u.SetEmail(fmt.Sprintf("%s%d@example.com", name, i))
		u.SetPassword("password123")
		if err := app.Save(u); err != nil {
			t.Fatalf("save user %s: %v", name, err)
		}
		if i == 0 {
			n.ann = u
		} else {
			n.ben = u
		}
	}
	supers, err := app.FindCollectionByNameOrId(core.CollectionNameSuperusers)
	if err != nil {
		t.Fatalf("find superusers: %v", err)
	}
	n.superuser = core.NewRecord(supers)
	n.superuser.SetEmail("root@example.com")
	n.superuser.SetPassword("password123")
	if err := app.Save(n.superuser); err != nil {
		t.Fatalf("save superuser: %v", err)
	}
	return n
}

// client is a connection signed in as auth (nil: a guest) with topics,
// registered with the app's broker as a real connection would be.
func (n *noteApp) client(t *testing.T, auth *core.Record, topics ...string) *liveClient {
	t.Helper()
	c := newLiveClient(n.fan, "127.0.0.1")
	n.fan.byAddress["127.0.0.1"]++
	if auth != nil {
		c.Set(apis.RealtimeClientAuthKey, auth)
	}
	c.Subscribe(topics...)
	n.app.SubscriptionsBroker().Register(c)
	t.Cleanup(func() { n.app.SubscriptionsBroker().Unregister(c.Id()) })
	return c
}

func (n *noteApp) saveNote(t *testing.T, owner *core.Record, text string) *core.Record {
	t.Helper()
	note := core.NewRecord(n.collection)
	note.Set("owner", owner.Id)
	note.Set("text", text)
	if err := n.app.Save(note); err != nil {
		t.Fatalf("save note: %v", err)
	}
	return note
}

// next returns the next message c receives, or fails after a while.
func next(t *testing.T, c *liveClient) subscriptions.Message {
	t.Helper()
	select {
	case m := <-c.Channel():
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("no message within 5s")
		return subscriptions.Message{}
	}
}

// quiet fails if c receives anything within a short window; call it after
// a positive control.
func quiet(t *testing.T, c *liveClient, who string) {
	t.Helper()
	select {
	case m := <-c.Channel():
		t.Errorf("%s received %s %s; want nothing", who, m.Name, m.Data)
	case <-time.After(200 * time.Millisecond):
	}
}

func decode(t *testing.T, m subscriptions.Message) (action string, record map[string]any) {
	t.Helper()
	var ev struct {
		Action string         `json:"action"`
		Record map[string]any `json:"record"`
	}
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		t.Fatalf("decode %q: %v", m.Data, err)
	}
	return ev.Action, ev.Record
}

// TestFanoutDeliversToTheAudience: a record reaches the connections of the
// users its Audience names and superusers', not others', whatever they
// subscribed to; Touch runs per viewer before encoding.
func TestFanoutDeliversToTheAudience(t *testing.T) {
	n := newNoteApp(t)
	ann := n.client(t, n.ann, "notes/*")
	annByID := n.client(t, n.ann, n.collection.Id+"/*?options="+`{"query":{"filter":"text != ''"}}`)
	ben := n.client(t, n.ben, "notes/*", "notes")
	guest := n.client(t, nil, "notes/*")
	root := n.client(t, n.superuser, "notes/*")

	note := n.saveNote(t, n.ann, "ann's secret")
	for who, c := range map[string]*liveClient{"ann": ann, "ann by collection id": annByID, "the superuser": root} {
		m := next(t, c)
		action, rec := decode(t, m)
		if action != "create" || rec["id"] != note.Id || rec["text"] != "ann's secret" {
			t.Errorf("%s got %s %v; want the create of %s", who, action, rec, note.Id)
		}
	}
	quiet(t, ben, "ben")
	quiet(t, guest, "a guest")

	// Once per viewer and options: ann's two connections ask the same.
	var viewers []string
	for len(n.touched) > 0 {
		viewers = append(viewers, <-n.touched)
	}
	slices.Sort(viewers)
	want := []string{n.ann.Id, n.superuser.Id}
	slices.Sort(want)
	if !slices.Equal(viewers, want) {
		t.Errorf("Touch ran for %v; want %v", viewers, want)
	}
}

// TestFanoutOrderPerKey: events with one key arrive in the order stored.
func TestFanoutOrderPerKey(t *testing.T) {
	n := newNoteApp(t)
	ann := n.client(t, n.ann, "notes/*")
	const count = 60 // fewer than clientBufferSize: a prompt reader keeps up
	for i := range count {
		n.saveNote(t, n.ann, fmt.Sprint(i))
	}
	for i := range count {
		_, rec := decode(t, next(t, ann))
		if rec["text"] != fmt.Sprint(i) {
			t.Fatalf("event %d is note %v; want %d", i, rec["text"], i)
		}
	}
}

// TestFanoutServesOnlyItsRule: Serves follows the collection's rules; when
// an admin changes them, the events go to PocketBase's broadcast, which
// applies the new rule (here: anyone signed in).
func TestFanoutServesOnlyItsRule(t *testing.T) {
	n := newNoteApp(t)
	if !n.fan.Serves("notes") || n.fan.Serves("users") {
		t.Fatalf("Serves(notes), Serves(users) = %v, %v; want true, false", n.fan.Serves("notes"), n.fan.Serves("users"))
	}
	n.collection.ListRule = types.Pointer(`@request.auth.id != ""`)
	n.collection.ViewRule = n.collection.ListRule
	if err := n.app.Save(n.collection); err != nil {
		t.Fatalf("save notes collection: %v", err)
	}
	if n.fan.Serves("notes") {
		t.Fatalf("Serves(notes) = true after the rules changed; want false")
	}
	ben := n.client(t, n.ben, "notes/*")
	n.saveNote(t, n.ann, "now for anyone signed in")
	if _, rec := decode(t, next(t, ben)); rec["text"] != "now for anyone signed in" {
		t.Errorf("ben got %v; want the note through PocketBase's broadcast", rec)
	}
	if len(n.touched) != 0 {
		t.Errorf("the route's Touch ran %d times; want 0 (not the fan-out's event)", len(n.touched))
	}
}

// TestFanoutSendTopic: a custom topic reaches the named users' connections
// that subscribed to it (with or without options), nobody else, and no
// superuser who was not named.
func TestFanoutSendTopic(t *testing.T) {
	n := newNoteApp(t)
	ann := n.client(t, n.ann, "typing")
	annOptions := n.client(t, n.ann, `typing?options={"query":{}}`)
	annOther := n.client(t, n.ann, "notes/*")
	ben := n.client(t, n.ben, "typing")
	root := n.client(t, n.superuser, "typing")

	n.fan.SendTopic("typing", []byte(`{"x":1}`), []string{n.ann.Id})
	for who, c := range map[string]*liveClient{"ann": ann, "ann with options": annOptions} {
		if m := next(t, c); string(m.Data) != `{"x":1}` || (m.Name != "typing" && m.Name != `typing?options={"query":{}}`) {
			t.Errorf("%s got %s %s; want the typing message", who, m.Name, m.Data)
		}
	}
	quiet(t, annOther, "ann's connection without the topic")
	quiet(t, ben, "ben")
	quiet(t, root, "the superuser")
}

// TestFanoutCloseStreams: the connections of one user that the predicate
// picks are ended; the others stay.
func TestFanoutCloseStreams(t *testing.T) {
	n := newNoteApp(t)
	ann := n.client(t, n.ann, "notes/*")
	ben := n.client(t, n.ben, "notes/*")
	if got := n.fan.CloseStreams(n.ann.Id, func(*core.Record) bool { return true }); got != 1 {
		t.Errorf("CloseStreams(ann) = %d; want 1", got)
	}
	if !ann.IsDiscarded() || ben.IsDiscarded() {
		t.Errorf("discarded: ann %v, ben %v; want true, false", ann.IsDiscarded(), ben.IsDiscarded())
	}
	if got := n.fan.CloseStreams(n.ben.Id, func(*core.Record) bool { return false }); got != 0 || ben.IsDiscarded() {
		t.Errorf("CloseStreams(ben, never) = %d, discarded %v; want 0, false", got, ben.IsDiscarded())
	}
}
