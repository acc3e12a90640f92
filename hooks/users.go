package hooks

import "github.com/pocketbase/pocketbase/core"

// registerUsers trims display names on every save (API, dashboard and Go),
// so that the 50-character limit counts what is shown.
func registerUsers(app core.App) {
	app.OnRecordValidate(usersCollection).BindFunc(func(e *core.RecordEvent) error {
		trimFields(e.Record, "name")
		return e.Next()
	})
}
