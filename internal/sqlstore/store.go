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

	"github.com/echogen/server/internal/echogen"
)

// Store is the SQL implementation of echogen.Store.
type Store struct {
	write *sql.DB // writes and transactions; SQLite's single writer
	read  *sql.DB // plain reads
	d     Dialect
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
	return q.ExecContext(ctx, s.d.Rebind(query), s.d.args(args)...)
}

func (s *Store) query(ctx context.Context, q querier, query string, args ...any) (*sql.Rows, error) {
	return q.QueryContext(ctx, s.d.Rebind(query), s.d.args(args)...)
}

func (s *Store) queryRow(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	return q.QueryRowContext(ctx, s.d.Rebind(query), s.d.args(args)...)
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
