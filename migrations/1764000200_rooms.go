package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Creates "rooms", the conversations.
//
// Every rule says "participants.id ?= @request.auth.id": a bare
// "participants ?= ..." compares the whole JSON list and never matches a
// multi-relation.
func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		posts, err := app.FindCollectionByNameOrId("posts")
		if err != nil {
			return err
		}

		rooms := core.NewBaseCollection("rooms")

		// Only participants see a room; the same rule guards realtime
		// events and any filter, sort or expand that reaches rooms from
		// another collection.
		member := "participants.id ?= @request.auth.id"
		rooms.ListRule = types.Pointer(member)
		rooms.ViewRule = types.Pointer(member)
		// A signed-in user may start a group chat; hooks/rooms.go checks
		// that they are among the 2..50 participants and refuses "post"
		// and the server-maintained fields, naming the field.
		rooms.CreateRule = types.Pointer(`@request.auth.id != "" && @request.auth.collectionName = "users"`)
		// Participants may invite and leave (a non-participant gets 404);
		// hooks/rooms.go answers 403 for removing anyone but yourself and
		// deletes the room when its last participant leaves.
		rooms.UpdateRule = types.Pointer(member)
		// Deleting a room outright is for superusers only.
		rooms.DeleteRule = nil

		rooms.Fields.Add(
			// Emptied (not cascaded) when the post is deleted: the chat stays.
			&core.RelationField{Name: "post", CollectionId: posts.Id, MaxSelect: 1},
			// Not required at the schema level so that deleting an account
			// only takes it out of its rooms; hooks/rooms.go enforces 2..50
			// on create.
			&core.RelationField{Name: "participants", CollectionId: users.Id, MaxSelect: 50},
			&core.TextField{Name: "last_message", Max: 200},
			&core.DateField{Name: "last_message_at"},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)

		// The chat button looks rooms up by post; "my chats" sorts by activity.
		rooms.AddIndex("idx_rooms_post", false, "post", "")
		rooms.AddIndex("idx_rooms_last_message_at", false, "last_message_at", "")

		return app.Save(rooms)
	}, func(app core.App) error {
		rooms, err := app.FindCollectionByNameOrId("rooms")
		if err != nil {
			return err
		}
		return app.Delete(rooms)
	})
}
