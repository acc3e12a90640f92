// Package hooks is everything the marketplace chat adds to PocketBase:
// record hooks that keep the contract's invariants, the chat button and
// mark-read routes, the computed "unread" on rooms, per-user flood
// control and budgets, and the notifications (push, e-mail, mute, typing). The schema itself lives in the migrations package.
//
// Where things are:
//
//	users.go       display names are normalised
//	posts.go       author defaulting and spoof checks, title trimming, status default
//	rooms.go       participant rules (invite, leave, 403, 204 on the last leave)
//	messages.go    sender checks, text rules, the room's last_message
//	flood.go       per-user flood control (429)
//	budgets.go     image size limit (400), upload budget and posts per hour (429)
//	signin.go      per-account limit on failed password sign-ins (429)
//	reads.go       read state: "unread" on every room, POST /api/rooms/{id}/read
//	mute.go        POST /api/rooms/{id}/mute and "muted" on every room
//	typing.go      POST /api/rooms/{id}/typing: the realtime topic "typing"
//	push.go        Web Push for new messages, push_subscriptions, GET /api/push/key
//	email.go       e-mail about messages unread for 10 minutes; users' notify prefs
//	delivery.go    who sees which post, message and room live (routes of the realtime package)
//	chat.go        POST /api/posts/{id}/chat, the atomic find-or-create
//	queryguard.go  filters and sorts that could learn about hidden rows
//	storage.go     a write that finds no space answers 503 (retryable), not 400
//	authcache.go   a verified auth token skips PocketBase's look-up next time
//	revoke.go      POST /api/auth/revoke: every token of the user invalid at once
//	prepared.go    prepared statements for the reads every message makes
//
// Example usage:
//
//	app := pocketbase.New()
//	hooks.MustRegister(app, hooks.Config{})
//	app.Start()
package hooks

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/router"

	"github.com/marketchat/marketchat/push"
	"github.com/marketchat/marketchat/realtime"
)

// Collection names of the contract.
const (
	usersCollection     = "users"
	postsCollection     = "posts"
	roomsCollection     = "rooms"
	messagesCollection  = "messages"
	roomReadsCollection = "room_reads"
)

// Limits of the contract, defined once.
const (
	// MinParticipants and MaxParticipants bound a room's participants when
	// it is created or someone is invited. Leaving may go below the minimum.
	MinParticipants = 2
	MaxParticipants = 50

	// LastMessagePreviewLen is how many characters of the newest message
	// a room keeps in last_message.
	LastMessagePreviewLen = 200

	// AttachmentPreview stands in last_message for a message that has
	// attachments but no text.
	AttachmentPreview = "📷"
)

// Config tunes what Register binds. The zero value is the production set-up.
type Config struct {
	// Realtime tunes the realtime fan-out (caps, timeouts, or Plain to
	// leave every event to PocketBase's broadcast, for measuring).
	Realtime realtime.Config

	// Now is the clock of the per-account sign-in limit (signin.go), the
	// typing limit (typing.go) and the e-mail notices (email.go); nil
	// means time.Now. Tests move it forward instead of sleeping.
	Now func() time.Time

	// PushAllowPrivate lets push endpoints use http and private, loopback
	// and link-local addresses (serve --push-allow-private: tests and
	// intranets). Off, only https endpoints on public addresses are
	// accepted and dialled (the push package's SSRF guard).
	PushAllowPrivate bool

	// PushResolver resolves push endpoints' hosts for the SSRF guard; nil
	// means the system's resolver. Tests make names resolve where they
	// like.
	PushResolver push.Resolver

	// PushBackoff is the wait before a push is retried (after a 429 or
	// 5xx); 0 means push.DefaultBackoff. Tests shorten it.
	PushBackoff time.Duration

	// BlockedBy reports whether recipientID blocks senderID: such a
	// sender causes the recipient no push and no e-mail. nil means
	// nobody blocks anybody. This is the one call point for blocks
	// (issue 14): Register is the place to default it to the blocks
	// collection's check.
	BlockedBy func(app core.App, recipientID, senderID string) bool
}

// Register binds every hook and route of the chat onto app. It takes the
// core.App interface so that tests bind the very same hooks onto a
// tests.TestApp.
func Register(app core.App, config Config) error {
	registerUsers(app)
	registerAuthCache(app)
	registerSignInLimit(app, config.Now)
	registerPosts(app)
	registerRooms(app)
	reads := registerReads(app)
	live := registerDelivery(app, config.Realtime, reads)
	registerRevoke(app, live.fan)
	registerMessages(app, newFloodGuard(FloodMaxMessages, FloodWindow), live)
	registerMute(app)
	registerTyping(app, live, config.Now)
	registerPush(app, config, live)
	registerEmail(app, config)
	registerBudgets(app) // after registerMessages: see its doc
	registerChat(app)
	registerQueryGuard(app)
	registerStorageErrors(app)
	return nil
}

// MustRegister is Register that panics on error, for main.
func MustRegister(app core.App, config Config) {
	if err := Register(app, config); err != nil {
		panic(err)
	}
}

// trimFields trims the named text fields of record in place. TextField
// neither trims nor treats whitespace as empty, so this runs in
// OnRecordValidate before the field validators see the value.
func trimFields(record *core.Record, fields ...string) {
	for _, name := range fields {
		if v, ok := record.GetRaw(name).(string); ok {
			if trimmed := strings.TrimSpace(v); trimmed != v {
				record.Set(name, trimmed)
			}
		}
	}
}

// checkText answers the first of record's fields whose value is not valid
// UTF-8 (JSON bodies are checked by the decoder; form bodies are not).
func checkText(record *core.Record, fields ...string) error {
	for _, name := range fields {
		if v, ok := record.GetRaw(name).(string); ok && !utf8.ValidString(v) {
			return fieldError(name, "validation_invalid_utf8", "Must be valid UTF-8 text.")
		}
	}
	return nil
}

// checkBodyKinds answers 400 naming the first field of the request body
// sent with the wrong kind of value: numbers must be JSON numbers or
// numeric strings (forms send strings), texts must be strings. PocketBase
// would otherwise store "abc" as 0 and an object as "".
func checkBodyKinds(e *core.RecordRequestEvent, numbers, texts []string) error {
	// The request info's body already holds PocketBase's cast values
	// ("abc" is 0 there): read the raw body again (it is rereadable).
	body := map[string]any{}
	if err := e.BindBody(&body); err != nil {
		return e.BadRequestError(unreadableBody, err)
	}
	for _, name := range numbers {
		ok := true
		switch v := body[name].(type) {
		case nil, float64, int, int64:
		case string:
			if trimmed := strings.TrimSpace(v); trimmed != "" {
				_, err := strconv.ParseFloat(trimmed, 64)
				ok = err == nil
			}
		default:
			ok = false
		}
		if !ok {
			return e.BadRequestError(unreadableBody, fieldError(name, "validation_invalid_number", "Must be a number."))
		}
	}
	for _, name := range texts {
		switch body[name].(type) {
		case nil, string:
		default:
			return e.BadRequestError(unreadableBody, fieldError(name, "validation_invalid_text", "Must be text."))
		}
	}
	return nil
}

// unreadableBody is PocketBase's own message for a body it cannot load.
const unreadableBody = "Failed to read the submitted data."

// fieldError is a 400-style validation error naming one field, rendered by
// PocketBase as data.<field>.code / data.<field>.message.
func fieldError(field, code, message string) validation.Errors {
	return validation.Errors{field: validation.NewError(code, message)}
}

// apiError passes err on when it already is an API error (a 404 decided
// inside a transaction, a 413 for a body over the limit) and otherwise
// answers fallback, the cause kept for the logs only.
func apiError(err error, fallback *router.ApiError) error {
	var apiErr *router.ApiError
	if errors.As(err, &apiErr) {
		return apiErr
	}
	return fallback
}
