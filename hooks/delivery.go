package hooks

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/pocketbase/pocketbase/core"

	"github.com/marketchat/marketchat/realtime"
)

// Who sees what, live.
//
// The realtime package delivers record events to the people an audience
// names; this file names them, in chat words:
//
//   - a post: anyone (the live feed);
//   - a message: the participants of its room as the room is when the
//     message is delivered (someone who left in between gets nothing more);
//     a new message also changed its room's preview (updated in place by
//     touchRoomInPlace, with no event of its own), so the room as it is now
//     follows the message, to the same people;
//   - a room: the participants named in the event who are still in it (an
//     invitee gets the event that invited them, someone who left since
//     does not), each with their own unread count, everyone's reads and
//     whether they muted it.
//
// The rules the routes enforce are the migrations' list and view rules; if
// an admin changes them in the dashboard, that collection's events go back
// to PocketBase's broadcast, which evaluates whatever rule is set.

// delivery holds what the routes share: the room loader and the read
// state they preset.
type delivery struct {
	rooms *roomLoader
	reads *readStates
	fan   *realtime.Fanout
}

// registerDelivery binds the realtime fan-out with the chat's routes.
func registerDelivery(app core.App, cfg realtime.Config, reads *readStates) *delivery {
	d := &delivery{rooms: newRoomLoader(app), reads: reads}
	closeOnTerminate(app, d.rooms.query)
	d.fan = realtime.New(app, cfg,
		realtime.Route{
			Collection: postsCollection,
			Rule:       "",                                                   // anyone
			Key:        func(*core.Record) string { return postsCollection }, // the feed in order
			Audience:   d.postAudience,
		},
		realtime.Route{
			Collection: messagesCollection,
			Rule:       "room.participants.id ?= @request.auth.id",
			Key:        func(r *core.Record) string { return r.GetString("room") }, // with the room's own events
			Audience:   d.messageAudience,
		},
		realtime.Route{
			Collection: roomsCollection,
			Rule:       "participants.id ?= @request.auth.id",
			Key:        func(r *core.Record) string { return r.Id },
			Audience:   d.roomAudience,
		},
	)
	return d
}

// roomPreviewInPlace reports whether a new message's room preview is to
// be updated in place, its event sent by messageAudience: only while the
// fan-out delivers both messages and rooms. Otherwise the room is saved
// and its event goes the way of any room save.
func (d *delivery) roomPreviewInPlace() bool {
	return d.fan.Serves(messagesCollection) && d.fan.Serves(roomsCollection)
}

func (d *delivery) postAudience(ev realtime.Event) ([]realtime.Delivery, error) {
	return []realtime.Delivery{{Action: ev.Action, Record: ev.Record, To: realtime.Anyone, Shared: true}}, nil
}

func (d *delivery) messageAudience(ev realtime.Event) ([]realtime.Delivery, error) {
	room, err := d.rooms.load(ev.Record.GetString("room"))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil // deleted since, and its messages with it
	}
	if err != nil {
		return nil, err
	}
	members := room.record.GetStringSlice("participants")
	out := []realtime.Delivery{{Action: ev.Action, Record: ev.Record, To: members, Shared: true}}
	if ev.Action == "create" && d.fan.Serves(roomsCollection) {
		out = append(out, realtime.Delivery{Action: "update", Record: room.record, To: members, Touch: d.touch(room)})
	}
	return out, nil
}

func (d *delivery) roomAudience(ev realtime.Event) ([]realtime.Delivery, error) {
	room, err := d.rooms.load(ev.Record.Id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil // deleted since: its delete event goes through PocketBase
	}
	if err != nil {
		return nil, err
	}
	current := room.record.GetStringSlice("participants")
	members := []string{}
	for _, id := range ev.Record.GetStringSlice("participants") {
		if slices.Contains(current, id) {
			members = append(members, id)
		}
	}
	return []realtime.Delivery{{Action: ev.Action, Record: ev.Record, To: members, Touch: d.touch(room)}}, nil
}

// liveRoom is a room as it is now, with every current participant's read
// state: what one room event needs for each of its viewers.
type liveRoom struct {
	record *core.Record
	unread map[string]int    // participant -> readState's unread
	reads  map[string]string // participant -> last read time, for those who read
	muted  map[string]bool   // participant -> muted the room (mute.go)
}

// touch sets each viewer's read state on their copy of room's event,
// worked out once for the event, so the enrich hook need not query it.
func (d *delivery) touch(room *liveRoom) func(*core.Record, string) {
	return func(record *core.Record, viewerID string) {
		if unread, ok := room.unread[viewerID]; ok {
			d.reads.preset(record, unread, room.reads, room.muted[viewerID])
		}
	}
}

// liveRoomQuery reads a room and its participants' read states in one
// statement; it runs for every new message, so it is prepared once.
const liveRoomQuery = `
SELECT r.*, (
  SELECT json_group_array(json_array(p.value, COALESCE(rr.last_read_at, ''),
    (SELECT count(*) FROM messages m
     WHERE m.room = r.id AND m.sender != p.value AND m.created > COALESCE(rr.last_read_at, '')),
    EXISTS (SELECT 1 FROM room_mutes rm WHERE rm.room = r.id AND rm.user = p.value)))
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
	// As PocketBase loads a row (core/db_model.go, v0.40.4): each field's
	// PrepareValue, no setters (an autodate field's setter ignores values).
	room := &liveRoom{record: core.NewRecord(collection), unread: map[string]int{}, reads: map[string]string{}, muted: map[string]bool{}}
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

	var list [][4]any // [participant, last read or "", unread, muted 0 or 1]
	if err := json.Unmarshal([]byte(states), &list); err != nil {
		return nil, fmt.Errorf("read states of room %q: %w", id, err)
	}
	for _, state := range list {
		user, _ := state[0].(string)
		at, _ := state[1].(string)
		count, _ := state[2].(float64)
		muted, _ := state[3].(float64)
		room.unread[user] = int(count)
		room.muted[user] = muted == 1
		if at != "" {
			room.reads[user] = at
		}
	}
	return room, nil
}
