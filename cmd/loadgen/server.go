package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// buildServer builds the module that holds the current directory into
// dir with CGO_ENABLED=0 (the release build) and returns the binary.
func buildServer(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside a Go module: run from the repository or pass -bin")
	}
	bin := filepath.Join(dir, "marketchat")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Dir(gomod)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build in %s: %w", cmd.Dir, err)
	}
	return bin, nil
}

// server is one marketchat process on a fresh data dir.
type server struct {
	base   string // http://127.0.0.1:port
	pid    int
	dir    string // temp dir holding pb_data and the log
	email  string // superuser
	pass   string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has ended
	err    error         // Wait's result, read after exited
}

// startServer creates a superuser on a fresh data dir, then runs
// "serve" on a free loopback port with args appended, and waits until
// /api/health answers.
func startServer(ctx context.Context, bin string, args []string) (*server, error) {
	dir, err := os.MkdirTemp("", "loadgen-point-")
	if err != nil {
		return nil, err
	}
	s := &server{dir: dir, email: "loadgen@example.com", pass: randomHex(16), exited: make(chan struct{})}
	dataDir := filepath.Join(dir, "pb_data")

	up := exec.CommandContext(ctx, bin, "superuser", "upsert", s.email, s.pass, "--dir", dataDir, "--dev=false")
	if out, err := up.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("superuser upsert: %w\n%s", err, out)
	}

	port, err := freePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s.base = "http://" + addr

	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The binary may sit under the temp dir, where PocketBase guesses
	// "go run" and logs every SQL statement: --dev=false keeps that out
	// of the measurement.
	serveArgs := append([]string{"serve", "--dev=false", "--dir", dataDir, "--http", addr}, args...)
	s.cmd = exec.Command(bin, serveArgs...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// The server dies with this program even if it is killed outright.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, err
	}
	s.pid = s.cmd.Process.Pid
	go func() {
		s.err = s.cmd.Wait()
		logf.Close()
		close(s.exited)
	}()
	fmt.Fprintf(os.Stderr, "  server pid %d: %s %s\n", s.pid, bin, strings.Join(serveArgs, " "))

	if err := s.waitHealthy(ctx, 60*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *server) waitHealthy(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return fmt.Errorf("server exited during start-up (%v):\n%s", s.err, s.logTail(2000))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := http.Get(s.base + "/api/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("server not healthy after %v:\n%s", limit, s.logTail(2000))
}

// stop ends the server (SIGTERM, then SIGKILL after 10 s) and removes
// its data dir. It reports whether the server had died before.
func (s *server) stop() (diedEarly bool) {
	select {
	case <-s.exited:
		diedEarly = true
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	if diedEarly {
		fmt.Fprintf(os.Stderr, "  server died during the point (%v):\n%s\n", s.err, s.logTail(2000))
	}
	os.RemoveAll(s.dir)
	return diedEarly
}

func (s *server) logTail(n int) string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// rssKB is the server's resident set size (VmRSS) in KB.
func (s *server) rssKB() (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "123456 kB"
			if len(f) >= 1 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times; 100 on
// every Linux architecture Go supports (sysconf needs cgo).
const clockTicks = 100

// cpuSeconds is the server's utime+stime so far.
func (s *server) cpuSeconds() (float64, error) {
	return procCPUSeconds(s.pid)
}

func procCPUSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after the last ')'. utime and stime are fields 14, 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("bad utime/stime in /proc stat")
	}
	return float64(utime+stime) / clockTicks, nil
}

// selfCPUSeconds is this program's user+system CPU so far.
func selfCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// raiseFileLimit sets the soft RLIMIT_NOFILE to the hard limit. Calling
// Setrlimit explicitly (rather than relying on the Go runtime's own
// raise) makes child processes, the server included, inherit it.
func raiseFileLimit() (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	rl.Cur = rl.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	return rl.Cur, nil
}
