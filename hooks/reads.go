package hooks

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

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
//
// POST /api/rooms/{id}/read marks the room read for the requester.
func registerReads(app core.App) {
	app.OnRecordEnrich(roomsCollection).BindFunc(func(e *core.RecordEnrichEvent) error {
		if _, done := e.Record.GetRaw("unread").(int); done {
			return e.Next() // computed for the whole room by the fan-out (liveRoom)
		}
		var viewerID string
		if e.RequestInfo != nil && e.RequestInfo.Auth != nil {
			viewerID = e.RequestInfo.Auth.Id
		}
		unread, reads, err := readState(e.App, e.Record, viewerID)
		if err != nil {
			return err
		}
		e.Record.WithCustomData(true)
		e.Record.Set("unread", unread)
		e.Record.Set("reads", reads)
		return e.Next()
	})

	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.POST("/api/rooms/{id}/read", markRead).Bind(apis.RequireAuth(usersCollection))
		return se.Next()
	})
}

// readState returns how many of room's messages viewerID has not read and
// the last read time of each current participant who has read it, in one
// query (it runs for every room the API returns, per viewer).
func readState(app core.App, room *core.Record, viewerID string) (int, map[string]string, error) {
	var row struct {
		Unread int    `db:"unread"`
		Reads  string `db:"reads"`
	}
	err := app.DB().NewQuery(`
		SELECT
		  (SELECT count(*) FROM messages
		   WHERE room = {:room} AND sender != {:viewer}
		     AND created > COALESCE((SELECT last_read_at FROM room_reads WHERE room = {:room} AND user = {:viewer}), '')
		  ) AS unread,
		  (SELECT COALESCE(json_group_object(user, last_read_at), '{}') FROM room_reads WHERE room = {:room}) AS reads`).
		Bind(dbx.Params{"room": room.Id, "viewer": viewerID}).
		One(&row)
	if err != nil {
		return 0, nil, fmt.Errorf("read state of room %q: %w", room.Id, err)
	}

	var all map[string]string
	if err := json.Unmarshal([]byte(row.Reads), &all); err != nil {
		return 0, nil, fmt.Errorf("read state of room %q: %w", room.Id, err)
	}
	participants := room.GetStringSlice("participants")
	reads := make(map[string]string, len(all))
	for user, at := range all {
		if slices.Contains(participants, user) {
			reads[user] = at
		}
	}
	return row.Unread, reads, nil
}

// liveRoom is a room as it is now, with every current participant's read
// state: what the fan-out needs to send one room event per participant.
type liveRoom struct {
	record *core.Record
	unread map[string]int    // participant -> readState's unread
	reads  map[string]string // participant -> last read time, for those who read
}

// liveRoomQuery reads a room and its participants' read states in one
// statement; the fan-out runs it for every new message, so it is prepared
// once (roomLoader).
const liveRoomQuery = `
SELECT r.*, (
  SELECT json_group_array(json_array(p.value, COALESCE(rr.last_read_at, ''),
    (SELECT count(*) FROM messages m
     WHERE m.room = r.id AND m.sender != p.value AND m.created > COALESCE(rr.last_read_at, ''))))
  FROM json_each(r.participants) p
  LEFT JOIN room_reads rr ON rr.room = r.id AND rr.user = p.value
) AS ` + liveRoomStatesColumn + `
FROM rooms r WHERE r.id = ?`

const liveRoomStatesColumn = "marketchat_read_states"

// roomLoader runs liveRoomQuery as a prepared statement.
type roomLoader struct {
	query *preparedQuery
}

func newRoomLoader(app core.App) *roomLoader {
	return &roomLoader{query: &preparedQuery{app: app, sql: liveRoomQuery}}
}

// load returns the room with id as it is now, or sql.ErrNoRows.
func (l *roomLoader) load(id string) (*liveRoom, error) {
	stmt, err := l.query.statement()
	if err != nil {
		return nil, err
	}
	rows, err := stmt.Query(id)
	if err != nil {
		return nil, fmt.Errorf("load room %q: %w", id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("load room %q: %w", id, err)
		}
		return nil, sql.ErrNoRows
	}
	columns, err := rows.Columns()
	if err != nil {
		return nil, fmt.Errorf("load room %q: %w", id, err)
	}
	values := make([]sql.NullString, len(columns))
	targets := make([]any, len(columns))
	for i := range values {
		targets[i] = &values[i]
	}
	if err := rows.Scan(targets...); err != nil {
		return nil, fmt.Errorf("load room %q: %w", id, err)
	}

	collection, err := l.query.app.FindCachedCollectionByNameOrId(roomsCollection)
	if err != nil {
		return nil, err
	}
	// As PocketBase loads a row: each field's PrepareValue, no setters
	// (an autodate field's setter ignores values).
	room := &liveRoom{record: core.NewRecord(collection), unread: map[string]int{}, reads: map[string]string{}}
	var states string
	byName := make(map[string]any, len(columns))
	for i, column := range columns {
		if column == liveRoomStatesColumn {
			states = values[i].String
		} else if values[i].Valid {
			byName[column] = values[i].String
		}
	}
	for _, field := range collection.Fields {
		value, err := field.PrepareValue(room.record, byName[field.GetName()])
		if err != nil {
			return nil, fmt.Errorf("load room %q field %q: %w", id, field.GetName(), err)
		}
		room.record.SetRaw(field.GetName(), value)
	}
	room.record.Id = room.record.GetString("id")
	if err := room.record.PostScan(); err != nil {
		return nil, fmt.Errorf("load room %q: %w", id, err)
	}

	var list [][3]any // [participant, last read or "", unread]
	if err := json.Unmarshal([]byte(states), &list); err != nil {
		return nil, fmt.Errorf("read states of room %q: %w", id, err)
	}
	for _, state := range list {
		user, _ := state[0].(string)
		at, _ := state[1].(string)
		count, _ := state[2].(float64)
		room.unread[user] = int(count)
		if at != "" {
			room.reads[user] = at
		}
	}
	return room, nil
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
