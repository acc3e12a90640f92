package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Creates "posts", the items for sale.
func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}

		posts := core.NewBaseCollection("posts")

		// The feed is public: guests browse a market before signing up.
		posts.ListRule = types.Pointer("")
		posts.ViewRule = types.Pointer("")
		// Any signed-in user may post. The author is defaulted to the
		// requester and any other author refused by hooks/posts.go, so
		// that the error can name the field (a rule failure cannot).
		posts.CreateRule = types.Pointer(`@request.auth.id != "" && @request.auth.collectionName = "users"`)
		// Only the author edits or deletes; hooks/posts.go refuses a new author.
		posts.UpdateRule = types.Pointer("author = @request.auth.id")
		posts.DeleteRule = types.Pointer("author = @request.auth.id")

		posts.Fields.Add(
			&core.TextField{Name: "title", Required: true, Min: 1, Max: 100, Presentable: true},
			&core.TextField{Name: "body", Max: 5000},
			&core.NumberField{Name: "price", OnlyInt: true, Min: types.Pointer(0.0)},
			&core.SelectField{Name: "status", MaxSelect: 1, Required: true, Values: []string{"selling", "reserved", "sold"}},
			&core.FileField{
				Name:      "images",
				MaxSelect: 5,
				MaxSize:   5 << 20,
				MimeTypes: imageMimeTypes,
				Thumbs:    []string{"100x100", "480x0"},
			},
			// Deleting an account deletes its listings.
			&core.RelationField{Name: "author", CollectionId: users.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)

		// The feed's order, and "my posts".
		posts.AddIndex("idx_posts_created", false, "created", "")
		posts.AddIndex("idx_posts_author", false, "author, created", "")

		return app.Save(posts)
	}, func(app core.App) error {
		posts, err := app.FindCollectionByNameOrId("posts")
		if err != nil {
			return err
		}
		return app.Delete(posts)
	})
}
