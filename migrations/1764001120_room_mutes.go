package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Creates "room_mutes": a row per (room, user) who muted the room. A muted
// room sends that user no push and no e-mail; its messages still arrive
// live and count as unread. Clients change it only through
// POST /api/rooms/{id}/mute and see it as the computed "muted" on rooms.
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

		mutes := core.NewBaseCollection("room_mutes")

		// Every rule is nil: only superusers see it. Who muted whom tells
		// about a user's relationships; clients see only their own, as
		// "muted" on the rooms they are in.
		mutes.ListRule = nil
		mutes.ViewRule = nil
		mutes.CreateRule = nil
		mutes.UpdateRule = nil
		mutes.DeleteRule = nil

		mutes.Fields.Add(
			&core.RelationField{Name: "room", CollectionId: rooms.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			&core.RelationField{Name: "user", CollectionId: users.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		mutes.AddIndex("idx_room_mutes_room_user", true, "room, user", "")

		return app.Save(mutes)
	}, func(app core.App) error {
		mutes, err := app.FindCollectionByNameOrId("room_mutes")
		if err != nil {
			return err
		}
		return app.Delete(mutes)
	})
}
