package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Crash durability and the --synchronous flag, on the shipped binary:
// signed-in users send messages with client-made ids while the server is
// killed and restarted, and the tests count what the clients were told
// against what is stored (crashload_test.go; backups: backup_test.go).

const (
	crashWriters        = 8 // concurrent writers, each a goroutine
	crashUsersPerWriter = 2 // a writer takes turns between its users, so flood control rarely answers 429
	crashRooms          = 4 // group rooms every user is in

	// crashCyclesEnv sets the kill cycles of TestCrashDurability; the
	// default keeps "go test ./..." short.
	crashCyclesEnv     = "MARKETCHAT_KILL_CYCLES"
	crashDefaultCycles = 10
	// crashSeedEnv replays a run: every test logs the seed it used.
	crashSeedEnv = "MARKETCHAT_KILL_SEED"

	crashSuperuserEmail = "admin@example.com"
	crashPassword       = "password1234"
)

// TestCrashDurability runs the binary with 8 writers and kills it with
// SIGKILL at random moments, restarting it on the same data dir each time
// (MARKETCHAT_KILL_CYCLES cycles, default 10). After every restart and at
// the end: every message answered 200 is stored, no message is stored
// twice (a retry after a crash reuses the message's client-made id), and
// pb_data/data.db passes PRAGMA integrity_check.
func TestCrashDurability(t *testing.T) {
	cycles := crashDefaultCycles
	if v := os.Getenv(crashCyclesEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q; want a positive number", crashCyclesEnv, v)
		}
		cycles = n
	}
	runCrashCycles(t, cycles)
}

// TestCrashDurabilitySynchronousFull is TestCrashDurability, shorter, with
// serve --synchronous=full.
func TestCrashDurabilitySynchronousFull(t *testing.T) {
	runCrashCycles(t, 3, "--synchronous=full")
}

// runCrashCycles starts the binary with serveArgs, kills it cycles times
// under write load and checks what is stored against what was answered.
func runCrashCycles(t *testing.T, cycles int, serveArgs ...string) {
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))

	s := startServer(t, serveArgs...)
	load := newCrashLoad(t, s, rng)

	start := time.Now()
	for cycle := 1; cycle <= cycles; cycle++ {
		if cycle > 1 {
			s.startAgain(t)
			load.check(t, "after restart "+strconv.Itoa(cycle-1), load.listMessages(t, s))
		}
		// A moment anywhere from the first requests to a second and a half
		// of steady writing.
		wait := time.Duration(20+rng.IntN(1500)) * time.Millisecond
		load.runWhile(t, s, func() {
			time.Sleep(wait)
			s.kill(t)
		})
	}

	// The last restart: every writer resends its unanswered message, so
	// none is left in doubt; then one more kill, and the file itself.
	s.startAgain(t)
	load.resendPending(t, s)
	load.check(t, "after the last restart", load.listMessages(t, s))
	s.kill(t)

	messages, rooms := crashReadDataDB(t, s.DataDir)
	report := load.check(t, "in data.db after the final kill", messages)
	checkRoomPreviews(t, "data.db", rooms, messages)

	t.Logf("serve %v, seed %d: kill cycles %d in %s; acknowledged writes %d; answers lost in a crash but found stored on retry %d; "+
		"flood-control 429s retried %d; lost %d; duplicates %d; integrity_check ok",
		serveArgs, seed, cycles, time.Since(start).Round(time.Millisecond), report.acked, report.found, load.tooMany, report.lost, report.duplicates)
	if report.acked < cycles {
		t.Errorf("acknowledged writes = %d; want at least one per cycle (%d): the writers did not get going", report.acked, cycles)
	}
}

// TestSynchronousFlag starts the binary with --synchronous=full (it serves
// and stores a message) and with an invalid value (it refuses to start and
// says why). TestDBConnect checks that the setting reaches SQLite.
func TestSynchronousFlag(t *testing.T) {
	s := startServer(t, "--synchronous=full")
	id, token := s.signUp(t, "full@example.com", "Full")
	otherID, _ := s.signUp(t, "other@example.com", "Other")
	var room struct{ ID string }
	if st := s.do(t, "POST", "/api/collections/rooms/records", token, map[string]any{
		"participants": []string{id, otherID},
	}, &room); st != http.StatusOK {
		t.Fatalf("create room with --synchronous=full: status %d; want 200", st)
	}
	if st := s.do(t, "POST", "/api/collections/messages/records", token, map[string]any{"room": room.ID, "text": "hi"}, nil); st != http.StatusOK {
		t.Fatalf("send message with --synchronous=full: status %d; want 200", st)
	}

	for _, value := range []string{"FULL", "off", "extra", ""} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, binary(t), "serve", "--dev=false", "--dir", t.TempDir(),
			"--http", freeAddr(t), "--synchronous="+value).CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		want := fmt.Sprintf("--synchronous must be normal or full, not %q", value)
		if err == nil || timedOut || !strings.Contains(string(out), want) {
			t.Errorf("serve --synchronous=%q = %v, %q; want a failed start saying %q", value, err, out, want)
		}
	}
}

// crashSeed is MARKETCHAT_KILL_SEED or a new seed, logged either way.
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	if v := os.Getenv(crashSeedEnv); v != "" {
		seed, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", crashSeedEnv, v, err)
		}
		t.Logf("seed %d (from %s)", seed, crashSeedEnv)
		return seed
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d (%s=%d replays the kill moments and ids)", seed, crashSeedEnv, seed)
	return seed
}
