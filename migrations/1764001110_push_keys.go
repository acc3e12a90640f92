package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Creates "push_keys", where the server keeps its VAPID key pair (RFC
// 8292): made on first use (hooks/push.go) and kept in the database, so
// it survives restarts, backups and restores. Browsers' subscriptions are
// tied to the public key: a new key pair would silence every one of them.
func init() {
	m.Register(func(app core.App) error {
		keys := core.NewBaseCollection("push_keys")

		// Every rule is nil: only superusers see it. The public key is
		// served by GET /api/push/key; the private key never leaves the
		// server.
		keys.ListRule = nil
		keys.ViewRule = nil
		keys.CreateRule = nil
		keys.UpdateRule = nil
		keys.DeleteRule = nil

		keys.Fields.Add(
			// base64url, as the Push API's applicationServerKey takes it.
			&core.TextField{Name: "public_key", Required: true, Max: 200},
			// Hidden: not shown even to superusers' API reads.
			&core.TextField{Name: "private_key", Required: true, Max: 200, Hidden: true},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		return app.Save(keys)
	}, func(app core.App) error {
		keys, err := app.FindCollectionByNameOrId("push_keys")
		if err != nil {
			return err
		}
		return app.Delete(keys)
	})
}
