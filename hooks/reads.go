package hooks

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// registerReads adds the read state to rooms.
//
// Every room the API returns (lists, views, expands, the chat route and
// realtime events) carries two computed fields for the viewer:
//
//	unread  messages from others stored after the viewer's last read
//	        (before any read: all of them)
//	reads   {participantID: last read time} for the participants who have
//	        read the room, so a client can show "read"
//	muted   whether the viewer muted the room (mute.go)
//
// POST /api/rooms/{id}/read marks the room read for the requester.
func registerReads(app core.App) *readStates {
	states := &readStates{}
	app.OnRecordEnrich(roomsCollection).BindFunc(func(e *core.RecordEnrichEvent) error {
		if states.takePreset(e.Record) {
			return e.Next() // set for this copy by a realtime delivery (delivery.go)
		}
		var viewerID string
		if e.RequestInfo != nil && e.RequestInfo.Auth != nil {
			viewerID = e.RequestInfo.Auth.Id
		}
		unread, reads, muted, err := readState(e.App, e.Record, viewerID)
		if err != nil {
			return err
		}
		e.Record.WithCustomData(true)
		e.Record.Set("unread", unread)
		e.Record.Set("reads", reads)
		e.Record.Set("muted", muted)
		return e.Next()
	})

	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.POST("/api/rooms/{id}/read", markRead).Bind(apis.RequireAuth(usersCollection))
		return se.Next()
	})
	return states
}

// readStates remembers the room copies whose read state was preset: a
// realtime delivery works out every participant's state in one query per
// event (delivery.go's liveRoom) and sets each viewer's on their copy just
// before the copy is enriched.
type readStates struct {
	presets sync.Map // *core.Record -> struct{}
}

// preset sets unread, reads and muted on record, a copy about to be
// enriched, so that the enrich hook keeps them instead of querying them
// again.
func (s *readStates) preset(record *core.Record, unread int, reads map[string]string, muted bool) {
	record.WithCustomData(true)
	record.Set("unread", unread)
	record.Set("reads", reads)
	record.Set("muted", muted)
	s.presets.Store(record, struct{}{})
}

// takePreset reports whether record's read state was preset, and forgets
// it.
func (s *readStates) takePreset(record *core.Record) bool {
	_, ok := s.presets.LoadAndDelete(record)
	return ok
}

// readState returns how many of room's messages viewerID has not read,
// the last read time of each current participant who has read it, and
// whether viewerID muted the room, in one query (it runs for every room
// the API returns, per viewer).
func readState(app core.App, room *core.Record, viewerID string) (int, map[string]string, bool, error) {
	var row struct {
		Unread int    `db:"unread"`
		Reads  string `db:"reads"`
		Muted  bool   `db:"muted"`
	}
	err := app.DB().NewQuery(`
		SELECT
		  (SELECT count(*) FROM messages
		   WHERE room = {:room} AND sender != {:viewer}
		     AND created > COALESCE((SELECT last_read_at FROM room_reads WHERE room = {:room} AND user = {:viewer}), '')
		  ) AS unread,
		  (SELECT COALESCE(json_group_object(user, last_read_at), '{}') FROM room_reads WHERE room = {:room}) AS reads,
		  EXISTS (SELECT 1 FROM room_mutes WHERE room = {:room} AND user = {:viewer}) AS muted`).
		Bind(dbx.Params{"room": room.Id, "viewer": viewerID}).
		One(&row)
	if err != nil {
		return 0, nil, false, fmt.Errorf("read state of room %q: %w", room.Id, err)
	}

	var all map[string]string
	if err := json.Unmarshal([]byte(row.Reads), &all); err != nil {
		return 0, nil, false, fmt.Errorf("read state of room %q: %w", room.Id, err)
	}
	participants := room.GetStringSlice("participants")
	reads := make(map[string]string, len(all))
	for user, at := range all {
		if slices.Contains(participants, user) {
			reads[user] = at
		}
	}
	return row.Unread, reads, row.Muted, nil
}

// markRead handles POST /api/rooms/{id}/read: it records that the
// requester has read the room up to now and sends a room event (by saving
// the room) so that every participant's client sees the new read state.
//
// Returns 204 on success and 404 if the room does not exist or the
// requester is not one of its participants.
func markRead(e *core.RequestEvent) error {
	roomID := e.Request.PathValue("id")
	err := e.App.RunInTransaction(func(txApp core.App) error {
		room, err := txApp.FindRecordById(roomsCollection, roomID)
		if err != nil || !slices.Contains(room.GetStringSlice("participants"), e.Auth.Id) {
			return e.NotFoundError("", err)
		}

		read, err := txApp.FindFirstRecordByFilter(roomReadsCollection,
			"room = {:room} && user = {:user}", dbx.Params{"room": room.Id, "user": e.Auth.Id})
		if errors.Is(err, sql.ErrNoRows) {
			collection, err := txApp.FindCachedCollectionByNameOrId(roomReadsCollection)
			if err != nil {
				return fmt.Errorf("find collection %q: %w", roomReadsCollection, err)
			}
			read = core.NewRecord(collection)
			read.Set("room", room.Id)
			read.Set("user", e.Auth.Id)
		} else if err != nil {
			return fmt.Errorf("find read state of room %q: %w", room.Id, err)
		}
		// Up to now, and never short of the newest message, whose time
		// may be a little ahead (stampMessage).
		readAt := types.NowDateTime()
		if newest := room.GetDateTime("last_message_at"); readAt.Before(newest) {
			readAt = newest
		}
		read.Set("last_read_at", readAt)
		if err := txApp.Save(read); err != nil {
			return fmt.Errorf("save read state of room %q: %w", room.Id, err)
		}

		if err := txApp.Save(room); err != nil {
			return fmt.Errorf("touch room %q: %w", room.Id, err)
		}
		return nil
	})
	if err != nil {
		return apiError(err, e.InternalServerError("Failed to mark the room read.", err))
	}
	return e.NoContent(http.StatusNoContent)
}
