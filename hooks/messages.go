package hooks

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// registerMessages binds the messages invariants.
//
// For every save: text is trimmed before validation; a new message needs
// text or an attachment (400 naming "text") and a sender; storing a
// message updates its room's last_message and last_message_at in the same
// transaction. For client requests: the sender defaults to the requester,
// anyone else is a 400 naming "sender", and flood control answers 429.
// Successful sends stay out of the request logs (failures are logged): a
// busy chat would otherwise write a log row per message.
func registerMessages(app core.App, flood *floodGuard, live *delivery) {
	participants := &preparedQuery{app: app, sql: participantQuery}
	roomTimes := &preparedQuery{app: app, sql: roomTimesQuery}
	closeOnTerminate(app, participants, roomTimes)

	app.OnRecordValidate(messagesCollection).BindFunc(func(e *core.RecordEvent) error {
		if err := checkText(e.Record, "text"); err != nil {
			return err
		}
		trimFields(e.Record, "text")
		if e.Record.IsNew() {
			if e.Record.GetString("text") == "" && !hasAttachments(e.Record) {
				return fieldError("text", "validation_required",
					"A message needs text or an attachment.")
			}
			if e.Record.GetString("sender") == "" {
				return fieldError("sender", "validation_required", "A message needs a sender.")
			}
		}
		return e.Next()
	})

	app.OnRecordCreateRequest(messagesCollection).BindFunc(func(e *core.RecordRequestEvent) error {
		if err := checkBodyKinds(e, nil, []string{"text"}); err != nil {
			return err
		}
		if e.HasSuperuserAuth() {
			return e.Next()
		}
		if e.Auth == nil { // only if an admin opened the create rule to guests
			return e.BadRequestError("Failed to create record.", nil)
		}
		switch sender := e.Record.GetString("sender"); {
		case sender == "":
			e.Record.Set("sender", e.Auth.Id)
		case sender != e.Auth.Id:
			return e.BadRequestError("You can only send as yourself.",
				fieldError("sender", "validation_sender_not_requester", "The sender must be the signed-in user."))
		}

		// The create rule only requires a signed-in user (migration
		// 1764000600): only a participant sends into a room; to anyone else
		// it does not exist.
		if room := e.Record.GetString("room"); room != "" {
			member, err := isParticipant(participants, room, e.Auth.Id)
			if err != nil {
				return e.InternalServerError("", err)
			}
			if !member {
				return e.BadRequestError("Failed to create record.",
					fieldError("room", "validation_missing_rel_records", "The room does not exist."))
			}
		}

		slot, ok := flood.reserve(e.Auth.Id)
		if !ok {
			return e.TooManyRequestsError(
				fmt.Sprintf("You are sending too fast: at most %d messages in %s.", FloodMaxMessages, FloodWindow), nil)
		}
		if err := e.Next(); err != nil {
			flood.release(e.Auth.Id, slot)
			return err
		}
		return nil
	})

	// The message and its room's preview commit together: a stored message
	// always shows in "my chats". Bound on the execute step, after
	// validation, so the write lock is held only for the two writes.
	app.OnRecordCreateExecute(messagesCollection).BindFunc(func(e *core.RecordEvent) error {
		// The after-success hooks (realtime among them) run with e.App once
		// this returns: give them back the app, not the finished transaction.
		outer := e.App
		defer func() { e.App = outer }()
		return e.App.RunInTransaction(func(txApp core.App) error {
			e.App = txApp
			times := roomTimes
			if outer.IsTransactional() {
				times = nil // a batch: earlier messages of it are not committed yet
			}
			if err := stampMessage(txApp, times, e.Record); err != nil {
				return err
			}
			if err := e.Next(); err != nil {
				return err
			}
			if live.roomPreviewInPlace() { // its event follows the message's (delivery.go)
				return touchRoomInPlace(txApp, e.Record)
			}
			return touchRoom(txApp, e.Record)
		})
	})

	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		skip := apis.SkipSuccessActivityLog()
		se.Router.BindFunc(func(e *core.RequestEvent) error {
			if e.Request.Method == http.MethodPost && isMessagesCollection(e.App, e.Request.PathValue("collection")) {
				return skip.Func(e)
			}
			return e.Next()
		})
		return se.Next()
	})
}

func isMessagesCollection(app core.App, nameOrID string) bool {
	if nameOrID == "" {
		return false
	}
	c, err := app.FindCachedCollectionByNameOrId(nameOrID)
	return err == nil && c.Name == messagesCollection
}

// touchRoomInPlace is touchRoom in one UPDATE, without loading and saving
// the room record (and so without PocketBase's room update hooks, whose
// only consumer is the realtime broadcast the fan-out replaces): the
// fan-out sends the room's event after the message's (messageAudience).
func touchRoomInPlace(app core.App, message *core.Record) error {
	at := message.GetDateTime("created").String()
	res, err := app.DB().NewQuery(`UPDATE {{` + roomsCollection + `}}
		SET [[last_message]] = {:text}, [[last_message_at]] = {:at}, [[updated]] = {:at}
		WHERE [[id]] = {:room}`).
		Bind(dbx.Params{"text": preview(message), "at": at, "room": message.GetString("room")}).
		Execute()
	if err != nil {
		return fmt.Errorf("update room of message %q: %w", message.Id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("update room of message %q: %d rows, %v", message.Id, n, err)
	}
	return nil
}

// stampMessage sets a new message's "created" (and "updated") to now, or,
// when its room's newest message or last change is not older (two messages
// in one millisecond, the clock stepped back), to one millisecond after
// that. Messages are stored one transaction at a time, and this runs inside
// the message's, so within a room "created" strictly increases in the
// order messages were stored: sorting by it is that order, and a read up to
// the room's newest message (markRead) never covers a later one. A
// "created" set by Go code (an import keeping its dates) is left alone.
//
// The room's times are read with the prepared times query when given: on
// the read pool, which has every earlier write, since PocketBase runs one
// write transaction at a time and this one holds the turn. Without it
// (inside an outer transaction, whose earlier writes only app sees), they
// are read through app.
func stampMessage(app core.App, times *preparedQuery, message *core.Record) error {
	if !message.GetDateTime("created").IsZero() {
		return nil
	}
	roomID := message.GetString("room")
	var lastMessageAt, updated types.DateTime
	var err error
	if times != nil {
		var stmt *sql.Stmt
		if stmt, err = times.statement(); err == nil {
			err = stmt.QueryRow(roomID).Scan(&lastMessageAt, &updated)
		}
	} else {
		var room struct {
			LastMessageAt types.DateTime `db:"last_message_at"`
			Updated       types.DateTime `db:"updated"`
		}
		err = app.DB().NewQuery("SELECT [[last_message_at]], [[updated]] FROM {{" + roomsCollection + "}} WHERE [[id]] = {:room}").
			Bind(dbx.Params{"room": roomID}).
			One(&room)
		lastMessageAt, updated = room.LastMessageAt, room.Updated
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil // validated, then deleted meanwhile: the insert fails on its own
	}
	if err != nil {
		return fmt.Errorf("find room of message %q: %w", message.Id, err)
	}

	at := time.Now().UTC().Truncate(time.Millisecond) // what "created" keeps
	for _, t := range []types.DateTime{lastMessageAt, updated} {
		if after := t.Time().Add(time.Millisecond); at.Before(after) {
			at = after
		}
	}
	stamp, err := types.ParseDateTime(at)
	if err != nil {
		return fmt.Errorf("stamp message %q: %w", message.Id, err)
	}
	message.SetRaw("created", stamp)
	message.SetRaw("updated", stamp)
	return nil
}

// roomTimesQuery reads the room times stampMessage goes by.
const roomTimesQuery = `SELECT last_message_at, updated FROM rooms WHERE id = ?`

// participantQuery counts the rows where room has user among its
// participants: 1 or 0.
const participantQuery = `SELECT count(*) FROM rooms r, json_each(r.participants) p
WHERE r.id = ? AND p.value = ?`

// isParticipant reports whether userID is one of roomID's participants.
func isParticipant(q *preparedQuery, roomID, userID string) (bool, error) {
	stmt, err := q.statement()
	if err != nil {
		return false, err
	}
	var n int
	if err := stmt.QueryRow(roomID, userID).Scan(&n); err != nil {
		return false, fmt.Errorf("participants of room %q: %w", roomID, err)
	}
	return n > 0, nil
}

// touchRoom sets the room's last_message and last_message_at from message
// by saving the room, so that PocketBase's hooks (its realtime broadcast)
// see the change.
func touchRoom(app core.App, message *core.Record) error {
	room, err := app.FindRecordById(roomsCollection, message.GetString("room"))
	if err != nil {
		return fmt.Errorf("find room of message %q: %w", message.Id, err)
	}
	room.Set("last_message", preview(message))
	room.Set("last_message_at", message.GetDateTime("created"))
	// Only the two server-maintained fields change, valid by construction:
	// skip re-validating the room's relations inside the write lock.
	if err := app.SaveNoValidate(room); err != nil {
		return fmt.Errorf("update room %q: %w", room.Id, err)
	}
	return nil
}

// preview is what a room shows of its newest message: the first
// LastMessagePreviewLen characters of its text, or AttachmentPreview for
// a photo without text.
func preview(message *core.Record) string {
	text := message.GetString("text")
	if text == "" && hasAttachments(message) {
		return AttachmentPreview
	}
	if utf8.RuneCountInString(text) <= LastMessagePreviewLen {
		return text
	}
	runes := []rune(text)
	return string(runes[:LastMessagePreviewLen])
}

// hasAttachments reports whether message carries stored or new files.
func hasAttachments(message *core.Record) bool {
	return len(message.GetUnsavedFiles("attachments")) > 0 || len(message.GetStringSlice("attachments")) > 0
}
