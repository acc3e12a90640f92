package hooks

import (
	"fmt"
	"unicode/utf8"

	"github.com/pocketbase/pocketbase/core"
)

// registerMessages binds the messages invariants.
//
// For every save: text is trimmed before validation; a new message needs
// text or an attachment (400 naming "text") and a sender; storing a
// message updates its room's last_message and last_message_at in the same
// transaction. For client requests: the sender defaults to the requester,
// anyone else is a 400 naming "sender", and flood control answers 429.
func registerMessages(app core.App, flood *floodGuard) {
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
		switch sender := e.Record.GetString("sender"); {
		case sender == "":
			e.Record.Set("sender", e.Auth.Id)
		case sender != e.Auth.Id:
			return e.BadRequestError("You can only send as yourself.",
				fieldError("sender", "validation_sender_not_requester", "The sender must be the signed-in user."))
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
			if err := e.Next(); err != nil {
				return err
			}
			return touchRoom(txApp, e.Record)
		})
	})
}

// touchRoom sets the room's last_message and last_message_at from message.
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
