package hooks_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
)

// postsField fails the test unless the stored post id has field = want.
func postsField(tb testing.TB, app core.App, id, field string, want any) {
	tb.Helper()
	post, err := app.FindRecordById("posts", id)
	if err != nil {
		tb.Fatalf("FindRecordById(%q, %q) error = %v", "posts", id, err)
	}
	if got := post.Get(field); got != want {
		tb.Errorf("post %q %s = %v; want %v", id, field, got, want)
	}
}

// postDeletedEvents: the post is deleted and the room about it updated
// (its post cleared; the chat stays).
var postDeletedEvents = map[string]int{
	"*": 0, "OnRecordDeleteRequest": 1,
	"OnRecordDelete": 1, "OnModelDelete": 1, "OnRecordDeleteExecute": 1, "OnModelDeleteExecute": 1,
	"OnRecordAfterDeleteSuccess": 1, "OnModelAfterDeleteSuccess": 1,
	"OnRecordUpdate": 1, "OnModelUpdate": 1, "OnRecordUpdateExecute": 1, "OnModelUpdateExecute": 1,
	"OnRecordAfterUpdateSuccess": 1, "OnModelAfterUpdateSuccess": 1,
}

// TestPostsAccess covers who may list, view, create, update and delete
// posts: anyone reads; only signed-in users create; only the author (or a
// superuser) updates and deletes, and to anyone else the post is a 404.
func TestPostsAccess(t *testing.T) {
	t.Parallel()
	bikeURL := "/api/collections/posts/records/" + postBike
	scenarios := []tests.ApiScenario{
		// list
		{
			Name:            "guest lists posts",
			Method:          http.MethodGet,
			URL:             "/api/collections/posts/records",
			ExpectedStatus:  200,
			ExpectedContent: []string{`"totalItems":2`, `"id":"` + postBike + `"`, `"id":"` + postLamp + `"`},
		},
		{
			Name:            "alice lists posts",
			Method:          http.MethodGet,
			URL:             "/api/collections/posts/records",
			Headers:         auth(alice),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"totalItems":2`, `"id":"` + postBike + `"`, `"id":"` + postLamp + `"`},
		},
		{
			Name:            "bob lists posts",
			Method:          http.MethodGet,
			URL:             "/api/collections/posts/records",
			Headers:         auth(bob),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"totalItems":2`, `"id":"` + postBike + `"`, `"id":"` + postLamp + `"`},
		},
		{
			Name:            "superuser lists posts",
			Method:          http.MethodGet,
			URL:             "/api/collections/posts/records",
			Headers:         auth("superuser"),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"totalItems":2`},
		},

		// view
		{
			Name:            "guest views the bike",
			Method:          http.MethodGet,
			URL:             bikeURL,
			ExpectedStatus:  200,
			ExpectedContent: []string{`"title":"Bike"`, `"author":"` + alice + `"`, `"price":120`, `"status":"selling"`},
		},
		{
			Name:            "alice views her bike",
			Method:          http.MethodGet,
			URL:             bikeURL,
			Headers:         auth(alice),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"title":"Bike"`},
		},
		{
			Name:            "bob views the bike",
			Method:          http.MethodGet,
			URL:             bikeURL,
			Headers:         auth(bob),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"title":"Bike"`},
		},
		{
			Name:            "superuser views the bike",
			Method:          http.MethodGet,
			URL:             bikeURL,
			Headers:         auth("superuser"),
			ExpectedStatus:  200,
			ExpectedContent: []string{`"title":"Bike"`},
		},
		{
			Name:            "bob views a missing post",
			Method:          http.MethodGet,
			URL:             "/api/collections/posts/records/missingpost0001",
			Headers:         auth(bob),
			ExpectedStatus:  404,
			ExpectedContent: []string{`"status":404`},
		},

		// create
		{
			Name:            "guest creates a post",
			Method:          http.MethodPost,
			URL:             "/api/collections/posts/records",
			Body:            strings.NewReader(`{"title":"Sofa","price":50}`),
			ExpectedStatus:  400,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":400`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				checkCount(tb, app, "posts", 2)
			},
		},
		{
			Name:            "guest creates a post naming an author",
			Method:          http.MethodPost,
			URL:             "/api/collections/posts/records",
			Body:            strings.NewReader(`{"title":"Sofa","price":50,"author":"` + alice + `"}`),
			ExpectedStatus:  400,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":400`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				checkCount(tb, app, "posts", 2)
			},
		},
		{
			Name:            "bob creates a post without an author",
			Method:          http.MethodPost,
			URL:             "/api/collections/posts/records",
			Body:            strings.NewReader(`{"title":"Sofa","price":50}`),
			Headers:         auth(bob),
			ExpectedStatus:  200,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"author":"` + bob + `"`, `"title":"Sofa"`, `"price":50`, `"status":"selling"`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				checkCount(tb, app, "posts", 3)
			},
		},
		{
			Name:            "bob creates a post naming himself",
			Method:          http.MethodPost,
			URL:             "/api/collections/posts/records",
			Body:            strings.NewReader(`{"title":"Sofa","author":"` + bob + `"}`),
			Headers:         auth(bob),
			ExpectedStatus:  200,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"author":"` + bob + `"`},
		},
		{
			Name:            "bob creates a post naming alice as author",
			Method:          http.MethodPost,
			URL:             "/api/collections/posts/records",
			Body:            strings.NewReader(`{"title":"Sofa","author":"` + alice + `"}`),
			Headers:         auth(bob),
			ExpectedStatus:  400,
			ExpectedEvents:  createRefusedEvents,
			ExpectedContent: []string{`"data":{"author":{"code"`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				checkCount(tb, app, "posts", 2)
			},
		},
		{
			Name:            "bob creates a post naming a missing author",
			Method:          http.MethodPost,
			URL:             "/api/collections/posts/records",
			Body:            strings.NewReader(`{"title":"Sofa","author":"nobody000000001"}`),
			Headers:         auth(bob),
			ExpectedStatus:  400,
			ExpectedEvents:  createRefusedEvents,
			ExpectedContent: []string{`"author":{"code"`},
		},
		{
			Name:            "bob creates a post naming two authors",
			Method:          http.MethodPost,
			URL:             "/api/collections/posts/records",
			Body:            strings.NewReader(`{"title":"Sofa","author":["` + bob + `","` + alice + `"]}`),
			Headers:         auth(bob),
			ExpectedStatus:  400,
			ExpectedEvents:  createRefusedEvents,
			ExpectedContent: []string{`"author":{"code"`},
		},
		{
			Name:            "superuser creates a post for carol",
			Method:          http.MethodPost,
			URL:             "/api/collections/posts/records",
			Body:            strings.NewReader(`{"title":"Chair","author":"` + carol + `"}`),
			Headers:         auth("superuser"),
			ExpectedStatus:  200,
			ExpectedEvents:  createdEvents,
			ExpectedContent: []string{`"author":"` + carol + `"`, `"status":"selling"`},
		},

		// update
		{
			Name:            "guest updates the bike",
			Method:          http.MethodPatch,
			URL:             bikeURL,
			Body:            strings.NewReader(`{"title":"Stolen"}`),
			ExpectedStatus:  404,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":404`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				postsField(tb, app, postBike, "title", "Bike")
			},
		},
		{
			Name:            "bob updates alice's bike",
			Method:          http.MethodPatch,
			URL:             bikeURL,
			Body:            strings.NewReader(`{"title":"Stolen"}`),
			Headers:         auth(bob),
			ExpectedStatus:  404,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":404`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				postsField(tb, app, postBike, "title", "Bike")
			},
		},
		{
			Name:            "bob takes over alice's bike",
			Method:          http.MethodPatch,
			URL:             bikeURL,
			Body:            strings.NewReader(`{"author":"` + bob + `"}`),
			Headers:         auth(bob),
			ExpectedStatus:  404,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":404`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				postsField(tb, app, postBike, "author", alice)
			},
		},
		{
			Name:            "alice updates her bike",
			Method:          http.MethodPatch,
			URL:             bikeURL,
			Body:            strings.NewReader(`{"title":"Red bike","status":"reserved"}`),
			Headers:         auth(alice),
			ExpectedStatus:  200,
			ExpectedEvents:  updatedEvents,
			ExpectedContent: []string{`"title":"Red bike"`, `"status":"reserved"`, `"author":"` + alice + `"`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				postsField(tb, app, postBike, "title", "Red bike")
			},
		},
		{
			Name:            "alice resends her own author on update",
			Method:          http.MethodPatch,
			URL:             bikeURL,
			Body:            strings.NewReader(`{"author":"` + alice + `","status":"sold"}`),
			Headers:         auth(alice),
			ExpectedStatus:  200,
			ExpectedEvents:  updatedEvents,
			ExpectedContent: []string{`"status":"sold"`},
		},
		{
			Name:            "alice gives her bike to bob",
			Method:          http.MethodPatch,
			URL:             bikeURL,
			Body:            strings.NewReader(`{"author":"` + bob + `"}`),
			Headers:         auth(alice),
			ExpectedStatus:  400,
			ExpectedEvents:  updateRefusedEvents,
			ExpectedContent: []string{`"data":{"author":{"code"`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				postsField(tb, app, postBike, "author", alice)
			},
		},
		{
			Name:            "alice clears her bike's author",
			Method:          http.MethodPatch,
			URL:             bikeURL,
			Body:            strings.NewReader(`{"author":""}`),
			Headers:         auth(alice),
			ExpectedStatus:  400,
			ExpectedEvents:  updateRefusedEvents,
			ExpectedContent: []string{`"author":{"code"`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				postsField(tb, app, postBike, "author", alice)
			},
		},
		{
			Name:            "superuser updates the bike",
			Method:          http.MethodPatch,
			URL:             bikeURL,
			Body:            strings.NewReader(`{"title":"Moderated"}`),
			Headers:         auth("superuser"),
			ExpectedStatus:  200,
			ExpectedEvents:  updatedEvents,
			ExpectedContent: []string{`"title":"Moderated"`},
		},

		// delete
		{
			Name:            "guest deletes the bike",
			Method:          http.MethodDelete,
			URL:             bikeURL,
			ExpectedStatus:  404,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":404`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				checkExists(tb, app, "posts", postBike, true)
			},
		},
		{
			Name:            "bob deletes alice's bike",
			Method:          http.MethodDelete,
			URL:             bikeURL,
			Headers:         auth(bob),
			ExpectedStatus:  404,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":404`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				checkExists(tb, app, "posts", postBike, true)
			},
		},
		{
			Name:            "carol deletes alice's bike",
			Method:          http.MethodDelete,
			URL:             bikeURL,
			Headers:         auth(carol),
			ExpectedStatus:  404,
			ExpectedEvents:  noEvents,
			ExpectedContent: []string{`"status":404`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				checkExists(tb, app, "posts", postBike, true)
			},
		},
		{
			Name:           "alice deletes her bike and its chat stays",
			Method:         http.MethodDelete,
			URL:            bikeURL,
			Headers:        auth(alice),
			ExpectedStatus: 204,
			ExpectedEvents: postDeletedEvents,
			AfterTestFunc:  postsBikeChatKept,
		},
		{
			Name:           "superuser deletes the bike and its chat stays",
			Method:         http.MethodDelete,
			URL:            bikeURL,
			Headers:        auth("superuser"),
			ExpectedStatus: 204,
			ExpectedEvents: postDeletedEvents,
			AfterTestFunc:  postsBikeChatKept,
		},
	}

	for _, s := range scenarios {
		s.TestAppFactory = newTestApp
		s.Test(t)
	}
}

// postsBikeChatKept checks the state after postBike was deleted: the post is
// gone, roomBike remains with an empty post and both of its messages.
func postsBikeChatKept(tb testing.TB, app *tests.TestApp, _ *http.Response) {
	tb.Helper()
	checkExists(tb, app, "posts", postBike, false)
	room, err := app.FindRecordById("rooms", roomBike)
	if err != nil {
		tb.Fatalf("FindRecordById(%q, %q) error = %v; want the room kept", "rooms", roomBike, err)
	}
	if got := room.GetString("post"); got != "" {
		tb.Errorf("room %q post = %q; want %q", roomBike, got, "")
	}
	if got := room.GetStringSlice("participants"); len(got) != 2 {
		tb.Errorf("room %q participants = %v; want [%s %s]", roomBike, got, alice, bob)
	}
	for _, id := range []string{msgBobHello, msgAliceHi} {
		checkExists(tb, app, "messages", id, true)
	}
}

// TestPostsFields covers the field rules of posts: title (required, 1–100
// characters after trimming), body (up to 5,000), price (an integer, 0 or
// more), status (selling by default, reserved, sold).
func TestPostsFields(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		body map[string]any
		// named is the field the 400 must name; "" means the post is created.
		named string
		// want is content the 200 answer must carry.
		want []string
	}{
		{name: "with a title in spaces", body: map[string]any{"title": "  Sofa  "}, want: []string{`"title":"Sofa"`}},
		{name: "without a title", body: map[string]any{"price": 5}, named: "title"},
		{name: "with an empty title", body: map[string]any{"title": ""}, named: "title"},
		{name: "with a whitespace-only title", body: map[string]any{"title": " \t\n "}, named: "title"},
		{name: "with a 1-character title", body: map[string]any{"title": "X"}, want: []string{`"title":"X"`}},
		{name: "with a 100-character title", body: map[string]any{"title": strings.Repeat("t", 100)}, want: []string{`"title":"` + strings.Repeat("t", 100) + `"`}},
		{name: "with a 100-character title in spaces", body: map[string]any{"title": "  " + strings.Repeat("t", 100) + "  "}, want: []string{`"title":"` + strings.Repeat("t", 100) + `"`}},
		{name: "with a 101-character title", body: map[string]any{"title": strings.Repeat("t", 101)}, named: "title"},
		{name: "with a 5000-character body", body: map[string]any{"title": "Sofa", "body": strings.Repeat("b", 5000)}, want: []string{`"body":"bbbb`}},
		{name: "with a 5001-character body", body: map[string]any{"title": "Sofa", "body": strings.Repeat("b", 5001)}, named: "body"},
		{name: "with a price of 0", body: map[string]any{"title": "Sofa", "price": 0}, want: []string{`"price":0`}},
		{name: "with a negative price", body: map[string]any{"title": "Sofa", "price": -1}, named: "price"},
		{name: "with a price of 1.5", body: map[string]any{"title": "Sofa", "price": 1.5}, named: "price"},
		{name: "without a status", body: map[string]any{"title": "Sofa"}, want: []string{`"status":"selling"`}},
		{name: "with status reserved", body: map[string]any{"title": "Sofa", "status": "reserved"}, want: []string{`"status":"reserved"`}},
		{name: "with status sold", body: map[string]any{"title": "Sofa", "status": "sold"}, want: []string{`"status":"sold"`}},
		{name: "with status bogus", body: map[string]any{"title": "Sofa", "status": "bogus"}, named: "status"},
	}

	for _, c := range cases {
		s := tests.ApiScenario{
			Name:           "bob creates a post " + c.name,
			Method:         http.MethodPost,
			URL:            "/api/collections/posts/records",
			Body:           jsonBody(t, c.body),
			Headers:        auth(bob),
			TestAppFactory: newTestApp,
		}
		if c.named == "" {
			s.ExpectedStatus = 200
			s.ExpectedEvents = createdEvents
			s.ExpectedContent = append([]string{`"author":"` + bob + `"`}, c.want...)
		} else {
			s.ExpectedStatus = 400
			s.ExpectedEvents = createInvalidEvents
			s.ExpectedContent = []string{`"` + c.named + `":{"code"`}
			s.AfterTestFunc = func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				checkCount(tb, app, "posts", 2)
			}
		}
		s.Test(t)
	}

	// The same rules hold when the author edits.
	updates := []struct {
		name  string
		body  map[string]any
		named string
	}{
		{name: "to a whitespace-only title", body: map[string]any{"title": "   "}, named: "title"},
		{name: "to a 101-character title", body: map[string]any{"title": strings.Repeat("t", 101)}, named: "title"},
		{name: "to a 5001-character body", body: map[string]any{"body": strings.Repeat("b", 5001)}, named: "body"},
		{name: "to a negative price", body: map[string]any{"price": -5}, named: "price"},
		{name: "to a price of 1.5", body: map[string]any{"price": 1.5}, named: "price"},
		{name: "to status bogus", body: map[string]any{"status": "bogus"}, named: "status"},
		{name: "to an empty status", body: map[string]any{"status": ""}, named: "status"},
	}
	for _, u := range updates {
		s := tests.ApiScenario{
			Name:            "alice updates her bike " + u.name,
			Method:          http.MethodPatch,
			URL:             "/api/collections/posts/records/" + postBike,
			Body:            jsonBody(t, u.body),
			Headers:         auth(alice),
			TestAppFactory:  newTestApp,
			ExpectedStatus:  400,
			ExpectedEvents:  updateInvalidEvents,
			ExpectedContent: []string{`"` + u.named + `":{"code"`},
			AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
				postsField(tb, app, postBike, "title", "Bike")
			},
		}
		s.Test(t)
	}

	trimmed := tests.ApiScenario{
		Name:            "alice updates her bike to a title in spaces",
		Method:          http.MethodPatch,
		URL:             "/api/collections/posts/records/" + postBike,
		Body:            strings.NewReader(`{"title":"  Blue bike  "}`),
		Headers:         auth(alice),
		TestAppFactory:  newTestApp,
		ExpectedStatus:  200,
		ExpectedEvents:  updatedEvents,
		ExpectedContent: []string{`"title":"Blue bike"`},
		AfterTestFunc: func(tb testing.TB, app *tests.TestApp, _ *http.Response) {
			postsField(tb, app, postBike, "title", "Blue bike")
		},
	}
	trimmed.Test(t)
}

// TestPostsImages covers "images": up to 5 images (jpeg, png, webp, gif),
// 5 MB each, sent as multipart, and a user's one "avatar" image.
func TestPostsImages(t *testing.T) {
	t.Parallel()
	pngFile := tinyPNG(t)
	// Still a PNG by its signature, one byte over the 5 MB limit.
	bigPNG := append(append([]byte{}, pngFile...), make([]byte, 5<<20+1-len(pngFile))...)
	newPost := map[string]string{"title": "Photo post"}

	cases := []struct {
		name   string
		actor  string
		method string
		url    string
		fields map[string]string
		files  []upload
		status int
		events map[string]int
		want   []string
	}{
		{
			name: "bob creates a post with one image", actor: bob, method: http.MethodPost,
			url: "/api/collections/posts/records", fields: newPost, files: pngUploads(t, "images", 1),
			status: 200, events: createdEvents, want: []string{`"images":["photo_`, `.png"]`, `"author":"` + bob + `"`},
		},
		{
			name: "bob creates a post with five images", actor: bob, method: http.MethodPost,
			url: "/api/collections/posts/records", fields: newPost, files: pngUploads(t, "images", 5),
			status: 200, events: createdEvents, want: []string{`"images":["photo_`},
		},
		{
			name: "bob creates a post with six images", actor: bob, method: http.MethodPost,
			url: "/api/collections/posts/records", fields: newPost, files: pngUploads(t, "images", 6),
			status: 400, events: createInvalidEvents, want: []string{`"images":{"code"`},
		},
		{
			name: "bob creates a post with a text file as image", actor: bob, method: http.MethodPost,
			url: "/api/collections/posts/records", fields: newPost,
			files:  []upload{{field: "images", filename: "notes.txt", content: []byte("just some text")}},
			status: 400, events: createInvalidEvents, want: []string{`"images":{"code"`},
		},
		{
			name: "bob creates a post with a text file named .png", actor: bob, method: http.MethodPost,
			url: "/api/collections/posts/records", fields: newPost,
			files:  []upload{{field: "images", filename: "fake.png", content: []byte("just some text")}},
			status: 400, events: createInvalidEvents, want: []string{`"images":{"code"`},
		},
		{
			name: "bob creates a post with an image over 5 MB", actor: bob, method: http.MethodPost,
			url: "/api/collections/posts/records", fields: newPost,
			files:  []upload{{field: "images", filename: "big.png", content: bigPNG}},
			status: 400, events: createInvalidEvents, want: []string{`"images":{"code"`},
		},
		{
			name: "guest creates a post with an image", actor: "", method: http.MethodPost,
			url: "/api/collections/posts/records", fields: newPost, files: pngUploads(t, "images", 1),
			status: 400, events: noEvents, want: []string{`"status":400`},
		},
		{
			name: "alice adds an image to her bike", actor: alice, method: http.MethodPatch,
			url: "/api/collections/posts/records/" + postBike, files: pngUploads(t, "images", 1),
			status: 200, events: updatedEvents, want: []string{`"images":["photo_`},
		},
		{
			name: "bob adds an image to alice's bike", actor: bob, method: http.MethodPatch,
			url: "/api/collections/posts/records/" + postBike, files: pngUploads(t, "images", 1),
			status: 404, events: noEvents, want: []string{`"status":404`},
		},
		{
			name: "alice sets her avatar", actor: alice, method: http.MethodPatch,
			url: "/api/collections/users/records/" + alice, files: pngUploads(t, "avatar", 1),
			status: 200, events: updatedEvents, want: []string{`"avatar":"photo_`},
		},
		{
			name: "alice sets a text file as avatar", actor: alice, method: http.MethodPatch,
			url:    "/api/collections/users/records/" + alice,
			files:  []upload{{field: "avatar", filename: "notes.txt", content: []byte("just some text")}},
			status: 400, events: updateInvalidEvents, want: []string{`"avatar":{"code"`},
		},
		{
			name: "bob sets alice's avatar", actor: bob, method: http.MethodPatch,
			url: "/api/collections/users/records/" + alice, files: pngUploads(t, "avatar", 1),
			status: 404, events: noEvents, want: []string{`"status":404`},
		},
	}

	for _, c := range cases {
		body, headers := multipartForm(t, c.actor, c.fields, c.files...)
		s := tests.ApiScenario{
			Name:            c.name,
			Method:          c.method,
			URL:             c.url,
			Body:            body,
			Headers:         headers,
			TestAppFactory:  newTestApp,
			ExpectedStatus:  c.status,
			ExpectedEvents:  c.events,
			ExpectedContent: c.want,
		}
		s.Test(t)
	}
}
