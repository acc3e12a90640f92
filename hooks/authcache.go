package hooks

import (
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/security"
)

// Auth token cache.
//
// PocketBase checks the Authorization token of every request with a SQL
// look-up of its record and two JWT parses: about a sixth of the CPU a
// chat message costs. A client sends the same token with every request,
// so the cache keeps, for a users token PocketBase has verified, the record
// it resolved to, and hands a copy to later requests with the same token
// until the token expires. A change to a users record (a new password, a
// deleted user) drops that user's entries, and a change to any collection
// (a new token secret) empties the cache, so a revoked token is refused as
// soon as the change is saved; a user editing their name does not cost
// everyone else a look-up. Verifying stays PocketBase's own
// FindAuthRecordByToken; superuser tokens are not cached.

// authCacheMaxEntries bounds the cache; when full, it starts over.
const authCacheMaxEntries = 10_000

type authCache struct {
	mu      sync.Mutex
	gen     uint64 // bumped by every invalidation
	entries map[string]authCacheEntry
}

type authCacheEntry struct {
	record  *core.Record
	expires time.Time
}

func registerAuthCache(app core.App) *authCache {
	c := &authCache{entries: map[string]authCacheEntry{}}

	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.Bind(&hook.Handler[*core.RequestEvent]{
			Id: "marketchatAuthCache",
			// Right before PocketBase's loadAuthToken, which skips a
			// request whose e.Auth is already set.
			Priority: apis.DefaultLoadAuthTokenMiddlewarePriority - 1,
			Func:     c.middleware,
		})
		return se.Next()
	})

	forgetUser := func(e *core.ModelEvent) error {
		record, ok := e.Model.(*core.Record)
		if !ok {
			c.invalidate()
			return e.Next()
		}
		c.forgetUser(record.Id) // PocketBase never changes a record's id
		return e.Next()
	}
	app.OnModelAfterUpdateSuccess(usersCollection).BindFunc(forgetUser)
	app.OnModelAfterDeleteSuccess(usersCollection).BindFunc(forgetUser)
	app.OnCollectionAfterUpdateSuccess().BindFunc(func(e *core.CollectionEvent) error {
		c.invalidate()
		return e.Next()
	})
	app.OnCollectionAfterDeleteSuccess().BindFunc(func(e *core.CollectionEvent) error {
		c.invalidate()
		return e.Next()
	})
	return c
}

func (c *authCache) middleware(e *core.RequestEvent) error {
	if e.Auth != nil {
		return e.Next()
	}
	token := e.Request.Header.Get("Authorization")
	if len(token) > 7 && strings.EqualFold(token[:7], "Bearer ") {
		token = token[7:] // as PocketBase reads it
	}
	if token == "" {
		return e.Next()
	}
	if record := c.get(token); record != nil {
		e.Auth = record
		return e.Next()
	}

	gen := c.generation()
	record, err := e.App.FindAuthRecordByToken(token, core.TokenTypeAuth)
	if err != nil || record == nil {
		return e.Next() // PocketBase's loadAuthToken tries again and logs why
	}
	e.Auth = record
	if record.Collection().Name == usersCollection {
		if claims, err := security.ParseUnverifiedJWT(token); err == nil {
			if expires, err := claims.GetExpirationTime(); err == nil && expires != nil {
				c.put(token, record, expires.Time, gen)
			}
		}
	}
	return e.Next()
}

// get returns a copy of the record token was verified for, or nil.
func (c *authCache) get(token string) *core.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	entry, ok := c.entries[token]
	if !ok {
		return nil
	}
	if !time.Now().Before(entry.expires) {
		delete(c.entries, token)
		return nil
	}
	return entry.record.Clone()
}

func (c *authCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put remembers record for token, unless an invalidation happened since gen
// was read (the record may predate it).
func (c *authCache) put(token string, record *core.Record, expires time.Time, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return
	}
	if len(c.entries) >= authCacheMaxEntries {
		clear(c.entries)
	}
	c.entries[token] = authCacheEntry{record: record.Clone(), expires: expires}
}

// forgetUser drops the entries of the user userID. Like invalidate, it
// turns away look-ups in flight, whoever they are for.
func (c *authCache) forgetUser(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for token, entry := range c.entries {
		if entry.record.Id == userID {
			delete(c.entries, token)
		}
	}
}

func (c *authCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
}
