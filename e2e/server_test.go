package e2e

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
	"sync"
	"testing"
	"time"
)

// The one place that builds the shipped binary and runs it: every test of
// this package starts its servers with startServer.

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
		// "..": the module's root, the main package that ships.
		cmd := exec.Command("go", "build", "-o", binPath, "..")
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
	log     *syncBuffer // its stdout and stderr, across restarts
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
	s := &server{URL: "http://" + addr, DataDir: dataDir, cmd: cmd, log: &syncBuffer{}}
	cmd.Stdout = s.log
	cmd.Stderr = s.log
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", bin, err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	s.waitHealthy(tb, "become healthy")
	return s
}

// kill sends SIGKILL: no shutdown hook runs, as in a crash.
func (s *server) kill(tb testing.TB) {
	tb.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		tb.Fatalf("kill the server: %v", err)
	}
	if _, err := s.cmd.Process.Wait(); err != nil {
		tb.Fatalf("wait for the killed server: %v", err)
	}
}

// startAgain starts the killed server's binary again with the same
// arguments (address, data dir, flags) and waits until it is healthy.
func (s *server) startAgain(tb testing.TB) {
	tb.Helper()
	old := s.cmd
	cmd := exec.Command(old.Path, old.Args[1:]...)
	cmd.Stdout, cmd.Stderr = old.Stdout, old.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s again: %v", old.Path, err)
	}
	s.cmd = cmd
	tb.Cleanup(func() {
		// Most are killed by the test already: errors are expected.
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
	})
	s.waitHealthy(tb, "come back")
}

// restart kills the server and starts the same binary again on the same
// address and data dir, as a deploy would: every event stream ends.
func (s *server) restart(tb testing.TB) {
	tb.Helper()
	s.kill(tb)
	s.startAgain(tb)
}

// waitHealthy waits until /api/health answers 200, at most 30 s; what
// says what the server was to do, for the failure.
func (s *server) waitHealthy(tb testing.TB, what string) {
	tb.Helper()
	err := waitFor(30*time.Second, 50*time.Millisecond, func() error {
		res, err := http.Get(s.URL + "/api/health")
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /api/health = %d; want 200", res.StatusCode)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("server did not %s within 30 s: %v\n%s", what, err, s.log)
	}
}

// waitFor calls check every interval until it returns nil, and returns
// check's last error if that has not happened within timeout. check runs
// on the caller's goroutine, so it may fail the test itself.
func waitFor(timeout, interval time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(interval)
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

// freeAddr is a loopback address with a port nothing listens on.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer is a server's log: the process writes it while a failing
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
