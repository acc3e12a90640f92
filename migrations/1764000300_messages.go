package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Creates "messages".
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

		messages := core.NewBaseCollection("messages")

		// Only the room's participants read its messages, in lists, views,
		// realtime events and through filter/expand from elsewhere.
		member := "room.participants.id ?= @request.auth.id"
		messages.ListRule = types.Pointer(member)
		messages.ViewRule = types.Pointer(member)
		// Only participants send. hooks/messages.go defaults the sender to
		// the requester, refuses anyone else and applies flood control.
		messages.CreateRule = types.Pointer(`@request.auth.id != "" && ` + member)
		// Messages are never edited or deleted by clients in v1.
		messages.UpdateRule = nil
		messages.DeleteRule = nil

		messages.Fields.Add(
			// Deleting the room deletes its messages.
			&core.RelationField{Name: "room", CollectionId: rooms.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			// Optional in the schema so that a deleted account leaves its
			// messages behind with an empty sender; hooks/messages.go
			// requires it for every new message.
			&core.RelationField{Name: "sender", CollectionId: users.Id, MaxSelect: 1},
			&core.TextField{Name: "text", Max: 2000},
			// Protected: a photo sent in a chat is served only with a file
			// token to someone who may view the message.
			&core.FileField{Name: "attachments", MaxSelect: 4, MaxSize: 10 << 20, MimeTypes: imageMimeTypes, Thumbs: []string{"100x100", "480x0"}, Protected: true},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)

		// A room's history in order, and the unread count.
		messages.AddIndex("idx_messages_room_created", false, "room, created", "")

		return app.Save(messages)
	}, func(app core.App) error {
		messages, err := app.FindCollectionByNameOrId("messages")
		if err != nil {
			return err
		}
		return app.Delete(messages)
	})
}
