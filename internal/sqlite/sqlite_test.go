package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/echogen/server/internal/sqlite"
	"github.com/echogen/server/internal/sqlstore"
	"github.com/echogen/server/internal/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, storetest.NewSQLite)
}

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "nested", "folder", "echogen.db") // Open creates the folders
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 2 { // the second run must change nothing
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
	}

	var version int
	if err := db.Read.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	if version != 3 {
		t.Errorf("goose version = %d, want 3", version)
	}

	// River's tables are there, at River's latest version.
	for _, table := range []string{"river_job", "river_queue", "river_leader", "river_migration"} {
		var n int
		if err := db.Read.QueryRowContext(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Errorf("River table %s: %v", table, err)
		}
	}
	m, err := rivermigrate.New(riversqlite.New(db.Write), nil)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := m.ExistingVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m.AllVersions(), applied); diff != "" {
		t.Errorf("River migrations (-all +applied):\n%s", diff)
	}
}

func TestOpenSettings(t *testing.T) {
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "echogen.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.Write.Stats().MaxOpenConnections; got != 1 {
		t.Errorf("writer allows %d connections, want 1", got)
	}
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"foreign_keys", "1"},
		{"synchronous", "1"}, // NORMAL
		{"busy_timeout", "10000"},
	}
	for _, tt := range tests {
		for name, pool := range map[string]interface {
			QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
		}{"write": db.Write, "read": db.Read} {
			var got string
			if err := pool.QueryRowContext(ctx, "PRAGMA "+tt.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("%s pool: PRAGMA %s = %q, want %q", name, tt.pragma, got, tt.want)
			}
		}
	}
	if _, err := db.Read.ExecContext(ctx, `CREATE TABLE t (x INTEGER)`); err == nil {
		t.Error("the read pool accepted a write")
	}
}

// TestMigrateFromInit runs the later migrations over databases that 00001
// created.
func TestMigrateFromInit(t *testing.T) {
	storetest.MigrateFromInit(t, func(t *testing.T) storetest.AtInit {
		ctx := t.Context()
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "echogen.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		p, err := goose.NewProvider(goose.DialectSQLite3, db.Write, os.DirFS("migrations"),
			goose.WithDisableGlobalRegistry(true), goose.WithLogger(goose.NopLogger()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(ctx, 1); err != nil {
			t.Fatal(err)
		}
		return storetest.AtInit{DB: db.Write, Dialect: sqlstore.SQLite, Store: db.Store(), Goose: p, Migrate: db.Migrate}
	})
}
