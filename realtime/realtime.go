// Package realtime delivers record events and custom-topic messages to
// PocketBase's realtime (SSE) clients at a cost that grows with the people
// who may see an event, not with everyone connected. It knows no chat
// rule: the app says, per collection, who may receive which record.
//
// PocketBase's own broadcast (apis/realtime.go) visits every connected
// client for every record event and runs SQL access checks per subscriber,
// inside the writer's request. For the collections given a Route, a Fanout
// replaces it:
//
//   - every realtime connection is a client indexed by signed-in user and
//     by the routed collections it subscribed to;
//   - a create or update of a routed record is queued (the writer never
//     waits) and a worker asks the route's Audience who may receive it,
//     then writes it to those users' connections (and superusers') that
//     subscribed to it, with the subscription's filter, expand and fields
//     applied as PocketBase applies them;
//   - events with the same Route.Key go through one worker, so they arrive
//     in the order they were stored;
//   - delivery never blocks: a connection whose buffer is full is cut off,
//     and every write has a deadline;
//   - HTTP/1.x streams are taken over from net/http (stream.go), so a held
//     connection costs a few KB instead of a request goroutine's stack.
//
// What it promises: order per key; a writer is never blocked by a slow
// reader; a record reaches only connections of the users its Audience
// names at delivery time (plus superusers), or, for an audience of anyone,
// every subscriber. A route serves its collection only while the
// collection's list and view rules are exactly Route.Rule, the rule the
// Audience enforces by construction; if an admin changes them, that
// collection's events go back to PocketBase's broadcast, which evaluates
// whatever rule is set. Deletes always go to PocketBase's broadcast.
//
// Example usage:
//
//	fan := realtime.New(app, realtime.Config{}, realtime.Route{
//		Collection: "posts",
//		Rule:       "", // anyone
//		Key:        func(r *core.Record) string { return "posts" },
//		Audience: func(ev realtime.Event) ([]realtime.Delivery, error) {
//			return []realtime.Delivery{{Action: ev.Action, Record: ev.Record, To: realtime.Anyone}}, nil
//		},
//	})
//	fan.SendTopic("typing", payload, []string{userID})
package realtime

import (
	"cmp"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/core"
)

// Limits, defined once. Config may override the caps and timeouts.
const (
	// DefaultMaxConnectionsPerUser caps one signed-in user's realtime
	// connections (tabs and devices).
	DefaultMaxConnectionsPerUser = 20

	// DefaultMaxConnectionsPerAddress caps the realtime connections from
	// one client address while the rate limiter is on.
	DefaultMaxConnectionsPerAddress = 500

	// DefaultMaxSubscriptionsPerConnection caps the topics of one connection.
	DefaultMaxSubscriptionsPerConnection = 50

	// DefaultWriteTimeout bounds one SSE write: a client that stops
	// reading is cut off after it.
	DefaultWriteTimeout = 10 * time.Second

	// DefaultIdleTimeout closes a stream that sent nothing for this long,
	// as PocketBase does (the SDK reconnects by itself).
	DefaultIdleTimeout = 5 * time.Minute

	// DefaultMaxLifetime closes every stream after this long, as
	// PocketBase does.
	DefaultMaxLifetime = 30 * time.Minute

	// clientBufferSize is how many events may wait for one connection
	// beyond what its socket buffers hold; a connection that falls this
	// far behind is cut off as stalled. It must hold a burst (the fan-out
	// queues faster than one stream writes): 32 cut off a client reading
	// promptly during a 50-post burst. Each slot costs 40 bytes on every
	// held connection.
	clientBufferSize = 128

	// queueSize is how many events may wait for each worker before
	// writers wait for the fan-out to catch up.
	queueSize = 4096
)

// Config tunes a Fanout. The zero value is the production set-up.
type Config struct {
	// Plain leaves every record event to PocketBase's built-in broadcast
	// and every stream to PocketBase's loop; only the caps and the write
	// deadline apply. It exists to measure the two side by side
	// (cmd/loadgen).
	Plain bool

	// UsersCollection is the auth collection whose connections are
	// indexed by record id, the ids an Audience names; "" means "users".
	UsersCollection string

	// MaxConnectionsPerUser caps the realtime connections of one signed-in
	// user; 0 means DefaultMaxConnectionsPerUser.
	MaxConnectionsPerUser int

	// MaxConnectionsPerAddress caps the realtime connections from one
	// client address while the rate limiter is on (addresses it excludes
	// are exempt); 0 means DefaultMaxConnectionsPerAddress.
	MaxConnectionsPerAddress int

	// MaxSubscriptionsPerConnection caps the topics of one connection;
	// 0 means DefaultMaxSubscriptionsPerConnection.
	MaxSubscriptionsPerConnection int

	// WriteTimeout bounds one SSE write, after which a client that stopped
	// reading is cut off; 0 means DefaultWriteTimeout.
	WriteTimeout time.Duration

	// IdleTimeout closes a stream that has sent nothing for this long;
	// 0 means DefaultIdleTimeout.
	IdleTimeout time.Duration

	// MaxLifetime closes every stream after this long; 0 means
	// DefaultMaxLifetime.
	MaxLifetime time.Duration
}

// Route says how one collection's create and update events are delivered.
type Route struct {
	// Collection is the collection's name.
	Collection string

	// Rule is the list and view rule Audience enforces by construction.
	// While the collection's list or view rule is anything else, its
	// events go to PocketBase's broadcast instead.
	Rule string

	// Key orders events: events with the same key are delivered in the
	// order they were stored (one worker serves them).
	Key func(record *core.Record) string

	// Audience says, at delivery time, which records go to whom for one
	// event: usually the event's own record to the users who may see it
	// now, sometimes more (a new message also changed its room). It runs
	// on a worker, never in the writer's request. An error is logged and
	// the event dropped.
	Audience func(ev Event) ([]Delivery, error)
}

// Event is a record created or updated in a routed collection.
type Event struct {
	Action string       // "create" or "update"
	Record *core.Record // a copy, as it was saved
}

// Anyone is the audience of a public record: every connection subscribed
// to its collection.
var Anyone []string = nil

// Delivery is one record to send to an audience.
type Delivery struct {
	Action string
	Record *core.Record

	// To lists the users (ids of Config.UsersCollection) who may receive
	// Record; superusers always may. Anyone (nil): every subscriber.
	To []string

	// Touch, when set, is called on each viewer's copy of Record before it
	// is enriched and encoded: the place for per-viewer computed fields
	// worked out once per event (the chat's unread count). viewerID is ""
	// for a guest.
	Touch func(record *core.Record, viewerID string)

	// Shared says the record renders the same for every viewer when the
	// subscription asks for no expand or fields (no enrich hook or hidden
	// field depends on the viewer), so it is encoded once per event.
	Shared bool
}

// Fanout is the realtime delivery engine bound to one app.
type Fanout struct {
	app    core.App
	cfg    Config
	routes map[string]Route

	mu           sync.RWMutex
	byUser       map[string]map[*liveClient]struct{} // user id -> connections signed in as it
	superusers   map[*liveClient]struct{}
	byCollection map[string]map[*liveClient]struct{} // routed collection -> connections with a topic of it
	byAddress    map[string]int

	workers []chan queued
	done    chan struct{}
	running sync.WaitGroup // the workers

	streams streamSet // the connections taken over from net/http (stream.go)
}

// New binds a Fanout for routes onto app: the connection and subscription
// caps, the stream takeover, and, unless cfg.Plain, the interception of
// the routed collections' create and update events. Call it once per app,
// before the app serves.
func New(app core.App, cfg Config, routes ...Route) *Fanout {
	f := &Fanout{
		app:          app,
		cfg:          cfg,
		routes:       map[string]Route{},
		byUser:       map[string]map[*liveClient]struct{}{},
		superusers:   map[*liveClient]struct{}{},
		byCollection: map[string]map[*liveClient]struct{}{},
		byAddress:    map[string]int{},
		done:         make(chan struct{}),
	}
	for _, r := range routes {
		f.routes[r.Collection] = r
	}
	f.bindConnections()
	if !cfg.Plain {
		f.bindDelivery()
	}
	return f
}

// Serves reports whether the fan-out delivers collection's create and
// update events now: it has a route for it, it is not Plain, and the
// collection's list and view rules are the route's.
func (f *Fanout) Serves(collection string) bool {
	if f.cfg.Plain {
		return false
	}
	route, ok := f.routes[collection]
	if !ok {
		return false
	}
	c, err := f.app.FindCachedCollectionByNameOrId(collection)
	return err == nil && route.servesRules(c)
}

func (r Route) servesRules(c *core.Collection) bool {
	return c.ListRule != nil && *c.ListRule == r.Rule && c.ViewRule != nil && *c.ViewRule == r.Rule
}

func (f *Fanout) usersCollection() string {
	if f.cfg.UsersCollection != "" {
		return f.cfg.UsersCollection
	}
	return "users"
}

func (f *Fanout) maxPerAddress() int {
	return cmp.Or(f.cfg.MaxConnectionsPerAddress, DefaultMaxConnectionsPerAddress)
}

func (f *Fanout) maxPerUser() int {
	return cmp.Or(f.cfg.MaxConnectionsPerUser, DefaultMaxConnectionsPerUser)
}

func (f *Fanout) maxSubscriptions() int {
	return cmp.Or(f.cfg.MaxSubscriptionsPerConnection, DefaultMaxSubscriptionsPerConnection)
}

func (f *Fanout) writeTimeout() time.Duration {
	return cmp.Or(f.cfg.WriteTimeout, DefaultWriteTimeout)
}

func (f *Fanout) idleTimeout() time.Duration {
	return cmp.Or(f.cfg.IdleTimeout, DefaultIdleTimeout)
}

func (f *Fanout) maxLifetime() time.Duration {
	return cmp.Or(f.cfg.MaxLifetime, DefaultMaxLifetime)
}
