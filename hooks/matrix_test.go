package hooks_test

// The access matrix: thousands of generated filter / sort / expand / fields
// queries against rooms, messages, users and posts from three outsiders,
// each judged by one oracle:
//
//   - carol, a stranger to every room; a guest;
//   - erin, the attacker who matters: she holds rooms of her own on the
//     same post and with the same people as the victims (a chat with alice
//     about the bike, a group with bob and dave), so that a query that
//     counts or compares every related row has rows of hers to compare
//     against.
//
// The oracle:
//
//   - no answer is a 5xx;
//   - no answer carries a victim's room id, message id or text, or an
//     e-mail the actor may not see (matrixSecrets);
//   - every answer is the very same as from a control app where the
//     victims' rooms and messages are gone (erin's stay) and the other
//     users' e-mails are different: whatever a query does with hidden rows,
//     they may not show, not even in which records match or in what order.
//
// Paths are respelled as PocketBase accepts them: collection names in any
// letter case or by id, back-relations nested, every operator with and
// without "?", every modifier.
//
// TestAccessMatrix runs a fixed, seeded set in `go test ./...`; the Fuzz*
// targets feed the same oracle from `go test -fuzz` and the seed corpus
// under testdata/fuzz/.

import (
	"math/rand"
	"net/url"
	"slices"
	"testing"
	"time"
)

// matrixRequests is how many requests TestAccessMatrix sends to the app
// under test (control requests come on top).
const matrixRequests = 4800

// matrixSeed makes the generated matrix the same on every run.
const matrixSeed = 20261101

// The attacker's fixtures, made by newMatrixEnv in the app under test and
// the control app alike: erin holds a room about the bike with alice and a
// group with bob and dave, each with messages.
const (
	erin      = "erineeeeeeeeeee"
	erinEmail = "erin@example.com"

	roomErinBike  = "roomerinbike001" // post=postBike, [alice, erin]
	roomErinGroup = "roomeringroup01" // no post, [bob, dave, erin]

	msgErinAsk     = "msgerinask00001" // erin in roomErinBike
	msgAliceToErin = "msgalicetoerin1" // alice in roomErinBike
	msgErinGroup   = "msgeringroup001" // erin in roomErinGroup

	// A post with a chat erin has no part in, so that "which posts have
	// chats" has an answer to give away.
	postDesk    = "postdesk0000001" // alice's
	roomDesk    = "roomdesk0000001" // post=postDesk, [alice, dave]
	msgDaveDesk = "msgdavedesk0001"
	textDesk    = "is the desk oak or pine"
)

// matrixActors are the outsiders: carol (in no room), erin (in rooms of her
// own beside the victims') and "", a guest.
var matrixActors = []string{carol, erin, ""}

// matrixCollections in the order the matrix cycles through them.
var matrixCollections = []string{"rooms", "messages", "users", "posts"}

// TestAccessMatrix sends matrixRequests generated queries, as carol, erin
// and a guest, to rooms, messages, users and posts, and judges each with
// the matrix oracle. Contract: "Only participants can list, view, subscribe
// to, or learn anything about a room, including through filter, expand,
// sort and fields on any collection"; "e-mails stay hidden from others".
// The totals are logged for the README.
func TestAccessMatrix(t *testing.T) {
	t.Parallel()
	env := newMatrixEnv(t)
	gen := matrixGenerator{r: rand.New(rand.NewSource(matrixSeed)), collectionIDs: env.collectionIDs}

	type failure struct {
		q   matrixQuery
		res matrixResult
	}
	var failures []failure
	byCollection := map[string]*matrixTally{}
	var total matrixTally
	began := time.Now()
	for i := range matrixRequests {
		q := gen.query(i)
		res := env.check(q)
		if byCollection[q.collection] == nil {
			byCollection[q.collection] = &matrixTally{}
		}
		byCollection[q.collection].add(res)
		total.add(res)
		if res.failed() {
			failures = append(failures, failure{q, res})
		}
	}

	t.Logf("access matrix: %d requests, each to the app under test and to the control app, in %v (seed %d)",
		total.requests, time.Since(began).Round(time.Millisecond), matrixSeed)
	for _, name := range matrixCollections {
		t.Logf("  %-8s %v", name, byCollection[name])
	}
	t.Logf("  %-8s %v", "total", total)
	if total.requests != matrixRequests {
		t.Errorf("requests = %d; want %d", total.requests, matrixRequests)
	}

	// One subtest per check, so that a failure names what broke; each
	// shows its first few queries.
	checks := []struct {
		name  string
		count int
		is    func(matrixResult) bool
	}{
		{"no 5xx", total.fiveXX, func(r matrixResult) bool { return r.fiveXX != 0 }},
		{"no room, message or e-mail in any answer", total.leaks, func(r matrixResult) bool { return len(r.leaks) > 0 }},
		{"every answer is the same as without the victims' rooms", total.differs, func(r matrixResult) bool { return r.differs != "" }},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.count == 0 {
				return
			}
			t.Errorf("%d of %d queries failed; the first ones:", c.count, total.requests)
			shown := 0
			for _, f := range failures {
				if c.is(f.res) && shown < 10 {
					shown++
					t.Errorf("%s GET %s\n  %v", actorName(f.q.actor), f.q.url(), f.res)
				}
			}
		})
	}
}

// TestAccessMatrixOracle shows that each check of the oracle can fail (a
// superuser, who sees everything, trips each one) and that a @random sort
// is judged by its totals only.
func TestAccessMatrixOracle(t *testing.T) {
	t.Parallel()
	env := newMatrixEnv(t)
	checks := []struct {
		q    matrixQuery
		want func(matrixResult) bool
	}{
		{
			matrixQuery{actor: "superuser", collection: "rooms", params: url.Values{"filter": {`last_message ~ "bike"`}}},
			func(r matrixResult) bool { return slices.Contains(r.leaks, roomBike) && r.differs != "" },
		},
		{
			matrixQuery{actor: "superuser", collection: "messages", recordID: msgDaveGroup},
			func(r matrixResult) bool { return slices.Contains(r.leaks, textDaveGroup) && r.differs != "" },
		},
		{
			matrixQuery{actor: "superuser", collection: "posts", params: url.Values{"filter": {`rooms_via_post.id ?= "` + roomBike + `"`}, "fields": {"id"}}},
			func(r matrixResult) bool { return r.differs != "" && len(r.leaks) == 0 },
		},
		{
			matrixQuery{actor: "superuser", collection: "users", params: url.Values{"sort": {"@random,email"}, "fields": {"id"}, "perPage": {"2"}}},
			func(r matrixResult) bool { return r.differs == "" }, // @random: totals only
		},
		{
			matrixQuery{actor: "superuser", collection: "users", params: url.Values{"sort": {"email"}, "fields": {"id"}}},
			func(r matrixResult) bool { return r.differs != "" },
		},
	}
	for _, c := range checks {
		if res := env.check(c.q); !c.want(res) {
			t.Errorf("check(superuser GET %s) = %v; not what this row expects", c.q.url(), res)
		}
	}
}

// TestAccessMatrixChannels pins, one by one, the kinds of query through
// which the matrix found an outsider learning about rooms they are not in
// or about other people's e-mails, each in its smallest form:
//
//   - filtering or sorting posts and users through a back-relation to
//     rooms or messages: PocketBase adds the room list rule to the WHERE
//     clause as "no joined room, or a room you are in", so a post or user
//     with a room you are not in drops out of the list;
//   - sorting by e-mail: the filter hides e-mails that are not visible
//     ("AND emailVisibility = TRUE"), but ORDER BY uses them as they are;
//   - the same paths spelled as PocketBase also reads them: a collection
//     in other letter case or by id, a modifier, via @request.auth;
//   - an operator without "?" on a multi-valued path, which PocketBase
//     evaluates over every related row without the related collection's
//     rule: erin, who holds one such row, gets a yes/no answer about the
//     others.
func TestAccessMatrixChannels(t *testing.T) {
	t.Parallel()
	env := newMatrixEnv(t)
	channels := []struct {
		name string
		q    matrixQuery
	}{
		{
			"carol sorts posts by their rooms: the bike, which has a chat, drops out",
			matrixQuery{actor: carol, collection: "posts", params: url.Values{"sort": {"-rooms_via_post.id"}, "fields": {"id"}}},
		},
		{
			"a guest filters posts by their rooms' last message",
			matrixQuery{collection: "posts", params: url.Values{"filter": {`rooms_via_post.last_message ?!= "x"`}, "fields": {"id"}}},
		},
		{
			"carol sorts users by their rooms: everyone in a room drops out",
			matrixQuery{actor: carol, collection: "users", params: url.Values{"sort": {"rooms_via_participants.last_message"}, "fields": {"id"}}},
		},
		{
			"carol filters users by the messages they sent",
			matrixQuery{actor: carol, collection: "users", params: url.Values{"filter": {`messages_via_sender.id ?!= "x"`}, "fields": {"id"}}},
		},
		{
			"carol filters users through their posts' rooms",
			matrixQuery{actor: carol, collection: "users", params: url.Values{"filter": {`posts_via_author.rooms_via_post.id ?!= "x"`}, "fields": {"id"}}},
		},
		{
			"carol sorts users by e-mail",
			matrixQuery{actor: carol, collection: "users", params: url.Values{"sort": {"email"}, "fields": {"id"}}},
		},
		{
			"carol sorts posts by their author's e-mail",
			matrixQuery{actor: carol, collection: "posts", params: url.Values{"sort": {"author.email"}, "fields": {"id"}}},
		},

		// The spellings a guard that matches text missed.
		{
			"a guest sorts posts by their rooms, the collection in capitals",
			matrixQuery{collection: "posts", params: url.Values{"sort": {"-ROOMS_via_post.id"}, "fields": {"id"}}},
		},
		{
			"a guest filters posts by their rooms, the collection by id",
			matrixQuery{collection: "posts", params: url.Values{"filter": {env.collectionIDs["rooms"] + `_via_post.id ?!= "x"`}, "fields": {"id"}}},
		},
		{
			"carol sorts users by e-mail in lower case",
			matrixQuery{actor: carol, collection: "users", params: url.Values{"sort": {"email:lower"}, "fields": {"id"}}},
		},
		// erin, with rooms of her own next to the victims': an operator
		// without "?" on a multi-valued path compares every related row,
		// hers and the hidden ones, with no rule applied.
		{
			"erin asks whether none of alice's messages anywhere starts with a guess",
			matrixQuery{actor: erin, collection: "messages", params: url.Values{"filter": {`room.participants.Messages_via_sender.text !~ "hi bob%"`}, "fields": {"id"}}},
		},
		{
			"erin asks whether no room of the people she chats with mentions a desk",
			matrixQuery{actor: erin, collection: "rooms", params: url.Values{"filter": {`participants.` + env.collectionIDs["rooms"] + `_via_participants.last_message !~ "desk"`}, "fields": {"id"}}},
		},
	}
	for _, c := range channels {
		t.Run(c.name, func(t *testing.T) {
			if res := env.check(c.q); res.failed() {
				t.Errorf("%s GET %s\n  %v", actorName(c.q.actor), c.q.url(), res)
			}
		})
	}
}

// matrixFuzz feeds fuzzed filter, sort, expand and fields to the oracle,
// on the list of collection, as each of actors.
func matrixFuzz(f *testing.F, collection string, actors ...string) {
	env := newMatrixEnv(f)
	f.Fuzz(func(t *testing.T, filter, sortBy, expand, fields string) {
		for _, actor := range actors {
			q := matrixQuery{actor: actor, collection: collection, params: url.Values{}}
			for k, v := range map[string]string{"filter": filter, "sort": sortBy, "expand": expand, "fields": fields} {
				if v != "" {
					q.params.Set(k, v)
				}
			}
			if res := env.check(q); res.failed() {
				t.Errorf("%s GET %s\n  %v", actorName(actor), q.url(), res)
			}
		}
	})
}

// FuzzRoomsFilterStranger: carol (in no room) and erin (in rooms beside
// the victims') list rooms.
func FuzzRoomsFilterStranger(f *testing.F) { matrixFuzz(f, "rooms", carol, erin) }

// FuzzMessagesQueryStranger: carol and erin list messages.
func FuzzMessagesQueryStranger(f *testing.F) { matrixFuzz(f, "messages", carol, erin) }

// FuzzUsersQueryStranger: carol and erin list users; they may see names,
// not e-mails, rooms or messages.
func FuzzUsersQueryStranger(f *testing.F) { matrixFuzz(f, "users", carol, erin) }

// FuzzPostsQueryGuest: a guest and erin list the public posts.
func FuzzPostsQueryGuest(f *testing.F) { matrixFuzz(f, "posts", "", erin) }
