package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Creates "uploads", the record of what each user uploaded: one row per
// accepted request that stored files, written in the same transaction as
// the record (hooks/budgets.go). The upload budget sums a user's rows of
// the last 24 hours, so it survives a restart, and an admin can see in the
// dashboard who stored what.
func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}

		uploads := core.NewBaseCollection("uploads")

		// Every rule is nil: only superusers see or change it. It tells
		// when a user was active and what they sent where; rows are
		// written by the server only.
		uploads.ListRule = nil
		uploads.ViewRule = nil
		uploads.CreateRule = nil
		uploads.UpdateRule = nil
		uploads.DeleteRule = nil

		uploads.Fields.Add(
			// Deleting an account deletes its rows: a new account starts
			// with a new budget anyway.
			&core.RelationField{Name: "user", CollectionId: users.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			// The collection and record the files were stored on, as text:
			// a relation cannot point into three collections, and the row
			// must outlive the record (deleting a post frees no budget).
			&core.TextField{Name: "collection", Max: 100},
			&core.TextField{Name: "record", Max: 100},
			// The size of the files in bytes, as sent.
			&core.NumberField{Name: "bytes", OnlyInt: true, Min: types.Pointer(0.0)},
			&core.AutodateField{Name: "created", OnCreate: true},
		)

		// The budget check: one user's rows of the last 24 hours.
		uploads.AddIndex("idx_uploads_user_created", false, "user, created", "")

		return app.Save(uploads)
	}, func(app core.App) error {
		uploads, err := app.FindCollectionByNameOrId("uploads")
		if err != nil {
			return err
		}
		return app.Delete(uploads)
	})
}
