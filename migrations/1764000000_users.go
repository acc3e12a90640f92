package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Shapes PocketBase's default "users" auth collection into the contract's:
// a display name of up to 50 characters, one avatar image, and profiles
// that every signed-in user may see (e-mails stay hidden, as PocketBase
// hides them unless the owner turns emailVisibility on).
func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}

		// Signed-in users see each other's id, name and avatar: a chat shows
		// who is on the other side. Guests see nobody.
		users.ListRule = types.Pointer(`@request.auth.id != ""`)
		users.ViewRule = types.Pointer(`@request.auth.id != ""`)
		// Open sign-up (a hobbyist's default; change it in the dashboard).
		users.CreateRule = types.Pointer("")
		// Only the account's owner changes or deletes it.
		users.UpdateRule = types.Pointer("id = @request.auth.id")
		users.DeleteRule = types.Pointer("id = @request.auth.id")

		name, ok := users.Fields.GetByName("name").(*core.TextField)
		if !ok {
			return errNoField("users", "name")
		}
		name.Max = 50

		avatar, ok := users.Fields.GetByName("avatar").(*core.FileField)
		if !ok {
			return errNoField("users", "avatar")
		}
		avatar.MaxSelect = 1
		avatar.MaxSize = 5 << 20
		avatar.MimeTypes = imageMimeTypes
		avatar.Thumbs = []string{"100x100", "48x48"}

		// No e-mail verification needed to sign in (contract: open by default).
		users.AuthRule = types.Pointer("")

		return app.Save(users)
	}, func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		owner := types.Pointer("id = @request.auth.id")
		users.ListRule = owner
		users.ViewRule = owner
		if name, ok := users.Fields.GetByName("name").(*core.TextField); ok {
			name.Max = 255
		}
		return app.Save(users)
	})
}
