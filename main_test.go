package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests in this package run what ships: the binary built from this
// module with CGO_ENABLED=0, started with "serve" on an empty data dir.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary builds the static binary once per test run and returns its path.
func binary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "marketchat_bin_")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "marketchat")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// server is a running binary.
type server struct {
	URL     string // http://127.0.0.1:port
	DataDir string
	cmd     *exec.Cmd
	log     *bytes.Buffer
}

// startServer runs "serve" on an empty data dir on a free loopback port,
// waits until /api/health answers and stops the process when the test
// ends. args are extra flags.
func startServer(tb testing.TB, args ...string) *server {
	tb.Helper()
	bin := binary(tb)

	dataDir := tb.TempDir()
	addr := freeAddr(tb)
	// --dev=false: the binary lives under the temp dir, which PocketBase
	// would take for "go run" and log every SQL statement.
	cmdArgs := append([]string{"serve", "--dev=false", "--dir", dataDir, "--http", addr}, args...)
	cmd := exec.Command(bin, cmdArgs...)
	logBuf := &bytes.Buffer{}
	cmd.Stdout = &syncWriter{w: logBuf}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	s := &server{URL: "http://" + addr, DataDir: dataDir, cmd: cmd, log: logBuf}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})

	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(s.URL + "/api/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("server did not become healthy within 30 s: %v\n%s", err, logBuf.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// superuser creates a superuser with the binary's own command, as the
// README tells an admin to.
func (s *server) superuser(tb testing.TB, email, password string) {
	tb.Helper()
	out, err := exec.Command(binary(tb), "superuser", "upsert", email, password, "--dir", s.DataDir).CombinedOutput()
	if err != nil {
		tb.Fatalf("superuser upsert: %v\n%s", err, out)
	}
}

// do sends a JSON request (body may be nil) with an optional token and
// decodes a JSON answer into out (when non-nil). It returns the status.
func (s *server) do(tb testing.TB, method, path, token string, body any, out any) int {
	tb.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			tb.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			tb.Fatalf("%s %s: decode %q: %v", method, path, raw, err)
		}
	}
	return res.StatusCode
}

// signUp creates a user through the public API and returns its id and token.
func (s *server) signUp(tb testing.TB, email, name string) (id, token string) {
	tb.Helper()
	const pw = "password123"
	var user struct{ ID string }
	if st := s.do(tb, "POST", "/api/collections/users/records", "", map[string]any{
		"email": email, "password": pw, "passwordConfirm": pw, "name": name,
	}, &user); st != http.StatusOK {
		tb.Fatalf("sign up %s: status %d", email, st)
	}
	var authRes struct{ Token string }
	if st := s.do(tb, "POST", "/api/collections/users/auth-with-password", "", map[string]any{
		"identity": email, "password": pw,
	}, &authRes); st != http.StatusOK {
		tb.Fatalf("sign in %s: status %d", email, st)
	}
	return user.ID, authRes.Token
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// TestBinaryServesContractOnEmptyDataDir starts the shipped binary on an
// empty data dir and walks the contract's main path with no other step:
// schema from migrations, sign-up without verification, a post, the chat
// button (201 then 200), a message, the room's preview and unread, the
// embedded web app and the dashboard.
func TestBinaryServesContractOnEmptyDataDir(t *testing.T) {
	s := startServer(t)

	sellerID, seller := s.signUp(t, "seller@example.com", "Seller")
	_, buyer := s.signUp(t, "buyer@example.com", "Buyer")

	var post struct{ ID, Author, Status string }
	if st := s.do(t, "POST", "/api/collections/posts/records", seller, map[string]any{"title": "Bike", "price": 100}, &post); st != http.StatusOK {
		t.Fatalf("create post: status %d", st)
	}
	if post.Author != sellerID || post.Status != "selling" {
		t.Fatalf("post = %+v; want author %q and status selling", post, sellerID)
	}

	var room struct {
		ID           string
		Participants []string
		Unread       *int
	}
	if st := s.do(t, "POST", "/api/posts/"+post.ID+"/chat", buyer, nil, &room); st != http.StatusCreated {
		t.Fatalf("first chat press: status %d; want 201", st)
	}
	var again struct{ ID string }
	if st := s.do(t, "POST", "/api/posts/"+post.ID+"/chat", buyer, nil, &again); st != http.StatusOK || again.ID != room.ID {
		t.Fatalf("second chat press: status %d, room %q; want 200, %q", st, again.ID, room.ID)
	}
	if room.Unread == nil {
		t.Fatalf("chat answer has no unread: %+v", room)
	}

	if st := s.do(t, "POST", "/api/collections/messages/records", buyer, map[string]any{"room": room.ID, "text": "  Is it still for sale?  "}, nil); st != http.StatusOK {
		t.Fatalf("send message: status %d", st)
	}
	var seen struct {
		LastMessage string `json:"last_message"`
		Unread      int
	}
	if st := s.do(t, "GET", "/api/collections/rooms/records/"+room.ID, seller, nil, &seen); st != http.StatusOK {
		t.Fatalf("seller views room: status %d", st)
	}
	if seen.LastMessage != "Is it still for sale?" || seen.Unread != 1 {
		t.Fatalf("seller's room = %+v; want last_message %q, unread 1", seen, "Is it still for sale?")
	}

	for path, want := range map[string]string{"/": "Market chat", "/_/": "PocketBase"} {
		res, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d, contains %q: %v; want 200 and true", path, res.StatusCode, want, strings.Contains(string(body), want))
		}
		if path == "/" {
			for header, want := range map[string]string{
				"Content-Security-Policy": "script-src 'self'",
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "same-origin",
			} {
				if got := res.Header.Get(header); !strings.Contains(got, want) {
					t.Errorf("GET / %s = %q; want it to contain %q", header, got, want)
				}
			}
		}
	}

	// The stock "migrate" command is registered (PocketBase does not
	// build it in): on an up-to-date data dir "migrate up" has nothing to do.
	if out, err := exec.Command(binary(t), "migrate", "up", "--dir", s.DataDir).CombinedOutput(); err != nil || !strings.Contains(string(out), "No new migrations") {
		t.Errorf("migrate up = %v\n%s; want success and \"No new migrations\"", err, out)
	}

	s.superuser(t, "admin@example.com", "password1234")
	var su struct{ Token string }
	if st := s.do(t, "POST", "/api/collections/_superusers/auth-with-password", "", map[string]any{
		"identity": "admin@example.com", "password": "password1234",
	}, &su); st != http.StatusOK || su.Token == "" {
		t.Fatalf("superuser sign-in: status %d", st)
	}
}
