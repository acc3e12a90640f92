package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Creates "room_emails": when each user was last e-mailed about each room
// (hooks/email.go sends at most one e-mail per room per hour, and never
// twice about the same messages).
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

		emails := core.NewBaseCollection("room_emails")

		// Every rule is nil: only superusers see it; the server writes it.
		emails.ListRule = nil
		emails.ViewRule = nil
		emails.CreateRule = nil
		emails.UpdateRule = nil
		emails.DeleteRule = nil

		emails.Fields.Add(
			&core.RelationField{Name: "room", CollectionId: rooms.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			&core.RelationField{Name: "user", CollectionId: users.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			// When the last e-mail went out (the hourly limit) and the
			// newest message it told about (later e-mails only for newer
			// ones; a message time, so it does not depend on the clocks
			// agreeing).
			&core.DateField{Name: "sent_at", Required: true},
			&core.DateField{Name: "covered", Required: true},
		)
		emails.AddIndex("idx_room_emails_room_user", true, "room, user", "")

		return app.Save(emails)
	}, func(app core.App) error {
		emails, err := app.FindCollectionByNameOrId("room_emails")
		if err != nil {
			return err
		}
		return app.Delete(emails)
	})
}
