package hooks

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/picker"
	"github.com/pocketbase/pocketbase/tools/search"
	"github.com/pocketbase/pocketbase/tools/subscriptions"
)

// Realtime fan-out.
//
// PocketBase's built-in broadcast visits every connected client for every
// record event and runs SQL access checks for each subscriber, inside the
// writer's request. For messages, rooms and posts this file replaces it
// with a fan-out whose cost grows with the people who may see the event:
//
//   - every realtime connection is a liveClient, installed in
//     OnRealtimeConnectRequest; its own Set/Subscribe methods keep an index
//     from signed-in user to connections and from collection to the
//     connections subscribed to it;
//   - a create or update of a message or room reaches only the
//     connections of the room's participants (and of superusers); a post
//     reaches only connections subscribed to posts;
//   - the event is queued and delivered by workers, so the sender's
//     request does not wait; events of one room go through one worker, so
//     they arrive in order;
//   - delivery never blocks: a connection whose buffer is full is cut off,
//     and every SSE write has a deadline.
//
// The clients keep subscribing with the JS SDK's standard forms
// (messages/* with a room filter, rooms/*, posts/*); the access rules are
// those of the migrations. The fast path serves a collection only while its
// list and view rules are the ones it was written for (fastPathRules); if
// an admin changes them in the dashboard, that collection's events go back
// to PocketBase's broadcast, which evaluates whatever rule is set.
// Deletes always use PocketBase's broadcast: they are rare (superusers,
// the last participant leaving).

// Realtime limits, defined once. Config may override the caps.
const (
	// DefaultMaxConnectionsPerUser caps one signed-in user's realtime
	// connections (tabs and devices).
	DefaultMaxConnectionsPerUser = 20

	// DefaultMaxConnectionsPerAddress caps the realtime connections from
	// one client address while the rate limiter is on.
	DefaultMaxConnectionsPerAddress = 500

	// DefaultMaxSubscriptionsPerConnection caps the topics of one connection.
	DefaultMaxSubscriptionsPerConnection = 50

	// DefaultRealtimeWriteTimeout bounds one SSE write: a client that
	// stops reading is cut off after it.
	DefaultRealtimeWriteTimeout = 10 * time.Second

	// clientBufferSize is how many events may wait for one connection
	// beyond what its socket buffers hold; a connection that falls this
	// far behind is cut off as stalled. It must hold a burst (the fan-out
	// queues faster than one stream writes): 32 cut off a client reading
	// promptly during a 50-post burst. Each slot costs 40 bytes on every
	// held connection.
	clientBufferSize = 128

	// fanoutQueueSize is how many events may wait for each worker before
	// writers wait for the fan-out to catch up.
	fanoutQueueSize = 4096
)

// fastPathRules are the list/view rules the fan-out knows how to enforce
// by construction: a participant of the record's room, or anyone.
var fastPathRules = map[string]string{
	messagesCollection: "room.participants.id ?= @request.auth.id",
	roomsCollection:    "participants.id ?= @request.auth.id",
	postsCollection:    "",
}

// fanout indexes the live connections and delivers record events to them.
type fanout struct {
	app   core.App
	cfg   Config
	rooms *roomLoader

	mu           sync.RWMutex
	byUser       map[string]map[*liveClient]struct{} // users record id -> connections signed in as it
	superusers   map[*liveClient]struct{}
	byCollection map[string]map[*liveClient]struct{} // collection name -> connections with a topic of it
	byAddress    map[string]int

	workers []chan fanoutEvent
	done    chan struct{}
	running sync.WaitGroup // the workers

	streams streamSet // the connections taken over from net/http (stream.go)
}

type fanoutEvent struct {
	action string
	record *core.Record

	// roomTouched: a new message whose room preview was updated in place
	// (touchRoomInPlace); the room's own event follows the message's.
	roomTouched bool
	// messageToPocketBase: PocketBase's broadcast delivers the message
	// itself (its rules were changed); only the room event is ours.
	messageToPocketBase bool

	// For rooms: every participant's read state, computed once per event.
	unread map[string]int
	reads  map[string]string
}

func registerRealtime(app core.App, cfg Config) *fanout {
	f := &fanout{
		app:          app,
		cfg:          cfg,
		rooms:        newRoomLoader(app),
		byUser:       map[string]map[*liveClient]struct{}{},
		superusers:   map[*liveClient]struct{}{},
		byCollection: map[string]map[*liveClient]struct{}{},
		byAddress:    map[string]int{},
		done:         make(chan struct{}),
	}

	app.OnRealtimeConnectRequest().BindFunc(f.onConnect)
	app.OnRealtimeSubscribeRequest().BindFunc(f.onSubscribe)
	app.OnRealtimeMessageSend().BindFunc(func(e *core.RealtimeMessageEvent) error {
		// realtimeConnect clears the server's write deadline for the
		// stream; set one per event so a stalled reader cannot hold the
		// connection's goroutine forever.
		err := http.NewResponseController(e.Response).SetWriteDeadline(time.Now().Add(f.writeTimeout()))
		if err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return e.Next()
	})

	if cfg.PlainRealtime {
		return f
	}

	n := max(2, runtime.GOMAXPROCS(0))
	for range n {
		queue := make(chan fanoutEvent, fanoutQueueSize)
		f.workers = append(f.workers, queue)
		f.running.Add(1)
		go f.work(queue)
	}
	f.startStreamSweeper()
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		// Workers finish the event in hand before the app closes its
		// databases (a worker querying a closed app panicked in CI).
		f.stop()
		f.running.Wait()
		f.rooms.query.close()
		// net/http's Shutdown does not know the taken-over streams.
		f.closeStreams()
		return e.Next()
	})

	for name := range fastPathRules {
		// Bound last in the record chain on purpose: returning without
		// e.Next() ends the chain before core's record proxy calls the
		// model chain, and with it PocketBase's broadcast for this event
		// (see POCKETBASE_NOTES.md). TestFanoutReplacesBuiltinBroadcast
		// shows what still runs.
		app.OnRecordAfterCreateSuccess(name).Bind(&hook.Handler[*core.RecordEvent]{
			Id:       "marketchatFanoutCreate_" + name,
			Priority: 1 << 20,
			Func:     func(e *core.RecordEvent) error { return f.intercept("create", e) },
		})
		app.OnRecordAfterUpdateSuccess(name).Bind(&hook.Handler[*core.RecordEvent]{
			Id:       "marketchatFanoutUpdate_" + name,
			Priority: 1 << 20,
			Func:     func(e *core.RecordEvent) error { return f.intercept("update", e) },
		})
	}
	return f
}

func (f *fanout) stop() {
	select {
	case <-f.done:
	default:
		close(f.done)
	}
}

// intercept queues the event for the fan-out instead of passing it on to
// PocketBase's broadcast, as long as the collection's rules are the ones
// the fan-out enforces.
func (f *fanout) intercept(action string, e *core.RecordEvent) error {
	collection := e.Record.Collection()
	touched, _ := e.Record.GetRaw(roomTouchedKey).(bool)
	ev := fanoutEvent{action: action, record: e.Record.Fresh(), roomTouched: touched}
	if !hasFastPathRules(collection) {
		if touched { // the room's event is still ours to send
			ev.messageToPocketBase = true
			f.enqueue(ev)
		}
		return e.Next()
	}
	f.enqueue(ev)
	return nil
}

// enqueue hands ev to its worker, or drops it when the fan-out stops.
func (f *fanout) enqueue(ev fanoutEvent) {
	queue := f.workers[shard(routeKey(ev.record), len(f.workers))]
	select {
	case queue <- ev:
	case <-f.done:
	}
}

// ownsRoomEvents reports whether the fan-out sends the room events of new
// messages itself (the rooms fast path is on), so that the message hook may
// update the room's preview in place.
func (f *fanout) ownsRoomEvents() bool {
	if f.cfg.PlainRealtime {
		return false
	}
	rooms, err := f.app.FindCachedCollectionByNameOrId(roomsCollection)
	return err == nil && hasFastPathRules(rooms)
}

func hasFastPathRules(c *core.Collection) bool {
	rule, ok := fastPathRules[c.Name]
	return ok && c.ListRule != nil && *c.ListRule == rule && c.ViewRule != nil && *c.ViewRule == rule
}

// routeKey picks the worker: a room's messages and the room's own events
// share one, so they arrive in order; all posts share one, so the feed does.
func routeKey(r *core.Record) string {
	switch r.Collection().Name {
	case messagesCollection:
		return r.GetString("room")
	case roomsCollection:
		return r.Id
	}
	return r.Collection().Name
}

func shard(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

func (f *fanout) work(queue chan fanoutEvent) {
	defer f.running.Done()
	for {
		select {
		case <-f.done:
			return
		case ev := <-queue:
			select {
			case <-f.done: // stopping: the database may be closing
				return
			default:
			}
			if err := f.deliverSafely(ev); err != nil {
				f.app.Logger().Warn("realtime fan-out failed", "collection", ev.record.Collection().Name, "id", ev.record.Id, "error", err)
			}
		}
	}
}

// deliverSafely is deliver with a panic turned into an error: one bad
// event must not take the server down.
func (f *fanout) deliverSafely(ev fanoutEvent) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f.deliver(ev)
}

// deliver sends ev to every connection that may see it and subscribed to
// it. Who may see a message or room is read when it is delivered (not when
// it was stored), so that someone who left in between gets nothing more.
func (f *fanout) deliver(ev fanoutEvent) error {
	switch ev.record.Collection().Name {
	case messagesCollection:
		room, err := f.rooms.load(ev.record.GetString("room"))
		if errors.Is(err, sql.ErrNoRows) {
			return nil // deleted since, and its messages with it
		}
		if err != nil {
			return err
		}
		members := room.record.GetStringSlice("participants")
		if !ev.messageToPocketBase {
			f.send(ev, members)
		}
		if !ev.roomTouched {
			return nil
		}
		// The room as it is now: its preview, its participants.
		f.send(fanoutEvent{action: "update", record: room.record, unread: room.unread, reads: room.reads}, members)
		return nil

	case roomsCollection:
		room, err := f.rooms.load(ev.record.Id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // deleted since: its delete event goes through PocketBase
		}
		if err != nil {
			return err
		}
		// In the event's own list and still in the room: an invitee gets
		// the event that invited them; someone who left since does not.
		current := room.record.GetStringSlice("participants")
		members := []string{}
		for _, id := range ev.record.GetStringSlice("participants") {
			if slices.Contains(current, id) {
				members = append(members, id)
			}
		}
		ev.unread, ev.reads = room.unread, room.reads
		f.send(ev, members)
		return nil
	}
	f.send(ev, nil) // posts: anyone
	return nil
}

// send writes ev to the connections of members (nil: anyone) that
// subscribed to it.
func (f *fanout) send(ev fanoutEvent, members []string) {
	collection := ev.record.Collection()
	topics := []string{
		collection.Name + "/" + ev.record.Id + "?", collection.Id + "/" + ev.record.Id + "?",
		collection.Name + "/*?", collection.Id + "/*?",
		collection.Name + "?", collection.Id + "?", // PocketBase's deprecated forms
	}

	encoded := map[string][]byte{} // same viewer and options, same bytes
	for _, c := range f.candidates(collection.Name, members) {
		auth := c.auth()
		if members != nil && !isSuperuser(auth) && (auth == nil || !slices.Contains(members, auth.Id)) {
			continue // signed out or changed since it was indexed
		}
		for topic, options := range c.Subscriptions(topics...) {
			if !f.matchesFilter(ev.record, auth, options) {
				continue
			}
			key := options.Query["expand"] + "\x00" + options.Query["fields"]
			if collection.Name != messagesCollection || key != "\x00" || isSuperuser(auth) {
				// rooms carry per-viewer read state; expands follow the viewer's rules
				key = viewerKey(auth) + "\x00" + key
			}
			data, ok := encoded[key]
			if !ok {
				var err error
				if data, err = f.encode(ev, auth, options); err != nil {
					f.app.Logger().Debug("realtime encode failed", "topic", topic, "error", err)
					continue
				}
				encoded[key] = data
			}
			c.Send(subscriptions.Message{Name: topic, Data: data})
		}
	}
}

// candidates returns the connections of members (and of superusers), or,
// when members is nil, every connection subscribed to the collection.
func (f *fanout) candidates(collection string, members []string) []*liveClient {
	f.mu.RLock()
	defer f.mu.RUnlock()

	var out []*liveClient
	if members == nil {
		for c := range f.byCollection[collection] {
			out = append(out, c)
		}
		return out
	}
	for _, id := range members {
		for c := range f.byUser[id] {
			out = append(out, c)
		}
	}
	for c := range f.superusers {
		out = append(out, c)
	}
	return out
}

// clientsOf returns the connections signed in as the user userID.
func (f *fanout) clientsOf(userID string) []*liveClient {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]*liveClient, 0, len(f.byUser[userID]))
	for c := range f.byUser[userID] {
		out = append(out, c)
	}
	return out
}

// roomFilter is the filter the JS SDK's room subscription sends,
// room = "ID", which the fan-out answers without SQL.
var roomFilter = regexp.MustCompile(`^\s*room\s*=\s*(?:"([a-z0-9]+)"|'([a-z0-9]+)')\s*$`)

// superuserOnlyFilterFields may appear in a client filter only for
// superusers, as in PocketBase's own API.
var superuserOnlyFilterFields = []string{"@collection.", "@request."}

// matchesFilter reports whether record passes the subscription's filter,
// evaluated the way PocketBase's broadcast does: as a query on the record.
func (f *fanout) matchesFilter(record *core.Record, auth *core.Record, options subscriptions.SubscriptionOptions) bool {
	filter := options.Query[search.FilterQueryParam]
	if filter == "" {
		return true
	}
	if !isSuperuser(auth) {
		for _, field := range superuserOnlyFilterFields {
			if strings.Contains(filter, field) || strings.Contains(options.Query[search.SortQueryParam], field) {
				return false
			}
		}
	}
	if record.Collection().Name == messagesCollection {
		if m := roomFilter.FindStringSubmatch(filter); m != nil {
			return record.GetString("room") == m[1]+m[2]
		}
	}

	info := &core.RequestInfo{
		Context: core.RequestInfoContextRealtime,
		Method:  http.MethodGet,
		Query:   options.Query,
		Headers: options.Headers,
		Auth:    auth,
	}
	collection := record.Collection()
	q := f.app.ConcurrentDB().Select("(1)").From(collection.Name).
		AndWhere(dbx.HashExp{collection.Name + ".id": record.Id})
	resolver := core.NewRecordFieldResolver(f.app, collection, info, false)
	expr, err := search.FilterData(filter).BuildExpr(resolver)
	if err != nil {
		return false
	}
	q.AndWhere(expr)
	if err := resolver.UpdateQuery(q); err != nil {
		return false
	}
	var exists int
	return q.Limit(1).Row(&exists) == nil && exists > 0
}

// encode renders the event as the records API would render the record for
// this viewer: enrich hooks ("unread"), expand under the related
// collections' rules, hidden e-mails, then "fields".
func (f *fanout) encode(ev fanoutEvent, auth *core.Record, options subscriptions.SubscriptionOptions) ([]byte, error) {
	record := ev.record.Fresh()
	if isSuperuser(auth) {
		record.Unhide(record.Collection().Fields.FieldNames()...)
	}
	if unread, ok := ev.unread[viewerID(auth)]; ok {
		record.WithCustomData(true)
		record.Set("unread", unread)
		record.Set("reads", ev.reads)
	}

	query := url.Values{}
	for k, v := range options.Query {
		query.Set(k, v)
	}
	header := http.Header{}
	for k, v := range options.Headers {
		header.Set(k, v)
	}
	re := &core.RequestEvent{App: f.app, Auth: auth}
	re.Request = &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/api/realtime", RawQuery: query.Encode()}, Header: header}
	re.Set(core.RequestEventKeyInfoContext, core.RequestInfoContextRealtime)
	if err := apis.EnrichRecord(re, record); err != nil {
		return nil, err
	}

	var out any = record
	if fields := options.Query["fields"]; fields != "" {
		picked, err := picker.Pick(record, fields)
		if err != nil {
			return nil, err
		}
		out = picked
	}
	return json.Marshal(struct {
		Action string `json:"action"`
		Record any    `json:"record"`
	}{ev.action, out})
}

func isSuperuser(auth *core.Record) bool {
	return auth != nil && auth.IsSuperuser()
}

func viewerID(auth *core.Record) string {
	if auth == nil {
		return ""
	}
	return auth.Id
}

func viewerKey(auth *core.Record) string {
	if auth == nil {
		return ""
	}
	return auth.Collection().Id + "/" + auth.Id
}

// onConnect installs a liveClient for the new connection, after checking
// the per-address cap, and takes the connection over from net/http when
// it can (stream.go); otherwise PocketBase's loop serves it.
func (f *fanout) onConnect(e *core.RealtimeConnectRequestEvent) error {
	address := e.RealIP()
	capped := f.addressCapped(address)

	f.mu.Lock()
	if capped && f.byAddress[address] >= f.maxPerAddress() {
		f.mu.Unlock()
		// PocketBase has already set the stream's headers; the refusal is JSON.
		h := e.Response.Header()
		h.Del("Content-Type")
		h.Del("Cache-Control")
		h.Del("X-Accel-Buffering")
		return e.TooManyRequestsError(
			fmt.Sprintf("Too many realtime connections from this address (at most %d).", f.maxPerAddress()), nil)
	}
	f.byAddress[address]++
	f.mu.Unlock()

	if f.takeOver(e, address) {
		return nil // the stream runs on its own (stream.go)
	}

	// PocketBase's loop: HTTP/2, --realtime=plain, or a connection that
	// cannot be hijacked. Its timeouts default to the same 5 and 30 minutes.
	if f.cfg.RealtimeIdleTimeout > 0 {
		e.IdleTimeout = f.cfg.RealtimeIdleTimeout
	}
	if f.cfg.RealtimeMaxLifetime > 0 {
		e.MaxTimeout = f.cfg.RealtimeMaxLifetime
	}
	client := newLiveClient(f, address)
	client.Set(apis.RealtimeClientIPKey, address) // checked by PocketBase on subscribe
	e.Client = client
	err := e.Next()  // returns when the connection ends
	client.Discard() // already done by the broker unless a hook failed first
	return err
}

// onSubscribe checks the per-connection subscription cap and the
// per-user connection cap before PocketBase applies the subscriptions.
func (f *fanout) onSubscribe(e *core.RealtimeSubscribeRequestEvent) error {
	if limit := f.maxSubscriptions(); len(e.Subscriptions) > limit {
		return e.BadRequestError(fmt.Sprintf("Too many subscriptions on one connection (at most %d).", limit), nil)
	}
	client, ok := e.Client.(*liveClient)
	if !ok || e.Auth == nil || e.Auth.IsSuperuser() {
		return e.Next()
	}

	// Check and take the place in one step, so that concurrent subscribes
	// of one user cannot all pass the check (found by the storm test).
	userID, limit := e.Auth.Id, f.maxPerUser()
	f.mu.Lock()
	set := f.byUser[userID]
	_, counted := set[client]
	if !counted {
		if len(set) >= limit {
			f.mu.Unlock()
			return e.TooManyRequestsError(fmt.Sprintf("Too many realtime connections for this account (at most %d).", limit), nil)
		}
		if set == nil {
			set = map[*liveClient]struct{}{}
			f.byUser[userID] = set
		}
		set[client] = struct{}{}
		client.reservedFor = userID
	}
	f.mu.Unlock()

	err := e.Next()
	if err != nil && !counted && !client.signedInAs(userID) {
		f.mu.Lock()
		f.unreserve(client)
		f.mu.Unlock()
	}
	return err
}

// unreserve gives back the place onSubscribe took for c, unless c is
// signed in as that user by now. Called with mu held.
func (f *fanout) unreserve(c *liveClient) {
	if c.reservedFor == "" {
		return
	}
	if set := f.byUser[c.reservedFor]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(f.byUser, c.reservedFor)
		}
	}
	c.reservedFor = ""
}

// addressCapped reports whether address is under the per-address cap:
// while the rate limiter is on, unless its excluded list names the
// address or a subnet holding it.
func (f *fanout) addressCapped(address string) bool {
	limits := f.app.Settings().RateLimits
	if !limits.Enabled {
		return false
	}
	addr, err := netip.ParseAddr(address)
	if err != nil {
		return true
	}
	for _, item := range limits.ExcludedIPs {
		if prefix, err := netip.ParsePrefix(item); err == nil && prefix.Contains(addr) {
			return false
		}
		if excluded, err := netip.ParseAddr(item); err == nil && excluded == addr {
			return false
		}
	}
	return true
}

func (f *fanout) maxPerAddress() int {
	return orDefault(f.cfg.MaxConnectionsPerAddress, DefaultMaxConnectionsPerAddress)
}

func (f *fanout) maxPerUser() int {
	return orDefault(f.cfg.MaxConnectionsPerUser, DefaultMaxConnectionsPerUser)
}

func (f *fanout) writeTimeout() time.Duration {
	if f.cfg.RealtimeWriteTimeout > 0 {
		return f.cfg.RealtimeWriteTimeout
	}
	return DefaultRealtimeWriteTimeout
}

func (f *fanout) maxSubscriptions() int {
	return orDefault(f.cfg.MaxSubscriptionsPerConnection, DefaultMaxSubscriptionsPerConnection)
}

// orDefault returns v, or def when v is not set.
func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// index updates c's entries after its auth or subscriptions changed.
func (f *fanout) index(c *liveClient, oldAuth, newAuth *core.Record, oldCollections, newCollections []string) {
	f.mu.Lock()
	defer f.mu.Unlock()

	if oldAuth != newAuth {
		f.unindexAuth(c, oldAuth)
		switch {
		case newAuth == nil:
		case newAuth.IsSuperuser():
			f.superusers[c] = struct{}{}
		case newAuth.Collection().Name == usersCollection:
			set := f.byUser[newAuth.Id]
			if set == nil {
				set = map[*liveClient]struct{}{}
				f.byUser[newAuth.Id] = set
			}
			set[c] = struct{}{}
		}
	}
	for _, name := range oldCollections {
		if !slices.Contains(newCollections, name) {
			delete(f.byCollection[name], c)
		}
	}
	for _, name := range newCollections {
		set := f.byCollection[name]
		if set == nil {
			set = map[*liveClient]struct{}{}
			f.byCollection[name] = set
		}
		set[c] = struct{}{}
	}
}

// unindexAuth removes c from the auth indexes. Called with mu held.
func (f *fanout) unindexAuth(c *liveClient, auth *core.Record) {
	if auth == nil {
		return
	}
	if auth.IsSuperuser() {
		delete(f.superusers, c)
		return
	}
	if set := f.byUser[auth.Id]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(f.byUser, auth.Id)
		}
	}
}

// forget removes c from every index when its connection ends.
func (f *fanout) forget(c *liveClient, auth *core.Record, collections []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unindexAuth(c, auth)
	f.unreserve(c)
	for _, name := range collections {
		delete(f.byCollection[name], c)
	}
	if f.byAddress[c.address]--; f.byAddress[c.address] <= 0 {
		delete(f.byAddress, c.address)
	}
}

// liveClient is a realtime connection: PocketBase's DefaultClient for the
// subscriptions and store, a Send that never blocks, and index upkeep in
// the methods that change auth or topics. It serves two kinds of stream:
//
//   - taken over from net/http (conn set, stream.go): Send queues in
//     pending and starts a writer goroutine when none runs;
//   - PocketBase's loop (conn nil): Send queues in the buffered channel
//     the loop reads.
type liveClient struct {
	*subscriptions.DefaultClient
	fan     *fanout
	address string
	conn    net.Conn // a taken-over stream's connection; nil on PocketBase's loop

	mu          sync.Mutex
	ch          chan subscriptions.Message // PocketBase's loop only
	discarded   bool
	authRec     *core.Record
	collections []string // names of the indexed collections among its topics

	// A taken-over stream's queue (stream.go).
	pending  []subscriptions.Message // events not yet written; nil while idle
	writing  bool                    // a writer goroutine runs (or the response head is being written)
	opened   int64                   // unix nanoseconds; for the max lifetime
	lastSent atomic.Int64            // unix nanoseconds of the last write; for the idle timeout

	reservedFor string // user whose place onSubscribe took for it; guarded by fan.mu
}

var _ subscriptions.Client = (*liveClient)(nil)

func newLiveClient(f *fanout, address string) *liveClient {
	return &liveClient{
		DefaultClient: subscriptions.NewDefaultClient(),
		fan:           f,
		address:       address,
		ch:            make(chan subscriptions.Message, clientBufferSize),
	}
}

func (c *liveClient) Channel() chan subscriptions.Message { return c.ch }

// Send queues m without blocking. A connection whose buffer is full has
// stopped reading: it is discarded, which ends its stream.
func (c *liveClient) Send(m subscriptions.Message) {
	if c.conn != nil {
		c.queue(m)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.discarded {
		return
	}
	select {
	case c.ch <- m:
	default:
		c.discardLocked()
	}
}

// Discard ends the stream: PocketBase's loop sees the channel closed; a
// taken-over stream's connection is closed, and its reader unregisters it.
func (c *liveClient) Discard() {
	c.mu.Lock()
	c.discardLocked()
	c.mu.Unlock()
	if c.conn != nil {
		c.conn.Close()
	}
}

func (c *liveClient) discardLocked() {
	if c.discarded {
		return
	}
	c.discarded = true
	if c.ch != nil {
		close(c.ch)
	}
	c.pending = nil
	c.fan.forget(c, c.authRec, c.collections)
	c.authRec, c.collections = nil, nil
}

func (c *liveClient) IsDiscarded() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.discarded
}

// signedInAs reports whether c is indexed as signed in as userID.
func (c *liveClient) signedInAs(userID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.authRec != nil && c.authRec.Id == userID
}

func (c *liveClient) auth() *core.Record {
	rec, _ := c.Get(apis.RealtimeClientAuthKey).(*core.Record)
	return rec
}

func (c *liveClient) Set(key string, value any) {
	c.DefaultClient.Set(key, value)
	if key == apis.RealtimeClientAuthKey {
		c.reindex()
	}
}

func (c *liveClient) Unset(key string) {
	c.DefaultClient.Unset(key)
	if key == apis.RealtimeClientAuthKey {
		c.reindex()
	}
}

func (c *liveClient) Subscribe(subs ...string) {
	c.DefaultClient.Subscribe(subs...)
	c.reindex()
}

func (c *liveClient) Unsubscribe(subs ...string) {
	c.DefaultClient.Unsubscribe(subs...)
	c.reindex()
}

// reindex brings the fan-out's indexes in line with c's current auth and
// topics.
func (c *liveClient) reindex() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.discarded {
		return
	}
	auth := c.auth()
	var collections []string
	for topic := range c.DefaultClient.Subscriptions() {
		name, _, _ := strings.Cut(topic, "/")
		name, _, _ = strings.Cut(name, "?")
		collection, err := c.fan.app.FindCachedCollectionByNameOrId(name) // topics may name the collection by id
		if err != nil {
			continue
		}
		if _, ok := fastPathRules[collection.Name]; ok && !slices.Contains(collections, collection.Name) {
			collections = append(collections, collection.Name)
		}
	}
	c.fan.index(c, c.authRec, auth, c.collections, collections)
	c.authRec, c.collections = auth, collections
}
