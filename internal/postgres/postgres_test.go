package postgres_test

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/echogen/server/internal/sqlstore"
	"github.com/echogen/server/internal/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, storetest.NewPostgres)
}

// TestStoreSimpleProtocol runs the store suite as behind a transaction
// pooler, which allows no prepared statements.
func TestStoreSimpleProtocol(t *testing.T) {
	storetest.Run(t, storetest.NewPostgresSimpleProtocol)
}

func TestMigrate(t *testing.T) {
	ctx := t.Context()
	db := storetest.OpenPostgres(t) // a fresh schema, selected by search_path
	for i := range 2 {              // the second run must change nothing
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
	}

	var schema string
	var version int
	if err := db.SQL.QueryRowContext(ctx, `SELECT current_schema(), (SELECT max(version_id) FROM goose_db_version)`).Scan(&schema, &version); err != nil {
		t.Fatal(err)
	}
	if version != 3 {
		t.Errorf("goose version = %d, want 3", version)
	}

	// Every table, River's included, is in the test's schema, not in public.
	for _, table := range []string{"users", "profiles", "processing_jobs", "goose_db_version", "river_job", "river_queue", "river_leader", "river_migration"} {
		var got string
		err := db.SQL.QueryRowContext(ctx, `SELECT table_schema FROM information_schema.tables WHERE table_name = $1 AND table_schema = current_schema()`, table).Scan(&got)
		if err != nil {
			t.Errorf("table %s in schema %s: %v", table, schema, err)
		}
	}
	m, err := rivermigrate.New(riverpgxv5.New(db.Pool), nil)
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

// TestMigrateFromInit runs the later migrations over schemas that 00001
// created.
func TestMigrateFromInit(t *testing.T) {
	storetest.MigrateFromInit(t, func(t *testing.T) storetest.AtInit {
		db := storetest.OpenPostgres(t)
		p, err := goose.NewProvider(goose.DialectPostgres, db.SQL, os.DirFS("migrations"),
			goose.WithDisableGlobalRegistry(true), goose.WithLogger(goose.NopLogger()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.UpTo(t.Context(), 1); err != nil {
			t.Fatal(err)
		}
		return storetest.AtInit{DB: db.SQL, Dialect: sqlstore.Postgres, Store: db.Store(), Goose: p, Migrate: db.Migrate}
	})
}
