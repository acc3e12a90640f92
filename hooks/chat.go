package hooks

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
)

// registerChat adds POST /api/posts/{id}/chat, the chat button.
func registerChat(app core.App) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.POST("/api/posts/{id}/chat", openChat).Bind(apis.RequireAuth(usersCollection))
		return se.Next()
	})
}

// openChat finds the requester's room with the post's author about the post,
// or creates it with participants [author, requester]. The find and the
// create run in one write transaction, and PocketBase runs every write
// transaction on one connection, so concurrent presses make exactly one room.
//
// Returns 201 with the room when it was created, 200 when it already
// existed (the same JSON as the records API, "unread" included), 400 when
// the requester is the post's author, 404 if the post does not exist and
// 401 when not signed in.
func openChat(e *core.RequestEvent) error {
	postID := e.Request.PathValue("id")
	buyerID := e.Auth.Id

	// The answer is enriched from the request (expand, fields), which
	// reads the body: refuse an unreadable one before creating anything.
	if _, err := e.RequestInfo(); err != nil {
		return apiError(err, e.BadRequestError(unreadableBody, err))
	}

	var room *core.Record
	var created bool
	err := e.App.RunInTransaction(func(txApp core.App) error {
		post, err := txApp.FindRecordById(postsCollection, postID)
		if err != nil {
			return e.NotFoundError("The post does not exist.", err)
		}
		sellerID := post.GetString("author")
		if sellerID == buyerID {
			return e.BadRequestError("You cannot open a chat on your own post.", nil)
		}

		room, err = findPostRoom(txApp, postID, buyerID, sellerID)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}

		rooms, err := txApp.FindCachedCollectionByNameOrId(roomsCollection)
		if err != nil {
			return fmt.Errorf("find collection %q: %w", roomsCollection, err)
		}
		room = core.NewRecord(rooms)
		room.Set("post", postID)
		room.Set("participants", []string{sellerID, buyerID})
		if err := txApp.Save(room); err != nil {
			return err
		}
		created = true
		return nil
	})
	if err != nil {
		return apiError(err, e.InternalServerError("Failed to open the chat.", err))
	}

	if err := apis.EnrichRecord(e, room); err != nil {
		return e.InternalServerError("Failed to enrich the room.", err)
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return e.JSON(status, room)
}

// findPostRoom returns the oldest room about postID that has both buyerID
// and sellerID among its participants, or sql.ErrNoRows.
func findPostRoom(app core.App, postID, buyerID, sellerID string) (*core.Record, error) {
	var roomID string
	err := app.DB().NewQuery(`
		SELECT r.id FROM rooms r
		WHERE r.post = {:post}
		  AND EXISTS (SELECT 1 FROM json_each(r.participants) WHERE value = {:buyer})
		  AND EXISTS (SELECT 1 FROM json_each(r.participants) WHERE value = {:seller})
		ORDER BY r.created, r.id
		LIMIT 1`).
		Bind(dbx.Params{"post": postID, "buyer": buyerID, "seller": sellerID}).
		Row(&roomID)
	if err != nil {
		return nil, err
	}
	return app.FindRecordById(roomsCollection, roomID)
}
