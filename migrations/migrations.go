// Package migrations builds the chat schema: users, posts, rooms, messages,
// the hidden per-user read state, and the budgets' admin setting and
// upload record, plus the app settings a fresh install needs. Each file
// holds one collection or one change, up and down.
package migrations

import "fmt"

// imageMimeTypes are the image types accepted for avatars, post photos and
// message attachments.
var imageMimeTypes = []string{"image/jpeg", "image/png", "image/webp", "image/gif"}

func errNoField(collection, field string) error {
	return fmt.Errorf("collection %q has no field %q of the expected type", collection, field)
}
