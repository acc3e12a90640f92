package hooks

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/ganigeorgiev/fexpr"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/search"
	"github.com/pocketbase/pocketbase/tools/subscriptions"
)

// Queries on an allow-list (contract v2.0 "Queries").
//
// PocketBase lets a client filter and sort by any path its parser resolves,
// and two of its behaviours turn that into a way to learn about hidden rows:
//
//   - a filter or sort through a relation applies the related collection's
//     list rule as "no joined row, or a row you may see", so which records
//     match, and in what order, depends on rows the client may not see;
//   - an operator without "?" on a multi-valued path becomes a "match every
//     related row" subquery that applies no rule at all
//     (core/record_field_resolver_runner.go, v0.40.4), so a user who holds
//     one row of their own behind the path gets a yes/no answer about
//     everyone else's.
//
// A guard that looks for forbidden spellings is talked around: PocketBase
// resolves collection names in any letter case or by id, and strips
// modifiers such as ":lower" only after its own checks. So for everyone but
// superusers every identifier of a filter (parsed with fexpr, the parser
// PocketBase uses) and every sort term is resolved the way PocketBase
// resolves it, step by step from the collection queried, and the query is
// refused unless each step is on queryable below. A collection that is not
// on the list (room_reads, and any private collection added later) cannot be
// filtered or sorted by anything, nor reached from one that can.

// queryable is the allow-list: per collection, the fields a client's filter
// or sort may name. A plain field maps to ""; a relation or back-relation
// ("<collection>_via_<field>") maps to the collection it leads to, whose own
// entry then says what may follow it. Every path on it reaches only rows the
// requester may see anyway: rooms are reached only from a room or message
// the requester is a participant of (the root's rule holds), posts are
// public, and users are reached only for their public fields.
var queryable = map[string]map[string]string{
	usersCollection: {
		"id": "", "name": "", "avatar": "", "created": "", "updated": "",
		// Posts are public: "people who sell bikes".
		postsCollection + "_via_author": postsCollection,
		// Not email, emailVisibility, verified, password or tokenKey, and
		// no back-relation into rooms or messages: who chats with whom is
		// private.
	},
	postsCollection: {
		"id": "", "title": "", "body": "", "price": "", "status": "", "images": "",
		"created": "", "updated": "",
		"author": usersCollection,
		// No rooms_via_post: which posts have chats is private.
	},
	roomsCollection: {
		"id": "", "last_message": "", "last_message_at": "", "created": "", "updated": "",
		"post":         postsCollection,
		"participants": usersCollection,
		// No messages_via_room and nothing via the post or the
		// participants back into other rooms.
	},
	messagesCollection: {
		"id": "", "text": "", "attachments": "", "created": "", "updated": "",
		// The message's own room, which the message's rule already
		// requires the requester to be a participant of.
		"room":   roomsCollection,
		"sender": usersCollection,
	},
}

// queryModifiers are the modifiers a path on queryable may end with
// (":isset" and ":changed" apply to @request.body only).
var queryModifiers = map[string]bool{"lower": true, "length": true, "each": true}

// queryMacros are PocketBase's date macros, which name no field
// (tools/search/identifier_macros.go, v0.40.4).
var queryMacros = map[string]bool{
	"@now": true, "@yesterday": true, "@tomorrow": true,
	"@second": true, "@minute": true, "@hour": true, "@day": true, "@month": true, "@weekday": true, "@year": true,
	"@todayStart": true, "@todayEnd": true, "@monthStart": true, "@monthEnd": true, "@yearStart": true, "@yearEnd": true,
}

// viaPattern is PocketBase's back-relation form, "<collection>_via_<field>"
// (core/record_field_resolver_runner.go, v0.40.4).
var viaPattern = regexp.MustCompile(`^(\w+)_via_(\w+)$`)

// recordsPath matches the records API routes, whose first group is the
// collection name or id (for batch requests, which carry their URL).
var recordsPath = regexp.MustCompile(`^/api/collections/([^/]+)/records(?:/|$)`)

// registerQueryGuard checks, for everyone but superusers, every filter and
// sort: on the records API (lists and views), in realtime subscription
// options and in batch requests. A refused query answers 400 naming
// "filter" or "sort".
func registerQueryGuard(app core.App) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.Bind(&hook.Handler[*core.RequestEvent]{
			Id: "marketchatQueryGuard",
			Func: func(e *core.RequestEvent) error {
				if e.HasSuperuserAuth() {
					return e.Next()
				}
				collection := "" // no other route takes a client's filter
				if m := recordsPath.FindStringSubmatch(e.Request.URL.Path); m != nil {
					collection = m[1]
				}
				if err := checkQuery(e.App, collection, e.Request.URL.Query()); err != nil {
					return e.BadRequestError("This filter or sort is not allowed.", err)
				}
				return e.Next()
			},
		})
		return se.Next()
	})

	// First among the subscribe hooks, before the fan-out takes its place.
	app.OnRealtimeSubscribeRequest().Bind(&hook.Handler[*core.RealtimeSubscribeRequestEvent]{
		Priority: -100,
		Func: func(e *core.RealtimeSubscribeRequestEvent) error {
			if e.HasSuperuserAuth() {
				return e.Next()
			}
			for _, topic := range e.Subscriptions {
				collection, _, _ := strings.Cut(topic, "/")
				if err := checkQuery(e.App, collection, subscriptionQuery(topic)); err != nil {
					return e.BadRequestError(fmt.Sprintf("Subscription %q: this filter or sort is not allowed.", topic), err)
				}
			}
			return e.Next()
		},
	})

	// Batch requests (off unless an admin turns them on) carry their own
	// URLs; PocketBase's batch actions take no filter today, but a query
	// that would be refused alone is refused in a batch too.
	app.OnBatchRequest().BindFunc(func(e *core.BatchRequestEvent) error {
		if e.HasSuperuserAuth() {
			return e.Next()
		}
		for i, request := range e.Batch {
			target, err := url.Parse(request.URL)
			if err != nil {
				return e.BadRequestError(fmt.Sprintf("Batch request %d has an invalid URL.", i), err)
			}
			collection := ""
			if m := recordsPath.FindStringSubmatch(target.Path); m != nil {
				collection = m[1]
			}
			if err := checkQuery(e.App, collection, target.Query()); err != nil {
				return e.BadRequestError(fmt.Sprintf("Batch request %d: this filter or sort is not allowed.", i), err)
			}
		}
		return e.Next()
	})
}

// checkQuery returns a validation error naming "filter" or "sort" when
// query's filter or sort names anything not on queryable for collection
// (a name or id; "" when the route takes no filter), and nil otherwise.
func checkQuery[Q url.Values | map[string]string](app core.App, collection string, query Q) error {
	var filters, sorts []string
	switch q := any(query).(type) {
	case url.Values: // every value: a repeated parameter must not slip by
		filters, sorts = q[search.FilterQueryParam], q[search.SortQueryParam]
	case map[string]string:
		filters, sorts = []string{q[search.FilterQueryParam]}, []string{q[search.SortQueryParam]}
	}
	name := collectionName(app, collection)
	for _, filter := range filters {
		if filter == "" {
			continue
		}
		if err := checkFilter(app, name, filter); err != nil {
			return fieldError(search.FilterQueryParam, "validation_filter_not_allowed", err.Error())
		}
	}
	for _, sort := range sorts {
		if sort == "" {
			continue
		}
		if err := checkSort(app, name, sort); err != nil {
			return fieldError(search.SortQueryParam, "validation_sort_not_allowed", err.Error())
		}
	}
	return nil
}

// collectionName is the name of the collection called nameOrID, resolved
// as PocketBase resolves it (any letter case, or its id), or nameOrID
// itself when there is none.
func collectionName(app core.App, nameOrID string) string {
	if nameOrID == "" {
		return ""
	}
	if c, err := app.FindCachedCollectionByNameOrId(nameOrID); err == nil {
		return c.Name
	}
	return nameOrID
}

// checkFilter parses filter with PocketBase's parser and checks every
// identifier in it, function arguments included.
func checkFilter(app core.App, collection, filter string) error {
	groups, err := fexpr.Parse(filter)
	if err != nil {
		return fmt.Errorf("The filter cannot be parsed: %w.", err)
	}
	return checkGroups(app, collection, groups)
}

func checkGroups(app core.App, collection string, groups []fexpr.ExprGroup) error {
	for _, group := range groups {
		switch item := group.Item.(type) {
		case fexpr.Expr:
			for _, token := range []fexpr.Token{item.Left, item.Right} {
				if err := checkToken(app, collection, token); err != nil {
					return err
				}
			}
		case []fexpr.ExprGroup:
			if err := checkGroups(app, collection, item); err != nil {
				return err
			}
		default:
			return fmt.Errorf("The filter has an unknown part.")
		}
	}
	return nil
}

func checkToken(app core.App, collection string, token fexpr.Token) error {
	switch token.Type {
	case fexpr.TokenText, fexpr.TokenNumber:
		return nil
	case fexpr.TokenIdentifier:
		return checkIdentifier(app, collection, token.Literal)
	case fexpr.TokenFunction:
		args, _ := token.Meta.([]fexpr.Token)
		for _, arg := range args {
			if err := checkToken(app, collection, arg); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("The filter has an unknown part %q.", token.Literal)
}

// checkSort checks every term of sort; @random and @rowid name no field.
func checkSort(app core.App, collection, sort string) error {
	for _, term := range search.ParseSortFromString(sort) {
		if term.Name == "@random" || term.Name == "@rowid" {
			continue
		}
		if err := checkIdentifier(app, collection, term.Name); err != nil {
			return err
		}
	}
	return nil
}

// checkIdentifier decides one identifier the way PocketBase's resolver
// reads it (tools/search/filter.go resolveToken, v0.40.4): a date macro;
// null, true or false; otherwise a field path from collection. @request
// and @collection paths are refused: PocketBase refuses them in records
// API queries for non-superusers too (apis/record_helpers.go), but not in
// realtime options, and "@request.auth.<relation>" follows relations from
// the requester's record with no rule applied.
func checkIdentifier(app core.App, collection, identifier string) error {
	if queryMacros[identifier] {
		return nil
	}
	err := checkPath(app, collection, identifier)
	if err != nil {
		// PocketBase reads these as values when no field has the name.
		for _, literal := range []string{"null", "true", "false"} {
			if strings.EqualFold(identifier, literal) {
				return nil
			}
		}
	}
	return err
}

// checkPath follows path ("author.name", "participants:length") from
// collection through queryable, resolving back-relation collections by
// name in any case or by id as PocketBase does.
func checkPath(app core.App, collection, path string) error {
	refused := fmt.Errorf("%q cannot be used in a filter or sort.", path)
	props := strings.Split(path, ".")
	for i, prop := range props {
		last := i == len(props)-1
		name, modifier, hasModifier := strings.Cut(prop, ":")
		if hasModifier && (!last || !queryModifiers[modifier]) {
			return refused
		}
		if m := viaPattern.FindStringSubmatch(name); m != nil {
			back, err := app.FindCachedCollectionByNameOrId(m[1])
			if err != nil || last {
				return refused
			}
			name = back.Name + "_via_" + m[2]
		}
		fields, ok := queryable[collection]
		if !ok {
			return refused
		}
		next, ok := fields[name]
		if !ok {
			return refused
		}
		if !last {
			if next == "" {
				return refused // a JSON path or a path through a plain field
			}
			collection = next
		}
	}
	return nil
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
