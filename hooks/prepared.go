package hooks

import (
	"database/sql"
	"fmt"
	"sync"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// preparedQuery is a read query prepared once on the app's concurrent
// (read) pool, for the few queries that run on every message: SQLite's
// statement parsing is most of a small query's cost, and PocketBase's
// query builder prepares every query anew. Plain "?" placeholders.
type preparedQuery struct {
	app core.App
	sql string

	mu   sync.Mutex
	stmt *sql.Stmt
}

// statement returns the prepared statement, preparing it on first use.
func (q *preparedQuery) statement() (*sql.Stmt, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stmt != nil {
		return q.stmt, nil
	}
	db, ok := q.app.ConcurrentDB().(*dbx.DB)
	if !ok {
		return nil, fmt.Errorf("prepare %q: unexpected database type %T", q.sql, q.app.ConcurrentDB())
	}
	stmt, err := db.DB().Prepare(q.sql)
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", q.sql, err)
	}
	q.stmt = stmt
	return stmt, nil
}

// close releases the statement; call it before the app closes its
// databases (OnTerminate).
func (q *preparedQuery) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stmt != nil {
		q.stmt.Close()
		q.stmt = nil
	}
}

// closeOnTerminate closes queries when app terminates, before its
// databases close.
func closeOnTerminate(app core.App, queries ...*preparedQuery) {
	app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
		for _, q := range queries {
			q.close()
		}
		return e.Next()
	})
}
