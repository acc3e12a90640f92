package hooks_test

// Budgets (contract v2.0): images over 40 megapixels are refused (400
// naming the field; budgets_images_test.go), a user's uploads are limited
// per 24 hours (429 naming the field) and so are their posts per hour
// (429). Every refusal leaves the database and the file storage as they
// were.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/marketchat/marketchat/hooks"
)

const (
	budgetsPostsURL    = "/api/collections/posts/records"
	budgetsMessagesURL = "/api/collections/messages/records"
	budgetsUsersURL    = "/api/collections/users/records"
	budgetsKB          = 1 << 10
	budgetsMB          = 1 << 20
)

// budgetsSized returns a 1 × 1 PNG padded to size bytes (PocketBase and
// the header check read only its start).
func budgetsSized(tb testing.TB, size int) []byte {
	tb.Helper()
	img := tinyPNG(tb)
	return append(img, make([]byte, size-len(img))...)
}

// budgetsRefused is badInputRefused (PocketBase's error JSON, nothing
// stored) that also requires the uploads record unchanged. The row's own
// BeforeTestFunc, if any, prepares the state first.
func budgetsRefused(s tests.ApiScenario) tests.ApiScenario {
	prepare := s.BeforeTestFunc
	s = badInputRefused(s)
	checkBefore, checkAfter := s.BeforeTestFunc, s.AfterTestFunc
	var uploads int
	s.BeforeTestFunc = func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
		if prepare != nil {
			prepare(tb, app, e)
		}
		checkBefore(tb, app, e)
		uploads = countRecords(tb, app, "uploads")
	}
	s.AfterTestFunc = func(tb testing.TB, app *tests.TestApp, res *http.Response) {
		checkAfter(tb, app, res)
		if got := countRecords(tb, app, "uploads"); got != uploads {
			tb.Errorf("uploads rows after the refusal = %d; want %d", got, uploads)
		}
	}
	return s
}

// budgetsSetUploadMB sets the admin's upload_mb_per_day as the dashboard
// would: on the seeded budgets record.
func budgetsSetUploadMB(tb testing.TB, app core.App, mb int) {
	tb.Helper()
	settings, err := app.FindFirstRecordByFilter("budgets", "")
	if err != nil {
		tb.Fatalf("find the budgets record: %v", err)
	}
	settings.Set("upload_mb_per_day", mb)
	if err := app.Save(settings); err != nil {
		tb.Fatalf("save upload_mb_per_day = %d: %v", mb, err)
	}
}

// budgetsSeedUpload records that userID uploaded size bytes age ago.
func budgetsSeedUpload(tb testing.TB, app core.App, userID string, size int, age time.Duration) {
	tb.Helper()
	_, err := app.DB().Insert("uploads", dbx.Params{
		"id": core.GenerateDefaultRandomId(), "user": userID, "collection": "posts", "record": "seeded",
		"bytes": size, "created": types.NowDateTime().Add(-age).String(),
	}).Execute()
	if err != nil {
		tb.Fatalf("seed an upload of %d bytes by %q: %v", size, userID, err)
	}
}

// budgetsCheckUploaded returns an AfterTestFunc checking that the answered
// record was charged to userID with size bytes, in exactly one row.
func budgetsCheckUploaded(userID string, size int) func(testing.TB, *tests.TestApp, *http.Response) {
	return func(tb testing.TB, app *tests.TestApp, res *http.Response) {
		tb.Helper()
		var answer struct {
			ID             string `json:"id"`
			CollectionName string `json:"collectionName"`
		}
		if err := json.NewDecoder(res.Body).Decode(&answer); err != nil {
			tb.Fatalf("decode the answer: %v", err)
		}
		if userID == "" { // a sign-up: the new account pays
			userID = answer.ID
		}
		rows, err := app.FindAllRecords("uploads", dbx.HashExp{"record": answer.ID})
		if err != nil {
			tb.Fatalf("find uploads of %q: %v", answer.ID, err)
		}
		if len(rows) != 1 {
			tb.Fatalf("uploads rows of %s %q = %d; want 1", answer.CollectionName, answer.ID, len(rows))
		}
		row := rows[0]
		if got := row.GetString("user"); got != userID {
			tb.Errorf("upload of %q charged to %q; want %q", answer.ID, got, userID)
		}
		if got := row.GetString("collection"); got != answer.CollectionName {
			tb.Errorf("upload of %q collection = %q; want %q", answer.ID, got, answer.CollectionName)
		}
		if got := row.GetInt("bytes"); got != size {
			tb.Errorf("upload of %q bytes = %d; want %d", answer.ID, got, size)
		}
	}
}

// budgetsCheckNotCharged is an AfterTestFunc for an upload nobody pays
// for (a superuser's): no uploads row.
func budgetsCheckNotCharged(tb testing.TB, app *tests.TestApp, _ *http.Response) {
	tb.Helper()
	checkCount(tb, app, "uploads", 0)
}

// TestBudgetsUploads: with the admin's budget at 1 MB, an upload that
// would take a user past it gets 429 naming the field (posts, avatars,
// attachments, create and update) and stores nothing; other users,
// uploads older than 24 hours and superusers are not counted; accepted
// uploads are recorded for the user who sent them.
func TestBudgetsUploads(t *testing.T) {
	t.Parallel()
	const size = 200 * budgetsKB
	photo := budgetsSized(t, size)
	oneMB := func(tb testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
		budgetsSetUploadMB(tb, app, 1)
	}
	spent := func(userID string, used int, age time.Duration) func(testing.TB, *tests.TestApp, *core.ServeEvent) {
		return func(tb testing.TB, app *tests.TestApp, e *core.ServeEvent) {
			oneMB(tb, app, e)
			budgetsSeedUpload(tb, app, userID, used, age)
		}
	}
	overBudget := func(field string) []string {
		return badInputNaming(http.StatusTooManyRequests, field, "validation_upload_budget_exceeded")
	}
	newPost := map[string]string{"title": "Photo post"}

	type row struct {
		name, actor, method, url string
		fields                   map[string]string
		files                    []upload
		before                   func(testing.TB, *tests.TestApp, *core.ServeEvent)
		want                     []string
		after                    func(testing.TB, *tests.TestApp, *http.Response)
	}
	refused := []row{
		{
			name: "bob, 900 KB used today, creates a post with a 200 KB image", actor: bob, method: http.MethodPost, url: budgetsPostsURL,
			fields: newPost, files: []upload{{"images", "photo.png", photo}},
			before: spent(bob, 900*budgetsKB, time.Hour), want: overBudget("images"),
		},
		{
			name: "alice, 900 KB used today, adds a 200 KB image to her bike", actor: alice, method: http.MethodPatch, url: budgetsPostsURL + "/" + postBike,
			files:  []upload{{"images", "photo.png", photo}},
			before: spent(alice, 900*budgetsKB, time.Hour), want: overBudget("images"),
		},
		{
			name: "bob, 900 KB used today, sets a 200 KB avatar", actor: bob, method: http.MethodPatch, url: budgetsUsersURL + "/" + bob,
			files:  []upload{{"avatar", "me.png", photo}},
			before: spent(bob, 900*budgetsKB, time.Hour), want: overBudget("avatar"),
		},
		{
			name: "bob, 900 KB used today, sends a 200 KB attachment", actor: bob, method: http.MethodPost, url: budgetsMessagesURL,
			fields: map[string]string{"room": roomBike}, files: []upload{{"attachments", "photo.png", photo}},
			before: spent(bob, 900*budgetsKB, time.Hour), want: overBudget("attachments"),
		},
		{
			name: "bob, nothing used, creates a post with five 220 KB images (1,100 KB)", actor: bob, method: http.MethodPost, url: budgetsPostsURL,
			fields: newPost, files: func() []upload {
				files := make([]upload, 5)
				for i := range files {
					files[i] = upload{"images", "photo.png", budgetsSized(t, 220*budgetsKB)}
				}
				return files
			}(),
			before: oneMB, want: overBudget("images"),
		},
		{
			name: "bob, with the seeded 100 MB budget and 99.9 MB used today, creates a post with a 200 KB image", actor: bob, method: http.MethodPost, url: budgetsPostsURL,
			fields: newPost, files: []upload{{"images", "photo.png", photo}},
			before: func(tb testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
				budgetsSeedUpload(tb, app, bob, hooks.DefaultUploadMBPerDay*budgetsMB-100*budgetsKB, time.Hour)
			},
			want: overBudget("images"),
		},
	}
	for _, r := range refused {
		body, headers := multipartForm(t, r.actor, r.fields, r.files...)
		s := budgetsRefused(tests.ApiScenario{
			Name: r.name, Method: r.method, URL: r.url, Body: body, Headers: headers, BeforeTestFunc: r.before,
			ExpectedStatus: http.StatusTooManyRequests, ExpectedContent: r.want,
			// The budget is counted inside the save's transaction.
			ExpectedEvents: createOrUpdate(r.method, createFailedEvents, updateFailedEvents),
		})
		s.Test(t)
	}

	accepted := []row{
		{
			name: "carol, while bob has used 900 KB, creates a post with a 200 KB image", actor: carol, method: http.MethodPost, url: budgetsPostsURL,
			fields: newPost, files: []upload{{"images", "photo.png", photo}},
			before: spent(bob, 900*budgetsKB, time.Hour), after: budgetsCheckUploaded(carol, size),
		},
		{
			name: "bob, whose 900 KB were uploaded 25 hours ago, creates a post with a 200 KB image", actor: bob, method: http.MethodPost, url: budgetsPostsURL,
			fields: newPost, files: []upload{{"images", "photo.png", photo}},
			before: spent(bob, 900*budgetsKB, 25*time.Hour), after: budgetsCheckUploaded(bob, size),
		},
		{
			name: "bob, 824 KB used today, creates a post with a 200 KB image (exactly 1 MB)", actor: bob, method: http.MethodPost, url: budgetsPostsURL,
			fields: newPost, files: []upload{{"images", "photo.png", photo}},
			before: spent(bob, budgetsMB-size, time.Hour), after: budgetsCheckUploaded(bob, size),
		},
		{
			name: "bob, 900 KB used today, sends a text message", actor: bob, method: http.MethodPost, url: budgetsMessagesURL,
			fields: map[string]string{"room": roomBike, "text": "no photo"},
			before: spent(bob, 900*budgetsKB, time.Hour),
		},
		{
			name: "bob, with the seeded 100 MB budget and 99 MB used today, creates a post with a 200 KB image", actor: bob, method: http.MethodPost, url: budgetsPostsURL,
			fields: newPost, files: []upload{{"images", "photo.png", photo}},
			before: func(tb testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
				budgetsSeedUpload(tb, app, bob, (hooks.DefaultUploadMBPerDay-1)*budgetsMB, time.Hour)
			},
			after: budgetsCheckUploaded(bob, size),
		},
		{
			name: "bob sends a 200 KB attachment", actor: bob, method: http.MethodPost, url: budgetsMessagesURL,
			fields: map[string]string{"room": roomBike}, files: []upload{{"attachments", "photo.png", photo}},
			before: oneMB, after: budgetsCheckUploaded(bob, size),
		},
		{
			name: "dave sets a 200 KB avatar", actor: dave, method: http.MethodPatch, url: budgetsUsersURL + "/" + dave,
			files:  []upload{{"avatar", "me.png", photo}},
			before: oneMB, after: budgetsCheckUploaded(dave, size),
		},
		{
			name: "guest signs up with a 200 KB avatar", actor: "", method: http.MethodPost, url: budgetsUsersURL,
			fields: map[string]string{"email": "new@example.com", "password": password, "passwordConfirm": password},
			files:  []upload{{"avatar", "me.png", photo}},
			before: oneMB, after: budgetsCheckUploaded("", size),
		},
		{
			name: "superuser, while bob has used 1 MB, creates a post for bob with a 200 KB image", actor: "superuser", method: http.MethodPost, url: budgetsPostsURL,
			fields: map[string]string{"title": "Photo post", "author": bob}, files: []upload{{"images", "photo.png", photo}},
			before: oneMB, after: budgetsCheckNotCharged,
		},
	}
	for _, r := range accepted {
		body, headers := multipartForm(t, r.actor, r.fields, r.files...)
		s := tests.ApiScenario{
			Name: r.name, Method: r.method, URL: r.url, Body: body, Headers: headers, BeforeTestFunc: r.before,
			ExpectedStatus: http.StatusOK, ExpectedContent: []string{`"id":"`}, AfterTestFunc: r.after,
			ExpectedEvents: createOrUpdate(r.method, createdEvents, updatedEvents),
			TestAppFactory: newTestApp,
		}
		s.Test(t)
	}
}

// TestBudgetsUploadsAddUp: a post image, an avatar and an attachment draw
// on one budget through the API; the record of them outlives the process
// (a new app on a copy of the data dir still refuses).
func TestBudgetsUploadsAddUp(t *testing.T) {
	t.Parallel()
	app := newTestApp(t)
	budgetsSetUploadMB(t, app, 1)
	srv := serveTestApp(t, app)
	half := budgetsSized(t, budgetsMB/2)

	steps := []struct {
		name, method, url string
		fields            map[string]string
		file              upload
		want              int
	}{
		{"a post with a 512 KB image", http.MethodPost, budgetsPostsURL, map[string]string{"title": "Half"}, upload{"images", "half.png", half}, http.StatusOK},
		{"a 512 KB avatar (1 MB in all)", http.MethodPatch, budgetsUsersURL + "/" + bob, nil, upload{"avatar", "half.png", half}, http.StatusOK},
		{"a 1×1 attachment", http.MethodPost, budgetsMessagesURL, map[string]string{"room": roomBike}, upload{"attachments", "tiny.png", tinyPNG(t)}, http.StatusTooManyRequests},
	}
	for _, s := range steps {
		body, headers := multipartForm(t, bob, s.fields, s.file)
		status, answer, err := sendRequest(srv, s.method, s.url, bytes.NewReader(body.Bytes()), headers)
		if err != nil {
			t.Fatal(err)
		}
		if status != s.want {
			t.Fatalf("bob sends %s = %d %s; want %d", s.name, status, answer, s.want)
		}
	}
	checkCount(t, app, "uploads", 2)

	// A new process on the same data: the budget is still spent.
	restarted, err := tests.NewTestApp(app.DataDir())
	if err != nil {
		t.Fatalf("tests.NewTestApp(copy of the data) error = %v", err)
	}
	t.Cleanup(restarted.Cleanup)
	if err := hooks.Register(restarted, hooks.Config{}); err != nil {
		t.Fatalf("hooks.Register() error = %v", err)
	}
	body, headers := multipartForm(t, bob, map[string]string{"room": roomBike}, upload{"attachments", "tiny.png", tinyPNG(t)})
	status, answer, err := sendRequest(serveTestApp(t, restarted), http.MethodPost, budgetsMessagesURL, bytes.NewReader(body.Bytes()), headers)
	if err != nil {
		t.Fatal(err)
	}
	if status != http.StatusTooManyRequests || !strings.Contains(string(answer), `"attachments":{"code":"validation_upload_budget_exceeded"`) {
		t.Errorf("after the restart bob sends a 1×1 attachment = %d %s; want 429 naming attachments", status, answer)
	}
}

// TestBudgetsUploadsConcurrent: eight simultaneous 300 KB posts by one
// user under a 1 MB budget store exactly three.
func TestBudgetsUploadsConcurrent(t *testing.T) {
	t.Parallel()
	const sends, size = 8, 300 * budgetsKB
	app := newTestApp(t)
	budgetsSetUploadMB(t, app, 1)
	srv := serveTestApp(t, app)
	body, headers := multipartForm(t, bob, map[string]string{"title": "Race"}, upload{"images", "photo.png", budgetsSized(t, size)})

	statuses := budgetsConcurrently(t, sends, func() (int, []byte, error) {
		return sendRequest(srv, http.MethodPost, budgetsPostsURL, bytes.NewReader(body.Bytes()), headers)
	})
	fit := budgetsMB / size
	want := map[int]int{http.StatusOK: fit, http.StatusTooManyRequests: sends - fit}
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("statuses of %d simultaneous uploads = %v; want %v", sends, statuses, want)
	}
	var used int
	if err := app.DB().NewQuery("SELECT CAST(SUM(bytes) AS INTEGER) FROM uploads WHERE user = {:user}").Bind(dbx.Params{"user": bob}).Row(&used); err != nil {
		t.Fatal(err)
	}
	if used != fit*size {
		t.Errorf("bob's recorded uploads = %d bytes; want %d", used, fit*size)
	}
	checkCount(t, app, "posts", fit, dbx.HashExp{"author": bob})
}

// budgetsConcurrently runs send n times at once and counts the statuses.
func budgetsConcurrently(tb testing.TB, n int, send func() (int, []byte, error)) map[int]int {
	tb.Helper()
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		wg       sync.WaitGroup
		start    = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			status, _, err := send()
			if err != nil {
				tb.Error(err)
				return
			}
			mu.Lock()
			statuses[status]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return statuses
}

// budgetsSeedPosts stores n posts by userID created age ago, with ids
// "budgetpost00000", "budgetpost00001", ...
func budgetsSeedPosts(tb testing.TB, app core.App, userID string, n int, age time.Duration) {
	tb.Helper()
	for i := range n {
		id := fmt.Sprintf("budgetpost%05d", i)
		if err := saveRecord(app, "posts", id, map[string]any{"title": "Seeded", "author": userID}); err != nil {
			tb.Fatal(err)
		}
	}
	_, err := app.DB().NewQuery("UPDATE posts SET created = {:at} WHERE id LIKE 'budgetpost%'").
		Bind(dbx.Params{"at": types.NowDateTime().Add(-age).String()}).Execute()
	if err != nil {
		tb.Fatalf("move the seeded posts back %v: %v", age, err)
	}
}

// TestBudgetsPostsPerHour: a user with 20 posts created in the last hour
// gets 429 for the next one and nothing is stored; posts older than an
// hour, other users' posts and superusers' creates are not limited, nor
// are edits.
func TestBudgetsPostsPerHour(t *testing.T) {
	t.Parallel()
	posted := func(n int, age time.Duration) func(testing.TB, *tests.TestApp, *core.ServeEvent) {
		return func(tb testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
			budgetsSeedPosts(tb, app, bob, n, age)
		}
	}
	full := posted(hooks.MaxPostsPerWindow, 30*time.Minute)

	withImage, imageHeaders := multipartForm(t, bob, map[string]string{"title": "One more"}, upload{"images", "photo.png", tinyPNG(t)})
	refused := []tests.ApiScenario{
		{
			Name: "bob, 20 posts in the last hour, creates one", Method: http.MethodPost, URL: budgetsPostsURL,
			Body: strings.NewReader(`{"title":"One more"}`), Headers: auth(bob), BeforeTestFunc: full,
		},
		{
			Name: "bob, 20 posts in the last hour, creates one with an image", Method: http.MethodPost, URL: budgetsPostsURL,
			Body: withImage, Headers: imageHeaders, BeforeTestFunc: full,
		},
	}
	for _, s := range refused {
		s.ExpectedStatus = http.StatusTooManyRequests
		s.ExpectedEvents = createFailedEvents // counted inside the insert's transaction
		s.ExpectedContent = []string{`"status":429`, fmt.Sprintf(`at most %d posts per hour`, hooks.MaxPostsPerWindow)}
		s = budgetsRefused(s)
		s.Test(t)
	}

	accepted := []tests.ApiScenario{
		{
			Name: "bob, 19 posts in the last hour, creates one", Method: http.MethodPost, URL: budgetsPostsURL,
			Body: strings.NewReader(`{"title":"One more"}`), Headers: auth(bob), BeforeTestFunc: posted(hooks.MaxPostsPerWindow-1, 30*time.Minute),
		},
		{
			Name: "bob, 20 posts 61 minutes ago, creates one", Method: http.MethodPost, URL: budgetsPostsURL,
			Body: strings.NewReader(`{"title":"One more"}`), Headers: auth(bob), BeforeTestFunc: posted(hooks.MaxPostsPerWindow, 61*time.Minute),
		},
		{
			Name: "carol, while bob has 20 posts in the last hour, creates one", Method: http.MethodPost, URL: budgetsPostsURL,
			Body: strings.NewReader(`{"title":"One more"}`), Headers: auth(carol), BeforeTestFunc: full,
		},
		{
			Name: "superuser creates a post for bob, who has 20 in the last hour", Method: http.MethodPost, URL: budgetsPostsURL,
			Body: strings.NewReader(`{"title":"One more","author":"` + bob + `"}`), Headers: auth("superuser"), BeforeTestFunc: full,
		},
		{
			Name: "bob, 20 posts in the last hour, edits one", Method: http.MethodPatch, URL: budgetsPostsURL + "/budgetpost00000",
			Body: strings.NewReader(`{"title":"Edited"}`), Headers: auth(bob), BeforeTestFunc: full,
		},
	}
	for _, s := range accepted {
		s.ExpectedStatus = http.StatusOK
		s.ExpectedEvents = createOrUpdate(s.Method, createdEvents, updatedEvents)
		s.ExpectedContent = []string{`"title":"`}
		s.TestAppFactory = newTestApp
		s.Test(t)
	}
}

// TestBudgetsPostsConcurrent: thirty simultaneous creates by one user store
// exactly 20 posts and answer 429 for the rest.
func TestBudgetsPostsConcurrent(t *testing.T) {
	t.Parallel()
	const sends = 30
	app := newTestApp(t)
	srv := serveTestApp(t, app)

	statuses := budgetsConcurrently(t, sends, func() (int, []byte, error) {
		return sendJSON(srv, http.MethodPost, budgetsPostsURL, tokens[dave], `{"title":"Race"}`)
	})
	want := map[int]int{http.StatusOK: hooks.MaxPostsPerWindow, http.StatusTooManyRequests: sends - hooks.MaxPostsPerWindow}
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Errorf("statuses of %d simultaneous creates = %v; want %v", sends, statuses, want)
	}
	checkCount(t, app, "posts", hooks.MaxPostsPerWindow, dbx.HashExp{"author": dave})
}

// TestBudgetsCollectionsAreForSuperusers: the budgets setting and the
// uploads record are hidden from users; a superuser reads and edits them.
func TestBudgetsCollectionsAreForSuperusers(t *testing.T) {
	t.Parallel()
	// Every test app is a copy of one template: the seeded record's id is
	// the same in all of them.
	settings, err := newTestApp(t).FindFirstRecordByFilter("budgets", "")
	if err != nil {
		t.Fatalf("find the budgets record: %v", err)
	}
	settingsID := settings.Id
	scenarios := []tests.ApiScenario{
		{Name: "guest lists budgets", Method: http.MethodGet, URL: "/api/collections/budgets/records", ExpectedStatus: 403, ExpectedContent: []string{`"status":403`}},
		{Name: "alice lists budgets", Method: http.MethodGet, URL: "/api/collections/budgets/records", Headers: auth(alice), ExpectedStatus: 403, ExpectedContent: []string{`"status":403`}},
		{Name: "alice lists uploads", Method: http.MethodGet, URL: "/api/collections/uploads/records", Headers: auth(alice), ExpectedStatus: 403, ExpectedContent: []string{`"status":403`}},
		{
			Name: "alice filters users through her uploads", Method: http.MethodGet, URL: "/api/collections/users/records?" + roomsFilter(`uploads_via_user.bytes > 0`),
			Headers: auth(alice), ExpectedStatus: 400, ExpectedContent: []string{`"status":400`},
			BeforeTestFunc: func(tb testing.TB, app *tests.TestApp, _ *core.ServeEvent) {
				budgetsSeedUpload(tb, app, alice, 1, time.Minute)
			},
		},
		{
			Name: "superuser lists budgets", Method: http.MethodGet, URL: "/api/collections/budgets/records", Headers: auth("superuser"),
			ExpectedStatus: 200, ExpectedContent: []string{`"totalItems":1`, fmt.Sprintf(`"upload_mb_per_day":%d`, hooks.DefaultUploadMBPerDay)},
		},
		{
			Name: "superuser sets upload_mb_per_day to 0", Method: http.MethodPatch, URL: "/api/collections/budgets/records/" + settingsID,
			Headers: auth("superuser"), Body: strings.NewReader(`{"upload_mb_per_day":0}`),
			ExpectedStatus: 400, ExpectedContent: []string{`"upload_mb_per_day":{"code"`},
			ExpectedEvents: updateInvalidEvents,
		},
		{Name: "superuser lists uploads", Method: http.MethodGet, URL: "/api/collections/uploads/records", Headers: auth("superuser"), ExpectedStatus: 200, ExpectedContent: []string{`"totalItems":0`}},
	}
	for _, s := range scenarios {
		s.TestAppFactory = newTestApp
		s.Test(t)
	}
}
