package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// The messages create rule only requires a signed-in user; that the sender
// is a participant of the room is checked by hooks/messages.go, which
// answers a 400 naming "room". PocketBase evaluates a create rule with a
// generated query that joins the room and its participants on every send:
// about a quarter of a message's CPU. Installs whose rule was changed in
// the dashboard keep their rule (the hook's check applies on top of it).
const (
	messagesCreateRuleBefore = `@request.auth.id != "" && room.participants.id ?= @request.auth.id`
	messagesCreateRule       = `@request.auth.id != ""`
)

func init() {
	m.Register(func(app core.App) error {
		return setMessagesCreateRule(app, messagesCreateRuleBefore, messagesCreateRule)
	}, func(app core.App) error {
		return setMessagesCreateRule(app, messagesCreateRule, messagesCreateRuleBefore)
	})
}

func setMessagesCreateRule(app core.App, from, to string) error {
	messages, err := app.FindCollectionByNameOrId("messages")
	if err != nil {
		return err
	}
	if messages.CreateRule == nil || *messages.CreateRule != from {
		return nil // changed by an admin: theirs stays
	}
	messages.CreateRule = types.Pointer(to)
	return app.Save(messages)
}
