package e2e

import (
	"archive/zip"
	"bytes"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// A backup taken through the API under write load, restored the way the
// README says, and compared with what the live server stored.

// TestBackupUnderWriteLoadRestores takes a backup through the API while 8
// writers send messages, restores it into a fresh data dir and starts the
// binary on it: every message answered before the backup began is there,
// the restored messages are exactly the ones committed up to one moment
// (a prefix of the live server's), every room's last_message matches its
// newest message, and data.db passes PRAGMA integrity_check.
func TestBackupUnderWriteLoadRestores(t *testing.T) {
	seed := crashSeed(t)
	rng := rand.New(rand.NewPCG(seed, 0))
	s := startServer(t)
	load := newCrashLoad(t, s, rng)

	var before, after map[string]bool
	load.runWhile(t, s, func() {
		load.waitAcked(t, 100)
		before = load.stored()
		if st := s.do(t, "POST", "/api/backups", load.su, map[string]any{"name": "x.zip"}, nil); st != http.StatusNoContent {
			t.Errorf("POST /api/backups = %d; want 204", st)
		}
		after = load.stored()
	})
	live := load.listMessages(t, s)
	load.check(t, "live", live)

	zipped := downloadBackup(t, s, load.su, "x.zip")

	// The restore a README reader does: stop, put the backup's files in an
	// empty data dir, start.
	restored := startServer(t)
	restored.kill(t)
	if err := os.RemoveAll(restored.DataDir); err != nil {
		t.Fatal(err)
	}
	unzipBackup(t, zipped, restored.DataDir)
	restored.startAgain(t)

	var su struct{ Token string }
	if st := restored.do(t, "POST", "/api/collections/_superusers/auth-with-password", "", map[string]any{
		"identity": crashSuperuserEmail, "password": crashPassword,
	}, &su); st != http.StatusOK {
		t.Fatalf("restored: superuser sign-in = %d; want 200", st)
	}
	var users struct{ TotalItems int }
	if st := restored.do(t, "GET", "/api/collections/users/records?perPage=1", su.Token, nil, &users); st != http.StatusOK || users.TotalItems != len(load.users) {
		t.Errorf("restored: users = %d (status %d); want %d", users.TotalItems, st, len(load.users))
	}
	got := load.listMessages(t, restored)
	restored.kill(t)
	messages, rooms := crashReadDataDB(t, restored.DataDir)
	if len(messages) != len(got) {
		t.Errorf("restored: data.db holds %d messages, the API listed %d; want the same", len(messages), len(got))
	}

	restoredIDs := map[string]bool{}
	for _, m := range messages {
		restoredIDs[m.ID] = true
	}
	missing := 0
	for id := range before {
		if !restoredIDs[id] {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("restored: %d of the %d messages answered before the backup began are missing; want 0", missing, len(before))
	}
	checkBackupPrefix(t, live, messages)
	checkRoomPreviews(t, "restored data.db", rooms, messages)

	t.Logf("seed %d; acknowledged before the backup %d, by its end %d; restored %d; live after the load %d; missing 0 wanted, got %d; integrity_check ok",
		seed, len(before), len(after), len(messages), len(live), missing)
}

// checkBackupPrefix checks that restored is what the live server had
// committed up to one moment: messages are stored one transaction at a
// time with "created" set inside it, so a snapshot holds exactly the live
// messages created before its newest (ties in the same millisecond may
// fall either side).
func checkBackupPrefix(t *testing.T, live, restored []crashStored) {
	t.Helper()
	liveByID := map[string]crashStored{}
	for _, m := range live {
		liveByID[m.ID] = m
	}
	cutoff := ""
	restoredIDs := map[string]bool{}
	for _, m := range restored {
		restoredIDs[m.ID] = true
		if m.Created > cutoff {
			cutoff = m.Created
		}
		if l, ok := liveByID[m.ID]; !ok || l != m {
			t.Errorf("restored message %+v; want it as the live server has it (%+v)", m, l)
		}
	}
	holes := 0
	for _, m := range live {
		if m.Created < cutoff && !restoredIDs[m.ID] {
			holes++
		}
	}
	if holes > 0 {
		t.Errorf("restored: %d live messages older than the newest restored one (%s) are missing; want 0", holes, cutoff)
	}
}

// downloadBackup fetches a backup as the dashboard does: with a superuser
// file token in the query.
func downloadBackup(t *testing.T, s *server, suToken, name string) []byte {
	t.Helper()
	var ft struct{ Token string }
	if st := s.do(t, "POST", "/api/files/token", suToken, nil, &ft); st != http.StatusOK || ft.Token == "" {
		t.Fatalf("POST /api/files/token: status %d", st)
	}
	res, err := http.Get(s.URL + "/api/backups/" + name + "?token=" + ft.Token)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/backups/%s = %d %s; want 200", name, res.StatusCode, raw)
	}
	return raw
}

// unzipBackup extracts a backup zip into dir (made if missing).
func unzipBackup(t *testing.T, zipped []byte, dir string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		t.Fatalf("open backup zip: %v", err)
	}
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
		if !filepath.IsLocal(f.Name) {
			t.Fatalf("backup entry %q points outside the data dir", f.Name)
		}
		path := filepath.Join(dir, f.Name)
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		src, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(src)
		src.Close()
		if err != nil {
			t.Fatalf("read %s from the backup: %v", f.Name, err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !names["data.db"] {
		t.Fatalf("backup entries = %v; want data.db among them", sortedKeys(names))
	}
}
