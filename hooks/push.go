package hooks

import (
	"context"
	"crypto/ecdh"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/marketchat/marketchat/push"
)

// Web Push: who gets a notification for a new message, and the
// push_subscriptions collection's invariants. The sending itself (VAPID,
// encryption, retries, the SSRF guard) is the push package's.
//
// When a message is stored, a worker (never the sender's request) sends
// every other participant of its room a push on each of their
// subscriptions, unless they have a live realtime connection (they see
// the message in the app), muted the room (mute.go), or block the sender
// (Config.BlockedBy). A subscription whose push service answers 404 or
// 410 is deleted.
//
// GET /api/push/key answers the VAPID public key, which the browser's
// pushManager.subscribe needs; the key pair is made on first use and kept
// in the push_keys collection, so it survives restarts and backups.

const (
	pushSubscriptionsCollection = "push_subscriptions"
	pushKeysCollection          = "push_keys"

	// roomPagePath is the web app's page of a room, before its id: what
	// a notification or an e-mail opens.
	roomPagePath = "/#/room/"

	// pushQueueSize is how many stored messages may wait for the push
	// worker to look up their recipients; past it they get no push.
	pushQueueSize = 4096
)

// pushPayload is what the service worker receives (decrypted) for a new
// message. Its fields are the contract's, plus image (a thumbnail of the
// post's first photo, when it has one).
type pushPayload struct {
	Type  string `json:"type"`
	Room  string `json:"room"`
	Title string `json:"title"`
	Body  string `json:"body"`
	URL   string `json:"url"`
	Image string `json:"image,omitempty"`
}

// notifier finds a new message's push recipients on its own goroutine and
// hands the pushes to the sender.
type notifier struct {
	app       core.App
	live      *delivery
	sender    *push.Sender
	guard     push.Guard
	blockedBy func(app core.App, recipientID, senderID string) bool

	messages chan *core.Record
	done     chan struct{}
	stop     sync.Once // close may run more than once (terminate, then the bootstrap cleared)
	stopped  sync.WaitGroup

	keysMu sync.Mutex
	keys   *push.Keys // cached; nil until loaded or after push_keys changed
}

// registerPush binds the subscriptions' hooks, GET /api/push/key, and the
// push on every stored message.
func registerPush(app core.App, config Config, live *delivery) *notifier {
	n := &notifier{
		app:       app,
		live:      live,
		guard:     push.Guard{AllowPrivate: config.PushAllowPrivate, Resolver: config.PushResolver},
		blockedBy: config.BlockedBy,
		messages:  make(chan *core.Record, pushQueueSize),
		done:      make(chan struct{}),
	}
	n.sender = push.New(push.Config{
		Keys:       n.vapidKeys,
		Subscriber: "mailto:" + pushContact(app),
		Gone:       n.gone,
		Guard:      n.guard,
		Backoff:    config.PushBackoff,
		Logger:     app.Logger(),
	})
	n.stopped.Add(1)
	go n.work()
	// The worker finishes the message in hand before the databases close:
	// on terminate, or when the bootstrap is cleared without one (the
	// tests' template app).
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		n.close()
		return e.Next()
	})
	app.OnBootstrapClear().BindFunc(func(e *core.BootstrapEvent) error {
		n.close()
		return e.Next()
	})

	app.OnRecordAfterCreateSuccess(messagesCollection).BindFunc(func(e *core.RecordEvent) error {
		select {
		case n.messages <- e.Record.Fresh():
		default:
			e.App.Logger().Warn("push queue full: no push for message", "id", e.Record.Id)
		}
		return e.Next()
	})

	n.bindSubscriptions()
	app.OnRecordAfterCreateSuccess(pushKeysCollection).BindFunc(n.forgetKeys)
	app.OnRecordAfterUpdateSuccess(pushKeysCollection).BindFunc(n.forgetKeys)
	app.OnRecordAfterDeleteSuccess(pushKeysCollection).BindFunc(n.forgetKeys)

	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.GET("/api/push/key", n.publicKey)
		return se.Next()
	})
	return n
}

// pushContact is the VAPID contact a push service may write to about
// this server: the sender address of the mail settings.
func pushContact(app core.App) string {
	if addr := app.Settings().Meta.SenderAddress; addr != "" {
		return addr
	}
	return "admin@localhost"
}

// bindSubscriptions binds push_subscriptions' invariants: the owner is
// the requester, the endpoint passes the SSRF guard (400 naming
// "endpoint"), the keys are what a browser gives, and saving an endpoint
// that exists replaces the old row.
func (n *notifier) bindSubscriptions() {
	n.app.OnRecordValidate(pushSubscriptionsCollection).BindFunc(func(e *core.RecordEvent) error {
		trimFields(e.Record, "endpoint", "p256dh", "auth")
		if err := n.guard.CheckEndpoint(context.Background(), e.Record.GetString("endpoint")); err != nil {
			return fieldError("endpoint", "validation_push_endpoint_refused",
				"The push endpoint must be an https URL on a public address ("+strings.TrimPrefix(err.Error(), push.ErrRefused.Error()+": ")+").")
		}
		if !validP256dh(e.Record.GetString("p256dh")) {
			return fieldError("p256dh", "validation_invalid_push_key", "Must be the subscription's P-256 public key (base64url).")
		}
		if raw, err := decodeBase64URL(e.Record.GetString("auth")); err != nil || len(raw) != 16 {
			return fieldError("auth", "validation_invalid_push_key", "Must be the subscription's 16-byte auth secret (base64url).")
		}
		return e.Next()
	})

	n.app.OnRecordCreateRequest(pushSubscriptionsCollection).BindFunc(func(e *core.RecordRequestEvent) error {
		if err := checkBodyKinds(e, nil, []string{"endpoint", "p256dh", "auth", "user"}); err != nil {
			return err
		}
		if e.HasSuperuserAuth() {
			return e.Next()
		}
		if e.Auth == nil { // only if an admin opened the create rule to guests
			return e.BadRequestError("Failed to create record.", nil)
		}
		switch user := e.Record.GetString("user"); {
		case user == "":
			e.Record.Set("user", e.Auth.Id)
		case user != e.Auth.Id:
			return e.BadRequestError("You can only subscribe yourself.",
				fieldError("user", "validation_user_not_requester", "The user must be the signed-in user."))
		}
		return e.Next()
	})

	// The replacement and the new row commit together.
	n.app.OnRecordCreateExecute(pushSubscriptionsCollection).BindFunc(func(e *core.RecordEvent) error {
		outer := e.App
		defer func() { e.App = outer }()
		return e.App.RunInTransaction(func(txApp core.App) error {
			e.App = txApp
			old, err := txApp.FindFirstRecordByData(pushSubscriptionsCollection, "endpoint", e.Record.GetString("endpoint"))
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return fmt.Errorf("find push subscription: %w", err)
			default:
				if err := txApp.Delete(old); err != nil {
					return fmt.Errorf("replace push subscription %q: %w", old.Id, err)
				}
			}
			return e.Next()
		})
	})
}

// validP256dh reports whether key is an uncompressed P-256 point in
// base64url (or base64), as PushSubscription.getKey("p256dh") gives it.
func validP256dh(key string) bool {
	raw, err := decodeBase64URL(key)
	if err != nil {
		return false
	}
	_, err = ecdh.P256().NewPublicKey(raw)
	return err == nil
}

// decodeBase64URL decodes base64url with or without padding (browsers
// give it without; some libraries add it).
func decodeBase64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// publicKey handles GET /api/push/key: {"publicKey": "<base64url>"}, for
// anyone (it is public by design: browsers show it to push services).
func (n *notifier) publicKey(e *core.RequestEvent) error {
	keys, err := n.vapidKeys()
	if err != nil {
		return e.InternalServerError("Push is not available.", err)
	}
	return e.JSON(http.StatusOK, map[string]string{"publicKey": keys.Public})
}

// vapidKeys returns the server's key pair, made and stored on first use.
// The find-or-create runs in one transaction (one writer at a time), so
// two first uses at once make one pair. The cache lock is not held during
// it: saving the pair fires forgetKeys.
func (n *notifier) vapidKeys() (push.Keys, error) {
	n.keysMu.Lock()
	cached := n.keys
	n.keysMu.Unlock()
	if cached != nil {
		return *cached, nil
	}
	var keys push.Keys
	err := n.app.RunInTransaction(func(txApp core.App) error {
		records, err := txApp.FindRecordsByFilter(pushKeysCollection, "", "created", 1, 0)
		if err != nil {
			return fmt.Errorf("find VAPID keys: %w", err)
		}
		if len(records) == 1 {
			keys = push.Keys{Public: records[0].GetString("public_key"), Private: records[0].GetString("private_key")}
			return nil
		}
		if keys, err = push.GenerateKeys(); err != nil {
			return err
		}
		collection, err := txApp.FindCollectionByNameOrId(pushKeysCollection)
		if err != nil {
			return fmt.Errorf("find collection %q: %w", pushKeysCollection, err)
		}
		record := core.NewRecord(collection)
		record.Set("public_key", keys.Public)
		record.Set("private_key", keys.Private)
		if err := txApp.Save(record); err != nil {
			return fmt.Errorf("save VAPID keys: %w", err)
		}
		return nil
	})
	if err != nil {
		return push.Keys{}, err
	}
	n.keysMu.Lock()
	n.keys = &keys
	n.keysMu.Unlock()
	return keys, nil
}

// close stops the worker and the sender; safe to call more than once.
func (n *notifier) close() {
	n.stop.Do(func() { close(n.done) })
	n.stopped.Wait()
	n.sender.Stop()
}

// forgetKeys drops the cached key pair when an admin changes push_keys.
func (n *notifier) forgetKeys(e *core.RecordEvent) error {
	n.keysMu.Lock()
	n.keys = nil
	n.keysMu.Unlock()
	return e.Next()
}

// gone deletes a subscription its push service no longer knows.
func (n *notifier) gone(sub push.Subscription) {
	record, err := n.app.FindRecordById(pushSubscriptionsCollection, sub.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return
	}
	if err == nil {
		err = n.app.Delete(record)
	}
	if err != nil {
		n.app.Logger().Warn("delete expired push subscription", "id", sub.ID, "error", err)
	}
}

func (n *notifier) work() {
	defer n.stopped.Done()
	for {
		select {
		case <-n.done:
			return
		case message := <-n.messages:
			select {
			case <-n.done: // stopping: the database may be closing
				return
			default:
			}
			if err := n.notifySafely(message); err != nil {
				n.app.Logger().Warn("push for message failed", "id", message.Id, "error", err)
			}
		}
	}
}

func (n *notifier) notifySafely(message *core.Record) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return n.notify(message)
}

// pushSubscriptionRow is a subscription of a possible recipient.
type pushSubscriptionRow struct {
	ID       string `db:"id"`
	User     string `db:"user"`
	Endpoint string `db:"endpoint"`
	P256dh   string `db:"p256dh"`
	Auth     string `db:"auth"`
}

// notify sends message's push to the recipients who should get one.
func (n *notifier) notify(message *core.Record) error {
	roomID, senderID := message.GetString("room"), message.GetString("sender")
	room, err := n.app.FindRecordById(roomsCollection, roomID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // deleted since, with its messages
	}
	if err != nil {
		return fmt.Errorf("find room %q: %w", roomID, err)
	}
	var recipients []any
	for _, id := range room.GetStringSlice("participants") {
		if id != senderID && !n.live.fan.Connected(id) {
			recipients = append(recipients, id)
		}
	}
	if len(recipients) == 0 {
		return nil
	}

	var rows []pushSubscriptionRow
	err = n.app.DB().Select("s.id", "s.user", "s.endpoint", "s.p256dh", "s.auth").
		From(pushSubscriptionsCollection + " s").
		Where(dbx.In("s.user", recipients...)).
		AndWhere(dbx.NewExp("NOT EXISTS (SELECT 1 FROM "+roomMutesCollection+" m WHERE m.room = {:room} AND m.user = s.user)",
			dbx.Params{"room": roomID})).
		All(&rows)
	if err != nil {
		return fmt.Errorf("push subscriptions of room %q: %w", roomID, err)
	}
	if len(rows) == 0 {
		return nil
	}

	payload, err := n.payload(message, room)
	if err != nil {
		return err
	}
	blocked := map[string]bool{}
	for _, row := range rows {
		if n.blockedBy != nil {
			b, ok := blocked[row.User]
			if !ok {
				b = n.blockedBy(n.app, row.User, senderID)
				blocked[row.User] = b
			}
			if b {
				continue
			}
		}
		n.sender.Enqueue(push.Message{
			Subscription: push.Subscription{ID: row.ID, Endpoint: row.Endpoint, P256dh: row.P256dh, Auth: row.Auth},
			Payload:      payload,
			Topic:        roomID, // 15 characters of a-z0-9: a valid Topic
			Urgency:      push.UrgencyHigh,
		})
	}
	return nil
}

// payload is the push's JSON for message: the sender's name (and the
// post's title) as the title, the room's preview as the body.
func (n *notifier) payload(message, room *core.Record) ([]byte, error) {
	p := pushPayload{Type: "message", Room: room.Id, Body: preview(message), URL: roomPagePath + room.Id}
	var title []string
	if sender, err := n.app.FindRecordById(usersCollection, message.GetString("sender")); err == nil && sender.GetString("name") != "" {
		title = append(title, sender.GetString("name"))
	}
	if postID := room.GetString("post"); postID != "" {
		if post, err := n.app.FindRecordById(postsCollection, postID); err == nil {
			title = append(title, post.GetString("title"))
			if images := post.GetStringSlice("images"); len(images) > 0 {
				p.Image = "/api/files/" + url.PathEscape(post.Collection().Id) + "/" + post.Id + "/" +
					url.PathEscape(images[0]) + "?thumb=100x100"
			}
		}
	}
	p.Title = strings.Join(title, " · ")
	if p.Title == "" {
		p.Title = n.app.Settings().Meta.AppName
	}
	data, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode push of message %q: %w", message.Id, err)
	}
	return data, nil
}

// isMember reports whether userID is among room's participants.
func isMember(room *core.Record, userID string) bool {
	return slices.Contains(room.GetStringSlice("participants"), userID)
}
