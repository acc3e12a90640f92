package main

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// TestDBConnect opens databases with dbConnect and compares every pragma
// with PocketBase's own DefaultDBConnect: the same, except synchronous on
// data.db with "full" (2 instead of NORMAL's 1).
func TestDBConnect(t *testing.T) {
	reference, err := core.DefaultDBConnect(filepath.Join(t.TempDir(), "data.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer reference.Close()
	want := dbPragmas(t, reference)
	if want["synchronous"] != "1" {
		t.Fatalf("PocketBase's default synchronous = %s; want 1 (NORMAL), as the README says", want["synchronous"])
	}

	scenarios := []struct {
		synchronous, file, wantSynchronous string
	}{
		{synchronousNormal, "data.db", "1"},
		{synchronousFull, "data.db", "2"},
		{synchronousNormal, "auxiliary.db", "1"},
		{synchronousFull, "auxiliary.db", "1"}, // the logs keep PocketBase's default
	}
	for _, sc := range scenarios {
		db, err := dbConnect(filepath.Join(t.TempDir(), sc.file), sc.synchronous)
		if err != nil {
			t.Fatalf("dbConnect(%q, %q): %v", sc.file, sc.synchronous, err)
		}
		got := dbPragmas(t, db)
		db.Close()
		for name, value := range want {
			if name == "synchronous" {
				value = sc.wantSynchronous
			}
			if got[name] != value {
				t.Errorf("dbConnect(%q, %q): PRAGMA %s = %s; want %s", sc.file, sc.synchronous, name, got[name], value)
			}
		}
	}
}

// dbPragmas reads the connection settings PocketBase sets, plus whether
// SQLite's defensive mode is on (it refuses schema edits even with
// writable_schema).
func dbPragmas(t *testing.T, db *dbx.DB) map[string]string {
	t.Helper()
	db.DB().SetMaxOpenConns(1) // one connection, so that the pragmas below all see it
	got := map[string]string{}
	for _, name := range []string{"busy_timeout", "journal_mode", "journal_size_limit", "synchronous", "foreign_keys", "temp_store", "cache_size"} {
		var value string
		if err := db.NewQuery("PRAGMA " + name).Row(&value); err != nil {
			t.Fatalf("PRAGMA %s: %v", name, err)
		}
		got[name] = value
	}
	if _, err := db.NewQuery("CREATE TABLE IF NOT EXISTS pragma_probe (x)").Execute(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.NewQuery("PRAGMA writable_schema = ON").Execute(); err != nil {
		t.Fatal(err)
	}
	_, err := db.NewQuery("UPDATE sqlite_schema SET sql = sql WHERE name = 'pragma_probe'").Execute()
	got["defensive"] = strconv.FormatBool(err != nil)
	if _, err := db.NewQuery("PRAGMA writable_schema = OFF").Execute(); err != nil {
		t.Fatal(err)
	}
	return got
}
