package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Creates "push_subscriptions": one row per browser that asked for Web
// Push, holding what its PushSubscription gives (the push service's
// endpoint URL and the two keys the payload is encrypted for). The
// endpoint and keys are a capability to notify that browser, so only the
// owner sees them. Saving an endpoint that exists replaces it, and the
// endpoint is checked against the SSRF guard (hooks/push.go).
func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}

		subs := core.NewBaseCollection("push_subscriptions")

		// The owner lists, views and deletes their own subscriptions (a
		// "turn off push" switch, signing out of a shared browser). Nobody
		// else learns that they exist.
		owner := types.Pointer("user = @request.auth.id")
		subs.ListRule = owner
		subs.ViewRule = owner
		subs.DeleteRule = owner
		// Any signed-in user saves their own; "user" defaults to the
		// requester and naming anyone else is a 400 naming "user"
		// (hooks/push.go): the rule only needs a signed-in user, since a
		// create rule sees the raw body, which usually omits "user".
		subs.CreateRule = types.Pointer(`@request.auth.id != ""`)
		// No updates: a browser that got a new subscription saves it anew
		// (same endpoint: replaced; new endpoint: a new row).
		subs.UpdateRule = nil

		subs.Fields.Add(
			// Deleting an account deletes its subscriptions.
			&core.RelationField{Name: "user", CollectionId: users.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			&core.URLField{Name: "endpoint", Required: true},
			// The browser's P-256 public key (65 bytes) and auth secret
			// (16 bytes), base64url as PushSubscription.toJSON() gives them.
			&core.TextField{Name: "p256dh", Required: true, Max: 200},
			&core.TextField{Name: "auth", Required: true, Max: 100},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)

		// One row per endpoint (a replacement deletes the old row first);
		// the push worker reads a user's rows.
		subs.AddIndex("idx_push_subscriptions_endpoint", true, "endpoint", "")
		subs.AddIndex("idx_push_subscriptions_user", false, "user", "")

		return app.Save(subs)
	}, func(app core.App) error {
		subs, err := app.FindCollectionByNameOrId("push_subscriptions")
		if err != nil {
			return err
		}
		return app.Delete(subs)
	})
}
