package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Settings a hobbyist's server on the open internet should start with. They
// are ordinary settings: an admin may change them in the dashboard.
func init() {
	m.Register(func(app core.App) error {
		settings := app.Settings()

		settings.Meta.AppName = "Market chat"

		// PocketBase ships its limiter switched off. Rules are per client
		// address. Flood control for messages is per user (hooks/flood.go),
		// so no rule here may be tighter for message creation than that.
		settings.RateLimits.Enabled = true
		settings.RateLimits.Rules = []core.RateLimitRule{
			// Password / OTP / OAuth2 sign-in: brute force gets 429 quickly.
			{Label: "*:auth", MaxRequests: 10, Duration: 60},
			// Sign-up spam from one address.
			{Label: "users:create", MaxRequests: 10, Duration: 60},
			{Label: "/api/batch", MaxRequests: 3, Duration: 1},
			// Everything else under /api/: generous, per address.
			{Label: "/api/", MaxRequests: 300, Duration: 10},
		}

		// A daily backup at 03:00 (server time), seven kept, in pb_data/backups.
		settings.Backups.Cron = "0 3 * * *"
		settings.Backups.CronMaxKeep = 7

		return app.Save(settings)
	}, nil)
}
