package realtime

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"regexp"
	"runtime"
	"slices"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/picker"
	"github.com/pocketbase/pocketbase/tools/search"
	"github.com/pocketbase/pocketbase/tools/subscriptions"
)

// queued is an event waiting for its worker.
type queued struct {
	route Route
	event Event
}

// bindDelivery starts the workers and the stream sweeper, and intercepts
// the routed collections' create and update events.
func (f *Fanout) bindDelivery() {
	n := max(2, runtime.GOMAXPROCS(0))
	for range n {
		queue := make(chan queued, queueSize)
		f.workers = append(f.workers, queue)
		f.running.Add(1)
		go f.work(queue)
	}
	f.startStreamSweeper()
	f.app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		// Workers finish the event in hand before the app closes its
		// databases (a worker querying a closed app panicked in CI).
		f.stop()
		f.running.Wait()
		// net/http's Shutdown does not know the taken-over streams.
		f.closeStreams()
		return e.Next()
	})

	for name, route := range f.routes {
		// Bound last in the record chain on purpose: returning without
		// e.Next() ends the chain before core's record proxy calls the
		// model chain, and with it PocketBase's broadcast for this event
		// (see POCKETBASE_NOTES.md). The hooks' TestFanoutReplacesBuiltinBroadcast
		// shows what still runs.
		f.app.OnRecordAfterCreateSuccess(name).Bind(&hook.Handler[*core.RecordEvent]{
			Id:       "realtimeFanoutCreate_" + name,
			Priority: 1 << 20,
			Func:     func(e *core.RecordEvent) error { return f.intercept(route, "create", e) },
		})
		f.app.OnRecordAfterUpdateSuccess(name).Bind(&hook.Handler[*core.RecordEvent]{
			Id:       "realtimeFanoutUpdate_" + name,
			Priority: 1 << 20,
			Func:     func(e *core.RecordEvent) error { return f.intercept(route, "update", e) },
		})
	}
}

func (f *Fanout) stop() {
	select {
	case <-f.done:
	default:
		close(f.done)
	}
}

// intercept queues the event for the fan-out instead of passing it on to
// PocketBase's broadcast, as long as the collection's rules are the
// route's.
func (f *Fanout) intercept(route Route, action string, e *core.RecordEvent) error {
	if !route.servesRules(e.Record.Collection()) {
		return e.Next()
	}
	f.enqueue(route, Event{Action: action, Record: e.Record.Fresh()})
	return nil
}

// enqueue hands ev to its worker, or drops it when the fan-out stops.
func (f *Fanout) enqueue(route Route, ev Event) {
	queue := f.workers[shard(route.Key(ev.Record), len(f.workers))]
	select {
	case queue <- queued{route, ev}:
	case <-f.done:
	}
}

func shard(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

func (f *Fanout) work(queue chan queued) {
	defer f.running.Done()
	for {
		select {
		case <-f.done:
			return
		case q := <-queue:
			select {
			case <-f.done: // stopping: the database may be closing
				return
			default:
			}
			if err := f.deliverSafely(q); err != nil {
				f.app.Logger().Warn("realtime fan-out failed", "collection", q.route.Collection, "id", q.event.Record.Id, "error", err)
			}
		}
	}
}

// deliverSafely asks the route's audience and sends what it says, with a
// panic turned into an error: one bad event must not take the server down.
func (f *Fanout) deliverSafely(q queued) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	deliveries, err := q.route.Audience(q.event)
	if err != nil {
		return err
	}
	for _, d := range deliveries {
		f.send(d)
	}
	return nil
}

// send writes d to the connections of its audience that subscribed to it.
func (f *Fanout) send(d Delivery) {
	collection := d.Record.Collection()
	topics := []string{
		collection.Name + "/" + d.Record.Id + "?", collection.Id + "/" + d.Record.Id + "?",
		collection.Name + "/*?", collection.Id + "/*?",
		collection.Name + "?", collection.Id + "?", // deprecated forms (apis/realtime.go realtimeBroadcastRecord, v0.40.4)
	}

	encoded := map[string][]byte{} // same viewer and options, same bytes
	for _, c := range f.candidates(collection.Name, d.To) {
		auth := c.auth()
		if d.To != nil && !isSuperuser(auth) && (auth == nil || !slices.Contains(d.To, auth.Id)) {
			continue // signed out or changed since it was indexed
		}
		for topic, options := range c.Subscriptions(topics...) {
			if !f.matchesFilter(d.Record, auth, options) {
				continue
			}
			key := options.Query["expand"] + "\x00" + options.Query["fields"]
			if !d.Shared || d.Touch != nil || key != "\x00" || isSuperuser(auth) {
				// rendered for this viewer: expands follow the viewer's
				// rules, superusers see hidden fields
				key = viewerKey(auth) + "\x00" + key
			}
			data, ok := encoded[key]
			if !ok {
				var err error
				if data, err = f.encode(d, auth, options); err != nil {
					f.app.Logger().Debug("realtime encode failed", "topic", topic, "error", err)
					continue
				}
				encoded[key] = data
			}
			c.Send(subscriptions.Message{Name: topic, Data: data})
		}
	}
}

// candidates returns the connections of users (and of superusers), or,
// when users is Anyone, every connection subscribed to the collection.
func (f *Fanout) candidates(collection string, users []string) []*liveClient {
	f.mu.RLock()
	defer f.mu.RUnlock()

	var out []*liveClient
	if users == nil {
		for c := range f.byCollection[collection] {
			out = append(out, c)
		}
		return out
	}
	for _, id := range users {
		for c := range f.byUser[id] {
			out = append(out, c)
		}
	}
	for c := range f.superusers {
		out = append(out, c)
	}
	return out
}

// SendTopic sends data on the custom topic to every connection of users
// that subscribed to it (pb.realtime.subscribe(topic, cb), with or without
// options); superusers get it only when named. It never blocks. Custom
// topics get no rule checks from PocketBase: users is the whole audience.
func (f *Fanout) SendTopic(topic string, data []byte, users []string) {
	f.mu.RLock()
	var clients []*liveClient
	for _, id := range users {
		for c := range f.byUser[id] {
			clients = append(clients, c)
		}
	}
	f.mu.RUnlock()
	for _, c := range clients {
		for name := range c.Subscriptions(topic + "?") {
			c.Send(subscriptions.Message{Name: name, Data: data})
		}
	}
}

// Connected reports whether userID has a live realtime connection now: a
// stream signed in as that user (its subscriptions set with the user's
// token), whatever it subscribed to. A stream that has not subscribed yet
// carries no user and does not count. The answer may change the moment
// after: use it for what a missed event costs little (a push notification
// instead of a live event), not for access.
func (f *Fanout) Connected(userID string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.byUser[userID]) > 0
}

// equalsPattern is the filter of the JS SDK's usual per-parent
// subscription, `<field> = "ID"` (messages of one room).
var equalsPattern = regexp.MustCompile(`^\s*(\w+)\s*=\s*(?:"([a-z0-9]+)"|'([a-z0-9]+)')\s*$`)

// equalsFilter splits a filter of equalsPattern's form.
func equalsFilter(filter string) (field, id string, ok bool) {
	m := equalsPattern.FindStringSubmatch(filter)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2] + m[3], true
}

// superuserOnlyFilterFields may appear in a client filter only for
// superusers, as in PocketBase's own API.
var superuserOnlyFilterFields = []string{"@collection.", "@request."}

// matchesFilter reports whether record passes the subscription's filter,
// evaluated the way PocketBase's broadcast does (apis/realtime.go
// realtimeCanAccessRecord, v0.40.4): as a query on the record.
func (f *Fanout) matchesFilter(record *core.Record, auth *core.Record, options subscriptions.SubscriptionOptions) bool {
	filter := options.Query[search.FilterQueryParam]
	if filter == "" {
		return true
	}
	if !isSuperuser(auth) {
		// superusers only, as in PocketBase's records API
		for _, field := range superuserOnlyFilterFields {
			if strings.Contains(filter, field) || strings.Contains(options.Query[search.SortQueryParam], field) {
				return false
			}
		}
	}
	if name, id, ok := equalsFilter(filter); ok {
		// A single relation compared with an id: the answer is on the
		// record, no SQL needed.
		if rel, isRel := record.Collection().Fields.GetByName(name).(*core.RelationField); isRel && !rel.IsMultiple() {
			return record.GetString(name) == id
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

// encode renders the delivery as the records API would render the record
// for this viewer (as apis/realtime.go realtimeBroadcastRecord does,
// v0.40.4): Touch, enrich hooks, expand under the related
// collections' rules, hidden e-mails, then "fields".
func (f *Fanout) encode(d Delivery, auth *core.Record, options subscriptions.SubscriptionOptions) ([]byte, error) {
	record := d.Record.Fresh()
	if isSuperuser(auth) {
		record.Unhide(record.Collection().Fields.FieldNames()...)
	}
	if d.Touch != nil {
		d.Touch(record, viewerID(auth))
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
	}{d.Action, out})
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
