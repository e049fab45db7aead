// Package postgres opens a PostgreSQL database (pgx/v5), migrates it and
// hands out the store on top of it. Everything lives in the schema that
// search_path selects, so one database can hold several isolated
// installations (the tests use that).
package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/echogen/server/internal/sqlstore"
)

// DB is a pgx pool and a database/sql view of the same pool: River and
// anything pgx-specific use Pool, the store uses SQL.
type DB struct {
	Pool *pgxpool.Pool
	SQL  *sql.DB
	// SimpleProtocol says the URL asked for default_query_exec_mode=
	// simple_protocol, as a transaction pooler needs; the job queue then
	// polls instead of listening.
	SimpleProtocol bool
}

// Open connects to the database at url, a postgres:// URL or a key=value
// DSN; a search_path parameter in it selects the schema.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err) // pgx keeps the password out of this error
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s@%s/%s: %w", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	simple := cfg.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeSimpleProtocol
	return &DB{Pool: pool, SQL: stdlib.OpenDBFromPool(pool), SimpleProtocol: simple}, nil
}

// Store returns the store over this database.
func (db *DB) Store() *sqlstore.Store {
	return sqlstore.New(db.SQL, db.SQL, sqlstore.Postgres)
}

// Close closes the database/sql view and then the pool under it.
func (db *DB) Close() error {
	err := db.SQL.Close()
	db.Pool.Close()
	return err
}
