package hooks_test

// The access matrix's generator (see matrix_test.go): per collection a
// grammar of paths, expands and fields, and a seeded generator that builds
// filter / sort / expand / fields queries from it, respelling paths the
// ways PocketBase accepts them.

import (
	"fmt"
	"math/rand"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// matrixGrammar is what queries on one collection are built from.
type matrixGrammar struct {
	// paths are filter and sort operands: direct fields, relations and
	// back-relations reaching rooms, messages and e-mails.
	paths []string
	// expand are expand paths, nested ones included.
	expand []string
	// fields are entries of the fields parameter.
	fields []string
	// ids are records to view (GET .../records/{id}).
	ids []string
}

var matrixGrammars = map[string]matrixGrammar{
	"rooms": {
		paths: []string{
			"id", "post", "participants", "last_message", "last_message_at", "created", "updated",
			"post.id", "post.title", "post.author", "post.author.email", "post.author.name",
			"participants.id", "participants.email", "participants.name",
			"messages_via_room.id", "messages_via_room.text", "messages_via_room.sender", "messages_via_room.sender.email",
			"post.rooms_via_post.id", "participants.rooms_via_participants.id", "participants.messages_via_sender.text",
			"post.rooms_via_post.last_message", "participants.rooms_via_participants.last_message",
			"participants.messages_via_sender.room", "room_reads_via_room.user", "participants.room_reads_via_user.last_read_at",
			"unread", "reads",
		},
		expand: []string{"post", "post.author", "participants", "messages_via_room", "messages_via_room.sender", "post.rooms_via_post", "participants.messages_via_sender"},
		fields: []string{"id", "last_message", "participants", "post", "unread", "reads", "last_message:excerpt(20)", "expand.post.author", "expand.messages_via_room.text", "expand.participants.email"},
		ids:    []string{roomBike, roomGroup, roomDesk, roomErinBike, roomErinGroup},
	},
	"messages": {
		paths: []string{
			"id", "room", "sender", "text", "attachments", "created", "updated",
			"room.id", "room.post", "room.post.title", "room.post.author.email", "room.participants", "room.participants.id",
			"room.participants.email", "room.last_message", "room.last_message_at", "room.messages_via_room.text",
			"room.post.rooms_via_post.id", "sender.id", "sender.email", "sender.name",
			"sender.rooms_via_participants.id", "sender.messages_via_sender.text", "room.unread",
			"room.participants.messages_via_sender.text", "room.participants.rooms_via_participants.last_message",
			"room.post.rooms_via_post.messages_via_room.text", "room.post.author.messages_via_sender.text",
			"sender.room_reads_via_user.last_read_at",
		},
		expand: []string{"room", "room.post", "room.post.author", "room.participants", "sender", "sender.rooms_via_participants", "room.messages_via_room"},
		fields: []string{"id", "text", "room", "sender", "text:excerpt(20)", "expand.room.last_message", "expand.room.unread", "expand.room.reads", "expand.sender.email", "expand.room.post.author"},
		ids:    []string{msgBobHello, msgAliceHi, msgDaveGroup, msgErinAsk, msgAliceToErin},
	},
	"users": {
		paths: []string{
			"id", "name", "email", "emailVisibility", "verified", "avatar", "created", "updated", "password", "tokenKey",
			"rooms_via_participants.id", "rooms_via_participants.last_message", "rooms_via_participants.post",
			"rooms_via_participants.participants.email", "rooms_via_participants.messages_via_room.text",
			"messages_via_sender.id", "messages_via_sender.text", "messages_via_sender.room", "messages_via_sender.room.id",
			"messages_via_sender.room.last_message", "posts_via_author.title", "posts_via_author.rooms_via_post.id",
			"posts_via_author.rooms_via_post.last_message", "room_reads_via_user.last_read_at", "room_reads_via_user.room.last_message",
		},
		expand: []string{"rooms_via_participants", "rooms_via_participants.participants", "messages_via_sender", "messages_via_sender.room", "posts_via_author", "posts_via_author.rooms_via_post"},
		fields: []string{"id", "name", "email", "emailVisibility", "expand.rooms_via_participants.id", "expand.messages_via_sender.text", "expand.rooms_via_participants.last_message", "expand.posts_via_author.rooms_via_post"},
		ids:    []string{alice, bob, carol, dave, erin},
	},
	"posts": {
		paths: []string{
			"id", "title", "body", "price", "status", "author", "images", "created", "updated",
			"author.id", "author.email", "author.name", "author.rooms_via_participants.id", "author.messages_via_sender.text",
			"rooms_via_post.id", "rooms_via_post.last_message", "rooms_via_post.last_message_at",
			"rooms_via_post.participants", "rooms_via_post.participants.id", "rooms_via_post.participants.email",
			"rooms_via_post.messages_via_room.text", "rooms_via_post.messages_via_room.id",
			"rooms_via_post.messages_via_room.sender.email",
		},
		expand: []string{"author", "rooms_via_post", "rooms_via_post.participants", "rooms_via_post.messages_via_room", "rooms_via_post.messages_via_room.sender", "author.rooms_via_participants", "author.messages_via_sender"},
		fields: []string{"id", "title", "author", "expand.author.email", "expand.rooms_via_post.id", "expand.rooms_via_post.last_message", "expand.rooms_via_post.unread", "expand.rooms_via_post.reads", "expand.rooms_via_post.expand.messages_via_room.text"},
		ids:    []string{postBike, postLamp, postDesk},
	},
}

// Parts shared by every collection's queries.
var (
	matrixOperators = []string{"=", "!=", "~", "!~", "?=", "?!=", "?~", "?!~", ">", ">=", "<", "<=", "?>", "?<"}
	// matrixModifiers are tried on any path; some fit (participants:length,
	// text:lower, participants:each), the rest must be refused with a 4xx.
	matrixModifiers = []string{":length", ":lower", ":each", ":isset"}
	// matrixRequestPaths are @request and @collection operands.
	matrixRequestPaths = []string{
		"@request.auth.id", "@request.auth.email", "@request.query.filter:isset", "@request.auth.id:isset",
		"@collection.rooms.id", "@collection.messages.text", "@collection.users.email", "@collection.Rooms.last_message",
		"@request.auth.rooms_via_participants.last_message", "@request.auth.messages_via_sender.text",
		"@request.auth.name", "@request.auth.email:lower", "@request.body.room.participants.email",
	}
	matrixFields = []string{"*", "id", "unread", "reads", "expand.*", "expand.room.last_message", "email", "text", "last_message"}
)

// matrixValues are right-hand operands: fixture ids, secret texts and
// e-mails, partial patterns, the empty string and the % wildcard.
var matrixValues = func() []string {
	var v []string
	for _, id := range []string{alice, bob, carol, dave, erin, postBike, postLamp, postDesk, roomBike, roomGroup, roomDesk, roomErinBike, msgBobHello, msgAliceHi, msgDaveGroup, msgDaveDesk, msgErinAsk} {
		v = append(v, `"`+id+`"`)
	}
	for _, s := range []string{textBobHello, textAliceHi, textDaveGroup, textDesk, emails[alice], emails[bob], emails[carol], emails[dave]} {
		v = append(v, `"`+s+`"`, `"`+s[:5]+`%"`, `"%`+s[len(s)-5:]+`"`)
	}
	return append(v,
		`""`, `"%"`, `"%%"`, `"_"`, `"secret"`, `"bike"`, `"@example.com"`, `"%@%"`,
		"0", "1", "2", "3", "50", "-1", "true", "false", "null",
		`"2000-01-01 00:00:00.000Z"`, "@now", "@todayStart", "@request.auth.id", "@request.auth.email",
	)
}()

// matrixQuery is one generated request.
type matrixQuery struct {
	actor      string // "" is a guest
	collection string
	recordID   string // "" lists
	params     url.Values
}

// url is the request target of q.
func (q matrixQuery) url() string {
	target := "/api/collections/" + q.collection + "/records"
	if q.recordID != "" {
		target += "/" + q.recordID
	}
	if len(q.params) > 0 {
		target += "?" + q.params.Encode()
	}
	return target
}

// matrixGenerator builds queries from a matrixGrammar with a seeded source.
type matrixGenerator struct {
	r *rand.Rand
	// collectionIDs maps collection names to ids, for respell.
	collectionIDs map[string]string
}

// matrixVia is PocketBase's back-relation form, "<collection>_via_<field>".
var matrixVia = regexp.MustCompile(`^(\w+)_via_(\w+)$`)

// respell writes the collection of each back-relation in path as
// PocketBase also accepts it, half of the time: upper case, capitalised,
// or the collection's id.
func (g matrixGenerator) respell(path string) string {
	props := strings.Split(path, ".")
	for i, prop := range props {
		m := matrixVia.FindStringSubmatch(prop)
		if m == nil || g.chance(0.5) {
			continue
		}
		spellings := []string{strings.ToUpper(m[1]), strings.ToUpper(m[1][:1]) + m[1][1:]}
		if id := g.collectionIDs[m[1]]; id != "" {
			spellings = append(spellings, id)
		}
		props[i] = g.pick(spellings) + "_via_" + m[2]
	}
	return strings.Join(props, ".")
}

func (g matrixGenerator) pick(list []string) string { return list[g.r.Intn(len(list))] }

func (g matrixGenerator) chance(p float64) bool { return g.r.Float64() < p }

// operand is a field path of grammar, now and then with a modifier or an
// @request / @collection path instead.
func (g matrixGenerator) operand(grammar matrixGrammar) string {
	if g.chance(0.1) {
		return g.pick(matrixRequestPaths)
	}
	path := g.respell(g.pick(grammar.paths))
	if g.chance(0.2) {
		path += g.pick(matrixModifiers)
	}
	return path
}

// term is one comparison: path op value, or path op path.
func (g matrixGenerator) term(grammar matrixGrammar) string {
	right := g.pick(matrixValues)
	if g.chance(0.15) {
		right = g.operand(grammar)
	}
	return g.operand(grammar) + " " + g.pick(matrixOperators) + " " + right
}

// filter is up to depth levels of terms joined by && and ||, in parens.
func (g matrixGenerator) filter(grammar matrixGrammar, depth int) string {
	if depth == 0 || g.chance(0.4) {
		return g.term(grammar)
	}
	join := " && "
	if g.chance(0.5) {
		join = " || "
	}
	expr := g.filter(grammar, depth-1) + join + g.filter(grammar, depth-1)
	if g.chance(0.5) {
		expr = "(" + expr + ")"
	}
	return expr
}

// sort is one to three sort fields with -, + or no prefix.
func (g matrixGenerator) sort(grammar matrixGrammar) string {
	var keys []string
	for range 1 + g.r.Intn(3) {
		key := g.respell(g.pick(grammar.paths))
		if g.chance(0.15) {
			key += g.pick(matrixModifiers)
		}
		if g.chance(0.05) {
			key = g.pick([]string{"@random", "@rowid"})
		}
		keys = append(keys, g.pick([]string{"", "-", "+"})+key)
	}
	return strings.Join(keys, ",")
}

// list is one to max distinct entries of from, comma-separated.
func (g matrixGenerator) list(from []string, max int) string {
	var picked []string
	for range 1 + g.r.Intn(max) {
		if s := g.pick(from); !slices.Contains(picked, s) {
			picked = append(picked, s)
		}
	}
	return strings.Join(picked, ",")
}

// query is the i-th query of the matrix: actors and collections take
// turns so that each pair gets the same share.
func (g matrixGenerator) query(i int) matrixQuery {
	q := matrixQuery{
		actor:      matrixActors[i%len(matrixActors)],
		collection: matrixCollections[(i/len(matrixActors))%len(matrixCollections)],
		params:     url.Values{},
	}
	grammar := matrixGrammars[q.collection]
	if g.chance(0.15) {
		q.recordID = g.pick(grammar.ids)
	}
	if q.recordID == "" && g.chance(0.9) {
		q.params.Set("filter", g.filter(grammar, 3))
	}
	if q.recordID == "" && g.chance(0.5) {
		q.params.Set("sort", g.sort(grammar))
	}
	if g.chance(0.5) {
		q.params.Set("expand", g.list(grammar.expand, 3))
	}
	if g.chance(0.4) {
		q.params.Set("fields", g.list(append(slices.Clip(grammar.fields), matrixFields...), 4))
	}
	if q.recordID == "" && g.chance(0.1) {
		q.params.Set("perPage", fmt.Sprint(1+g.r.Intn(3)))
		q.params.Set("page", fmt.Sprint(1+g.r.Intn(3)))
	}
	if q.recordID == "" && g.chance(0.1) {
		q.params.Set("skipTotal", "1")
	}
	return q
}
