package hooks_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
)

// Hooks the chat button fires. It answers a room it finds as it is, and
// creates a new one with app.Save, not through the records API (so no
// OnRecordCreateRequest): the realtime fan-out still sees the create.
var (
	chatFoundEvents   = map[string]int{"*": 0, "OnRecordEnrich": 1}
	chatCreatedEvents = map[string]int{
		"*": 0, "OnRecordCreate": 1, "OnModelCreate": 1, "OnRecordValidate": 1, "OnModelValidate": 1,
		"OnRecordCreateExecute": 1, "OnModelCreateExecute": 1,
		"OnRecordAfterCreateSuccess": 1, "OnModelAfterCreateSuccess": 1,
		"OnRecordEnrich": 1,
	}
)

// TestChatButton covers POST /api/posts/{id}/chat, one row per actor and case.
func TestChatButton(t *testing.T) {
	t.Parallel()
	scenarios := []tests.ApiScenario{
		{
			Name:            "guest gets 401",
			Method:          http.MethodPost,
			URL:             "/api/posts/" + postBike + "/chat",
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusUnauthorized,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":401`},
			AfterTestFunc:   afterCount("rooms", 1, dbx.HashExp{"post": postBike}),
		},
		{
			Name:           "participant bob gets the existing roomBike with 200",
			Method:         http.MethodPost,
			URL:            "/api/posts/" + postBike + "/chat",
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			ExpectedStatus: http.StatusOK,
			ExpectedEvents: chatFoundEvents,
			ExpectedContent: []string{
				`"id":"` + roomBike + `"`,
				`"post":"` + postBike + `"`,
				`"unread":1`,
			},
			AfterTestFunc: afterCount("rooms", 1, dbx.HashExp{"post": postBike}),
		},
		{
			Name:           "stranger carol creates her room with the author, 201",
			Method:         http.MethodPost,
			URL:            "/api/posts/" + postBike + "/chat",
			Headers:        auth(carol),
			TestAppFactory: newTestApp,
			ExpectedStatus: http.StatusCreated,
			ExpectedEvents: chatCreatedEvents,
			ExpectedContent: []string{
				`"participants":["` + alice + `","` + carol + `"]`,
				`"post":"` + postBike + `"`,
				`"unread":0`,
			},
			NotExpectedContent: []string{roomBike, textAliceHi, textBobHello},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				room := decodeObject(tb, res)
				chatCheckOneRoom(tb, app, postBike, carol, room["id"])
			},
		},
		{
			Name:           "carol's second press returns the same room with 200",
			Method:         http.MethodPost,
			URL:            "/api/posts/" + postBike + "/chat",
			Headers:        auth(carol),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				if status, body := serveInScenario(tb, e, http.MethodPost, "/api/posts/"+postBike+"/chat", tokens[carol], ""); status != http.StatusCreated {
					tb.Fatalf("first press = %d %s; want 201", status, body)
				}
			},
			ExpectedStatus: http.StatusOK,
			ExpectedEvents: chatFoundEvents,
			ExpectedContent: []string{
				`"participants":["` + alice + `","` + carol + `"]`,
				`"post":"` + postBike + `"`,
			},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				room := decodeObject(tb, res)
				chatCheckOneRoom(tb, app, postBike, carol, room["id"])
				afterCount("rooms", 2, dbx.HashExp{"post": postBike})(tb, app, res)
			},
		},
		{
			Name:           "dave on carol's lamp gets a new room with carol",
			Method:         http.MethodPost,
			URL:            "/api/posts/" + postLamp + "/chat",
			Headers:        auth(dave),
			TestAppFactory: newTestApp,
			ExpectedStatus: http.StatusCreated,
			ExpectedEvents: chatCreatedEvents,
			ExpectedContent: []string{
				`"participants":["` + carol + `","` + dave + `"]`,
				`"post":"` + postLamp + `"`,
			},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, res *http.Response) {
				room := decodeObject(tb, res)
				chatCheckOneRoom(tb, app, postLamp, dave, room["id"])
			},
		},
		{
			Name:           "bob after leaving roomBike gets a new room",
			Method:         http.MethodPost,
			URL:            "/api/posts/" + postBike + "/chat",
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
				roomsSetParticipants(tb, app, roomBike, alice)
			},
			ExpectedStatus: http.StatusCreated,
			ExpectedEvents: chatCreatedEvents,
			ExpectedContent: []string{
				`"participants":["` + alice + `","` + bob + `"]`,
				`"post":"` + postBike + `"`,
			},
			NotExpectedContent: []string{roomBike, textAliceHi, textBobHello},
		},
		{
			Name:            "the author on her own post gets 400",
			Method:          http.MethodPost,
			URL:             "/api/posts/" + postBike + "/chat",
			Headers:         auth(alice),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusBadRequest,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":400`},
			AfterTestFunc:   afterCount("rooms", 1, dbx.HashExp{"post": postBike}),
		},
		{
			Name:               "unknown post gets 404",
			Method:             http.MethodPost,
			URL:                "/api/posts/nosuchpost00001/chat",
			Headers:            auth(bob),
			TestAppFactory:     newTestApp,
			ExpectedStatus:     http.StatusNotFound,
			ExpectedEvents:     noEvents,
			ExpectedContent:    []string{`"status":404`},
			NotExpectedContent: []string{roomBike},
			AfterTestFunc:      afterCount("rooms", 0, dbx.HashExp{"post": "nosuchpost00001"}),
		},
		{
			Name:            "superuser gets 403 (the chat button is for users)",
			Method:          http.MethodPost,
			URL:             "/api/posts/" + postBike + "/chat",
			Headers:         auth("superuser"),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  http.StatusForbidden,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":403`},
			AfterTestFunc:   afterCount("rooms", 1, dbx.HashExp{"post": postBike}),
		},
	}
	for _, s := range scenarios {
		s.Test(t)
	}
}

// TestChatAnswerIsTheRoomRecord: the chat route answers with the same JSON
// as GET /api/collections/rooms/records/{id}, "unread" included, both when
// the room exists (200) and when it is created (201).
func TestChatAnswerIsTheRoomRecord(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	srv := serveTestApp(t, app)
	for _, c := range []struct {
		user       string
		wantStatus int
	}{
		{bob, http.StatusOK},        // roomBike exists
		{carol, http.StatusCreated}, // a new room
		{carol, http.StatusOK},      // carol's room, found again
	} {
		status, body := doJSON(t, srv, http.MethodPost, "/api/posts/"+postBike+"/chat", tokens[c.user], "")
		if status != c.wantStatus {
			t.Fatalf("chat on %q as %q = %d %s; want %d", postBike, c.user, status, body, c.wantStatus)
		}
		var answer map[string]any
		if err := json.Unmarshal(body, &answer); err != nil {
			t.Fatalf("decode chat answer %s: %v", body, err)
		}
		if _, ok := answer["unread"]; !ok {
			t.Errorf("chat answer as %q = %s; want an unread field", c.user, body)
		}
		id, _ := answer["id"].(string)
		status, body = doJSON(t, srv, http.MethodGet, "/api/collections/rooms/records/"+id, tokens[c.user], "")
		if status != http.StatusOK {
			t.Fatalf("GET room %q as %q = %d %s; want 200", id, c.user, status, body)
		}
		var viewed map[string]any
		if err := json.Unmarshal(body, &viewed); err != nil {
			t.Fatalf("decode room %s: %v", body, err)
		}
		if !reflect.DeepEqual(answer, viewed) {
			t.Errorf("chat answer as %q = %v; want the records API's %v", c.user, answer, viewed)
		}
	}
}

// TestChatButtonConcurrentPresses presses the chat button 8 times at once
// per post and buyer, for 10 posts: each (post, buyer) gets exactly one
// room, one 201 and seven 200, all with the same room id.
func TestChatButtonConcurrentPresses(t *testing.T) {
	t.Parallel()
	const posts, presses = 10, 8

	app := newTestApp(t)
	buyerTokens := map[string]string{bob: tokens[bob], carol: tokens[carol], dave: tokens[dave]}
	for _, id := range saveExtraUsers(t, app, 2) {
		user, err := app.FindRecordById("users", id)
		if err != nil {
			t.Fatalf("find user %q: %v", id, err)
		}
		if buyerTokens[id], err = user.NewAuthToken(); err != nil {
			t.Fatalf("token for %q: %v", id, err)
		}
	}
	buyers := make([]string, 0, len(buyerTokens))
	for id := range buyerTokens {
		buyers = append(buyers, id)
	}
	slices.Sort(buyers)

	type press struct {
		status int
		roomID string
	}
	postIDs := make([]string, posts)
	buyerOf := make(map[string]string, posts)
	results := make(map[string][]press, posts)
	for i := range postIDs {
		postIDs[i] = fmt.Sprintf("concpost%07d", i)
		if err := saveRecord(app, "posts", postIDs[i], map[string]any{"title": "Item", "author": alice}); err != nil {
			t.Fatal(err)
		}
		buyerOf[postIDs[i]] = buyers[i%len(buyers)]
	}

	srv := serveTestApp(t, app)
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	for _, postID := range postIDs {
		for range presses {
			wg.Go(func() {
				<-start
				status, body, err := sendJSON(srv, http.MethodPost, "/api/posts/"+postID+"/chat", buyerTokens[buyerOf[postID]], "")
				if err != nil {
					t.Error(err)
				}
				var room struct {
					ID string `json:"id"`
				}
				if err := json.Unmarshal(body, &room); err != nil && status != 0 {
					t.Errorf("press on %q: decode %s: %v", postID, body, err)
				}
				mu.Lock()
				results[postID] = append(results[postID], press{status, room.ID})
				mu.Unlock()
			})
		}
	}
	close(start)
	wg.Wait()

	for _, postID := range postIDs {
		var created, found int
		ids := map[string]bool{}
		for _, p := range results[postID] {
			switch p.status {
			case http.StatusCreated:
				created++
			case http.StatusOK:
				found++
			default:
				t.Errorf("press on %q = %d; want 200 or 201", postID, p.status)
			}
			ids[p.roomID] = true
		}
		if created != 1 || found != presses-1 {
			t.Errorf("presses on %q: %d × 201, %d × 200; want 1 × 201, %d × 200", postID, created, found, presses-1)
		}
		if len(ids) != 1 {
			t.Errorf("presses on %q returned room ids %v; want one id", postID, ids)
		}
		for id := range ids {
			chatCheckOneRoom(t, app, postID, buyerOf[postID], id)
		}
	}
}

// chatCheckOneRoom checks that exactly one room about postID has buyerID,
// that the post's author is in it too, and that its id is wantID.
func chatCheckOneRoom(tb testing.TB, app core.App, postID, buyerID string, wantID any) {
	tb.Helper()
	post, err := app.FindRecordById("posts", postID)
	if err != nil {
		tb.Fatalf("find post %q: %v", postID, err)
	}
	rooms, err := app.FindAllRecords("rooms", dbx.HashExp{"post": postID})
	if err != nil {
		tb.Fatalf("find rooms of %q: %v", postID, err)
	}
	var mine []*core.Record
	for _, r := range rooms {
		if slices.Contains(r.GetStringSlice("participants"), buyerID) {
			mine = append(mine, r)
		}
	}
	if len(mine) != 1 {
		tb.Fatalf("rooms about %q with %q = %d; want 1", postID, buyerID, len(mine))
	}
	want := []string{post.GetString("author"), buyerID}
	if got := mine[0].GetStringSlice("participants"); !slices.Equal(got, want) {
		tb.Errorf("participants of room %q = %v; want %v", mine[0].Id, got, want)
	}
	if mine[0].Id != wantID {
		tb.Errorf("room about %q with %q = %q; want %v", postID, buyerID, mine[0].Id, wantID)
	}
}
