package hooks_test

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/marketchat/marketchat/hooks"
)

// storageShortage is a way to take the app's storage away and give it
// back, with the answer a write gets meanwhile.
type storageShortage struct {
	name string
	// newApp makes the test app on storage that fill can take away.
	newApp func(t *testing.T) *tests.TestApp
	// fill takes the space away until free, or the end of the test.
	fill func(t *testing.T)
	free func(t *testing.T)
	// message is what a write answers while the space is gone: SQLite
	// reports ENOSPC as SQLITE_FULL, but a file-size limit (EFBIG) as a
	// plain write error.
	message string
}

// TestStorageFullAnswers503 takes the data dir's space away and checks:
// a message send, a post and a sign-up answer 503 with a retryable
// message and Retry-After, nothing of them is stored; reads answer 200;
// when space returns the same message (same id) is stored without a
// restart, and what was stored before is all there.
//
// The space goes away on a small tmpfs filled by a file (needs root or
// CAP_SYS_ADMIN; the disk-full case). Where mounting is refused, a
// file-size limit (RLIMIT_FSIZE) on the test process stands in: any user
// can set and lift it. It is only the fallback because while it holds,
// go test's own log of the run cannot be written either, which fails the
// package (seen in CI); the quota errors it produces are also covered by
// TestStorageErrorsMiddleware.
func TestStorageFullAnswers503(t *testing.T) {
	// Not parallel: it sets TMPDIR, or the file-size limit of the whole process.
	var shortages []storageShortage
	if tmpfs, err := storageTmpfs(t); err != nil {
		t.Logf("tmpfs unavailable (%v): testing with the file-size limit", err)
		shortages = append(shortages, storageFileSizeLimit())
	} else {
		shortages = append(shortages, tmpfs)
	}
	for _, shortage := range shortages {
		t.Run(shortage.name, func(t *testing.T) { testStorageShortage(t, shortage) })
	}
}

func testStorageShortage(t *testing.T, shortage storageShortage) {
	app := shortage.newApp(t)
	srv := serveTestApp(t, app)
	const (
		before  = "storagebefore01"
		blocked = "storageblocked1"
	)
	beforeMsg := `{"id":"` + before + `","room":"` + roomBike + `","text":"before"}`
	blockedMsg := `{"id":"` + blocked + `","room":"` + roomBike + `","text":"while full"}`
	roomMessages := "/api/collections/messages/records?sort=created&filter=" + url.QueryEscape(`room="`+roomBike+`"`)
	unavailable := []string{`"status":503`, `"message":"` + shortage.message + `"`}

	steps := []struct {
		action           string // "fill" or "free" before the request
		name             string
		method, path, as string
		body             string
		status           int
		contains, absent []string
	}{
		{"", "a message with space", http.MethodPost, "/api/collections/messages/records", bob, beforeMsg,
			http.StatusOK, []string{`"id":"` + before + `"`}, nil},
		{"fill", "a message without space", http.MethodPost, "/api/collections/messages/records", bob, blockedMsg,
			http.StatusServiceUnavailable, unavailable, nil},
		{"", "a post without space", http.MethodPost, "/api/collections/posts/records", carol, `{"title":"Chair","price":5}`,
			http.StatusServiceUnavailable, unavailable, nil},
		{"", "a sign-up without space", http.MethodPost, "/api/collections/users/records", "",
			`{"email":"erin@example.com","password":"password123","passwordConfirm":"password123"}`,
			http.StatusServiceUnavailable, unavailable, nil},
		{"", "the room's messages without space", http.MethodGet, roomMessages, bob, "",
			http.StatusOK, []string{`"totalItems":3`, msgBobHello, msgAliceHi, before}, []string{blocked}},
		{"", "my chats without space", http.MethodGet, "/api/collections/rooms/records", bob, "",
			http.StatusOK, []string{`"totalItems":2`, `"last_message":"before"`}, nil},
		{"free", "the same message once space is back", http.MethodPost, "/api/collections/messages/records", bob, blockedMsg,
			http.StatusOK, []string{`"id":"` + blocked + `"`}, nil},
		{"", "the room's messages once space is back", http.MethodGet, roomMessages, bob, "",
			http.StatusOK, []string{`"totalItems":4`, msgBobHello, msgAliceHi, before, blocked}, nil},
		{"", "the room once space is back", http.MethodGet, "/api/collections/rooms/records/" + roomBike, bob, "",
			http.StatusOK, []string{`"last_message":"while full"`}, nil},
	}
	for _, step := range steps {
		switch step.action {
		case "fill":
			shortage.fill(t)
		case "free":
			shortage.free(t)
		}
		status, body := doJSON(t, srv, step.method, step.path, tokens[step.as], step.body)
		if status != step.status {
			t.Errorf("%s: %s %s = %d %s; want %d", step.name, step.method, step.path, status, body, step.status)
		}
		for _, want := range step.contains {
			if !strings.Contains(string(body), want) {
				t.Errorf("%s: body %s; want it to contain %s", step.name, body, want)
			}
		}
		for _, unwanted := range step.absent {
			if strings.Contains(string(body), unwanted) {
				t.Errorf("%s: body %s; want no %s", step.name, body, unwanted)
			}
		}
	}

	// Nothing of the refused writes is stored.
	if _, err := app.FindAuthRecordByEmail("users", "erin@example.com"); err == nil {
		t.Errorf("FindAuthRecordByEmail(%q) = found; want the refused sign-up absent", "erin@example.com")
	}
	checkCount(t, app, "posts", 2) // the refused post absent
}

// storageTmpfs mounts a 16 MB tmpfs and puts the test app's data dir on
// it; fill writes a file until the tmpfs is full and free deletes it.
// It fails when the process may not mount.
func storageTmpfs(t *testing.T) (storageShortage, error) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=16m"); err != nil {
		return storageShortage{}, err
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	filler := filepath.Join(dir, "filler")
	free := func(t *testing.T) {
		if err := os.Remove(filler); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return storageShortage{
		name: "tmpfs",
		newApp: func(t *testing.T) *tests.TestApp {
			t.Setenv("TMPDIR", dir) // tests.NewTestApp clones the template into os.TempDir()
			app := newTestApp(t)
			if !strings.HasPrefix(app.DataDir(), dir) {
				t.Fatalf("DataDir() = %q; want it on the tmpfs %s", app.DataDir(), dir)
			}
			return app
		},
		fill: func(t *testing.T) {
			t.Cleanup(func() { free(t) }) // before the app's own cleanup, which writes
			f, err := os.Create(filler)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			chunk := make([]byte, 64<<10)
			for _, size := range []int{64 << 10, 512} {
				for {
					if _, err = f.Write(chunk[:size]); err != nil {
						break
					}
				}
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("fill the tmpfs: %v; want ENOSPC", err)
				}
			}
			var st syscall.Statfs_t
			if err := syscall.Statfs(dir, &st); err != nil {
				t.Fatal(err)
			}
			if st.Bavail != 0 {
				t.Fatalf("tmpfs free blocks after filling = %d; want 0", st.Bavail)
			}
		},
		free:    free,
		message: hooks.StorageFullMessage,
	}, nil
}

// storageFileSizeLimit sets the process's file-size limit to 0, so that
// every write to a file fails with EFBIG (Go ignores the SIGXFSZ that
// comes with it), and lifts it again. No other test runs meanwhile: this
// one is not parallel, and the parallel ones start only after it. (Run
// with -v and stdout redirected to a file, what the test prints while
// the limit holds is lost; the verdict is not.)
func storageFileSizeLimit() storageShortage {
	var saved syscall.Rlimit
	limited := false
	lift := func(t *testing.T) {
		if !limited {
			return
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &saved); err != nil {
			t.Fatal(err)
		}
		limited = false
	}
	return storageShortage{
		name:   "file-size limit",
		newApp: func(t *testing.T) *tests.TestApp { return newTestApp(t) },
		fill: func(t *testing.T) {
			if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &saved); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 0, Max: saved.Max}); err != nil {
				t.Fatal(err)
			}
			limited = true
			t.Cleanup(func() { lift(t) })
			probe, err := os.CreateTemp("", "storage_probe_")
			if err != nil {
				t.Fatal(err)
			}
			defer os.Remove(probe.Name())
			defer probe.Close()
			if _, err := io.WriteString(probe, "x"); !errors.Is(err, syscall.EFBIG) {
				t.Fatalf("write under RLIMIT_FSIZE 0: %v; want EFBIG", err)
			}
		},
		free:    lift,
		message: hooks.StorageWriteFailedMessage,
	}
}

// TestStorageErrorsMiddleware checks which errors the middleware turns
// into 503, however a handler wraps them, on a route that fails with each.
func TestStorageErrorsMiddleware(t *testing.T) {
	t.Parallel()
	failures := map[string]error{
		"enospc":       router.NewBadRequestError("Failed to upload.", &os.PathError{Op: "write", Path: "f", Err: syscall.ENOSPC}),
		"edquot":       fmt.Errorf("save file: %w", syscall.EDQUOT),
		"efbig":        router.NewBadRequestError("", fmt.Errorf("upload: %w", syscall.EFBIG)),
		"rule-denial":  router.NewBadRequestError("Failed to create record.", nil),
		"missing":      router.NewNotFoundError("", sql.ErrNoRows),
		"eacces":       router.NewBadRequestError("", &os.PathError{Op: "open", Path: "f", Err: syscall.EACCES}),
		"plain-errors": errors.New("something else"),
	}
	failingRoute := func(t testing.TB, app *tests.TestApp, e *core.ServeEvent) {
		e.Router.GET("/storage-probe/{kind}", func(e *core.RequestEvent) error {
			return failures[e.Request.PathValue("kind")]
		})
	}
	scenarios := []struct {
		kind    string
		status  int
		content []string
	}{
		{"enospc", http.StatusServiceUnavailable, []string{`"message":"` + hooks.StorageFullMessage + `"`}},
		{"edquot", http.StatusServiceUnavailable, []string{`"message":"` + hooks.StorageFullMessage + `"`}},
		{"efbig", http.StatusServiceUnavailable, []string{`"message":"` + hooks.StorageFullMessage + `"`}},
		{"rule-denial", http.StatusBadRequest, []string{`"message":"Failed to create record."`}},
		{"missing", http.StatusNotFound, []string{`"status":404`}},
		{"eacces", http.StatusBadRequest, []string{`"status":400`}},
		{"plain-errors", http.StatusBadRequest, []string{`"status":400`}},
	}
	for _, sc := range scenarios {
		(&tests.ApiScenario{
			Name:           sc.kind,
			Method:         http.MethodGet,
			URL:            "/storage-probe/" + sc.kind,
			BeforeTestFunc: failingRoute,
			TestAppFactory: newTestApp,
			ExpectedStatus: sc.status, ExpectedContent: sc.content,
			AfterTestFunc: func(t testing.TB, _ *tests.TestApp, res *http.Response) {
				want := ""
				if sc.status == http.StatusServiceUnavailable {
					want = "30"
				}
				if got := res.Header.Get("Retry-After"); got != want {
					t.Errorf("GET /storage-probe/%s: Retry-After = %q; want %q", sc.kind, got, want)
				}
			},
		}).Test(t)
	}
}
