package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Adds the users' notification preferences: "notify_email" (e-mail about
// unread messages; on unless turned off, hooks/email.go) and "lang" (the
// language the app shows, so that e-mails use it too). Both are the
// owner's own: hidden from other users (hooks/email.go) and off the
// query allow-list (hooks/queryguard.go).
func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		users.Fields.Add(
			&core.BoolField{Name: "notify_email"},
			&core.SelectField{Name: "lang", MaxSelect: 1, Values: []string{"en", "ko"}},
		)
		if err := app.Save(users); err != nil {
			return err
		}
		// The contract's default is true; a bool field's is false. New
		// users get true in hooks/email.go, existing ones here.
		_, err = app.DB().NewQuery("UPDATE {{users}} SET [[notify_email]] = TRUE").Execute()
		return err
	}, func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		users.Fields.RemoveByName("notify_email")
		users.Fields.RemoveByName("lang")
		return app.Save(users)
	})
}
