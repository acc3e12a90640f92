package hooks_test

// Bad text: invalid UTF-8, control and bidi characters in names, and
// 10,000-emoji strings, refused (400 naming the field) or stored as
// clean text. The refusals follow badinput_test.go's rules: PocketBase's
// error JSON, nothing stored.

import (
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pocketbase/pocketbase/tests"
)

// TestBadInputInvalidUTF8: text that is not UTF-8 is refused: a JSON body
// with it cannot be read (400), and in a form the field is named. Nothing
// is stored, not even with the bad bytes replaced.
func TestBadInputInvalidUTF8(t *testing.T) {
	t.Parallel()
	const bad = "caf\xe9 \xff\xfe"
	messageForm, messageHeaders := multipartForm(t, alice, map[string]string{"room": roomBike, "text": bad})
	titleForm, titleHeaders := multipartForm(t, alice, map[string]string{"title": bad})
	bodyForm, bodyHeaders := multipartForm(t, alice, map[string]string{"title": "Bike", "body": bad})
	nameForm, nameHeaders := multipartForm(t, carol, map[string]string{"name": bad})
	scenarios := []tests.ApiScenario{
		{
			Name:            "message (JSON): invalid UTF-8 text",
			Method:          http.MethodPost,
			URL:             badInputMessages,
			Headers:         auth(alice),
			Body:            strings.NewReader(`{"room":"` + roomBike + `","text":"` + bad + `"}`),
			ExpectedStatus:  400,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":400`},
		},
		{
			Name:            "post (JSON): invalid UTF-8 title",
			Method:          http.MethodPost,
			URL:             badInputPosts,
			Headers:         auth(alice),
			Body:            strings.NewReader(`{"title":"` + bad + `"}`),
			ExpectedStatus:  400,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":400`},
		},
		{
			Name:            "name change (JSON): an encoded surrogate",
			Method:          http.MethodPatch,
			URL:             badInputCarol,
			Headers:         auth(carol),
			Body:            strings.NewReader("{\"name\":\"a\xed\xa0\x80b\"}"),
			ExpectedStatus:  400,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":400`},
		},
		{
			Name:            "sign-up (JSON): invalid UTF-8 name",
			Method:          http.MethodPost,
			URL:             badInputUsers,
			Body:            strings.NewReader(`{"email":"new@example.com","password":"password123","passwordConfirm":"password123","name":"` + bad + `"}`),
			ExpectedStatus:  400,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":400`},
		},
		{
			Name:            "message (multipart): invalid UTF-8 text",
			Method:          http.MethodPost,
			URL:             badInputMessages,
			Headers:         messageHeaders,
			Body:            messageForm,
			ExpectedStatus:  400,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: badInputNaming(400, "text", ""),
		},
		{
			Name:            "post (multipart): invalid UTF-8 title",
			Method:          http.MethodPost,
			URL:             badInputPosts,
			Headers:         titleHeaders,
			Body:            titleForm,
			ExpectedStatus:  400,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: badInputNaming(400, "title", ""),
		},
		{
			Name:            "post (multipart): invalid UTF-8 body",
			Method:          http.MethodPost,
			URL:             badInputPosts,
			Headers:         bodyHeaders,
			Body:            bodyForm,
			ExpectedStatus:  400,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: badInputNaming(400, "body", ""),
		},
		{
			Name:            "name change (multipart): invalid UTF-8",
			Method:          http.MethodPatch,
			URL:             badInputCarol,
			Headers:         nameHeaders,
			Body:            nameForm,
			ExpectedStatus:  400,
			ExpectedEvents:  updateInvalidEvents,
			ExpectedContent: badInputNaming(400, "name", ""),
		},
		{
			Name:            "post (urlencoded form): invalid UTF-8 title",
			Method:          http.MethodPost,
			URL:             badInputPosts,
			Headers:         headersOf(alice, "application/x-www-form-urlencoded"),
			Body:            strings.NewReader("title=caf%E9+%FF%FE&price=5"),
			ExpectedStatus:  400,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: badInputNaming(400, "title", ""),
		},
	}
	for _, s := range scenarios {
		s = badInputRefused(s)
		s.Test(t)
	}
}

// TestBadInputNames: display names are stored normalised (hooks/users.go):
// no control characters or bidi marks, whitespace collapsed, NFC, and the
// 50-character limit counts what remains. Message text, by contrast, is
// stored exactly as sent.
func TestBadInputNames(t *testing.T) {
	t.Parallel()
	const dirty = " \u202eCa\u0000rol\u202c\t\n  \u2066X\u2069\u200f\u0007 "
	const clean = "Carol X"
	form, formHeaders := multipartForm(t, carol, map[string]string{"name": dirty})
	scenarios := []tests.ApiScenario{
		{
			Name:            "name change with control and bidi characters",
			Method:          http.MethodPatch,
			URL:             badInputCarol,
			Headers:         auth(carol),
			Body:            jsonBody(t, map[string]any{"name": dirty}),
			ExpectedStatus:  200,
			ExpectedEvents:  updatedEvents,
			ExpectedContent: []string{`"name":"` + clean + `"`},
			AfterTestFunc:   badInputStored("users", "name", clean),
		},
		{
			Name:            "name change (multipart) with control and bidi characters",
			Method:          http.MethodPatch,
			URL:             badInputCarol,
			Headers:         formHeaders,
			Body:            form,
			ExpectedStatus:  200,
			ExpectedEvents:  updatedEvents,
			ExpectedContent: []string{`"name":"` + clean + `"`},
			AfterTestFunc:   badInputStored("users", "name", clean),
		},
		{
			Name:            "sign-up with control and bidi characters",
			Method:          http.MethodPost,
			URL:             badInputUsers,
			Body:            jsonBody(t, map[string]any{"email": "new@example.com", "password": password, "passwordConfirm": password, "name": dirty}),
			ExpectedStatus:  200,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"name":"` + clean + `"`},
			AfterTestFunc:   badInputStored("users", "name", clean),
		},
		{
			Name:            "a name of only control and bidi characters is empty",
			Method:          http.MethodPatch,
			URL:             badInputCarol,
			Headers:         auth(carol),
			Body:            jsonBody(t, map[string]any{"name": "\u202e\u0000\u2066\u200f\t"}),
			ExpectedStatus:  200,
			ExpectedEvents:  updatedEvents,
			ExpectedContent: []string{`"name":""`},
			AfterTestFunc:   badInputStored("users", "name", ""),
		},
		{
			Name:            "60 bidi marks after a short name fit in 50 characters",
			Method:          http.MethodPatch,
			URL:             badInputCarol,
			Headers:         auth(carol),
			Body:            jsonBody(t, map[string]any{"name": "Carol" + strings.Repeat("\u200f", 60)}),
			ExpectedStatus:  200,
			ExpectedEvents:  updatedEvents,
			ExpectedContent: []string{`"name":"Carol"`},
			AfterTestFunc:   badInputStored("users", "name", "Carol"),
		},
		{
			Name:            "50 decomposed é (100 code points) are 50 characters",
			Method:          http.MethodPatch,
			URL:             badInputCarol,
			Headers:         auth(carol),
			Body:            jsonBody(t, map[string]any{"name": strings.Repeat("e\u0301", 50)}),
			ExpectedStatus:  200,
			ExpectedEvents:  updatedEvents,
			ExpectedContent: []string{`"name":"` + strings.Repeat("é", 50) + `"`},
			AfterTestFunc:   badInputStored("users", "name", strings.Repeat("é", 50)),
		},
		{
			Name:            "message text keeps control and bidi characters",
			Method:          http.MethodPost,
			URL:             badInputMessages,
			Headers:         auth(alice),
			Body:            jsonBody(t, map[string]any{"room": roomBike, "text": "a\u0000b\u202ec\u0007"}),
			ExpectedStatus:  200,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"room":"` + roomBike + `"`},
			AfterTestFunc:   badInputStored("messages", "text", "a\u0000b\u202ec\u0007"),
		},
	}
	for _, s := range scenarios {
		s.TestAppFactory = newTestApp
		s.Test(t)
	}
}

// TestBadInputLongStrings: 10,000-emoji strings are a 400 naming the field
// (validation_max_text_constraint), and the limits count characters, not
// bytes: at the limit, four-byte emoji are accepted.
func TestBadInputLongStrings(t *testing.T) {
	t.Parallel()
	emoji := func(n int) string { return strings.Repeat("😀", n) }
	tooLong := func(field string) []string {
		return badInputNaming(400, field, "validation_max_text_constraint")
	}
	messageForm, messageHeaders := multipartForm(t, alice, map[string]string{"room": roomBike, "text": emoji(10000)}, pngUploads(t, "attachments", 1)...)
	postForm, postHeaders := multipartForm(t, alice, map[string]string{"title": emoji(10000)}, pngUploads(t, "images", 2)...)
	refused := []tests.ApiScenario{
		{
			Name:            "message: 10,000 emoji",
			Method:          http.MethodPost,
			URL:             badInputMessages,
			Headers:         auth(alice),
			Body:            jsonBody(t, map[string]any{"room": roomBike, "text": emoji(10000)}),
			ExpectedStatus:  400,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: tooLong("text"),
		},
		{
			Name:            "message: 2,001 emoji",
			Method:          http.MethodPost,
			URL:             badInputMessages,
			Headers:         auth(alice),
			Body:            jsonBody(t, map[string]any{"room": roomBike, "text": emoji(2001)}),
			ExpectedStatus:  400,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: tooLong("text"),
		},
		{
			Name:            "message (multipart) with a photo: 10,000 emoji, the photo not kept",
			Method:          http.MethodPost,
			URL:             badInputMessages,
			Headers:         messageHeaders,
			Body:            messageForm,
			ExpectedStatus:  400,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: tooLong("text"),
		},
		{
			Name:            "post: a 10,000-emoji title",
			Method:          http.MethodPost,
			URL:             badInputPosts,
			Headers:         auth(alice),
			Body:            jsonBody(t, map[string]any{"title": emoji(10000)}),
			ExpectedStatus:  400,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: tooLong("title"),
		},
		{
			Name:            "post: a 101-emoji title",
			Method:          http.MethodPost,
			URL:             badInputPosts,
			Headers:         auth(alice),
			Body:            jsonBody(t, map[string]any{"title": emoji(101)}),
			ExpectedStatus:  400,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: tooLong("title"),
		},
		{
			Name:            "post (multipart) with 2 photos: a 10,000-emoji title, the photos not kept",
			Method:          http.MethodPost,
			URL:             badInputPosts,
			Headers:         postHeaders,
			Body:            postForm,
			ExpectedStatus:  400,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: tooLong("title"),
		},
		{
			Name:            "post: a 10,000-emoji body",
			Method:          http.MethodPost,
			URL:             badInputPosts,
			Headers:         auth(alice),
			Body:            jsonBody(t, map[string]any{"title": "Bike", "body": emoji(10000)}),
			ExpectedStatus:  400,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: tooLong("body"),
		},
		{
			Name:            "post update: a 10,000-emoji title",
			Method:          http.MethodPatch,
			URL:             badInputPosts + "/" + postBike,
			Headers:         auth(alice),
			Body:            jsonBody(t, map[string]any{"title": emoji(10000)}),
			ExpectedStatus:  400,
			ExpectedEvents:  updateInvalidEvents,
			ExpectedContent: tooLong("title"),
		},
		{
			Name:            "name change: 10,000 emoji",
			Method:          http.MethodPatch,
			URL:             badInputCarol,
			Headers:         auth(carol),
			Body:            jsonBody(t, map[string]any{"name": emoji(10000)}),
			ExpectedStatus:  400,
			ExpectedEvents:  updateInvalidEvents,
			ExpectedContent: tooLong("name"),
		},
		{
			Name:            "name change: 51 emoji",
			Method:          http.MethodPatch,
			URL:             badInputCarol,
			Headers:         auth(carol),
			Body:            jsonBody(t, map[string]any{"name": emoji(51)}),
			ExpectedStatus:  400,
			ExpectedEvents:  updateInvalidEvents,
			ExpectedContent: tooLong("name"),
		},
		{
			Name:            "sign-up: a 10,000-emoji name",
			Method:          http.MethodPost,
			URL:             badInputUsers,
			Body:            jsonBody(t, map[string]any{"email": "new@example.com", "password": password, "passwordConfirm": password, "name": emoji(10000)}),
			ExpectedStatus:  400,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: tooLong("name"),
		},
	}
	for _, s := range refused {
		s = badInputRefused(s)
		s.Test(t)
	}

	accepted := []tests.ApiScenario{
		{
			Name:            "message: 2,000 emoji, the room's preview the first 200",
			Method:          http.MethodPost,
			URL:             badInputMessages,
			Headers:         auth(alice),
			Body:            jsonBody(t, map[string]any{"room": roomBike, "text": emoji(2000)}),
			ExpectedStatus:  200,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"room":"` + roomBike + `"`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				badInputStored("messages", "text", emoji(2000))(tb, app, res)
				room, err := app.FindRecordById("rooms", roomBike)
				if err != nil {
					tb.Fatalf("FindRecordById(rooms, %q) error = %v", roomBike, err)
				}
				if got := room.GetString("last_message"); got != emoji(200) {
					tb.Errorf("last_message = %d characters; want the first 200 emoji", utf8.RuneCountInString(got))
				}
			},
		},
		{
			Name:            "post: a 100-emoji title",
			Method:          http.MethodPost,
			URL:             badInputPosts,
			Headers:         auth(alice),
			Body:            jsonBody(t, map[string]any{"title": emoji(100)}),
			ExpectedStatus:  200,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"title":"` + emoji(100) + `"`},
			AfterTestFunc:   badInputStored("posts", "title", emoji(100)),
		},
		{
			Name:            "name change: 50 emoji",
			Method:          http.MethodPatch,
			URL:             badInputCarol,
			Headers:         auth(carol),
			Body:            jsonBody(t, map[string]any{"name": emoji(50)}),
			ExpectedStatus:  200,
			ExpectedEvents:  updatedEvents,
			ExpectedContent: []string{`"name":"` + emoji(50) + `"`},
			AfterTestFunc:   badInputStored("users", "name", emoji(50)),
		},
	}
	for _, s := range accepted {
		s.TestAppFactory = newTestApp
		s.Test(t)
	}
}
