package hooks

import (
	"github.com/pocketbase/pocketbase/core"
)

// defaultPostStatus is a new post's status when none is given.
const defaultPostStatus = "selling"

// The kinds of value a post's body fields must have.
var (
	postNumbers = []string{"price"}
	postTexts   = []string{"title", "body"}
)

// registerPosts binds the posts invariants.
//
// For every save: title and body are trimmed before validation (so a
// whitespace-only title is "required"), and a new post without a status is
// "selling". For client requests: the author defaults to the requester;
// naming anyone else, or changing it later, is a 400 naming "author".
func registerPosts(app core.App) {
	app.OnRecordValidate(postsCollection).BindFunc(func(e *core.RecordEvent) error {
		if err := checkText(e.Record, "title", "body"); err != nil {
			return err
		}
		trimFields(e.Record, "title", "body")
		if e.Record.IsNew() && e.Record.GetString("status") == "" {
			e.Record.Set("status", defaultPostStatus)
		}
		return e.Next()
	})

	app.OnRecordCreateRequest(postsCollection).BindFunc(func(e *core.RecordRequestEvent) error {
		if err := checkBodyKinds(e, postNumbers, postTexts); err != nil {
			return err
		}
		if e.HasSuperuserAuth() {
			return e.Next()
		}
		author := e.Record.GetString("author")
		switch {
		case author == "":
			e.Record.Set("author", e.Auth.Id)
		case author != e.Auth.Id:
			return e.BadRequestError("You can only post as yourself.",
				fieldError("author", "validation_author_not_requester", "The author must be the signed-in user."))
		}
		return e.Next()
	})

	app.OnRecordUpdateRequest(postsCollection).BindFunc(func(e *core.RecordRequestEvent) error {
		if err := checkBodyKinds(e, postNumbers, postTexts); err != nil {
			return err
		}
		if e.HasSuperuserAuth() {
			return e.Next()
		}
		if e.Record.GetString("author") != e.Record.Original().GetString("author") {
			return e.BadRequestError("A post's author cannot be changed.",
				fieldError("author", "validation_author_immutable", "The author cannot be changed."))
		}
		return e.Next()
	})
}
