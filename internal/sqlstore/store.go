// Package sqlstore implements echogen.Store over database/sql, for SQLite
// and PostgreSQL alike. Each query is written once; Dialect holds the few
// differences (placeholders, how times and booleans are stored, row locks).
//
// Every query on a user's data is scoped by the user's id, a missing row is
// an *echogen.Error of KindNotFound, and times come back in UTC.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"github.com/echogen/server/internal/echogen"
)

// Store is the SQL implementation of echogen.Store.
type Store struct {
	write *sql.DB // writes and transactions; SQLite's single writer
	read  *sql.DB // plain reads
	d     Dialect
	// stmts caches SQLite's prepared statements by pool and query: parsing
	// SQL costs SQLite more than running these small queries. (pgx caches
	// PostgreSQL's statements itself.)
	stmts sync.Map // stmtKey → *sql.Stmt
}

type stmtKey struct {
	db    *sql.DB
	query string
}

var _ echogen.Store = (*Store)(nil)

// New returns a Store that writes through write and reads through read. For
// PostgreSQL pass the same *sql.DB twice. For SQLite, write should be a
// single-connection pool (the one writer) and read a pool of read-only
// connections; package sqlite opens both.
func New(write, read *sql.DB, d Dialect) *Store {
	return &Store{write: write, read: read, d: d}
}

// Dialect returns the dialect the store speaks.
func (s *Store) Dialect() Dialect { return s.d }

// Ping checks that both pools answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", s.d, err)
	}
	if s.read != s.write {
		if err := s.read.PingContext(ctx); err != nil {
			return fmt.Errorf("ping %s reader: %w", s.d, err)
		}
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx both offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	return s.prepared(ctx, q, query).ExecContext(ctx, s.d.Rebind(query), s.d.args(args)...)
}

func (s *Store) query(ctx context.Context, q querier, query string, args ...any) (*sql.Rows, error) {
	return s.prepared(ctx, q, query).QueryContext(ctx, s.d.Rebind(query), s.d.args(args)...)
}

func (s *Store) queryRow(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	return s.prepared(ctx, q, query).QueryRowContext(ctx, s.d.Rebind(query), s.d.args(args)...)
}

// prepared returns a querier that runs query from a cached prepared
// statement on SQLite, and q itself elsewhere or when preparing fails (the
// query then fails the ordinary way, with its error).
func (s *Store) prepared(ctx context.Context, q querier, query string) querier {
	if s.d != SQLite {
		return q
	}
	var db *sql.DB
	var tx *sql.Tx
	switch v := q.(type) {
	case *sql.DB:
		db = v
	case *sql.Tx:
		db, tx = s.write, v // transactions run on the writer
	default:
		return q
	}
	key := stmtKey{db: db, query: query}
	v, ok := s.stmts.Load(key)
	if !ok && tx != nil {
		// Preparing on the pool would wait for a connection, and SQLite's
		// writer has just one: the one this transaction holds.
		return q
	}
	if !ok {
		st, err := db.PrepareContext(ctx, query)
		if err != nil {
			return q
		}
		if v, ok = s.stmts.LoadOrStore(key, st); ok {
			st.Close() // another goroutine prepared it first
		}
	}
	st := v.(*sql.Stmt)
	if tx != nil {
		st = tx.StmtContext(ctx, st)
	}
	return stmtQuerier{st}
}

// stmtQuerier runs a prepared statement; the query text is already in it.
type stmtQuerier struct{ st *sql.Stmt }

func (p stmtQuerier) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return p.st.ExecContext(ctx, args...)
}

func (p stmtQuerier) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return p.st.QueryContext(ctx, args...)
}

func (p stmtQuerier) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return p.st.QueryRowContext(ctx, args...)
}

// execOne runs an UPDATE or DELETE that must hit a row; none is
// NotFound(what).
func (s *Store) execOne(ctx context.Context, q querier, what, query string, args ...any) error {
	res, err := s.exec(ctx, q, query, args...)
	if isMalformedID(err) {
		return echogen.NotFound(what)
	}
	if err != nil {
		return fmt.Errorf("update %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("update %s: %w", what, err)
	}
	if n == 0 {
		return echogen.NotFound(what)
	}
	return nil
}

// scanErr maps the error of scanning a single row: no row (or an id the
// database cannot even parse) is NotFound(what).
func scanErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows), isMalformedID(err):
		return echogen.NotFound(what)
	}
	return fmt.Errorf("read %s: %w", what, err)
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

// inTx runs fn in a write transaction, committing when it returns nil. An
// error from fn is returned as is, after the rollback.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}
