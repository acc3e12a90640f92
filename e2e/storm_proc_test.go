package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
)

// The server process as the storm test sees it from /proc: its open
// files, threads and memory, and the state of its TCP connections.

// settleFDs closes the test's idle connections and waits until the
// server is back near base (nil: until its open files hold still), and
// returns its figures.
func (e *stormEnv) settleFDs(t *testing.T, base *stormProcStats) stormProcStats {
	t.Helper()
	var last, cur stormProcStats
	err := waitFor(stormSettle, 200*time.Millisecond, func() error {
		e.hc.CloseIdleConnections()
		http.DefaultClient.CloseIdleConnections()
		last, cur = cur, e.proc(t)
		switch {
		case base == nil && cur.fds == last.fds:
			return nil
		case base != nil && cur.otherFDs() <= base.otherFDs()+stormFDSlack && cur.dbFDs <= stormDBFDBound:
			return nil
		}
		return errors.New("not settled")
	})
	if err != nil && base != nil {
		t.Fatalf("%v after every stream closed, the server has %d open files besides %d of its databases (baseline %d; %s); want at most %d besides at most %d",
			stormSettle, cur.otherFDs(), cur.dbFDs, base.otherFDs(), stormDescribeFDs(e.s.cmd.Process.Pid), base.otherFDs()+stormFDSlack, stormDBFDBound)
	}
	// With no base, a server whose files never hold still gives its last
	// figures: the baseline is a figure to compare with, not a check.
	return cur
}

// stormDBFDBound bounds the server's open files of its SQLite databases.
// SQLite keeps a closed connection's file descriptor open while another
// connection of the process holds a lock on the file (POSIX locks belong
// to the process) and reuses it for the next connection, so after a load
// these stay near the pools' peak: at most one database and one WAL file
// per connection of each pool (PocketBase's defaults), and the shm files.
const stormDBFDBound = 2*(core.DefaultDataMaxOpenConns+1) + 2*(core.DefaultAuxMaxOpenConns+1) + 2

type stormProcStats struct {
	fds, dbFDs, sockets int // open files: all, those of the data dir, sockets
	threads, rssKB      int
}

// otherFDs is the open files that are not the databases.
func (s stormProcStats) otherFDs() int { return s.fds - s.dbFDs }

// proc reads the server's open files, threads and resident memory.
func (e *stormEnv) proc(t *testing.T) stormProcStats {
	t.Helper()
	pid := e.s.cmd.Process.Pid
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read the server's open files: %v", err)
	}
	s := stormProcStats{fds: len(entries)}
	for _, entry := range entries {
		target, err := os.Readlink(dir + "/" + entry.Name())
		switch {
		case err != nil: // closed meanwhile
		case strings.HasPrefix(target, e.s.DataDir+"/"):
			s.dbFDs++
		case strings.HasPrefix(target, "socket:"):
			s.sockets++
		}
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read the server's status: %v", err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		key, value, _ := strings.Cut(line, ":")
		fields := strings.Fields(value)
		if len(fields) == 0 {
			continue
		}
		switch key {
		case "Threads":
			s.threads, _ = strconv.Atoi(fields[0])
		case "VmRSS":
			s.rssKB, _ = strconv.Atoi(fields[0])
		}
	}
	return s
}

// stormDescribeFDs counts a process's open files by kind, its TCP sockets
// by state (/proc/net/tcp's hex codes: 01 ESTABLISHED, 0A LISTEN, 08
// CLOSE_WAIT...).
func stormDescribeFDs(pid int) string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	states := map[string]string{} // socket inode -> state
	if raw, err := os.ReadFile("/proc/net/tcp"); err == nil {
		for line := range strings.SplitSeq(string(raw), "\n") {
			if f := strings.Fields(line); len(f) > 9 && f[0] != "sl" {
				states[f[9]] = f[3]
			}
		}
	}
	kinds := map[string]int{}
	for _, entry := range entries {
		target, err := os.Readlink(dir + "/" + entry.Name())
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(target, "socket:["):
			inode := strings.TrimSuffix(strings.TrimPrefix(target, "socket:["), "]")
			if st, ok := states[inode]; ok {
				kinds["tcp "+st]++
			} else {
				kinds["other socket"]++
			}
		case strings.HasPrefix(target, "/"):
			kinds[target]++
		default:
			kinds[target]++
		}
	}
	var out []string
	for kind, n := range kinds {
		out = append(out, fmt.Sprintf("%d %s", n, kind))
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// stormServerClosed reports whether the server's end of the connection
// from clientPort is closed: its socket gone or past ESTABLISHED. It reads
// /proc/net/tcp, so a stalled client is checked without reading from it.
func stormServerClosed(serverPort, clientPort int) (bool, error) {
	row, err := stormSocket(serverPort, clientPort)
	if err != nil {
		return false, err
	}
	return row == nil || row[3] != "01", nil // 01: ESTABLISHED
}

// stormSocket returns the /proc/net/tcp row of the socket from localPort
// to remotePort on 127.0.0.1, or nil.
func stormSocket(localPort, remotePort int) ([]string, error) {
	raw, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return nil, fmt.Errorf("read /proc/net/tcp: %w", err)
	}
	port := func(hexAddr string) int {
		_, p, _ := strings.Cut(hexAddr, ":")
		n, _ := strconv.ParseInt(p, 16, 32)
		return int(n)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] == "sl" {
			continue
		}
		if port(f[1]) == localPort && port(f[2]) == remotePort {
			return f, nil
		}
	}
	return nil, nil
}

// stormRowSummary is a /proc/net/tcp row's state and tx:rx queues.
func stormRowSummary(row []string) string {
	if row == nil {
		return "gone"
	}
	return "st " + row[3] + " tx:rx " + row[4]
}
