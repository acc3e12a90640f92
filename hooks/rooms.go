package hooks

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/list"
)

// serverMaintainedRoomFields are room fields no client may write, with the
// reason given in the 400. "post" is set only by the chat button; the
// others are kept by the server.
var serverMaintainedRoomFields = []string{"post", "last_message", "last_message_at", "unread", "reads"}

// registerRooms binds the rooms invariants.
//
// For every save: a new room has MinParticipants..MaxParticipants
// participants, and an invite cannot take a room past MaxParticipants.
// For client requests: a creator must be among the participants; post and
// the server-maintained fields are refused naming the field; a participant
// may add users but remove only themself (403 otherwise); when the last
// participant leaves, the room and its messages are deleted and the
// request answers 204. An update that changes nothing answers 200 without
// a save, so the other participants get no realtime event for it.
func registerRooms(app core.App) {
	app.OnRecordValidate(roomsCollection).BindFunc(func(e *core.RecordEvent) error {
		participants := e.Record.GetStringSlice("participants")
		grew := e.Record.IsNew() || len(list.SubtractSlice(participants, e.Record.Original().GetStringSlice("participants"))) > 0
		if grew && (len(participants) < MinParticipants || len(participants) > MaxParticipants) {
			return fieldError("participants", "validation_participants_count",
				fmt.Sprintf("A room needs %d to %d participants.", MinParticipants, MaxParticipants))
		}
		return e.Next()
	})

	app.OnRecordCreateRequest(roomsCollection).BindFunc(func(e *core.RecordRequestEvent) error {
		if e.HasSuperuserAuth() {
			return e.Next()
		}
		if err := refuseServerMaintained(e); err != nil {
			return err
		}
		if !slices.Contains(e.Record.GetStringSlice("participants"), e.Auth.Id) {
			return e.BadRequestError("You can only create a room you are in.",
				fieldError("participants", "validation_participants_missing_requester", "The participants must include you."))
		}
		return e.Next()
	})

	app.OnRecordUpdateRequest(roomsCollection).BindFunc(func(e *core.RecordRequestEvent) error {
		if !e.HasSuperuserAuth() {
			if err := refuseServerMaintained(e); err != nil {
				return err
			}

			before := e.Record.Original().GetStringSlice("participants")
			after := e.Record.GetStringSlice("participants")
			for _, id := range list.SubtractSlice(before, after) {
				if id != e.Auth.Id {
					return e.ForbiddenError("You can only remove yourself from a room.", nil)
				}
			}

			if len(after) == 0 {
				return deleteLeftRoom(e)
			}
		}
		if roomUnchanged(e.Record) {
			return answerUnchanged(e)
		}
		return e.Next()
	})
}

// roomUnchanged reports whether saving room would store nothing new: every
// field as loaded, participants in any order.
func roomUnchanged(room *core.Record) bool {
	original := room.Original()
	for _, name := range room.Collection().Fields.FieldNames() {
		now, was := room.GetRaw(name), original.GetRaw(name)
		if name == "participants" {
			now, was = sortedCopy(room.GetStringSlice(name)), sortedCopy(original.GetStringSlice(name))
		}
		if !reflect.DeepEqual(now, was) {
			return false
		}
	}
	return true
}

func sortedCopy(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// answerUnchanged answers an update that changes nothing as the records
// API answers one (200, the room as stored, enriched for the requester)
// without saving it: no write, no new "updated", and no realtime event
// to the other participants.
func answerUnchanged(e *core.RecordRequestEvent) error {
	room := e.Record.Original()
	if err := apis.EnrichRecord(e.RequestEvent, room); err != nil {
		return e.InternalServerError("Failed to enrich record", fmt.Errorf("enrich room %q: %w", room.Id, err))
	}
	e.Record = room // for a batch request's answer
	return e.JSON(http.StatusOK, room)
}

// deleteLeftRoom deletes the room its last participant just left, with its
// messages (cascade), and answers 204.
func deleteLeftRoom(e *core.RecordRequestEvent) error {
	room, err := e.App.FindRecordById(roomsCollection, e.Record.Id)
	if err != nil {
		return e.NotFoundError("", err)
	}
	if err := e.App.Delete(room); err != nil {
		return e.InternalServerError("Failed to delete the empty room.", fmt.Errorf("delete room %q: %w", room.Id, err))
	}
	return e.NoContent(http.StatusNoContent)
}

// refuseServerMaintained answers 400 naming the first field of the request
// body that clients may not write.
func refuseServerMaintained(e *core.RecordRequestEvent) error {
	info, err := e.RequestInfo()
	if err != nil {
		return e.BadRequestError("", err)
	}
	for _, field := range serverMaintainedRoomFields {
		if _, ok := info.Body[field]; ok {
			return e.BadRequestError("This field is maintained by the server.",
				fieldError(field, "validation_server_maintained", fmt.Sprintf("%q cannot be set by clients.", field)))
		}
	}
	return nil
}
