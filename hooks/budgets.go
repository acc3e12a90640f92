package hooks

import (
	"database/sql"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // image.DecodeConfig reads what is registered
	_ "image/jpeg"
	_ "image/png"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/filesystem"
	"github.com/pocketbase/pocketbase/tools/router"
	"github.com/pocketbase/pocketbase/tools/types"
	_ "golang.org/x/image/webp"
)

// Budgets of the contract (v2.0): how big an image may be, how much a user
// may upload, how many posts a user may create.
const (
	// MaxImagePixels is the most pixels (width × height) an uploaded image
	// may have; a bigger one is refused with 400 naming the field.
	MaxImagePixels = 40_000_000

	// DefaultUploadMBPerDay is the upload budget while the admin setting
	// (the budgets collection's upload_mb_per_day) is missing.
	DefaultUploadMBPerDay = 100

	// UploadWindow is the span the upload budget counts over.
	UploadWindow = 24 * time.Hour

	// MaxPostsPerWindow posts per PostsWindow: a user's next one is a 429.
	MaxPostsPerWindow = 20
	PostsWindow       = time.Hour
)

// The budgets' own collections (migrations 1764000700 and 1764000800),
// both superuser-only.
const (
	budgetsCollection   = "budgets"
	uploadMBPerDayField = "upload_mb_per_day"
	uploadsCollection   = "uploads"
)

// budgetFileFields names, per collection, the file field the image limit
// and the upload budget apply to.
var budgetFileFields = map[string]string{
	postsCollection:    "images",
	usersCollection:    "avatar",
	messagesCollection: "attachments",
}

// budgetPayerKey holds, in the custom data of a record saved by a client
// request (never exported nor stored), the budgetPayer whose upload budget
// and posts per hour the save draws on. Saves without one, by superusers
// or by Go code, draw on no budget: the limits are per user.
const budgetPayerKey = "@marketchatBudgetPayer"

// budgetPayer is the users record a request's save is charged to.
type budgetPayer struct {
	userID string
	// signUp: a guest creating an account pays with the new account,
	// whose id is only known once the record is validated.
	signUp bool
}

// registerBudgets binds the budgets.
//
// For every save, superusers' and Go code's included: a new file in
// images, avatar or attachments must be an image whose header can be read
// and says at most MaxImagePixels (400 naming the field otherwise). The
// limit protects the server, not a user's share: PocketBase makes a
// thumbnail by decoding the whole image, so a few hundred KB of PNG that
// says 60,000 × 60,000 would make the first thumbnail request allocate
// gigabytes, whoever uploaded it.
//
// For client requests by a user (or a guest signing up): the files'
// sizes plus what the user uploaded in the last UploadWindow may not
// exceed the admin's upload_mb_per_day (429 naming the field), and a new
// post needs fewer than MaxPostsPerWindow of the user's posts in the last
// PostsWindow (429). Both are checked, and an accepted upload recorded in
// "uploads", inside the transaction that stores the record: PocketBase
// runs one write transaction at a time, so concurrent requests cannot
// together pass a limit. Nothing is stored when a check fails. The price:
// as for messages already, the write turn is held while PocketBase writes
// the files to storage (it does so inside the record's write step).
//
// Bind it after registerMessages, whose create hook must open the
// message's transaction itself (inside another one it takes its path for
// batches): this one then joins that transaction.
func registerBudgets(app core.App) {
	for collection, field := range budgetFileFields {
		app.OnRecordValidate(collection).BindFunc(func(e *core.RecordEvent) error {
			// PocketBase's own checks (type, size, count) answer first.
			if err := e.Next(); err != nil {
				return err
			}
			return checkImagePixels(e.Record, field)
		})

		app.OnRecordCreateRequest(collection).BindFunc(markBudgetPayer)
		app.OnRecordUpdateRequest(collection).BindFunc(markBudgetPayer)

		countsPosts := collection == postsCollection
		app.OnRecordCreateExecute(collection).BindFunc(func(e *core.RecordEvent) error {
			return chargeBudgets(e, field, countsPosts)
		})
		app.OnRecordUpdateExecute(collection).BindFunc(func(e *core.RecordEvent) error {
			return chargeBudgets(e, field, false)
		})
	}
}

// markBudgetPayer names the users record the request's save is charged
// to: the signed-in user, or the new account of a guest's sign-up.
// Superusers (and other auth collections) are charged nothing.
func markBudgetPayer(e *core.RecordRequestEvent) error {
	switch {
	case e.Auth != nil && e.Auth.Collection().Name == usersCollection:
		e.Record.SetRaw(budgetPayerKey, budgetPayer{userID: e.Auth.Id})
	case e.Auth == nil && e.Collection.Name == usersCollection && e.Record.IsNew():
		e.Record.SetRaw(budgetPayerKey, budgetPayer{signUp: true})
	}
	return e.Next()
}

// chargeBudgets runs the record's write (e.Next) in a transaction with the
// budget checks before it and the upload's record after it, when the save
// is charged to a user and stores files in field or (countsPosts) creates
// a post. Returns 429 if a budget is spent.
func chargeBudgets(e *core.RecordEvent, field string, countsPosts bool) error {
	payer, ok := e.Record.GetRaw(budgetPayerKey).(budgetPayer)
	if !ok {
		return e.Next()
	}
	var size int64
	for _, f := range e.Record.GetUnsavedFiles(field) {
		size += f.Size
	}
	if size == 0 && !countsPosts {
		return e.Next() // a text message, a name change: no queries
	}
	userID := payer.userID
	if payer.signUp {
		userID = e.Record.Id
	}

	// The after-success hooks run with e.App once this returns: give them
	// back the app, not the finished transaction (as messages.go does).
	outer := e.App
	defer func() { e.App = outer }()
	return e.App.RunInTransaction(func(txApp core.App) error {
		e.App = txApp
		if countsPosts {
			if err := checkPostsPerWindow(txApp, userID); err != nil {
				return err
			}
		}
		if size > 0 {
			if err := checkUploadBudget(txApp, userID, field, size); err != nil {
				return err
			}
		}
		if err := e.Next(); err != nil {
			return err
		}
		if size > 0 {
			return recordUpload(txApp, userID, e.Record, size)
		}
		return nil
	})
}

// checkPostsPerWindow answers 429 when userID already has
// MaxPostsPerWindow posts created in the last PostsWindow. Counting the
// posts table itself keeps the limit across restarts, and counts posts a
// superuser made for the user too.
func checkPostsPerWindow(app core.App, userID string) error {
	since := types.NowDateTime().Add(-PostsWindow).String()
	var n int
	err := app.DB().NewQuery("SELECT COUNT(*) FROM {{" + postsCollection + "}} WHERE [[author]] = {:author} AND [[created]] > {:since}").
		Bind(dbx.Params{"author": userID, "since": since}).
		Row(&n)
	if err != nil {
		return fmt.Errorf("count posts of %q: %w", userID, err)
	}
	if n >= MaxPostsPerWindow {
		return router.NewTooManyRequestsError(fmt.Sprintf(
			"You can create at most %d posts per %s; try again later.",
			MaxPostsPerWindow, describeWindow(PostsWindow)), nil)
	}
	return nil
}

// checkUploadBudget answers 429 naming field when size more bytes would
// take userID's uploads of the last UploadWindow past the budget.
func checkUploadBudget(app core.App, userID, field string, size int64) error {
	budgetMB, err := uploadBudgetMB(app)
	if err != nil {
		return err
	}
	since := types.NowDateTime().Add(-UploadWindow).String()
	var used int64
	err = app.DB().NewQuery("SELECT CAST(COALESCE(SUM([[bytes]]), 0) AS INTEGER) FROM {{" + uploadsCollection + "}} WHERE [[user]] = {:user} AND [[created]] > {:since}").
		Bind(dbx.Params{"user": userID, "since": since}).
		Row(&used)
	if err != nil {
		return fmt.Errorf("sum uploads of %q: %w", userID, err)
	}
	if used+size > budgetMB<<20 {
		limit := fmt.Sprintf("Uploads are limited to %d MB per %s.", budgetMB, describeWindow(UploadWindow))
		return router.NewTooManyRequestsError("You have reached your upload limit; try again later.",
			fieldError(field, "validation_upload_budget_exceeded", limit))
	}
	return nil
}

// uploadBudgetMB reads the admin's upload_mb_per_day (the oldest budgets
// record's), or DefaultUploadMBPerDay when the collection, the field or
// the record is gone. Read per upload: one small row, inside the write
// transaction, so a change applies at once.
func uploadBudgetMB(app core.App) (int64, error) {
	budgets, err := app.FindCachedCollectionByNameOrId(budgetsCollection)
	if err != nil || budgets.Fields.GetByName(uploadMBPerDayField) == nil {
		return DefaultUploadMBPerDay, nil
	}
	var mb int64
	err = app.DB().NewQuery("SELECT CAST([[" + uploadMBPerDayField + "]] AS INTEGER) FROM {{" + budgetsCollection + "}} ORDER BY [[created]], [[id]] LIMIT 1").
		Row(&mb)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultUploadMBPerDay, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read %s.%s: %w", budgetsCollection, uploadMBPerDayField, err)
	}
	return mb, nil
}

// recordUpload adds the row that charges size bytes stored on record to
// userID. One INSERT rather than app.Save: a saved record would be one more
// record event for PocketBase's realtime broadcast to take to every
// connected client (POCKETBASE_NOTES.md), on every photo sent.
func recordUpload(app core.App, userID string, record *core.Record, size int64) error {
	_, err := app.DB().Insert(uploadsCollection, dbx.Params{
		"id":         core.GenerateDefaultRandomId(),
		"user":       userID,
		"collection": record.Collection().Name,
		"record":     record.Id,
		"bytes":      size,
		"created":    types.NowDateTime().String(),
	}).Execute()
	if err != nil {
		return fmt.Errorf("record upload of %s %q: %w", record.Collection().Name, record.Id, err)
	}
	return nil
}

// checkImagePixels refuses, naming field, a new file of record whose image
// header cannot be read or says more than MaxImagePixels.
//
// Only the header is read (image.DecodeConfig), and it bounds what a
// thumbnail decodes: Go's decoders refuse data bigger than the header
// (a GIF frame outside the screen, a second JPEG SOF, a WebP frame unlike
// its VP8X canvas).
func checkImagePixels(record *core.Record, field string) error {
	for _, f := range record.GetUnsavedFiles(field) {
		config, err := imageConfig(f)
		if errors.Is(err, errUnreadableImage) {
			return fieldError(field, "validation_image_unreadable",
				"The image could not be read; send a JPEG, PNG, WebP or GIF image.")
		}
		if err != nil {
			return err
		}
		if pixels := int64(config.Width) * int64(config.Height); pixels > MaxImagePixels {
			return fieldError(field, "validation_image_too_large", fmt.Sprintf(
				"Images may have at most %d megapixels (width × height); this one has %d × %d.",
				MaxImagePixels/1_000_000, config.Width, config.Height))
		}
	}
	return nil
}

var errUnreadableImage = errors.New("unreadable image header")

// imageConfig reads f's image header. Returns errUnreadableImage (wrapped)
// if no registered decoder can read it.
func imageConfig(f *filesystem.File) (config image.Config, err error) {
	r, err := f.Reader.Open()
	if err != nil {
		return config, fmt.Errorf("open upload %q: %w", f.OriginalName, err)
	}
	defer func() {
		if closeErr := r.Close(); closeErr != nil && err == nil {
			err = fmt.Errorf("close upload %q: %w", f.OriginalName, closeErr)
		}
	}()
	config, _, err = image.DecodeConfig(r)
	if err != nil {
		return config, fmt.Errorf("%w %q: %w", errUnreadableImage, f.OriginalName, err)
	}
	return config, nil
}

// describeWindow says d the way a limit's message reads: "hour",
// "24 hours".
func describeWindow(d time.Duration) string {
	switch {
	case d == time.Hour:
		return "hour"
	case d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	default:
		return d.String()
	}
}
