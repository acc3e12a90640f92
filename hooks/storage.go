package hooks

import (
	"errors"
	"log"
	"net/http"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/router"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Answers to a write the server could not store. Both are 503 with a
// Retry-After: nothing was stored, and the same request (with the same
// client-made id) may be sent again once space is back, which needs no
// restart.
const (
	// StorageFullMessage answers a write that failed for lack of space.
	StorageFullMessage = "The server is out of storage space; try again later."

	// StorageWriteFailedMessage answers a write SQLite could not put on
	// disk for another reason. SQLite reports only ENOSPC as "full":
	// an exceeded disk quota (EDQUOT) or file-size limit (EFBIG) comes
	// back as a plain write error, so this is most often a full disk too.
	StorageWriteFailedMessage = "The server could not write to its storage; try again later."

	// StorageRetryAfter is the Retry-After of those answers.
	StorageRetryAfter = 30 * time.Second
)

// storageErrorsHookID names the middleware, for anyone who wants to
// unbind it.
const storageErrorsHookID = "marketchatStorageErrors"

// registerStorageErrors binds a middleware on every route that turns an
// error caused by a full disk into a 503 (StorageFullMessage or
// StorageWriteFailedMessage). Without it PocketBase answers a message
// send on a full disk with the 400 "Failed to create record." of a
// rule denial, which a client must not retry. Reads never need space,
// so they keep working.
func registerStorageErrors(app core.App) {
	app.OnServe().BindFunc(func(se *core.ServeEvent) error {
		se.Router.Bind(&hook.Handler[*core.RequestEvent]{
			Id:   storageErrorsHookID,
			Func: answerStorageErrors,
			// Inside PocketBase's default middlewares (all negative), so
			// that the activity log records the 503.
			Priority: 0,
		})
		return se.Next()
	})
}

func answerStorageErrors(e *core.RequestEvent) error {
	err := e.Next()
	message, cause := storageFailure(err)
	if message == "" {
		return err
	}
	logStorageFailure(cause)
	e.Response.Header().Set("Retry-After", strconv.Itoa(int(StorageRetryAfter.Seconds())))
	return router.NewApiError(http.StatusServiceUnavailable, message, err)
}

// storageFailure returns the answer to err, and the error that decided
// it, when err comes from a write that found no space (or could not reach
// the disk); else "" and nil. It looks through wrapped errors and the
// cause kept in an *router.ApiError.
func storageFailure(err error) (string, error) {
	if err == nil {
		return "", nil
	}
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EFBIG} {
		if errors.Is(err, errno) {
			return StorageFullMessage, errno
		}
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		switch code := sqliteErr.Code(); {
		case code&0xff == sqlite3.SQLITE_FULL:
			return StorageFullMessage, sqliteErr
		case code == sqlite3.SQLITE_IOERR_WRITE, code == sqlite3.SQLITE_IOERR_FSYNC, code == sqlite3.SQLITE_IOERR_SHMSIZE:
			return StorageWriteFailedMessage, sqliteErr
		}
	}
	var apiErr *router.ApiError
	if errors.As(err, &apiErr) {
		if cause, ok := apiErr.RawData().(error); ok {
			return storageFailure(cause)
		}
	}
	return "", nil
}

// lastStorageLog is when logStorageFailure last wrote, in Unix nanoseconds.
var lastStorageLog atomic.Int64

// logStorageFailure tells the admin on stderr, at most once a minute: the
// app's own logs live in the same data dir and cannot be written either.
func logStorageFailure(err error) {
	now := time.Now().UnixNano()
	last := lastStorageLog.Load()
	if now-last < int64(time.Minute) || !lastStorageLog.CompareAndSwap(last, now) {
		return
	}
	log.Printf("marketchat: a write failed for lack of storage, answering 503 until there is space again: %v", err)
}
