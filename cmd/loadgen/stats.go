package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/marketchat/marketchat/internal/sse"
)

// Create request outcomes kept in msgState.status besides the HTTP status.
const (
	statusPending   = 0  // not sent (the point was aborted first)
	statusTransport = -1 // no HTTP answer: connection error or timeout
	statusSkipped   = -2 // the send pool was full when the message was due
)

// msgState is what is known about one scheduled message. The receivers
// and the sender update it concurrently, so every field is atomic.
type msgState struct {
	status    atomic.Int32 // HTTP status of the create request, or status*
	createNs  atomic.Int64 // create request latency
	delivered atomic.Int32 // copies received by the other participant
	latencyNs atomic.Int64 // publish→receive latency of the first copy
	own       atomic.Int32 // copies received by the sender itself
}

// tracker matches received events against the messages sent. Its plan
// (who sends message seq) and the room ids are fixed before any event can
// arrive; everything that changes is atomic.
type tracker struct {
	roomUsers int      // users 0..roomUsers-1 are in rooms; the rest are bystanders
	roomIDs   []string // room of user u is roomIDs[u/2]; its partner is u^1
	plan      []int32  // plan[seq] = sending user
	msgs      []msgState

	msgLeaks    atomic.Int64 // message events received by anyone not in the room
	roomLeaks   atomic.Int64 // rooms events about a room the receiver is not in
	roomsEvents atomic.Int64 // rooms events about the receiver's own room
	unknown     atomic.Int64 // message events whose text is not ours
	other       atomic.Int64 // events of other collections
	dropped     atomic.Int64 // streams the server ended before we closed them

	errMu      sync.Mutex
	errSamples map[string]string // first create error seen for each errors key
}

// noteError keeps the first create error of each kind for the report.
func (t *tracker) noteError(status int, err error) {
	key := errorKey(int32(status))
	t.errMu.Lock()
	defer t.errMu.Unlock()
	if t.errSamples == nil {
		t.errSamples = map[string]string{}
	}
	if _, ok := t.errSamples[key]; !ok {
		t.errSamples[key] = truncate(err.Error(), 300)
	}
}

// errorKey names a failed create outcome in Result.Errors.
func errorKey(status int32) string {
	switch status {
	case statusPending:
		return "aborted"
	case statusTransport:
		return "transport"
	case statusSkipped:
		return "skipped"
	}
	return strconv.Itoa(int(status))
}

// eventPayload is the part of a record event the benchmark reads.
type eventPayload struct {
	Action string `json:"action"`
	Record struct {
		ID             string `json:"id"`
		CollectionName string `json:"collectionName"`
		Room           string `json:"room"`
		Text           string `json:"text"`
	} `json:"record"`
}

// messageText is the text of message seq sent at sentAt (Unix ns, this
// machine's clock, which the receiver shares).
func messageText(seq int, sentAt int64) string {
	return "lg " + strconv.Itoa(seq) + " " + strconv.FormatInt(sentAt, 10)
}

// parseMessageText reverses messageText.
func parseMessageText(text string) (seq int, sentAt int64, ok bool) {
	f := strings.Fields(text)
	if len(f) != 3 || f[0] != "lg" {
		return 0, 0, false
	}
	seq, err1 := strconv.Atoi(f[1])
	sentAt, err2 := strconv.ParseInt(f[2], 10, 64)
	return seq, sentAt, err1 == nil && err2 == nil
}

// handle accounts for one event received by user at recv.
func (t *tracker) handle(user int, ev sse.Event, recv time.Time) {
	var p eventPayload
	if err := json.Unmarshal(ev.Data, &p); err != nil {
		t.other.Add(1)
		return
	}
	collection := p.Record.CollectionName
	if collection == "" { // a custom event shape: fall back to the topic
		collection, _, _ = strings.Cut(ev.Name, "/")
	}
	switch collection {
	case "messages":
		seq, sentAt, ok := parseMessageText(p.Record.Text)
		if !ok || seq < 0 || seq >= len(t.msgs) {
			t.unknown.Add(1)
			return
		}
		if user >= t.roomUsers {
			t.msgLeaks.Add(1)
			return
		}
		sender := int(t.plan[seq])
		m := &t.msgs[seq]
		switch user {
		case sender ^ 1:
			if m.delivered.Add(1) == 1 {
				m.latencyNs.Store(recv.UnixNano() - sentAt)
			}
		case sender:
			m.own.Add(1)
		default:
			t.msgLeaks.Add(1)
		}
	case "rooms":
		if user < t.roomUsers && p.Record.ID == t.roomIDs[user/2] {
			t.roomsEvents.Add(1)
		} else {
			t.roomLeaks.Add(1)
		}
	default:
		t.other.Add(1)
	}
}

// Pct is a latency summary in milliseconds.
type Pct struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
	N   int     `json:"n"`
}

// percentiles summarises ns durations by nearest rank. It sorts ns.
func percentiles(ns []int64) Pct {
	if len(ns) == 0 {
		return Pct{}
	}
	slices.Sort(ns)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(ns)))) - 1
		i = max(0, min(i, len(ns)-1))
		return round2(float64(ns[i]) / 1e6)
	}
	return Pct{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: at(1), N: len(ns)}
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// Result is one point in one mode.
type Result struct {
	Mode       string  `json:"mode"`       // value of the server's realtime flag ("" = none passed)
	Conns      int     `json:"conns"`      // SSE connections held: room users + bystanders
	RoomUsers  int     `json:"room_users"` // users in rooms of two
	Bystanders int     `json:"bystanders"` // users in no room
	Rate       float64 `json:"rate"`       // messages/s scheduled
	DurationS  float64 `json:"duration_s"`

	Scheduled int `json:"scheduled"` // messages due in the schedule
	Sent      int `json:"sent"`      // created (2xx)
	Delivered int `json:"delivered"` // sent and received by the other participant
	Missing   int `json:"missing"`   // sent and never received by the other participant
	Dup       int `json:"dup"`       // extra copies received by the other participant
	Leaks     int `json:"leaks"`     // msg_leaks + room_leaks: must be 0
	MsgLeaks  int `json:"msg_leaks"`
	RoomLeaks int `json:"room_leaks"`
	// The sender is subscribed to its own room too, so it gets its own
	// message back; counted apart from delivered/missing/dup.
	OwnDelivered int `json:"own_delivered"`
	OwnMissing   int `json:"own_missing"`
	OwnDup       int `json:"own_dup"`
	Phantom      int `json:"phantom"` // received although the create request failed
	Unknown      int `json:"unknown_events"`
	Other        int `json:"other_events"`
	RoomsEvents  int `json:"rooms_events"` // rooms events about the receiver's own room

	DeliveryMs Pct `json:"delivery_ms"` // publish→receive, first copy to the other participant
	CreateMs   Pct `json:"create_ms"`   // create request, 2xx answers

	// Timeline has one entry per second of the schedule (a message's
	// second is when it was due), so that a stall shows where it happened.
	Timeline []Second `json:"timeline,omitempty"`

	RSSBeforeKB  int64   `json:"rss_before_kb"`
	RSSAfterKB   int64   `json:"rss_after_kb"`
	RSSPerConnKB float64 `json:"rss_per_conn_kb"`
	ServerCores  float64 `json:"server_cores"` // server utime+stime over the load window
	GenCores     float64 `json:"gen_cores"`    // this program's CPU over the same window
	LoadWindowS  float64 `json:"load_window_s"`

	Errors        map[string]int    `json:"errors,omitempty"`        // create failures by HTTP status, "transport", "skipped", "aborted"
	ErrorSamples  map[string]string `json:"error_samples,omitempty"` // the first error of each kind
	ConnectErrors int               `json:"connect_errors"`
	Dropped       int               `json:"dropped"` // streams ended by the server during the point
	SetupS        float64           `json:"setup_s"`
	RampS         float64           `json:"ramp_s"` // time to open and subscribe every connection
	Err           string            `json:"error,omitempty"`
}

// Second is one second of a point's schedule.
type Second struct {
	S          int `json:"s"` // seconds since the first message was due
	DeliveryMs Pct `json:"delivery_ms"`
	CreateMs   Pct `json:"create_ms"`
}

// count fills r's delivery figures from t once the drain is over.
func (t *tracker) count(r *Result) {
	var delivery, create []int64
	var perSecond [][2][]int64 // [second][delivery, create]
	second := func(seq int) int { return int(float64(seq) / max(r.Rate, 1)) }
	r.Errors = map[string]int{}
	for i := range t.msgs {
		m := &t.msgs[i]
		st := m.status.Load()
		n, own := int(m.delivered.Load()), int(m.own.Load())
		if st < 200 || st > 299 {
			r.Errors[errorKey(st)]++
			if n+own > 0 {
				r.Phantom++
			}
			continue
		}
		r.Sent++
		create = append(create, m.createNs.Load())
		sec := second(i)
		for len(perSecond) <= sec {
			perSecond = append(perSecond, [2][]int64{})
		}
		perSecond[sec][1] = append(perSecond[sec][1], m.createNs.Load())
		if n == 0 {
			r.Missing++
		} else {
			r.Delivered++
			r.Dup += n - 1
			delivery = append(delivery, m.latencyNs.Load())
			perSecond[sec][0] = append(perSecond[sec][0], m.latencyNs.Load())
		}
		if own == 0 {
			r.OwnMissing++
		} else {
			r.OwnDelivered++
			r.OwnDup += own - 1
		}
	}
	t.errMu.Lock()
	r.ErrorSamples = maps.Clone(t.errSamples)
	t.errMu.Unlock()
	r.Scheduled = len(t.msgs)
	r.MsgLeaks = int(t.msgLeaks.Load())
	r.RoomLeaks = int(t.roomLeaks.Load())
	r.Leaks = r.MsgLeaks + r.RoomLeaks
	r.Unknown = int(t.unknown.Load())
	r.Other = int(t.other.Load())
	r.RoomsEvents = int(t.roomsEvents.Load())
	r.Dropped = int(t.dropped.Load())
	r.DeliveryMs = percentiles(delivery)
	r.CreateMs = percentiles(create)
	r.Timeline = make([]Second, len(perSecond))
	for sec, ns := range perSecond {
		r.Timeline[sec] = Second{S: sec, DeliveryMs: percentiles(ns[0]), CreateMs: percentiles(ns[1])}
	}
}

// printTimeline writes r's timeline, a line per second: delivery p50, p99
// and max, create p99 and max, messages.
func printTimeline(w io.Writer, r *Result) {
	fmt.Fprintf(w, "\ntimeline: %s, %d conns, %g msgs/s (ms; a message's second is when it was due)\n", modeLabel(r.Mode), r.Conns, r.Rate)
	fmt.Fprintln(w, "| s | n | p50 | p99 | max | create p99 | create max |")
	fmt.Fprintln(w, "|--:|--:|--:|--:|--:|--:|--:|")
	for _, sec := range r.Timeline {
		d, c := sec.DeliveryMs, sec.CreateMs
		fmt.Fprintf(w, "| %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f |\n", sec.S, d.N, d.P50, d.P99, d.Max, c.P99, c.Max)
	}
}

// errorsString is a compact "key:n" list, sorted by key.
func errorsString(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s:%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func modeLabel(mode string) string {
	if mode == "" {
		return "(none)"
	}
	return mode
}

// printTable writes the results as a markdown table, then the plain/fast
// ratios for every point that ran in both modes.
func printTable(w io.Writer, results []*Result) {
	fmt.Fprintln(w, "| mode | conns | bystanders | rate/s | dur s | sent | delivered | missing | dup | leaks | p50 ms | p90 ms | p99 ms | max ms | create p50 ms | create p99 ms | RSS KB/conn | server cores | loadgen cores | errors |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, r := range results {
		errs := errorsString(r.Errors)
		if r.Err != "" {
			errs += " ABORTED: " + r.Err
		}
		if r.ConnectErrors > 0 || r.Dropped > 0 {
			errs += fmt.Sprintf(" conn-errors:%d dropped:%d", r.ConnectErrors, r.Dropped)
		}
		fmt.Fprintf(w, "| %s | %d | %d | %g | %g | %d | %d | %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.1f | %.2f | %.2f | %s |\n",
			modeLabel(r.Mode), r.Conns, r.Bystanders, r.Rate, r.DurationS, r.Sent, r.Delivered, r.Missing, r.Dup, r.Leaks,
			r.DeliveryMs.P50, r.DeliveryMs.P90, r.DeliveryMs.P99, r.DeliveryMs.Max, r.CreateMs.P50, r.CreateMs.P99,
			r.RSSPerConnKB, r.ServerCores, r.GenCores, strings.ReplaceAll(errs, "|", "/"))
	}
	ratios := computeRatios(results)
	if len(ratios) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| conns | bystanders | rate/s | p99 plain/fast | server CPU plain/fast |")
	fmt.Fprintln(w, "|--:|--:|--:|--:|--:|")
	for _, q := range ratios {
		fmt.Fprintf(w, "| %d | %d | %g | %s | %s |\n", q.Conns, q.Bystanders, q.Rate, fmtRatio(q.P99), fmtRatio(q.CPU))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "n/a: one mode has no figure (e.g. it delivered nothing: see its errors).")
}

// Ratio compares the plain and fast modes at one point.
type Ratio struct {
	Conns      int     `json:"conns"`
	Bystanders int     `json:"bystanders"`
	Rate       float64 `json:"rate"`
	DurationS  float64 `json:"duration_s"`
	P99        float64 `json:"p99_plain_over_fast"` // 0 when undefined
	CPU        float64 `json:"cpu_plain_over_fast"`
}

func computeRatios(results []*Result) []Ratio {
	type key struct {
		conns, by int
		rate, dur float64
	}
	byMode := map[key]map[string]*Result{}
	var order []key
	for _, r := range results {
		k := key{r.Conns, r.Bystanders, r.Rate, r.DurationS}
		if byMode[k] == nil {
			byMode[k] = map[string]*Result{}
			order = append(order, k)
		}
		byMode[k][r.Mode] = r
	}
	var out []Ratio
	for _, k := range order {
		plain, fast := byMode[k]["plain"], byMode[k]["fast"]
		if plain == nil || fast == nil {
			continue
		}
		out = append(out, Ratio{
			Conns: k.conns, Bystanders: k.by, Rate: k.rate, DurationS: k.dur,
			P99: safeRatio(plain.DeliveryMs.P99, fast.DeliveryMs.P99),
			CPU: safeRatio(plain.ServerCores, fast.ServerCores),
		})
	}
	return out
}

func safeRatio(a, b float64) float64 {
	if b <= 0 || a <= 0 {
		return 0
	}
	return round2(a / b)
}

func fmtRatio(x float64) string {
	if x == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f×", x)
}
