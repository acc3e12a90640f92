package hooks_test

import (
	"encoding/json"
	"math/rand"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/tests"
)

// TestQueryGuard: contract "Queries": for everyone but superusers, a filter
// or sort may only name fields on the allow-list, in any spelling
// PocketBase accepts; a refused query answers 400 naming the parameter.
// The web app's own queries pass.
func TestQueryGuard(t *testing.T) {
	t.Parallel()
	roomsID, messagesID := "", ""
	{
		app := newTestApp(t)
		for name, id := range map[string]*string{"rooms": &roomsID, "messages": &messagesID} {
			c, err := app.FindCollectionByNameOrId(name)
			if err != nil {
				t.Fatalf("FindCollectionByNameOrId(%q) = %v; want nil", name, err)
			}
			*id = c.Id
		}
	}
	list := func(collection string, params url.Values) string {
		return "/api/collections/" + collection + "/records?" + params.Encode()
	}
	refused := func(name, actor, target, param string) tests.ApiScenario {
		return tests.ApiScenario{
			Name: name + " as " + actorName(actor) + ": 400 naming " + param, Method: http.MethodGet, URL: target,
			Headers: auth(actor), ExpectedStatus: http.StatusBadRequest,
			ExpectedContent:    []string{`"data":{"` + param + `":{"code":"validation_` + param + `_not_allowed"`},
			NotExpectedContent: roomsSecrets,
		}
	}
	allowed := func(name, actor, target string, content ...string) tests.ApiScenario {
		return tests.ApiScenario{
			Name: name + " as " + actorName(actor), Method: http.MethodGet, URL: target,
			Headers: auth(actor), ExpectedStatus: http.StatusOK, ExpectedContent: content,
			ExpectedEvents: map[string]int{"*": 0, "OnRecordsListRequest": 1, "OnRecordEnrich": len(content) - 1},
		}
	}
	filter := func(f string) url.Values { return url.Values{"filter": {f}} }
	sortBy := func(s string) url.Values { return url.Values{"sort": {s}} }

	var scenarios []tests.ApiScenario
	for _, actor := range []string{carol, bob} {
		scenarios = append(scenarios,
			refused("back-relation into rooms", actor, list("posts", filter(`rooms_via_post.id != ""`)), "filter"),
			refused("back-relation, collection in capitals", actor, list("posts", filter(`ROOMS_via_post.id != ""`)), "filter"),
			refused("back-relation, collection capitalised", actor, list("users", filter(`Messages_via_sender.text ~ "a"`)), "filter"),
			refused("back-relation, collection by id", actor, list("posts", filter(roomsID+`_via_post.id != ""`)), "filter"),
			refused("back-relation in a sort", actor, list("users", sortBy("-"+messagesID+"_via_sender.created")), "sort"),
			refused("nested back-relation from a post", actor, list("posts", filter(`author.rooms_via_participants.last_message ?~ "a"`)), "filter"),
			refused("from the own room to other rooms on the post", actor, list("rooms", filter(`post.rooms_via_post.last_message !~ "x"`)), "filter"),
			refused("from the own room to the participants' messages", actor, list("messages", filter(`room.participants.messages_via_sender.text != "x"`)), "filter"),
			refused("through the requester's own record", actor, list("posts", filter(`@request.auth.Rooms_via_participants.id != ""`)), "filter"),
			refused("@collection", actor, list("posts", filter(`@collection.rooms.id ?= "`+roomBike+`"`)), "filter"),
			refused("e-mail", actor, list("users", filter(`email ~ "alice"`)), "filter"),
			refused("e-mail with a modifier", actor, list("users", filter(`email:lower ~ "alice"`)), "filter"),
			refused("sort by e-mail in lower case", actor, list("users", sortBy("email:lower")), "sort"),
			refused("sort by the author's e-mail", actor, list("posts", sortBy("+author.email")), "sort"),
			refused("a hidden auth field", actor, list("users", filter(`tokenKey != ""`)), "filter"),
			refused("read state, a collection not on the list", actor, list("room_reads", filter(`id != ""`)), "filter"),
			refused("read state by its id", actor, list("users", filter(`room_reads_via_user.last_read_at > "2000-01-01"`)), "filter"),
			refused("a modifier in the middle of a path", actor, list("rooms", filter(`participants:each.name = "Bob"`)), "filter"),
			refused("an unknown modifier", actor, list("rooms", filter(`participants:isset = true`)), "filter"),
			refused("a JSON path", actor, list("posts", filter(`title.x = 1`)), "filter"),
			refused("inside a function", actor, list("posts", filter(`geoDistance(rooms_via_post.id, 0, 0, 0) < 1`)), "filter"),
			refused("in a nested group", actor, list("posts", filter(`(price > 0 && (title != "" || Rooms_via_post.id != ""))`)), "filter"),
			refused("in a repeated parameter", actor, list("posts", url.Values{"filter": {`price > 0`, `rooms_via_post.id != ""`}}), "filter"),
			refused("an unparsable filter", actor, list("posts", filter(`title = `)), "filter"),
			refused("a filter on a route that takes none", actor, "/api/health?filter="+url.QueryEscape(`rooms_via_post.id != ""`), "filter"),
		)
	}
	scenarios = append(scenarios,
		refused("rooms named by id in the route, through their messages", "", list(roomsID, filter(`messages_via_room.text ~ "a"`)), "filter"),
		refused("messages named by id in the route, sorted by e-mail", carol, list(messagesID, sortBy("room.participants.email")), "sort"),
		refused("@request in a filter", carol, list("posts", filter(`@request.auth.id != ""`)), "filter"),
		// The web app's queries, and the SDK's usual ones.
		allowed("the room's history page", bob, list("messages", url.Values{
			"filter": {`room = "` + roomBike + `" && (created < "2100-01-01" || (created = "2100-01-01" && id < "zzz"))`}, "sort": {"-created,-id"}}),
			`"totalItems":2`, `"id":"`+msgBobHello+`"`, `"id":"`+msgAliceHi+`"`),
		allowed("my chats, newest first", bob, list("rooms", url.Values{"sort": {"-last_message_at,-created"}}),
			`"totalItems":2`, `"id":"`+roomBike+`"`, `"id":"`+roomGroup+`"`),
		allowed("a participant's rooms by participant", alice, list("rooms", filter(`participants ~ "`+dave+`" && participants:length >= 2`)),
			`"totalItems":1`, `"id":"`+roomGroup+`"`),
		allowed("the chats about a post", alice, list("rooms", filter(`post = "`+postBike+`"`)), `"totalItems":1`, `"id":"`+roomBike+`"`),
		allowed("my posts", carol, list("posts", url.Values{"filter": {`author = "` + carol + `"`}, "sort": {"-created"}}),
			`"totalItems":1`, `"id":"`+postLamp+`"`),
		allowed("people by name, in lower case", bob, list("users", url.Values{"filter": {`name:lower ~ "ali"`}, "sort": {"name"}}),
			`"totalItems":1`, `"id":"`+alice+`"`),
		allowed("posts by the author's name and dates", carol, list("posts", filter(`author.name ?~ "Alice" && created < @now && price > 0 && title != null`)),
			`"totalItems":1`, `"id":"`+postBike+`"`),
		allowed("posts of people who sell", bob, list("users", filter(`posts_via_author.title ?~ "bike"`)), `"totalItems":1`, `"id":"`+alice+`"`),
		allowed("random order", "", list("posts", sortBy("@random")), `"totalItems":2`, `"id":"`+postBike+`"`, `"id":"`+postLamp+`"`),
		tests.ApiScenario{
			Name: "a superuser may filter by anything", Method: http.MethodGet,
			URL:     list("posts", filter(`ROOMS_via_post.id ?= "`+roomBike+`"`)),
			Headers: auth("superuser"), ExpectedStatus: http.StatusOK, ExpectedContent: []string{`"totalItems":1`},
		},
	)
	for _, s := range scenarios {
		s.TestAppFactory = newTestApp
		s.Test(t)
	}
}

// TestQueryGuardBatch: a batch request (when an admin turns batches on)
// whose URL carries a refused filter is refused as a whole, nothing saved.
func TestQueryGuardBatch(t *testing.T) {
	t.Parallel()
	factory := func(tb testing.TB) *tests.TestApp {
		app := newTestApp(tb)
		app.Settings().Batch.Enabled = true
		app.Settings().Batch.MaxRequests = 10
		if err := app.Save(app.Settings()); err != nil {
			tb.Fatalf("save settings: %v", err)
		}
		return app
	}
	batch := func(query string) string {
		body, _ := json.Marshal(map[string]any{"requests": []map[string]any{
			{"method": "POST", "url": "/api/collections/posts/records" + query, "body": map[string]any{"title": "Chair"}},
		}})
		return string(body)
	}
	scenarios := []tests.ApiScenario{
		{
			Name: "a refused filter in a batch URL", Method: http.MethodPost, URL: "/api/batch",
			Body: strings.NewReader(batch("?filter=" + url.QueryEscape(`Rooms_via_post.id != ""`))), Headers: auth(carol),
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedContent: []string{`"data":{"filter":{"code":"validation_filter_not_allowed"`},
			ExpectedEvents:  map[string]int{"*": 0, "OnBatchRequest": 1},
		},
		{
			Name: "the same batch without it", Method: http.MethodPost, URL: "/api/batch",
			Body: strings.NewReader(batch("")), Headers: auth(carol),
			ExpectedStatus: http.StatusOK, ExpectedContent: []string{`"title":"Chair"`},
			ExpectedEvents: map[string]int{
				"*": 0, "OnBatchRequest": 1, "OnRecordCreateRequest": 1,
				"OnRecordCreate": 1, "OnModelCreate": 1, "OnRecordValidate": 1, "OnModelValidate": 1,
				"OnRecordCreateExecute": 1, "OnModelCreateExecute": 1,
				"OnRecordAfterCreateSuccess": 1, "OnModelAfterCreateSuccess": 1,
				"OnRecordEnrich": 1,
			},
		},
	}
	for _, s := range scenarios {
		s.TestAppFactory = factory
		s.Test(t)
	}
}

// realtimeAttackerSample is how many generated queries per collection
// TestRealtimeAttackerLearnsNothing subscribes with, beside the channels.
const realtimeAttackerSample = 40

// TestRealtimeAttackerLearnsNothing: contract "Queries" and "Realtime": erin,
// who holds rooms beside the victims', subscribes with the matrix's
// channels and a sample of its generated queries as realtime options. Each
// subscription is accepted or refused alike on the app under test and on
// the control app without the victims' rooms (a refusal is a 400 naming
// the parameter); then the same script runs on both, plus activity in the
// victims' rooms on the app under test, and erin hears of the very same
// records on both, none of them a secret.
func TestRealtimeAttackerLearnsNothing(t *testing.T) {
	t.Parallel()
	app, control, erinToken := newMatrixApps(t)
	servers := []*realtimeServer{serveRealtime(t, app), serveRealtime(t, control)}
	for _, s := range servers {
		s.tokens = map[string]string{erin: erinToken}
	}

	// The candidate topics: "<collection>/*" with a query's options.
	ids := map[string]string{}
	collections, err := app.FindAllCollections()
	if err != nil {
		t.Fatalf("FindAllCollections() = %v; want nil", err)
	}
	for _, c := range collections {
		ids[c.Name] = c.Id
	}
	gen := matrixGenerator{r: rand.New(rand.NewSource(matrixSeed + 1)), collectionIDs: ids}
	var topics []string
	options := func(collection string, params url.Values) string {
		query := map[string]string{}
		for _, key := range []string{"filter", "sort", "expand", "fields"} {
			if v := params.Get(key); v != "" {
				query[key] = v
			}
		}
		return withOptions(collection+"/*", query)
	}
	for _, q := range realtimeAttackerChannels(ids) {
		topics = append(topics, options(q.collection, q.params))
	}
	for i := 0; len(topics) < len(realtimeAttackerChannels(ids))+realtimeAttackerSample*len(matrixCollections); i++ {
		q := gen.query(i)
		if q.recordID == "" {
			topics = append(topics, options(q.collection, q.params))
		}
	}

	// Accepted or refused, the same on both.
	probes := []*realtimeClient{servers[0].connect(t, erin), servers[1].connect(t, erin)}
	var accepted []string
	refusedCount := 0
	for _, topic := range topics {
		var statuses []int
		for i, s := range servers {
			status, body := s.request(t, http.MethodPost, "/api/realtime", erin, map[string]any{"clientId": probes[i].id, "subscriptions": []string{topic}})
			if status == http.StatusBadRequest && !strings.Contains(string(body), "_not_allowed") {
				t.Errorf("subscribe %s: 400 %s; want the refusal to name filter or sort", topic, body)
			}
			statuses = append(statuses, status)
		}
		switch {
		case statuses[0] != statuses[1]:
			t.Errorf("subscribe %s: %d; control app %d", topic, statuses[0], statuses[1])
		case statuses[0] == http.StatusNoContent:
			accepted = append(accepted, topic)
		default:
			refusedCount++
		}
	}
	t.Logf("realtime attacker: %d subscriptions, %d refused, %d accepted", len(topics), refusedCount, len(accepted))

	// Listen on both, then act: the victims' activity on the app under
	// test only, the same public and own-room activity on both.
	type heard struct{ topic, action, id string }
	listeners := make([][]*realtimeClient, len(servers))
	controls := make([]*realtimeClient, len(servers))
	for i, s := range servers {
		for chunk := range slices.Chunk(accepted, 40) {
			listeners[i] = append(listeners[i], s.connect(t, erin, chunk...))
		}
		controls[i] = s.connect(t, erin, roomMessagesTopic(roomErinBike))
	}
	servers[0].sendMessage(t, alice, roomBike, "a new secret about the bike")
	servers[0].sendMessage(t, dave, roomDesk, "the desk is oak, a secret")
	positive := make([]string, len(servers)) // its id differs per app
	for i, s := range servers {
		s.mustRequest(t, http.MethodPatch, "/api/collections/posts/records/"+postDesk, alice, map[string]any{"price": 45}, http.StatusOK)
		s.mustRequest(t, http.MethodPatch, "/api/collections/posts/records/"+postBike, alice, map[string]any{"price": 110}, http.StatusOK)
		positive[i] = s.sendMessage(t, alice, roomErinBike, "the positive control")
	}
	var got [2][]heard
	for i := range servers {
		controls[i].expectEvent(t, roomMessagesTopic(roomErinBike), realtimeEventTimeout)
		deadline := time.Now().Add(2 * realtimeQuietWindow)
		for _, l := range listeners[i] {
			for _, ev := range l.drain(deadline) {
				for _, secret := range matrixSecrets(erin) {
					if strings.Contains(ev.data, secret) {
						t.Errorf("erin's %q event carries %q: %s", ev.name, secret, ev.data)
					}
				}
				var rec recordEvent
				if err := json.Unmarshal([]byte(ev.data), &rec); err != nil {
					t.Fatalf("decode %q event %q = %v", ev.name, ev.data, err)
				}
				id, _ := rec.Record["id"].(string)
				if id == positive[i] {
					id = "the positive control"
				}
				got[i] = append(got[i], heard{ev.name, rec.Action, id})
			}
		}
		slices.SortFunc(got[i], func(a, b heard) int { return strings.Compare(a.topic+a.action+a.id, b.topic+b.action+b.id) })
	}
	t.Logf("realtime attacker: erin heard %d events on the app under test, %d on the control app", len(got[0]), len(got[1]))
	if len(got[1]) == 0 {
		t.Errorf("erin heard nothing on the control app; the check below would be empty")
	}
	if !slices.Equal(got[0], got[1]) {
		t.Errorf("erin heard different records:\n  app     %v\n  control %v", got[0], got[1])
	}
}

// realtimeAttackerChannels are TestAccessMatrixChannels' kinds of query,
// as subscription options.
func realtimeAttackerChannels(ids map[string]string) []matrixQuery {
	q := func(collection, key, value string) matrixQuery {
		return matrixQuery{collection: collection, params: url.Values{key: {value}}}
	}
	return []matrixQuery{
		q("posts", "filter", `ROOMS_via_post.last_message ~ "desk"`),
		q("posts", "filter", ids["rooms"]+`_via_post.id != ""`),
		q("posts", "filter", `author.Rooms_via_participants.last_message !~ "desk"`),
		q("messages", "filter", `room.participants.Messages_via_sender.text !~ "hi bob%"`),
		q("rooms", "filter", `participants.`+ids["rooms"]+`_via_participants.last_message !~ "desk"`),
		q("rooms", "filter", `post.rooms_via_post.last_message != "x"`),
		q("posts", "sort", "author.email:lower"),
		q("posts", "filter", `price > 0`), // allowed: the control hears it
	}
}

// TestRealtimeQueryGuard: subscription options may not filter through a
// hidden back-relation or sort by e-mail either (the records API refuses
// the same, see TestAccessMatrix).
func TestRealtimeQueryGuard(t *testing.T) {
	t.Parallel()
	s := newRealtimeServer(t)
	c := s.connect(t, carol)
	for _, query := range []map[string]string{
		{"filter": `rooms_via_post.id != ""`},
		{"sort": "-author.email"},
	} {
		status, body := s.request(t, http.MethodPost, "/api/realtime", carol, map[string]any{
			"clientId": c.id, "subscriptions": []string{withOptions("posts/*", query)},
		})
		if status != http.StatusBadRequest || !strings.Contains(string(body), "not allowed") {
			t.Errorf("subscribe posts/* with %v: %d %s; want 400 not allowed", query, status, body)
		}
	}
	s.mustRequest(t, http.MethodPost, "/api/realtime", carol, map[string]any{
		"clientId": c.id, "subscriptions": []string{withOptions("posts/*", map[string]string{"filter": `status = "selling"`})},
	}, http.StatusNoContent)
}

// drain returns the events waiting and those that arrive until deadline.
func (c *realtimeClient) drain(deadline time.Time) []sseEvent {
	events := c.backlog
	c.backlog = nil
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-c.events:
			if !ok {
				return events
			}
			events = append(events, ev)
		case <-timer.C:
			return events
		}
	}
}
