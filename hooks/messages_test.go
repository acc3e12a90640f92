package hooks_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"
)

// TestMessagesListAndView: only the room's participants list and view its
// messages.
func TestMessagesListAndView(t *testing.T) {
	t.Parallel()
	list := "/api/collections/messages/records?" + roomsFilter(`room="`+roomBike+`"`)
	const view = "/api/collections/messages/records/" + msgBobHello
	scenarios := []tests.ApiScenario{
		{
			Name:               "guest lists none",
			Method:             http.MethodGet,
			URL:                list,
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusOK,
			ExpectedContent:    []string{`"totalItems":0`},
			NotExpectedContent: roomsSecrets,
		},
		{
			Name:           "participant bob lists roomBike's messages",
			Method:         http.MethodGet,
			URL:            list,
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			ExpectedStatus: http.StatusOK,
			ExpectedContent: []string{
				`"totalItems":2`,
				`"id":"` + msgBobHello + `"`, `"text":"` + textBobHello + `"`,
				`"id":"` + msgAliceHi + `"`, `"text":"` + textAliceHi + `"`,
			},
			NotExpectedContent: []string{textDaveGroup},
		},
		{
			Name:               "stranger carol lists none",
			Method:             http.MethodGet,
			URL:                list,
			Headers:            auth(carol),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusOK,
			ExpectedContent:    []string{`"totalItems":0`},
			NotExpectedContent: roomsSecrets,
		},
		{
			Name:               "dave (roomGroup only) lists none of roomBike's",
			Method:             http.MethodGet,
			URL:                list,
			Headers:            auth(dave),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusOK,
			ExpectedContent:    []string{`"totalItems":0`},
			NotExpectedContent: roomBikeSecrets,
		},
		{
			Name:               "dave without a filter lists roomGroup's only",
			Method:             http.MethodGet,
			URL:                "/api/collections/messages/records",
			Headers:            auth(dave),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusOK,
			ExpectedContent:    []string{`"totalItems":1`, `"text":"` + textDaveGroup + `"`},
			NotExpectedContent: roomBikeSecrets,
		},
		{
			Name:            "superuser lists roomBike's messages",
			Method:          http.MethodGet,
			URL:             list,
			Headers:         auth("superuser"),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"totalItems":2`, textBobHello, textAliceHi},
		},
		{
			Name:               "guest views a message: 404",
			Method:             http.MethodGet,
			URL:                view,
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusNotFound,
			ExpectedContent:    []string{`"status":404`},
			NotExpectedContent: roomsSecrets,
		},
		{
			Name:            "participant alice views bob's message",
			Method:          http.MethodGet,
			URL:             view,
			Headers:         auth(alice),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"id":"` + msgBobHello + `"`, `"sender":"` + bob + `"`, `"text":"` + textBobHello + `"`},
		},
		{
			Name:               "stranger carol views a message: 404",
			Method:             http.MethodGet,
			URL:                view,
			Headers:            auth(carol),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusNotFound,
			ExpectedContent:    []string{`"status":404`},
			NotExpectedContent: roomsSecrets,
		},
		{
			Name:            "superuser views a message",
			Method:          http.MethodGet,
			URL:             view,
			Headers:         auth("superuser"),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedContent: []string{`"text":"` + textBobHello + `"`},
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

// TestMessagesSend covers sending: sender defaulting and spoofing, the
// text rules, strangers, attachments and client ids.
func TestMessagesSend(t *testing.T) {
	t.Parallel()
	const url = "/api/collections/messages/records"
	refused := func(field string) []string {
		return []string{`"status":400`, `"data":{"` + field + `":{"code":`}
	}
	send := func(text string) *strings.Reader {
		body, err := json.Marshal(map[string]string{"room": roomBike, "text": text})
		if err != nil {
			t.Fatal(err)
		}
		return strings.NewReader(string(body))
	}
	const html = `<script>alert(1)</script> & "q"`
	nothingStored := afterCount("messages", 2, dbx.HashExp{"room": roomBike})
	oneStored := afterCount("messages", 3, dbx.HashExp{"room": roomBike})

	attachmentOnly, attachmentHeaders := multipartForm(t, bob, map[string]string{"room": roomBike}, pngUploads(t, "attachments", 1)...)
	textAndPhotos, textAndPhotosHeaders := multipartForm(t, alice, map[string]string{"room": roomBike, "text": "two photos"}, pngUploads(t, "attachments", 2)...)
	strangerPhoto, strangerPhotoHeaders := multipartForm(t, carol, map[string]string{"room": roomBike}, pngUploads(t, "attachments", 1)...)

	scenarios := []tests.ApiScenario{
		{
			Name:            "guest: 400, nothing stored",
			Method:          http.MethodPost,
			URL:             url,
			Body:            send("hello"),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":400`},
			AfterTestFunc:   nothingStored,
		},
		{
			Name:           "participant bob: the sender defaults to him, the room shows it",
			Method:         http.MethodPost,
			URL:            url,
			Body:           send("is it still there?"),
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			ExpectedStatus: http.StatusOK,
			ExpectedEvents: createdEvents,
			ExpectedContent: []string{
				`"room":"` + roomBike + `"`,
				`"sender":"` + bob + `"`,
				`"text":"is it still there?"`,
			},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				oneStored(tb, app, res)
				messagesCheckRoomPreview(tb, app, decodeObject(tb, res), "is it still there?")
			},
		},
		{
			Name:            "participant bob naming himself as sender",
			Method:          http.MethodPost,
			URL:             url,
			Body:            strings.NewReader(`{"room":"` + roomBike + `","sender":"` + bob + `","text":"hi"}`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"sender":"` + bob + `"`},
			AfterTestFunc:   oneStored,
		},
		{
			Name:            "participant bob naming alice as sender: 400 naming sender",
			Method:          http.MethodPost,
			URL:             url,
			Body:            strings.NewReader(`{"room":"` + roomBike + `","sender":"` + alice + `","text":"hi"}`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedEvents:  createRefusedEvents,
			ExpectedContent: refused("sender"),
			AfterTestFunc:   nothingStored,
		},
		{
			Name:            "empty text: 400 naming text",
			Method:          http.MethodPost,
			URL:             url,
			Body:            send(""),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: refused("text"),
			AfterTestFunc:   nothingStored,
		},
		{
			Name:            "no text at all: 400 naming text",
			Method:          http.MethodPost,
			URL:             url,
			Body:            strings.NewReader(`{"room":"` + roomBike + `"}`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: refused("text"),
			AfterTestFunc:   nothingStored,
		},
		{
			Name:            "whitespace-only text: 400 naming text",
			Method:          http.MethodPost,
			URL:             url,
			Body:            send(" \t\n \r\n "),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: refused("text"),
			AfterTestFunc:   nothingStored,
		},
		{
			Name:            "2001 characters: 400 naming text",
			Method:          http.MethodPost,
			URL:             url,
			Body:            send(strings.Repeat("a", 2001)),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: refused("text"),
			AfterTestFunc:   nothingStored,
		},
		{
			Name:            "2000 characters: ok",
			Method:          http.MethodPost,
			URL:             url,
			Body:            send(strings.Repeat("a", 2000)),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"text":"` + strings.Repeat("a", 2000) + `"`},
			AfterTestFunc:   oneStored,
		},
		{
			Name:            "2000 two-byte characters: ok (characters, not bytes)",
			Method:          http.MethodPost,
			URL:             url,
			Body:            send(strings.Repeat("é", 2000)),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"text":"` + strings.Repeat("é", 2000) + `"`},
			AfterTestFunc:   oneStored,
		},
		{
			Name:            "2000 characters inside whitespace: ok, trimmed first",
			Method:          http.MethodPost,
			URL:             url,
			Body:            send("  \n" + strings.Repeat("b", 2000) + "\n  "),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"text":"` + strings.Repeat("b", 2000) + `"`},
			AfterTestFunc:   oneStored,
		},
		{
			Name:            "text is trimmed",
			Method:          http.MethodPost,
			URL:             url,
			Body:            send("  \t hello  there \n"),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"text":"hello  there"`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				messagesCheckRoomPreview(tb, app, decodeObject(tb, res), "hello  there")
			},
		},
		{
			Name:            "markup is stored and echoed exactly as sent",
			Method:          http.MethodPost,
			URL:             url,
			Body:            send("  " + html + "  "),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"sender":"` + bob + `"`},
			NotExpectedContent: []string{
				"&lt;", "&amp;", "&quot;", "&#34;", // HTML-escaped by the server
			},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				msg := decodeObject(tb, res)
				if msg["text"] != html {
					tb.Errorf("text in answer = %q; want %q", msg["text"], html)
				}
				id, _ := msg["id"].(string)
				stored, err := app.FindRecordById("messages", id)
				if err != nil {
					tb.Fatalf("find message %q: %v", id, err)
				}
				if got := stored.GetString("text"); got != html {
					tb.Errorf("stored text = %q; want %q", got, html)
				}
				messagesCheckRoomPreview(tb, app, msg, html)
			},
		},
		{
			Name:               "stranger carol into roomBike: 400 naming room, nothing stored",
			Method:             http.MethodPost,
			URL:                url,
			Body:               send("let me in"),
			Headers:            auth(carol),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusBadRequest,
			ExpectedEvents:     createRefusedEvents,
			ExpectedContent:    refused("room"),
			NotExpectedContent: roomsSecrets,
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				nothingStored(tb, app, res)
				roomsCheckField(roomBike, "last_message", textAliceHi)(tb, app, res)
			},
		},
		{
			Name:               "stranger carol with a photo into roomBike: 400 naming room, nothing stored",
			Method:             http.MethodPost,
			URL:                url,
			Body:               strangerPhoto,
			Headers:            strangerPhotoHeaders,
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusBadRequest,
			ExpectedEvents:     createRefusedEvents,
			ExpectedContent:    refused("room"),
			NotExpectedContent: roomsSecrets,
			AfterTestFunc:      nothingStored,
		},
		{
			Name:               "dave (roomGroup only) into roomBike: 400 naming room, nothing stored",
			Method:             http.MethodPost,
			URL:                url,
			Body:               send("hello?"),
			Headers:            auth(dave),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusBadRequest,
			ExpectedEvents:     createRefusedEvents,
			ExpectedContent:    refused("room"),
			NotExpectedContent: roomBikeSecrets,
			AfterTestFunc:      nothingStored,
		},
		{
			Name:            "an attachment without text: ok, the room gets a preview",
			Method:          http.MethodPost,
			URL:             url,
			Body:            attachmentOnly,
			Headers:         attachmentHeaders,
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"sender":"` + bob + `"`, `"text":""`, `"attachments":["`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				oneStored(tb, app, res)
				msg := decodeObject(tb, res)
				if files, _ := msg["attachments"].([]any); len(files) != 1 {
					tb.Errorf("attachments = %v; want 1 file", msg["attachments"])
				}
				room, err := app.FindRecordById("rooms", roomBike)
				if err != nil {
					tb.Fatalf("find room: %v", err)
				}
				if got := room.GetString("last_message"); got == "" || got == textAliceHi {
					tb.Errorf("last_message = %q; want a non-empty preview of the photo", got)
				}
				if got, want := room.GetDateTime("last_message_at").String(), msg["created"]; got != want {
					tb.Errorf("last_message_at = %q; want %v", got, want)
				}
			},
		},
		{
			Name:            "text and two attachments: ok",
			Method:          http.MethodPost,
			URL:             url,
			Body:            textAndPhotos,
			Headers:         textAndPhotosHeaders,
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"sender":"` + alice + `"`, `"text":"two photos"`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				msg := decodeObject(tb, res)
				if files, _ := msg["attachments"].([]any); len(files) != 2 {
					tb.Errorf("attachments = %v; want 2 files", msg["attachments"])
				}
				messagesCheckRoomPreview(tb, app, msg, "two photos")
			},
		},
		{
			Name:            "a client-supplied id: ok",
			Method:          http.MethodPost,
			URL:             url,
			Body:            strings.NewReader(`{"id":"clientmsg000001","room":"` + roomBike + `","text":"retry me"}`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"id":"clientmsg000001"`},
			AfterTestFunc:   oneStored,
		},
		{
			Name:           "the same client id again: 400 naming id, one stored",
			Method:         http.MethodPost,
			URL:            url,
			Body:           strings.NewReader(`{"id":"clientmsg000001","room":"` + roomBike + `","text":"retry me"}`),
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				status, body := serveInScenario(tb, e, http.MethodPost, url, tokens[bob],
					`{"id":"clientmsg000001","room":"`+roomBike+`","text":"retry me"}`)
				if status != http.StatusOK {
					tb.Fatalf("first send = %d %s; want 200", status, body)
				}
			},
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedEvents:  createFailedEvents,
			ExpectedContent: refused("id"),
			AfterTestFunc:   oneStored,
		},
		{
			Name:            "a client id with bad characters: 400 naming id",
			Method:          http.MethodPost,
			URL:             url,
			Body:            strings.NewReader(`{"id":"Client_Msg_0001","room":"` + roomBike + `","text":"hi"}`),
			Headers:         auth(bob),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedEvents:  createInvalidEvents,
			ExpectedContent: refused("id"),
			AfterTestFunc:   nothingStored,
		},
		{
			Name:            "superuser sending as alice: ok",
			Method:          http.MethodPost,
			URL:             url,
			Body:            strings.NewReader(`{"room":"` + roomBike + `","sender":"` + alice + `","text":"from the admin"}`),
			Headers:         auth("superuser"),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"sender":"` + alice + `"`, `"text":"from the admin"`},
			AfterTestFunc:   oneStored,
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

// TestMessagesNoEditOrDelete: clients cannot edit or delete messages in v1.
func TestMessagesNoEditOrDelete(t *testing.T) {
	t.Parallel()
	const url = "/api/collections/messages/records/" + msgBobHello
	edit := func() *strings.Reader { return strings.NewReader(`{"text":"edited"}`) }
	untouched := func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
		tb.Helper()
		msg, err := app.FindRecordById("messages", msgBobHello)
		if err != nil {
			tb.Fatalf("find message: %v", err)
		}
		if got := msg.GetString("text"); got != textBobHello {
			tb.Errorf("text = %q; want %q", got, textBobHello)
		}
	}
	var scenarios []tests.ApiScenario
	for _, actor := range []string{"", bob, alice, carol} {
		scenarios = append(scenarios,
			tests.ApiScenario{
				Name:               "edit as " + actorName(actor) + ": 403",
				Method:             http.MethodPatch,
				URL:                url,
				Body:               edit(),
				Headers:            auth(actor),
				TestAppFactory:     newTestApp,
				ExpectedStatus:     http.StatusForbidden,
				ExpectedEvents:     noEvents,
				ExpectedContent:    []string{`"status":403`},
				NotExpectedContent: []string{textBobHello},
				AfterTestFunc:      untouched,
			},
			tests.ApiScenario{
				Name:               "delete as " + actorName(actor) + ": 403",
				Method:             http.MethodDelete,
				URL:                url,
				Headers:            auth(actor),
				TestAppFactory:     newTestApp,
				ExpectedStatus:     http.StatusForbidden,
				ExpectedEvents:     noEvents,
				ExpectedContent:    []string{`"status":403`},
				NotExpectedContent: []string{textBobHello},
				AfterTestFunc:      untouched,
			},
		)
	}
	scenarios = append(scenarios,
		tests.ApiScenario{
			Name:            "edit as superuser: ok",
			Method:          http.MethodPatch,
			URL:             url,
			Body:            edit(),
			Headers:         auth("superuser"),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusOK,
			ExpectedEvents:  updatedEvents,
			ExpectedContent: []string{`"text":"edited"`},
		},
		tests.ApiScenario{
			Name:           "delete as superuser: 204",
			Method:         http.MethodDelete,
			URL:            url,
			Headers:        auth("superuser"),
			TestAppFactory: newTestApp,
			ExpectedStatus: http.StatusNoContent,
			ExpectedEvents: deletedEvents,
			AfterTestFunc:  afterCount("messages", 1, dbx.HashExp{"room": roomBike}),
		},
	)
	for _, s := range scenarios {
		s.Test(t)
	}
}

// messagesCheckRoomPreview checks that the message's room shows it as the
// newest: last_message is wantPreview and last_message_at the message's
// created time.
func messagesCheckRoomPreview(tb testing.TB, app core.App, msg map[string]any, wantPreview string) {
	tb.Helper()
	roomID, _ := msg["room"].(string)
	room, err := app.FindRecordById("rooms", roomID)
	if err != nil {
		tb.Fatalf("find room %q: %v", roomID, err)
	}
	if got := room.GetString("last_message"); got != wantPreview {
		tb.Errorf("last_message of %q = %q; want %q", roomID, got, wantPreview)
	}
	if got, want := room.GetDateTime("last_message_at").String(), msg["created"]; got != want {
		tb.Errorf("last_message_at of %q = %q; want the message's created %v", roomID, got, want)
	}
}

// TestMessagesParticipantCheckIsNotTheRule: the create rule only asks for a
// signed-in user (evaluating the participants join on every send cost a
// quarter of a message's CPU); the hook keeps strangers out whatever an
// admin sets the rule to, short of locking it.
func TestMessagesParticipantCheckIsNotTheRule(t *testing.T) {
	t.Parallel()
	s := newRealtimeServer(t)
	messages, err := s.app.FindCollectionByNameOrId("messages")
	if err != nil {
		t.Fatal(err)
	}
	if messages.CreateRule == nil || *messages.CreateRule != `@request.auth.id != ""` {
		t.Fatalf("messages create rule = %v; want the signed-in rule of migration 1764000600", messages.CreateRule)
	}

	messages.CreateRule = types.Pointer("") // an admin opens sending to everyone
	if err := s.app.Save(messages); err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"room": roomBike, "text": "let me in"}
	for _, who := range []string{"", carol, dave} {
		status, data := s.request(t, http.MethodPost, "/api/collections/messages/records", who, body)
		if status != http.StatusBadRequest {
			t.Errorf("%q sends into roomBike with an open rule: %d %s; want 400", who, status, data)
		}
		if who != "" && !strings.Contains(string(data), `"room":{"code":"validation_missing_rel_records"`) {
			t.Errorf("%q sends into roomBike: %s; want the error to name room", who, data)
		}
	}
	s.sendMessage(t, bob, roomBike, "participants still send")
	var n int
	if err := s.app.DB().NewQuery("SELECT count(*) FROM messages WHERE text = 'let me in'").Row(&n); err != nil || n != 0 {
		t.Errorf("stored strangers' messages = %d (%v); want 0", n, err)
	}
}
