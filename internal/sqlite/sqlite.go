// Package sqlite opens the embedded SQLite database (modernc.org/sqlite,
// pure Go), migrates it and hands out the store on top of it.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/echogen/server/internal/sqlstore"
)

// DB is one SQLite database file behind two pools: Write has a single
// connection, so writers queue in Go instead of failing with SQLITE_BUSY,
// and Read has several, which WAL lets run beside the writer.
type DB struct {
	Write *sql.DB
	Read  *sql.DB
}

// Every connection: WAL so readers never block the writer, foreign keys
// enforced, a wait instead of an immediate SQLITE_BUSY, and the durability
// WAL makes safe. Transactions begin IMMEDIATE, taking the write lock at
// BEGIN, so a read-then-write transaction cannot fail halfway to upgrade.
const dsnParams = "_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_txlock=immediate"

// Open opens (creating it and its folder if needed) the database at path.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open sqlite: invalid path %q", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
	}
	write, err := openPool(ctx, path+"?"+dsnParams, 1)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// The writer has created the file and switched it to WAL; readers also
	// refuse to write, so a misrouted write fails loudly.
	read, err := openPool(ctx, path+"?"+dsnParams+"&_pragma=query_only(1)", max(4, runtime.GOMAXPROCS(0)))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite %s reader: %w", path, err)
	}
	return &DB{Write: write, Read: read}, nil
}

func openPool(ctx context.Context, dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(0) // reopening a connection reruns the pragmas for nothing
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Store returns the store over this database.
func (db *DB) Store() *sqlstore.Store {
	return sqlstore.New(db.Write, db.Read, sqlstore.SQLite)
}

// Close closes both pools.
func (db *DB) Close() error {
	return errors.Join(db.Read.Close(), db.Write.Close())
}
