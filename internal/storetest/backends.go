package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/postgres"
	"github.com/echogen/server/internal/sqlite"
	"github.com/echogen/server/internal/sqlstore"
	"github.com/echogen/server/internal/testenv"
)

// Stores returns a constructor per database, keyed "sqlite" and
// "postgres", so that a test can run against both:
//
//	for name, newStore := range storetest.Stores(t) {
//		t.Run(name, func(t *testing.T) { s := newStore(t); … })
//	}
//
// The postgres one skips its test when TEST_DATABASE_URL is unset.
func Stores(t testing.TB) map[string]func(*testing.T) echogen.Store {
	t.Helper()
	return map[string]func(*testing.T) echogen.Store{
		"sqlite":   NewSQLite,
		"postgres": NewPostgres,
	}
}

// store is a store under test: the real *sqlstore.Store, whose methods it
// promotes (so assertions to other store ports work), plus RawDB.
type store struct {
	*sqlstore.Store
	db   *sql.DB
	lite *sqlite.DB
	pg   *postgres.DB
}

// RawDB returns the database behind the store and its dialect.
func (s *store) RawDB() (*sql.DB, sqlstore.Dialect) { return s.db, s.Dialect() }

// Handles returns the opened database behind a store made by NewSQLite or
// NewPostgres (the other is nil), so a test can run a job queue on it.
func Handles(s echogen.Store) (*sqlite.DB, *postgres.DB) {
	st, ok := s.(*store)
	if !ok {
		return nil, nil
	}
	return st.lite, st.pg
}

// NewSQLite returns a migrated store in a fresh SQLite file under
// t.TempDir(), closed when the test ends.
func NewSQLite(t *testing.T) echogen.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "echogen.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close sqlite: %v", err)
		}
	})
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &store{Store: db.Store(), db: db.Write, lite: db}
}

// NewPostgres returns a migrated store in a fresh schema test_<random> of
// the TEST_DATABASE_URL database, dropped when the test ends. It skips the
// test when TEST_DATABASE_URL is unset (see testenv.PostgresURL).
func NewPostgres(t *testing.T) echogen.Store {
	t.Helper()
	db := OpenPostgres(t)
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &store{Store: db.Store(), db: db.SQL, pg: db}
}

// OpenPostgres opens, without migrating, a fresh schema test_<random> of
// the TEST_DATABASE_URL database: every connection of the pool has it as
// its search_path. The schema is dropped when the test ends.
func OpenPostgres(t *testing.T) *postgres.DB {
	t.Helper()
	return openPostgres(t, nil)
}

// NewPostgresSimpleProtocol is NewPostgres through the simple query
// protocol, as behind a transaction pooler (Supabase's port 6543).
func NewPostgresSimpleProtocol(t *testing.T) echogen.Store {
	t.Helper()
	db := openPostgres(t, map[string]string{"default_query_exec_mode": "simple_protocol"})
	if !db.SimpleProtocol {
		t.Fatal("the DSN's default_query_exec_mode was not read")
	}
	if err := db.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &store{Store: db.Store(), db: db.SQL, pg: db}
}

func openPostgres(t *testing.T, params map[string]string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), PostgresSchemaURL(t, params))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close postgres: %v", err)
		}
	})
	return db
}

// PostgresSchemaURL returns TEST_DATABASE_URL (or skips, see
// testenv.PostgresURL) with a fresh schema as its search_path, dropped when
// the test ends, and any other connection parameters given.
func PostgresSchemaURL(t testing.TB, params map[string]string) string {
	t.Helper()
	base := testenv.PostgresURL(t)
	if base == "" {
		return ""
	}
	schema := "test_" + echogen.RandomString(12, "abcdefghijklmnopqrstuvwxyz0123456789")
	adminExec(t, base, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { adminExec(t, base, "DROP SCHEMA "+schema+" CASCADE") })
	all := map[string]string{"search_path": schema}
	for k, v := range params {
		all[k] = v
	}
	dsn, err := withParams(base, all)
	if err != nil {
		t.Fatal(err)
	}
	return dsn
}

// adminExec runs one statement on its own connection; it also runs in
// cleanups, after the test's context is done.
func adminExec(t testing.TB, dsn, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to TEST_DATABASE_URL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// withParams adds connection parameters to a postgres:// URL or a
// key=value DSN.
func withParams(dsn string, params map[string]string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("parse TEST_DATABASE_URL: %w", err)
		}
		q := u.Query()
		for k, v := range params {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	for k, v := range params {
		dsn += " " + k + "=" + v
	}
	return dsn, nil
}
