// Command loadgen measures marketchat's realtime delivery on loopback.
//
// For every point (connections and messages per second) and every mode, it
// starts a fresh server on an empty data dir, creates users in rooms of two
// through the public API, holds one SSE connection per user subscribed the
// way the JS SDK subscribes, sends messages open-loop at a fixed rate and
// checks that each reaches the other participant exactly once and nobody
// else. It prints one markdown table (and optionally JSON).
//
//	GOTOOLCHAIN=go1.27.3 go run ./cmd/loadgen -points 1000:100,10000:500 -duration 60s
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	bin          string
	modes        []string
	modeFlag     string
	serverArgs   []string
	points       []point
	bystanders   int
	duration     time.Duration
	drain        time.Duration
	settle       time.Duration
	setupConc    int
	rampConc     int
	senders      int
	sendTimeout  time.Duration
	connTimeout  time.Duration
	pointTimeout time.Duration
	bcryptCost   int
	seed         uint64
	jsonPath     string
	profileDir   string
	timeline     bool
	fileLimit    uint64 // RLIMIT_NOFILE, once raised
}

// fileLimitReserve is the open files kept aside from streams and senders,
// for the set-up's connections, the server's databases and the like.
const fileLimitReserve = 500

// point is one load level.
type point struct {
	conns      int // SSE connections held, bystanders included
	rate       float64
	bystanders int
}

const usage = `loadgen measures marketchat's realtime delivery on 127.0.0.1.

For every point and every mode it starts a fresh server (serve --dev=false on
a new temp data dir and a free loopback port, plus <mode-flag>=<mode>). Through
the public API, as the server's superuser, it switches the rate limiter off for
the run (every request comes from one address) and creates conns-bystanders
users in rooms of two, plus the bystanders (users in no room). Each user holds
one SSE stream: room users subscribe as the JS SDK does to
  messages/* with {filter: 'room = "ID"'}   and   rooms/*
bystanders to messages/* and rooms/* with no filter. Then messages are sent
open-loop at the point's rate for -duration, each from a user (every user in
turn, random order) into their own room, and after -drain the program counts:
  delivered  sent messages the other participant received (first copy)
  missing    sent messages the other participant never received
  dup        extra copies received by the other participant
  leaks      message or room events received by anyone not in the room (must be 0)
  p50..max   publish→receive latency of the first copy (send timestamp in the
             text; sender and receiver share this machine's clock)
  create     latency of POST /api/collections/messages/records (2xx answers)
  RSS        server VmRSS growth from before connecting to all streams held,
             per connection
  cores      server utime+stime over the load window (first send to last
             answer), and this program's own CPU over the same window
The sender also receives its own message (it follows its room too); those
copies are counted apart (own_* in the JSON) and not in the table.

Flags:
`

func parseFlags() (*config, error) {
	cfg := &config{}
	var modes, points, serverArgs string
	flag.StringVar(&cfg.bin, "bin", "", "server binary; empty: go build the module at the repository root into a temp dir (CGO_ENABLED=0)")
	flag.StringVar(&modes, "modes", "fast,plain", `comma-separated realtime modes, each passed as <mode-flag>=<mode>: "fast" (per-room fan-out), "plain" (PocketBase's collection broadcast); "" runs once passing no mode flag`)
	flag.StringVar(&cfg.modeFlag, "mode-flag", "--realtime", "the serve flag that selects the realtime mode")
	flag.StringVar(&serverArgs, "server-args", "", "extra arguments for serve, space-separated")
	flag.StringVar(&points, "points", "1000:100", "comma-separated points conns:msgs-per-s[:bystanders]; conns counts every held SSE connection, bystanders included")
	flag.IntVar(&cfg.bystanders, "bystanders", 0, "bystanders for points that do not name them")
	flag.DurationVar(&cfg.duration, "duration", 30*time.Second, "how long messages are sent at each point")
	flag.DurationVar(&cfg.drain, "drain", 5*time.Second, "wait after the last create answer before counting missing messages")
	flag.DurationVar(&cfg.settle, "settle", time.Second, "wait after all streams are held before reading the server's RSS")
	flag.IntVar(&cfg.setupConc, "setup-concurrency", 16, "parallel API requests while creating users and rooms")
	flag.IntVar(&cfg.rampConc, "ramp-concurrency", 200, "stream handshakes (connect + subscribe) in flight at once")
	flag.IntVar(&cfg.senders, "senders", 1000, "create requests in flight at once (fewer when streams leave too few of the open files limit); a message due when all are busy is skipped and counted")
	flag.DurationVar(&cfg.sendTimeout, "send-timeout", 60*time.Second, "timeout of one create request")
	flag.DurationVar(&cfg.connTimeout, "connect-timeout", 60*time.Second, "timeout of one stream handshake")
	flag.DurationVar(&cfg.pointTimeout, "point-timeout", 0, "overall deadline of one point (server start to last count); 0: 15m + 2×duration")
	flag.IntVar(&cfg.bcryptCost, "bcrypt-cost", 4, "bcrypt cost set on the users collection before creating users (tokens come from impersonation, so no password is ever checked); 0 leaves PocketBase's default")
	flag.Uint64Var(&cfg.seed, "seed", 1, "seed of the senders' order")
	flag.StringVar(&cfg.jsonPath, "json", "", "also write the results as JSON to this file")
	flag.BoolVar(&cfg.timeline, "timeline", false, "also print each point's per-second timeline (delivery p50/p99/max, create p99/max): where in time a stall happened")
	flag.StringVar(&cfg.profileDir, "cpuprofile-dir", "", "pass serve --cpuprofile=DIR/<mode>-<conns>-<rate>.pprof (the server's own flag): that file covers the set-up, and <file>.load the load window only")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), usage)
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", flag.Args())
	}

	if strings.TrimSpace(modes) == "" {
		cfg.modes = []string{""}
	} else {
		for m := range strings.SplitSeq(modes, ",") {
			cfg.modes = append(cfg.modes, strings.TrimSpace(m))
		}
	}
	cfg.serverArgs = strings.Fields(serverArgs)
	for p := range strings.SplitSeq(points, ",") {
		pt, err := parsePoint(strings.TrimSpace(p), cfg.bystanders)
		if err != nil {
			return nil, err
		}
		cfg.points = append(cfg.points, pt)
	}
	if cfg.duration <= 0 || cfg.setupConc < 1 || cfg.rampConc < 1 || cfg.senders < 1 {
		return nil, fmt.Errorf("-duration and the concurrency flags must be positive")
	}
	if cfg.pointTimeout == 0 {
		cfg.pointTimeout = 15*time.Minute + 2*cfg.duration
	}
	return cfg, nil
}

// parsePoint reads "conns:rate[:bystanders]".
func parsePoint(s string, bystanders int) (point, error) {
	f := strings.Split(s, ":")
	bad := fmt.Errorf("point %q: want conns:msgs-per-s[:bystanders]", s)
	if len(f) < 2 || len(f) > 3 {
		return point{}, bad
	}
	conns, err1 := strconv.Atoi(f[0])
	rate, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil {
		return point{}, bad
	}
	if len(f) == 3 {
		var err error
		if bystanders, err = strconv.Atoi(f[2]); err != nil {
			return point{}, bad
		}
	}
	if rate <= 0 || bystanders < 0 || conns-bystanders < 2 {
		return point{}, fmt.Errorf("point %q: need a positive rate and at least 2 room users", s)
	}
	return point{conns: conns, rate: rate, bystanders: bystanders}, nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

func main() {
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(cfg *config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	limit, err := raiseFileLimit()
	if err != nil {
		return fmt.Errorf("raising RLIMIT_NOFILE: %w", err)
	}
	logf("open files limit %d (this program and the server each hold one socket per connection)", limit)
	cfg.fileLimit = limit

	bin := cfg.bin
	if bin == "" {
		dir, err := os.MkdirTemp("", "loadgen-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		logf("building the server")
		if bin, err = buildServer(ctx, dir); err != nil {
			return err
		}
	}

	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			return err
		}
	}

	var results []*Result
	for _, pt := range cfg.points {
		for _, mode := range cfg.modes {
			if ctx.Err() != nil {
				break
			}
			logf("point %d conns (%d bystanders), %g msgs/s for %v, mode %s", pt.conns, pt.bystanders, pt.rate, cfg.duration, modeLabel(mode))
			r := runPoint(ctx, cfg, bin, mode, pt)
			results = append(results, r)
			if r.Err != "" {
				logf("  point failed: %s", r.Err)
			}
			for _, k := range slices.Sorted(maps.Keys(r.ErrorSamples)) {
				logf("  first create error %s: %s", k, r.ErrorSamples[k])
			}
			logf("  sent %d, delivered %d, missing %d, dup %d, leaks %d; own copies %d (missing %d, dup %d); p99 %.2f ms; errors %s",
				r.Sent, r.Delivered, r.Missing, r.Dup, r.Leaks, r.OwnDelivered, r.OwnMissing, r.OwnDup, r.DeliveryMs.P99, errorsString(r.Errors))
		}
	}

	printTable(os.Stdout, results)
	if cfg.timeline {
		for _, r := range results {
			printTimeline(os.Stdout, r)
		}
	}

	if cfg.jsonPath != "" {
		out := map[string]any{
			"args":    os.Args[1:],
			"cpus":    runtime.NumCPU(),
			"time":    time.Now().UTC().Format(time.RFC3339),
			"results": results,
			"ratios":  computeRatios(results),
		}
		b, err := json.MarshalIndent(out, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.jsonPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted")
	}
	return nil
}

// runPoint measures one point in one mode on a fresh server. Failures are
// reported in the result (Err), so one bad point does not hide the others.
func runPoint(parent context.Context, cfg *config, bin, mode string, pt point) *Result {
	roomUsers := (pt.conns - pt.bystanders) &^ 1 // rooms of two
	r := &Result{
		Mode: mode, Conns: roomUsers + pt.bystanders, RoomUsers: roomUsers, Bystanders: pt.bystanders,
		Rate: pt.rate, DurationS: cfg.duration.Seconds(),
	}
	if perUser := pt.rate / float64(roomUsers) * 10; perUser > 25 {
		logf("  warning: each user sends about %.0f messages per 10 s; flood control answers 429 above 30", math.Ceil(perUser))
	}
	// Each process holds one socket per stream, plus the senders' (here)
	// or the requests' and databases' (in the server): keep the senders
	// within what is left of the open files limit.
	senders := cfg.senders
	if spare := int(cfg.fileLimit) - pt.conns - fileLimitReserve; spare < senders {
		senders = max(spare, 1)
		logf("  %d senders (not %d): %d streams leave that much of the %d open files for them", senders, cfg.senders, pt.conns, cfg.fileLimit)
	}
	ctx, cancel := context.WithTimeout(parent, cfg.pointTimeout)
	defer cancel()
	fail := func(format string, args ...any) *Result {
		r.Err = fmt.Sprintf(format, args...)
		return r
	}

	args := append([]string{}, cfg.serverArgs...)
	if mode != "" {
		args = append(args, cfg.modeFlag+"="+mode)
	}
	if cfg.profileDir != "" {
		name := fmt.Sprintf("%s-%d-%g.pprof", cmp.Or(mode, "default"), r.Conns, pt.rate)
		path, err := filepath.Abs(filepath.Join(cfg.profileDir, name))
		if err != nil {
			return fail("%v", err)
		}
		args = append(args, "--cpuprofile="+path)
		logf("  server CPU profile: %s", path)
	}
	srv, err := startServer(ctx, bin, args)
	if err != nil {
		return fail("starting the server: %v", err)
	}
	defer func() {
		if srv.stop() && r.Err == "" {
			r.Err = "the server died during the point"
		}
	}()

	apiTr := newAPITransport(senders + cfg.setupConc + cfg.rampConc)
	defer apiTr.CloseIdleConnections()
	a := &api{base: srv.base, hc: &http.Client{Transport: apiTr}}
	sseClient := &http.Client{Transport: newSSETransport()}

	t0 := time.Now()
	w, err := setupWorld(ctx, a, srv, roomUsers, pt.bystanders, cfg)
	if err != nil {
		return fail("set-up: %v", err)
	}
	r.SetupS = round2(time.Since(t0).Seconds())
	logf("  set-up: %d users, %d rooms in %.1f s", len(w.userIDs), len(w.roomIDs), r.SetupS)

	total := int(math.Round(pt.rate * cfg.duration.Seconds()))
	tr := &tracker{
		roomUsers: roomUsers,
		roomIDs:   w.roomIDs,
		plan:      makePlan(total, roomUsers, rand.New(rand.NewPCG(cfg.seed, uint64(pt.conns)))),
		msgs:      make([]msgState, total),
	}

	rssBefore, err := srv.rssKB()
	if err != nil {
		return fail("reading RSS: %v", err)
	}
	t0 = time.Now()
	streams, connFailed := openStreams(ctx, sseClient, a, w, tr, cfg.rampConc, cfg.connTimeout)
	defer closeStreams(streams, 10*time.Second)
	r.RampS = round2(time.Since(t0).Seconds())
	r.ConnectErrors = connFailed
	logf("  %d streams held in %.1f s (%d failed)", len(streams), r.RampS, connFailed)
	if ctx.Err() != nil {
		return fail("connecting: %v", ctx.Err())
	}
	if !sleep(ctx, cfg.settle) {
		return fail("%v", ctx.Err())
	}
	rssAfter, err := srv.rssKB()
	if err != nil {
		return fail("reading RSS: %v", err)
	}
	r.RSSBeforeKB, r.RSSAfterKB = rssBefore, rssAfter
	if len(streams) > 0 {
		r.RSSPerConnKB = math.Round(float64(rssAfter-rssBefore)/float64(len(streams))*10) / 10
	}

	if cfg.profileDir != "" {
		// The server's profile starts over into <path>.load: the load
		// window only.
		if err := syscall.Kill(srv.pid, syscall.SIGUSR1); err != nil {
			return fail("signalling the server's profile: %v", err)
		}
	}
	cpu0, err := srv.cpuSeconds()
	if err != nil {
		return fail("reading CPU: %v", err)
	}
	self0, t0 := selfCPUSeconds(), time.Now()
	runLoad(ctx, a, w, tr, pt.rate, senders, cfg.sendTimeout)
	window := time.Since(t0).Seconds()
	r.LoadWindowS = round2(window)
	r.GenCores = round2((selfCPUSeconds() - self0) / window)
	cpu1, cpuErr := srv.cpuSeconds()
	if cpuErr == nil {
		r.ServerCores = round2((cpu1 - cpu0) / window)
	}

	// From here on the messages are counted whatever went wrong.
	ok := sleep(ctx, cfg.drain)
	closeStreams(streams, 10*time.Second)
	tr.count(r)
	switch {
	case cpuErr != nil:
		return fail("reading the server's CPU after the load (did it die?): %v", cpuErr)
	case !ok:
		return fail("during the drain: %v", ctx.Err())
	}
	return r
}

// sleep waits d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
