package hooks

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
)

// Mute: POST /api/rooms/{id}/mute with {"muted": true|false} turns a
// room's push notifications and e-mails off or on for the requester. The
// room's messages still arrive live and count as unread. Every room the
// API returns carries "muted" for the viewer, worked out with the read
// state (reads.go, and delivery.go for realtime events).

const roomMutesCollection = "room_mutes"

func registerMute(app core.App) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.POST("/api/rooms/{id}/mute", muteRoom).Bind(apis.RequireAuth(usersCollection))
		return se.Next()
	})
}

// muteRoom handles POST /api/rooms/{id}/mute.
//
// Returns 204 on success, 400 naming "muted" unless the body has a
// boolean "muted", and 404 if the room does not exist or the requester is
// not one of its participants.
func muteRoom(e *core.RequestEvent) error {
	var body struct {
		Muted *bool `json:"muted"`
	}
	if err := e.BindBody(&body); err != nil || body.Muted == nil {
		return e.BadRequestError(unreadableBody,
			fieldError("muted", "validation_required", "Must be true or false."))
	}
	roomID := e.Request.PathValue("id")
	err := e.App.RunInTransaction(func(txApp core.App) error {
		room, err := txApp.FindRecordById(roomsCollection, roomID)
		if err != nil || !isMember(room, e.Auth.Id) {
			return e.NotFoundError("", err)
		}
		mute, err := txApp.FindFirstRecordByFilter(roomMutesCollection,
			"room = {:room} && user = {:user}", dbx.Params{"room": room.Id, "user": e.Auth.Id})
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if !*body.Muted {
				return nil
			}
			collection, err := txApp.FindCachedCollectionByNameOrId(roomMutesCollection)
			if err != nil {
				return fmt.Errorf("find collection %q: %w", roomMutesCollection, err)
			}
			mute = core.NewRecord(collection)
			mute.Set("room", room.Id)
			mute.Set("user", e.Auth.Id)
			if err := txApp.Save(mute); err != nil {
				return fmt.Errorf("mute room %q: %w", room.Id, err)
			}
		case err != nil:
			return fmt.Errorf("find mute of room %q: %w", room.Id, err)
		case !*body.Muted:
			if err := txApp.Delete(mute); err != nil {
				return fmt.Errorf("unmute room %q: %w", room.Id, err)
			}
		}
		return nil
	})
	if err != nil {
		return apiError(err, e.InternalServerError("Failed to change the room's notifications.", err))
	}
	return e.NoContent(http.StatusNoContent)
}
