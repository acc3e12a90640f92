package hooks

import (
	"fmt"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/search"
	"github.com/pocketbase/pocketbase/tools/subscriptions"
)

// hiddenBackRelations are the back-relations into collections whose rows a
// client may not see. PocketBase applies the hidden collection's list rule
// to such a join as "(row IS NULL OR rule)", so a filter or sort through it
// drops or reorders the records that have hidden rows: a stranger sorting
// posts by rooms_via_post.id learns which posts have chats, and users by
// rooms_via_participants who talks to whom (found by the access matrix).
// Expanding through them is safe: expand fetches with the rule applied.
var hiddenBackRelations = []string{roomsCollection + "_via_", messagesCollection + "_via_", roomReadsCollection + "_via_"}

// registerQueryGuard refuses, for everyone but superusers, a filter or
// sort that could learn about hidden rows: through a hidden back-relation,
// or a sort by e-mail (PocketBase hides e-mails in filters, not in sorts,
// so the order would give away addresses). It covers the records API and
// realtime subscription options alike.
func registerQueryGuard(app core.App) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.Bind(&hook.Handler[*core.RequestEvent]{
			Id: "marketchatQueryGuard",
			Func: func(e *core.RequestEvent) error {
				if e.HasSuperuserAuth() {
					return e.Next()
				}
				query := e.Request.URL.Query()
				if reason := forbiddenQuery(query.Get(search.FilterQueryParam), query.Get(search.SortQueryParam)); reason != "" {
					return e.BadRequestError(reason, nil)
				}
				return e.Next()
			},
		})
		return se.Next()
	})

	app.OnRealtimeSubscribeRequest().BindFunc(func(e *core.RealtimeSubscribeRequestEvent) error {
		if e.HasSuperuserAuth() {
			return e.Next()
		}
		for _, topic := range e.Subscriptions {
			query := subscriptionQuery(topic)
			if reason := forbiddenQuery(query[search.FilterQueryParam], query[search.SortQueryParam]); reason != "" {
				return e.BadRequestError(fmt.Sprintf("Subscription %q: %s", topic, reason), nil)
			}
		}
		return e.Next()
	})
}

// forbiddenQuery says why a non-superuser may not use this filter and
// sort, or returns "" when they may.
func forbiddenQuery(filter, sort string) string {
	for _, name := range hiddenBackRelations {
		if strings.Contains(filter, name) || strings.Contains(sort, name) {
			return fmt.Sprintf("Filtering or sorting through %s… is not allowed.", name)
		}
	}
	for _, term := range strings.Split(sort, ",") {
		term = strings.TrimLeft(strings.TrimSpace(term), "+-")
		if term == "email" || strings.HasSuffix(term, ".email") {
			return "Sorting by e-mail is not allowed."
		}
	}
	return ""
}

// subscriptionQuery returns the query options of a realtime topic, parsed
// as PocketBase's subscriptions client parses them.
func subscriptionQuery(topic string) map[string]string {
	c := subscriptions.NewDefaultClient()
	c.Subscribe(topic)
	for _, options := range c.Subscriptions() {
		return options.Query
	}
	return nil
}
