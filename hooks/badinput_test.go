package hooks_test

// Bad input: malformed JSON and multipart, wrong types and oversized
// bodies (bad text is in badinput_text_test.go). Contract: errors use
// PocketBase's error JSON {"status", "message", "data"} and a validation
// problem names the field in data.<field>.code. Every refusal here must be
// a 4xx in that form, never a 5xx, and leave the database and the file
// storage as they were.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
)

// Request targets of the bad-input tables.
const (
	badInputMessages = "/api/collections/messages/records"
	badInputPosts    = "/api/collections/posts/records"
	badInputRooms    = "/api/collections/rooms/records"
	badInputUsers    = "/api/collections/users/records"
	badInputCarol    = badInputUsers + "/" + carol
	badInputChat     = "/api/posts/" + postBike + "/chat"
)

// badInputState is what a refused request must leave unchanged: the number
// of records of each collection, the files in storage, roomBike's preview,
// postBike's title and price, and carol's name.
type badInputState struct {
	users, posts, rooms, messages, reads int
	files                                int
	bikePreview, bikeTitle, carolName    string
	bikePrice                            float64
}

func (s badInputState) String() string {
	return fmt.Sprintf("{users %d, posts %d, rooms %d, messages %d, reads %d, files %d, roomBike preview %+q, postBike %+q at %v, carol's name %+q}",
		s.users, s.posts, s.rooms, s.messages, s.reads, s.files, s.bikePreview, s.bikeTitle, s.bikePrice, s.carolName)
}

func badInputStateOf(tb testing.TB, app core.App) badInputState {
	tb.Helper()
	var s badInputState
	counts := []struct {
		collection string
		n          *int
	}{{"users", &s.users}, {"posts", &s.posts}, {"rooms", &s.rooms}, {"messages", &s.messages}, {"room_reads", &s.reads}}
	for _, c := range counts {
		*c.n = countRecords(tb, app, c.collection)
	}
	err := filepath.WalkDir(filepath.Join(app.DataDir(), "storage"), func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if d == nil { // no storage dir yet
				return filepath.SkipAll
			}
			return err
		}
		if !d.IsDir() {
			s.files++
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("count stored files: %v", err)
	}
	room, err := app.FindRecordById("rooms", roomBike)
	if err != nil {
		tb.Fatalf("FindRecordById(rooms, %q) error = %v", roomBike, err)
	}
	s.bikePreview = room.GetString("last_message")
	post, err := app.FindRecordById("posts", postBike)
	if err != nil {
		tb.Fatalf("FindRecordById(posts, %q) error = %v", postBike, err)
	}
	s.bikeTitle, s.bikePrice = post.GetString("title"), post.GetFloat("price")
	user, err := app.FindRecordById("users", carol)
	if err != nil {
		tb.Fatalf("FindRecordById(users, %q) error = %v", carol, err)
	}
	s.carolName = user.GetString("name")
	return s
}

// badInputRefused completes s for a request that must be refused with
// s.ExpectedStatus: the answer is PocketBase's error JSON, and the database
// and the file storage are as they were before the request.
func badInputRefused(s tests.ApiScenario) tests.ApiScenario {
	var before badInputState
	s.TestAppFactory = newTestApp
	s.BeforeTestFunc = func(tb testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
		before = badInputStateOf(tb, app)
	}
	s.AfterTestFunc = func(tb testing.TB, app *tests.TestApp, res *http.Response) {
		body, err := io.ReadAll(res.Body)
		if err != nil {
			tb.Fatalf("read the answer: %v", err)
		}
		checkErrorJSON(tb, body, s.ExpectedStatus)
		if after := badInputStateOf(tb, app); after != before {
			tb.Errorf("stored state after the refusal = %v; want it unchanged: %v", after, before)
		}
	}
	return s
}

// badInputNaming is the ExpectedContent of a refusal with status that
// names field in data, with code when code is set.
func badInputNaming(status int, field, code string) []string {
	return []string{fmt.Sprintf(`"status":%d`, status), `"data":{"` + field + `":{"code":"` + code}
}

// badInputStored returns an AfterTestFunc checking that the record of
// collection with the id the answer gives has field = want.
func badInputStored(collection, field, want string) func(testing.TB, *tests.TestApp, *http.Response) {
	return func(tb testing.TB, app *tests.TestApp, res *http.Response) {
		tb.Helper()
		var answer struct {
			ID string `json:"id"`
		}
		if err := json.NewDecoder(res.Body).Decode(&answer); err != nil {
			tb.Fatalf("decode the answer: %v", err)
		}
		record, err := app.FindRecordById(collection, answer.ID)
		if err != nil {
			tb.Fatalf("FindRecordById(%q, %q) error = %v", collection, answer.ID, err)
		}
		if got := record.GetString(field); got != want {
			tb.Errorf("stored %s.%s = %+q (%d characters); want %+q (%d characters)",
				collection, field, got, utf8.RuneCountInString(got), want, utf8.RuneCountInString(want))
		}
	}
}

// badInputPart is one part of a hand-made multipart body.
func badInputPart(boundary, name, value string) string {
	return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + value + "\r\n"
}

// TestBadInputMalformedBodies: a body that cannot be read (broken JSON,
// JSON that is not an object, broken multipart, an unsupported type) is a
// 400 in PocketBase's error JSON, on every collection and on the chat
// button, and nothing is stored.
func TestBadInputMalformedBodies(t *testing.T) {
	t.Parallel()
	room := `{"room":"` + roomBike + `",`
	scenarios := []tests.ApiScenario{
		{
			Name:           "message: truncated JSON",
			Method:         http.MethodPost,
			URL:            badInputMessages,
			Headers:        auth(alice),
			Body:           strings.NewReader(room + `"text":"hi"`),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:           "message: a trailing comma",
			Method:         http.MethodPost,
			URL:            badInputMessages,
			Headers:        auth(alice),
			Body:           strings.NewReader(room + `"text":"hi",}`),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:           "message: a JSON array",
			Method:         http.MethodPost,
			URL:            badInputMessages,
			Headers:        auth(alice),
			Body:           strings.NewReader(`["` + roomBike + `","hi"]`),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:           "message: a JSON string",
			Method:         http.MethodPost,
			URL:            badInputMessages,
			Headers:        auth(alice),
			Body:           strings.NewReader(`"hi"`),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:           "message: JSON null",
			Method:         http.MethodPost,
			URL:            badInputMessages,
			Headers:        auth(alice),
			Body:           strings.NewReader(`null`),
			ExpectedStatus: 400,
			ExpectedEvents: createInvalidEvents,
		},
		{
			Name:           "message: 20,000 nested arrays",
			Method:         http.MethodPost,
			URL:            badInputMessages,
			Headers:        auth(alice),
			Body:           strings.NewReader(room + `"text":` + strings.Repeat("[", 20000)),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:           "message: a duplicate key",
			Method:         http.MethodPost,
			URL:            badInputMessages,
			Headers:        auth(alice),
			Body:           strings.NewReader(room + `"text":"hi","text":"again"}`),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:           "message: a lone surrogate escape",
			Method:         http.MethodPost,
			URL:            badInputMessages,
			Headers:        auth(alice),
			Body:           strings.NewReader(room + `"text":"a\ud800b"}`),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:           "message: text/plain",
			Method:         http.MethodPost,
			URL:            badInputMessages,
			Headers:        headersOf(alice, "text/plain"),
			Body:           strings.NewReader("hi"),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:           "post: a number beyond float64",
			Method:         http.MethodPost,
			URL:            badInputPosts,
			Headers:        auth(alice),
			Body:           strings.NewReader(`{"title":"Bike","price":1e400}`),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:           "room: truncated JSON",
			Method:         http.MethodPost,
			URL:            badInputRooms,
			Headers:        auth(alice),
			Body:           strings.NewReader(`{"participants":["` + alice + `","` + bob + `"]`),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:           "invite: truncated JSON",
			Method:         http.MethodPatch,
			URL:            badInputRooms + "/" + roomBike,
			Headers:        auth(alice),
			Body:           strings.NewReader(`{"participants+":"` + carol + `"`),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:           "sign-up: truncated JSON",
			Method:         http.MethodPost,
			URL:            badInputUsers,
			Body:           strings.NewReader(`{"email":"new@example.com","password":"password123","passwordConfirm":"password123"`),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:           "name change: truncated JSON",
			Method:         http.MethodPatch,
			URL:            badInputCarol,
			Headers:        auth(carol),
			Body:           strings.NewReader(`{"name":"Mallory"`),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:           "chat button: truncated JSON",
			Method:         http.MethodPost,
			URL:            badInputChat,
			Headers:        auth(carol),
			Body:           strings.NewReader(`{"hello":`),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:    "multipart: the body's boundary is not the header's",
			Method:  http.MethodPost,
			URL:     badInputMessages,
			Headers: headersOf(alice, "multipart/form-data; boundary=XYZ"),
			Body: strings.NewReader(badInputPart("ABC", "room", roomBike) +
				badInputPart("ABC", "text", "hi") + "--ABC--\r\n"),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:    "multipart: no boundary in the header",
			Method:  http.MethodPost,
			URL:     badInputMessages,
			Headers: headersOf(alice, "multipart/form-data"),
			Body: strings.NewReader(badInputPart("ABC", "room", roomBike) +
				badInputPart("ABC", "text", "hi") + "--ABC--\r\n"),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:    "multipart: no closing boundary",
			Method:  http.MethodPost,
			URL:     badInputMessages,
			Headers: headersOf(alice, "multipart/form-data; boundary=ABC"),
			Body: strings.NewReader(badInputPart("ABC", "room", roomBike) +
				"--ABC\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\nhi"),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:           "multipart: a part with a broken header",
			Method:         http.MethodPost,
			URL:            badInputMessages,
			Headers:        headersOf(alice, "multipart/form-data; boundary=ABC"),
			Body:           strings.NewReader("--ABC\r\nContent-Disposition form-data name=text\r\n\r\nhi\r\n--ABC--\r\n"),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:           "multipart: no parts at all",
			Method:         http.MethodPost,
			URL:            badInputMessages,
			Headers:        headersOf(alice, "multipart/form-data; boundary=ABC"),
			Body:           strings.NewReader("garbage"),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
		{
			Name:           "multipart: empty",
			Method:         http.MethodPost,
			URL:            badInputPosts,
			Headers:        headersOf(alice, "multipart/form-data; boundary=ABC"),
			Body:           strings.NewReader(""),
			ExpectedStatus: 400,
			ExpectedEvents: noEvents,
		},
	}
	for _, s := range scenarios {
		s.ExpectedContent = []string{`"status":400`}
		s = badInputRefused(s)
		s.Test(t)
	}
}

// TestBadInputWrongTypes: a value of the wrong type is a 400 naming the
// field, not silently made into something else: price "abc" is not 0, and
// a name sent as an object does not empty the name.
func TestBadInputWrongTypes(t *testing.T) {
	t.Parallel()
	form, formHeaders := multipartForm(t, alice, map[string]string{"title": "Bike", "price": "abc"})
	scenarios := []tests.ApiScenario{
		{
			Name:            `post: price "abc"`,
			Method:          http.MethodPost,
			URL:             badInputPosts,
			Headers:         auth(alice),
			Body:            strings.NewReader(`{"title":"Bike","price":"abc"}`),
			ExpectedStatus:  400,
			ExpectedEvents:  createRefusedEvents,
			ExpectedContent: badInputNaming(400, "price", ""),
		},
		{
			Name:            `post (multipart): price "abc"`,
			Method:          http.MethodPost,
			URL:             badInputPosts,
			Headers:         formHeaders,
			Body:            form,
			ExpectedStatus:  400,
			ExpectedEvents:  createRefusedEvents,
			ExpectedContent: badInputNaming(400, "price", ""),
		},
		{
			Name:            `post update: price "abc"`,
			Method:          http.MethodPatch,
			URL:             badInputPosts + "/" + postBike,
			Headers:         auth(alice),
			Body:            strings.NewReader(`{"price":"abc"}`),
			ExpectedStatus:  400,
			ExpectedEvents:  updateRefusedEvents,
			ExpectedContent: badInputNaming(400, "price", ""),
		},
		{
			Name:            "post: price as an object",
			Method:          http.MethodPost,
			URL:             badInputPosts,
			Headers:         auth(alice),
			Body:            strings.NewReader(`{"title":"Bike","price":{"amount":5}}`),
			ExpectedStatus:  400,
			ExpectedEvents:  createRefusedEvents,
			ExpectedContent: badInputNaming(400, "price", ""),
		},
		{
			Name:            "post: price 1.5",
			Method:          http.MethodPost,
			URL:             badInputPosts,
			Headers:         auth(alice),
			Body:            strings.NewReader(`{"title":"Bike","price":1.5}`),
			ExpectedStatus:  400,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: badInputNaming(400, "price", "validation_only_int_constraint"),
		},
		{
			Name:            "post: price -1",
			Method:          http.MethodPost,
			URL:             badInputPosts,
			Headers:         auth(alice),
			Body:            strings.NewReader(`{"title":"Bike","price":-1}`),
			ExpectedStatus:  400,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: badInputNaming(400, "price", "validation_min_number_constraint"),
		},
		{
			Name:            "post: title as an object",
			Method:          http.MethodPost,
			URL:             badInputPosts,
			Headers:         auth(alice),
			Body:            strings.NewReader(`{"title":{"text":"Bike"},"price":5}`),
			ExpectedStatus:  400,
			ExpectedEvents:  createRefusedEvents,
			ExpectedContent: badInputNaming(400, "title", ""),
		},
		{
			Name:            "post: status as a number",
			Method:          http.MethodPost,
			URL:             badInputPosts,
			Headers:         auth(alice),
			Body:            strings.NewReader(`{"title":"Bike","status":5}`),
			ExpectedStatus:  400,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: badInputNaming(400, "status", "validation_invalid_value"),
		},
		{
			Name:            "room: participants as a number",
			Method:          http.MethodPost,
			URL:             badInputRooms,
			Headers:         auth(alice),
			Body:            strings.NewReader(`{"participants":5}`),
			ExpectedStatus:  400,
			ExpectedEvents:  createRefusedEvents,
			ExpectedContent: badInputNaming(400, "participants", ""),
		},
		{
			Name:            "room: participants as an object",
			Method:          http.MethodPost,
			URL:             badInputRooms,
			Headers:         auth(alice),
			Body:            strings.NewReader(`{"participants":{"first":"` + alice + `","second":"` + bob + `"}}`),
			ExpectedStatus:  400,
			ExpectedEvents:  createRefusedEvents,
			ExpectedContent: badInputNaming(400, "participants", ""),
		},
		{
			Name:            "message: text as an object",
			Method:          http.MethodPost,
			URL:             badInputMessages,
			Headers:         auth(alice),
			Body:            strings.NewReader(`{"room":"` + roomBike + `","text":{"body":"hi"}}`),
			ExpectedStatus:  400,
			ExpectedEvents:  createRefusedEvents,
			ExpectedContent: badInputNaming(400, "text", ""),
		},
		{
			Name:            "name change: the name as an object",
			Method:          http.MethodPatch,
			URL:             badInputCarol,
			Headers:         auth(carol),
			Body:            strings.NewReader(`{"name":{"first":"Carol"}}`),
			ExpectedStatus:  400,
			ExpectedEvents:  updateRefusedEvents,
			ExpectedContent: badInputNaming(400, "name", ""),
		},
		{
			Name:            "name change: the name as an array",
			Method:          http.MethodPatch,
			URL:             badInputCarol,
			Headers:         auth(carol),
			Body:            strings.NewReader(`{"name":["Carol"]}`),
			ExpectedStatus:  400,
			ExpectedEvents:  updateRefusedEvents,
			ExpectedContent: badInputNaming(400, "name", ""),
		},
	}
	for _, s := range scenarios {
		s = badInputRefused(s)
		s.Test(t)
	}
}

// badInputStream is a request body of size bytes made as it is read, so
// that it has no Content-Length: prefix, then "a"s, then suffix.
type badInputStream struct {
	prefix, suffix string
	size, sent     int64
}

func (s *badInputStream) Read(p []byte) (int, error) {
	if s.sent >= s.size {
		return 0, io.EOF
	}
	n := 0
	for ; n < len(p) && s.sent < s.size; n, s.sent = n+1, s.sent+1 {
		switch tail := s.size - int64(len(s.suffix)); {
		case s.sent < int64(len(s.prefix)):
			p[n] = s.prefix[s.sent]
		case s.sent >= tail:
			p[n] = s.suffix[s.sent-tail]
		default:
			p[n] = 'a'
		}
	}
	return n, nil
}

// badInputBodyLimit is PocketBase's body limit for creating a record of
// collection: apis.DefaultMaxBodySize plus the most its file fields may
// carry (apis/middlewares_body_limit.go).
func badInputBodyLimit(tb testing.TB, collection string) int64 {
	tb.Helper()
	app := newTestApp(tb)
	c, err := app.FindCollectionByNameOrId(collection)
	if err != nil {
		tb.Fatalf("FindCollectionByNameOrId(%q) error = %v", collection, err)
	}
	limit := apis.DefaultMaxBodySize
	for _, f := range c.Fields {
		if calc, ok := f.(core.MaxBodySizeCalculator); ok {
			limit += calc.CalculateMaxBodySize()
		}
	}
	return limit
}

// TestBadInputOversizedBodies: a valid JSON body one byte over
// PocketBase's limit is a 413 in PocketBase's error JSON, whether it
// declares its length or streams it, and nothing is stored.
func TestBadInputOversizedBodies(t *testing.T) {
	t.Parallel()
	roomsLimit := badInputBodyLimit(t, "rooms")
	messagesLimit := badInputBodyLimit(t, "messages")
	usersLimit := badInputBodyLimit(t, "users")
	roomJSON := func() *badInputStream {
		return &badInputStream{
			prefix: `{"participants":["` + alice + `","` + bob + `"],"padding":"`,
			suffix: `"}`,
			size:   roomsLimit + 1,
		}
	}
	declared, err := io.ReadAll(roomJSON())
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(declared) {
		t.Fatal("the oversized room body is not valid JSON")
	}

	scenarios := []tests.ApiScenario{
		{
			Name:           fmt.Sprintf("room: %d bytes with Content-Length", len(declared)),
			Method:         http.MethodPost,
			URL:            badInputRooms,
			Headers:        auth(alice),
			Body:           bytes.NewReader(declared),
			ExpectedStatus: 413,
			ExpectedEvents: noEvents,
		},
		{
			Name:           fmt.Sprintf("room: %d bytes streamed", roomsLimit+1),
			Method:         http.MethodPost,
			URL:            badInputRooms,
			Headers:        auth(alice),
			Body:           roomJSON(),
			ExpectedStatus: 413,
			ExpectedEvents: noEvents,
		},
		{
			Name:    fmt.Sprintf("message: %d bytes streamed", messagesLimit+1),
			Method:  http.MethodPost,
			URL:     badInputMessages,
			Headers: auth(alice),
			Body: &badInputStream{
				prefix: `{"room":"` + roomBike + `","text":"`,
				suffix: `"}`,
				size:   messagesLimit + 1,
			},
			ExpectedStatus: 413,
			ExpectedEvents: noEvents,
		},
		{
			Name:   fmt.Sprintf("sign-up: %d bytes streamed", usersLimit+1),
			Method: http.MethodPost,
			URL:    badInputUsers,
			Body: &badInputStream{
				prefix: `{"email":"new@example.com","password":"password123","passwordConfirm":"password123","name":"`,
				suffix: `"}`,
				size:   usersLimit + 1,
			},
			ExpectedStatus: 413,
			ExpectedEvents: noEvents,
		},
		{
			Name:           fmt.Sprintf("chat button: %d bytes with Content-Length", apis.DefaultMaxBodySize+1),
			Method:         http.MethodPost,
			URL:            badInputChat,
			Headers:        auth(carol),
			Body:           bytes.NewReader(bytes.Repeat([]byte(" "), int(apis.DefaultMaxBodySize)+1)),
			ExpectedStatus: 413,
			ExpectedEvents: noEvents,
		},
		{
			Name:    fmt.Sprintf("chat button: %d bytes streamed", apis.DefaultMaxBodySize+1),
			Method:  http.MethodPost,
			URL:     badInputChat,
			Headers: auth(carol),
			Body: &badInputStream{
				prefix: `{"padding":"`,
				suffix: `"}`,
				size:   apis.DefaultMaxBodySize + 1,
			},
			ExpectedStatus: 413,
			ExpectedEvents: noEvents,
		},
	}
	for _, s := range scenarios {
		s.ExpectedContent = []string{`"status":413`}
		s = badInputRefused(s)
		s.Test(t)
	}
}
