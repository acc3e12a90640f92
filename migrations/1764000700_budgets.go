package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Creates "budgets", the admin's settings for what one user may make the
// server store, with its one record: upload_mb_per_day, the megabytes of
// files (post images, avatars, message attachments) a user may upload in
// any 24 hours (hooks/budgets.go). An admin changes it in the dashboard;
// the new value applies to the next upload. Without a record the hooks
// use hooks.DefaultUploadMBPerDay, the value seeded here.
func init() {
	m.Register(func(app core.App) error {
		budgets := core.NewBaseCollection("budgets")

		// Every rule is nil: only superusers list, view, create, change or
		// delete it. A client has no business knowing the limits beyond
		// the 429 it gets.
		budgets.ListRule = nil
		budgets.ViewRule = nil
		budgets.CreateRule = nil
		budgets.UpdateRule = nil
		budgets.DeleteRule = nil

		budgets.Fields.Add(
			// Whole megabytes (MiB, like the file fields' MaxSize), at
			// least 1: "Required" refuses the 0 an emptied input sends.
			&core.NumberField{Name: "upload_mb_per_day", Required: true, OnlyInt: true, Min: types.Pointer(1.0)},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		if err := app.Save(budgets); err != nil {
			return err
		}

		settings := core.NewRecord(budgets)
		// The contract's default, written here as a literal: a migration
		// records what was seeded then, whatever the constant becomes.
		settings.Set("upload_mb_per_day", 100)
		return app.Save(settings)
	}, func(app core.App) error {
		budgets, err := app.FindCollectionByNameOrId("budgets")
		if err != nil {
			return err
		}
		return app.Delete(budgets)
	})
}
