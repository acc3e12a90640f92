package hooks

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
)

// Typing: POST /api/rooms/{id}/typing tells the room's other participants
// that the requester is typing, on the realtime topic "typing"
// (pb.realtime.subscribe('typing', cb)): {"room", "user", "name"}. It is
// never stored and never logged as a record; at most one event per user
// and room is sent on every TypingInterval (the rest answer 204 and go
// nowhere). The audience is the room's participants as they are at that
// moment, read from the database: someone who left gets nothing more.

const (
	// TypingTopic is the realtime topic of typing events.
	TypingTopic = "typing"

	// TypingInterval is the least time between two typing events of one
	// user in one room.
	TypingInterval = 2 * time.Second
)

// typingEvent is what the other participants receive.
type typingEvent struct {
	Room string `json:"room"`
	User string `json:"user"`
	Name string `json:"name"`
}

// typingLimiter remembers when each user's last typing event per room was
// sent on.
type typingLimiter struct {
	now func() time.Time

	mu   sync.Mutex
	last map[[2]string]time.Time // {user, room} -> sent at
}

// allow reports whether a typing event of user in room may be sent on now,
// and if so counts it.
func (l *typingLimiter) allow(user, room string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	key := [2]string{user, room}
	if at, ok := l.last[key]; ok && now.Sub(at) < TypingInterval {
		return false
	}
	if len(l.last) >= 10000 { // forget what no longer limits anything
		for k, at := range l.last {
			if now.Sub(at) >= TypingInterval {
				delete(l.last, k)
			}
		}
	}
	l.last[key] = now
	return true
}

func registerTyping(app core.App, live *delivery, now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	limiter := &typingLimiter{now: now, last: map[[2]string]time.Time{}}
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.POST("/api/rooms/{id}/typing", func(e *core.RequestEvent) error {
			return typing(e, live, limiter)
		}).Bind(apis.RequireAuth(usersCollection))
		return se.Next()
	})
}

// typing handles POST /api/rooms/{id}/typing.
//
// Returns 204 (also when the event is not sent on, inside
// TypingInterval) and 404 if the room does not exist or the requester is
// not one of its participants.
func typing(e *core.RequestEvent, live *delivery, limiter *typingLimiter) error {
	room, err := e.App.FindRecordById(roomsCollection, e.Request.PathValue("id"))
	if err != nil || !isMember(room, e.Auth.Id) {
		return e.NotFoundError("", err)
	}
	if limiter.allow(e.Auth.Id, room.Id) {
		data, err := json.Marshal(typingEvent{Room: room.Id, User: e.Auth.Id, Name: e.Auth.GetString("name")})
		if err != nil {
			return e.InternalServerError("", err)
		}
		var others []string
		for _, id := range room.GetStringSlice("participants") {
			if id != e.Auth.Id {
				others = append(others, id)
			}
		}
		live.fan.SendTopic(TypingTopic, data, others)
	}
	return e.NoContent(http.StatusNoContent)
}
