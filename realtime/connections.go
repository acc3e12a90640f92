package realtime

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
)

// bindConnections installs a client on every realtime connection and
// binds the caps: connections per address and per user, topics per
// connection, and a deadline on every write.
func (f *Fanout) bindConnections() {
	f.app.OnRealtimeConnectRequest().BindFunc(f.onConnect)
	f.app.OnRealtimeSubscribeRequest().BindFunc(f.onSubscribe)
	f.app.OnRealtimeMessageSend().BindFunc(func(e *core.RealtimeMessageEvent) error {
		// realtimeConnect clears the server's write deadline for the
		// stream; set one per event so a stalled reader cannot hold the
		// connection's goroutine forever.
		err := http.NewResponseController(e.Response).SetWriteDeadline(time.Now().Add(f.writeTimeout()))
		if err != nil && !errors.Is(err, http.ErrNotSupported) {
			return err
		}
		return e.Next()
	})
}

// CloseStreams ends the connections signed in as userID for which close
// says so (given the connection's auth record), on taken-over streams and
// PocketBase's loop alike, and returns how many it ended. Use it when a
// user's sign-in must stop at once (tokens revoked).
func (f *Fanout) CloseStreams(userID string, close func(auth *core.Record) bool) int {
	f.mu.RLock()
	clients := make([]*liveClient, 0, len(f.byUser[userID]))
	for c := range f.byUser[userID] {
		clients = append(clients, c)
	}
	f.mu.RUnlock()
	n := 0
	for _, c := range clients {
		if auth := c.auth(); auth != nil && close(auth) {
			f.app.Logger().Debug("Realtime connection closed by the app", "clientId", c.Id())
			c.end()
			n++
		}
	}
	return n
}

// onConnect installs a liveClient for the new connection, after checking
// the per-address cap, and takes the connection over from net/http when
// it can (stream.go); otherwise PocketBase's loop serves it.
func (f *Fanout) onConnect(e *core.RealtimeConnectRequestEvent) error {
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
	if f.cfg.IdleTimeout > 0 {
		e.IdleTimeout = f.cfg.IdleTimeout
	}
	if f.cfg.MaxLifetime > 0 {
		e.MaxTimeout = f.cfg.MaxLifetime
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
func (f *Fanout) onSubscribe(e *core.RealtimeSubscribeRequestEvent) error {
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
func (f *Fanout) unreserve(c *liveClient) {
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
func (f *Fanout) addressCapped(address string) bool {
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

// index updates c's entries after its auth or subscriptions changed.
func (f *Fanout) index(c *liveClient, oldAuth, newAuth *core.Record, oldCollections, newCollections []string) {
	f.mu.Lock()
	defer f.mu.Unlock()

	if oldAuth != newAuth {
		f.unindexAuth(c, oldAuth)
		switch {
		case newAuth == nil:
		case newAuth.IsSuperuser():
			f.superusers[c] = struct{}{}
		case newAuth.Collection().Name == f.usersCollection():
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
func (f *Fanout) unindexAuth(c *liveClient, auth *core.Record) {
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
func (f *Fanout) forget(c *liveClient, auth *core.Record, collections []string) {
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
