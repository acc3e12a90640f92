package hooks_test

// How a message is stored (messages.go): its "created" stamp follows the
// stored order and an import keeps its own, the room's preview takes it,
// and a stored message writes no request log.

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tests"
	"github.com/pocketbase/pocketbase/tools/types"
)

// TestMessagesCreatedFollowsStoredOrder: within a room "created" strictly
// increases in the order messages are stored, however fast they come, so
// that sorting by "created,id" (the web app's order) is the stored order.
// The ids here sort against that order: a tie would show.
func TestMessagesCreatedFollowsStoredOrder(t *testing.T) {
	t.Parallel()
	for _, mode := range realtimeModes {
		t.Run(mode.name, func(t *testing.T) { testCreatedFollowsStoredOrder(t, newTestAppWithConfig(t, mode.config)) })
	}
}

func testCreatedFollowsStoredOrder(t *testing.T, app *tests.TestApp) {
	const n = 40 // each save takes well under a millisecond here
	var stored []string
	save := func(app core.App, i int) error {
		id := fmt.Sprintf("ordermsg%07d", n-i)
		sender := alice
		if i%2 == 1 {
			sender = bob
		}
		stored = append(stored, id)
		return saveRecord(app, "messages", id, map[string]any{"room": roomBike, "sender": sender, "text": id})
	}
	for i := range n / 2 {
		if err := save(app, i); err != nil {
			t.Fatal(err)
		}
	}
	// The rest in one transaction (as a batch request does): each sees
	// the ones before it, uncommitted.
	err := app.RunInTransaction(func(txApp core.App) error {
		for i := n / 2; i < n; i++ {
			if err := save(txApp, i); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	records, err := app.FindRecordsByFilter("messages", "room = {:room} && id ~ 'ordermsg%'", "created,id", 0, 0, dbx.Params{"room": roomBike})
	if err != nil {
		t.Fatal(err)
	}
	var sorted []string
	for i, r := range records {
		sorted = append(sorted, r.Id)
		if i > 0 && !r.GetDateTime("created").After(records[i-1].GetDateTime("created")) {
			t.Errorf("message %s created %s, not after %s's %s", r.Id, r.GetDateTime("created"), records[i-1].Id, records[i-1].GetDateTime("created"))
		}
	}
	if fmt.Sprint(sorted) != fmt.Sprint(stored) {
		t.Errorf("sorted by created,id:\n%v\nwant the stored order:\n%v", sorted, stored)
	}
	room, err := app.FindRecordById("rooms", roomBike)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := room.GetDateTime("last_message_at"), records[n-1].GetDateTime("created"); !got.Equal(want) {
		t.Errorf("room last_message_at = %s; want the newest message's created %s", got, want)
	}
}

// TestMessagesImportKeepsCreated: a message whose "created" Go code set (an
// import of old chats) keeps it, and its room's preview takes that time.
func TestMessagesImportKeepsCreated(t *testing.T) {
	t.Parallel()
	for _, mode := range realtimeModes {
		t.Run(mode.name, func(t *testing.T) {
			app := newTestAppWithConfig(t, mode.config)
			messages, err := app.FindCollectionByNameOrId("messages")
			if err != nil {
				t.Fatal(err)
			}
			then, err := types.ParseDateTime("2030-01-02 03:04:05.678Z")
			if err != nil {
				t.Fatal(err)
			}
			msg := core.NewRecord(messages)
			msg.Set("room", roomBike)
			msg.Set("sender", alice)
			msg.Set("text", "imported")
			msg.SetRaw("created", then)
			if err := app.Save(msg); err != nil {
				t.Fatal(err)
			}
			stored, err := app.FindRecordById("messages", msg.Id)
			if err != nil {
				t.Fatal(err)
			}
			room, err := app.FindRecordById("rooms", roomBike)
			if err != nil {
				t.Fatal(err)
			}
			if got := stored.GetDateTime("created"); !got.Equal(then) {
				t.Errorf("stored created = %s; want the imported %s", got, then)
			}
			if got := room.GetDateTime("last_message_at"); !got.Equal(then) || room.GetString("last_message") != "imported" {
				t.Errorf("room preview = %q at %s; want %q at %s", room.GetString("last_message"), got, "imported", then)
			}
		})
	}
}

// BenchmarkMessageSave stores messages into one room as Go code (or the
// dashboard) does: validation, the stamp, the insert and the room preview
// in one transaction, and the fan-out's hand-off; no request, no flood
// control. Compare runs with benchstat:
//
//	GOTOOLCHAIN=go1.27.3 go test ./hooks -run '^$' -bench MessageSave -count 10
func BenchmarkMessageSave(b *testing.B) {
	app := newTestApp(b)
	messages, err := app.FindCollectionByNameOrId("messages")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		msg := core.NewRecord(messages)
		msg.Set("room", roomBike)
		msg.Set("sender", alice)
		msg.Set("text", "benchmark message")
		if err := app.Save(msg); err != nil {
			b.Fatalf("save message %d: %v", i, err)
		}
	}
}

// TestMessagesSuccessfulSendsAreNotLogged: a stored message writes no
// request log (one per chat message would flood the logs database), while a
// refused one is logged as usual, as is any other successful request.
func TestMessagesSuccessfulSendsAreNotLogged(t *testing.T) {
	t.Parallel()
	s := newRealtimeServer(t)
	s.app.Settings().Logs.MaxDays = 1 // test apps keep no logs; a served app keeps 5 days
	s.sendMessage(t, bob, roomBike, "not in the logs")
	s.mustRequest(t, http.MethodPost, "/api/collections/messages/records", bob,
		map[string]any{"room": roomBike, "text": "  "}, http.StatusBadRequest)
	s.mustRequest(t, http.MethodGet, "/api/collections/posts/records", bob, nil, http.StatusOK)

	count := func(method, url string, status int) int {
		var n int
		err := s.app.AuxDB().NewQuery(`SELECT count(*) FROM _logs
			WHERE json_extract(data, '$.method') = {:method} AND json_extract(data, '$.url') = {:url}
			  AND json_extract(data, '$.status') = {:status}`).
			Bind(dbx.Params{"method": method, "url": url, "status": status}).Row(&n)
		if err != nil {
			t.Fatalf("count request logs: %v", err)
		}
		return n
	}
	const create = "/api/collections/messages/records"
	// The logger writes in batches every few seconds.
	waitFor(t, 10*time.Second, "the refused send and the posts list logged", func() bool {
		return count("POST", create, http.StatusBadRequest) > 0 && count("GET", "/api/collections/posts/records", http.StatusOK) > 0
	})
	if n := count("POST", create, http.StatusOK); n != 0 {
		t.Errorf("successful message sends logged %d times; want 0", n)
	}
}
