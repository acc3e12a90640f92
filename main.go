// Command marketchat is a self-hosted marketplace chat: posts (items for
// sale), chat rooms opened from a post, live messages. It is PocketBase
// with the chat's schema (migrations), rules and routes (hooks) and the web
// app (pb_public) built in.
//
// Run it with "marketchat serve"; every stock PocketBase command works.
package main

import (
	"log"
	"net/http"
	"os"
	"runtime/debug"

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

	var pushAllowPrivate bool
	app.RootCmd.PersistentFlags().BoolVar(&pushAllowPrivate, "push-allow-private", false,
		"accept Web Push endpoints on http and on private, loopback and link-local addresses (tests, intranets with their own push service); off, only https on public addresses")

	var cpuProfile string
	app.RootCmd.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "",
		"write a Go CPU profile of the whole run to this file (stops on SIGINT/SIGTERM; SIGUSR1 starts over into <file>.load; for benchmarks)")

	if err := app.RootCmd.ParseFlags(os.Args[1:]); err != nil {
		log.Fatal(err)
	}
	if cpuProfile != "" {
		if err := profileCPU(app, cpuProfile); err != nil {
			log.Fatal(err)
		}
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

	hooks.MustRegister(app, hooks.Config{
		Realtime:         realtime.Config{Plain: realtimeMode == "plain"},
		PushAllowPrivate: pushAllowPrivate,
	})

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
