package hooks

import (
	"sync"
	"time"
)

// Flood control: a user whose accepted messages would exceed
// FloodMaxMessages in any FloodWindow gets 429 for the excess.
const (
	FloodMaxMessages = 30
	FloodWindow      = 10 * time.Second
)

// floodGuard counts events per key over a sliding window: each user's
// accepted messages here, each account's failed sign-ins in signin.go.
// A send first reserves a slot (reserve) and gives it back if the message
// is not stored (release), so concurrent sends cannot overshoot the limit
// and failed ones do not count.
type floodGuard struct {
	max    int
	window time.Duration
	now    func() time.Time

	mu        sync.Mutex
	sends     map[string][]time.Time // userID -> times of accepted sends, oldest first
	lastSweep time.Time
}

func newFloodGuard(max int, window time.Duration) *floodGuard {
	return &floodGuard{max: max, window: window, now: time.Now, sends: map[string][]time.Time{}}
}

// reserve takes a slot for userID, or reports false when the user already
// has max accepted sends inside the window. The returned time identifies
// the slot for release.
func (g *floodGuard) reserve(userID string) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()

	now := g.now()
	if now.Sub(g.lastSweep) >= g.window {
		g.sweep(now)
	}
	times := g.sends[userID]
	cut := 0
	for cut < len(times) && now.Sub(times[cut]) >= g.window {
		cut++
	}
	times = times[cut:]
	if len(times) >= g.max {
		g.sends[userID] = times
		return time.Time{}, false
	}
	g.sends[userID] = append(times, now)
	return now, true
}

// retryAfter is how long until userID may reserve a slot again (0 when
// it may now).
func (g *floodGuard) retryAfter(userID string) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()

	times := g.sends[userID]
	if len(times) < g.max {
		return 0
	}
	// The oldest slot that must leave the window for one to free.
	return max(0, times[len(times)-g.max].Add(g.window).Sub(g.now()))
}

// release gives back a slot taken by reserve whose message was not stored.
func (g *floodGuard) release(userID string, slot time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()

	times := g.sends[userID]
	for i := len(times) - 1; i >= 0; i-- {
		if times[i].Equal(slot) {
			g.sends[userID] = append(times[:i:i], times[i+1:]...)
			break
		}
	}
	if len(g.sends[userID]) == 0 {
		delete(g.sends, userID)
	}
}

// sweep forgets users whose newest send is out of the window, so the map
// holds only recent senders. Called with mu held.
func (g *floodGuard) sweep(now time.Time) {
	for userID, times := range g.sends {
		if len(times) == 0 || now.Sub(times[len(times)-1]) >= g.window {
			delete(g.sends, userID)
		}
	}
	g.lastSweep = now
}
