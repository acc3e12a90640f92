package main

// The SQLite connection. PocketBase opens its databases with fixed
// pragmas; this file exists so that "serve --synchronous=full" can trade
// write speed for commits that survive a power loss (README "Crashes and
// power loss").

import (
	"fmt"
	"path/filepath"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// Values of --synchronous.
const (
	synchronousNormal = "normal"
	synchronousFull   = "full"
)

// fullSyncPragmas are core.DefaultDBConnect's connection pragmas
// (PocketBase v0.40.4, core/db_connect.go) with synchronous(FULL) in place
// of synchronous(NORMAL). busy_timeout stays first: a connection must
// block on busy before it sets WAL mode. TestDBConnect compares every
// pragma with PocketBase's own, so an upgrade that changes them fails it.
const fullSyncPragmas = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=journal_size_limit(200000000)" +
	"&_pragma=synchronous(FULL)&_pragma=foreign_keys(ON)&_pragma=temp_store(MEMORY)&_pragma=cache_size(-32000)&_defensive=1"

// dbConnect opens one of PocketBase's SQLite databases. With synchronous
// "full", the main database (data.db) waits for an fsync of the WAL on
// every commit, so a commit that was answered survives a power loss; with
// "normal" (and for the logs database always) it is PocketBase's default:
// WAL with synchronous=NORMAL, which survives a process crash but may lose
// the last commits before a power loss, and is never corrupted by either.
func dbConnect(dbPath, synchronous string) (*dbx.DB, error) {
	if synchronous != synchronousFull || filepath.Base(dbPath) != "data.db" {
		return core.DefaultDBConnect(dbPath)
	}
	db, err := dbx.Open("sqlite", dbPath+fullSyncPragmas)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dbPath, err)
	}
	return db, nil
}
