// Command marketchat is a self-hosted marketplace chat: posts (items for
// sale), chat rooms opened from a post, live messages. It is PocketBase
// with the chat's schema (migrations), rules and routes (hooks) and the web
// app (pb_public) built in.
//
// Run it with "marketchat serve"; every stock PocketBase command works.
package main

import (
	"embed"
	"fmt"
	"io/fs"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"sync"
	"syscall"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/plugins/migratecmd"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/osutils"

	"github.com/marketchat/marketchat/hooks"
	_ "github.com/marketchat/marketchat/migrations"
	"github.com/marketchat/marketchat/realtime"
)

//go:embed all:pb_public
var embedded embed.FS

// defaultGCPercent is the garbage collector's target unless GOGC is set.
// At 10,000 realtime connections and 500 messages/s, 200 (Go's default is
// 100) cut p99 from 36 to 29-32 ms and CPU by 6-11% for 20-22 KB of RSS per
// connection instead of 16-17 (cmd/loadgen, README "Performance").
const defaultGCPercent = 200

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}

	// DBConnect runs at bootstrap, after the flags below are parsed, so it
	// sees the --synchronous given on the command line.
	var synchronous string
	app := pocketbase.NewWithConfig(pocketbase.Config{
		DefaultDev: osutils.IsProbablyGoRun(), // as pocketbase.New
		DBConnect: func(dbPath string) (*dbx.DB, error) {
			return dbConnect(dbPath, synchronous)
		},
	})

	app.RootCmd.PersistentFlags().StringVar(&synchronous, "synchronous", synchronousNormal,
		`SQLite "synchronous" of pb_data/data.db: "normal" (PocketBase's default; a power loss may lose the last commits before it, never corrupts) or "full" (an fsync per commit: commits survive a power loss; slower writes)`)

	var publicDir string
	app.RootCmd.PersistentFlags().StringVar(&publicDir, "publicDir", "",
		"serve the web app from this directory instead of the copy built into the binary (for working on the app)")

	var automigrate bool
	app.RootCmd.PersistentFlags().BoolVar(&automigrate, "automigrate", false,
		"write a Go migration into ./migrations for every collection change made in the dashboard (for development with go run)")

	var realtimeMode string
	app.RootCmd.PersistentFlags().StringVar(&realtimeMode, "realtime", "fast",
		`"fast": deliver messages, rooms and posts events through the per-room fan-out; "plain": PocketBase's built-in broadcast (for benchmarks)`)

	var cpuProfile string
	app.RootCmd.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "",
		"write a Go CPU profile of the whole run to this file (stops on SIGINT/SIGTERM; SIGUSR1 starts over into <file>.load; for benchmarks)")

	if err := app.RootCmd.ParseFlags(os.Args[1:]); err != nil {
		log.Fatal(err)
	}
	if cpuProfile != "" {
		stop, err := startCPUProfile(cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		var mu sync.Mutex
		// SIGUSR1 starts over into <path>.load: cmd/loadgen sends it when
		// its load window opens, so that profile leaves the set-up out.
		restart := make(chan os.Signal, 1)
		signal.Notify(restart, syscall.SIGUSR1)
		go func() {
			for range restart {
				mu.Lock()
				stop()
				if stop, err = startCPUProfile(cpuProfile + ".load"); err != nil {
					log.Printf("restart cpu profile: %v", err)
					stop = func() {}
				}
				mu.Unlock()
			}
		}()
		app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
			signal.Stop(restart)
			mu.Lock()
			stop()
			mu.Unlock()
			return e.Next()
		})
	}
	if realtimeMode != "fast" && realtimeMode != "plain" {
		log.Fatalf("--realtime must be fast or plain, not %q", realtimeMode)
	}
	if synchronous != synchronousNormal && synchronous != synchronousFull {
		log.Fatalf("--synchronous must be %s or %s, not %q", synchronousNormal, synchronousFull, synchronous)
	}

	// "migrate create" and "migrate collections" write Go migrations into
	// ./migrations, the package this binary is built from.
	migratecmd.MustRegister(app, app.RootCmd, migratecmd.Config{
		Dir:          "migrations",
		Automigrate:  automigrate,
		TemplateLang: migratecmd.TemplateLangGo,
	})

	hooks.MustRegister(app, hooks.Config{Realtime: realtime.Config{Plain: realtimeMode == "plain"}})

	public, err := publicFS(publicDir)
	if err != nil {
		log.Fatal(err)
	}
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Func: func(se *core.ServeEvent) error {
			if !se.Router.HasRoute(http.MethodGet, "/{path...}") {
				se.Router.GET("/{path...}", apis.Static(public, true)).BindFunc(appPageHeaders)
			}
			return se.Next()
		},
		Priority: 999, // last, so that any other route wins
	})

	if err := app.Start(); err != nil {
		log.Fatal(err)
	}
}

// contentSecurityPolicy lets the web app load only its own scripts,
// styles and API, with no inline script or style; user photos come from
// the API (same origin) or are previewed from blob: URLs before upload.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' blob: data:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// appPageHeaders sets the web app's security headers. The dashboard (/_/)
// and the API keep PocketBase's own.
func appPageHeaders(e *core.RequestEvent) error {
	h := e.Response.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	return e.Next()
}

// startCPUProfile starts a CPU profile into path and returns its stop.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			log.Printf("close cpu profile: %v", err)
		}
	}, nil
}

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

// publicFS is the web app: dir when given, else the embedded copy.
func publicFS(dir string) (fs.FS, error) {
	if dir != "" {
		return os.DirFS(dir), nil
	}
	return fs.Sub(embedded, "pb_public")
}
