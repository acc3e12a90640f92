package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Creates "room_reads", the hidden per-user read state behind a room's
// computed "unread": one row per (room, user) with the time of the user's
// last read. Every rule is nil, so only superusers see it; clients change
// it only through POST /api/rooms/{id}/read.
func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		rooms, err := app.FindCollectionByNameOrId("rooms")
		if err != nil {
			return err
		}

		reads := core.NewBaseCollection("room_reads")
		reads.Fields.Add(
			&core.RelationField{Name: "room", CollectionId: rooms.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			&core.RelationField{Name: "user", CollectionId: users.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			&core.DateField{Name: "last_read_at", Required: true},
		)
		reads.AddIndex("idx_room_reads_room_user", true, "room, user", "")

		return app.Save(reads)
	}, func(app core.App) error {
		reads, err := app.FindCollectionByNameOrId("room_reads")
		if err != nil {
			return err
		}
		return app.Delete(reads)
	})
}
