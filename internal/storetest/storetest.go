// Package storetest is the conformance suite of echogen.Store: every
// implementation must pass Run. It also builds real stores for the tests of
// other packages: NewSQLite always works, NewPostgres needs
// TEST_DATABASE_URL (see package testenv).
package storetest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/sqlstore"
	"github.com/echogen/server/internal/testenv"
)

// RawDB is the suite's way into the database behind a store, for the rows
// the Store interface cannot reach: stored onboarding answers and the tables
// of later features, which a purge must empty too. The stores NewSQLite and
// NewPostgres return implement it; for other stores the checks that need it
// are skipped.
type RawDB interface {
	RawDB() (*sql.DB, sqlstore.Dialect)
}

// Run runs the suite against the stores newStore returns. Each group of
// subtests gets a fresh store and runs in parallel with the others.
func Run(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	groups := []struct {
		name string
		run  func(t *testing.T, newStore func(t *testing.T) echogen.Store)
	}{
		{"Users", testUsers},
		{"Sessions", testSessions},
		{"RefreshTokens", testRefreshTokens},
		{"OneTimeTokens", testOneTimeTokens},
		{"Profiles", testProfiles},
		{"Onboarding", testOnboarding},
		{"Deletions", testDeletions},
		{"APIKeys", testAPIKeys},
		{"APIKeyRotation", testAPIKeyRotation},
		{"Content", testContent},
		{"Scripts", testScripts},
		{"Podcasts", testPodcasts},
		{"LibraryScoping", testLibraryScoping},
		{"LibraryDefaults", testLibraryDefaults},
		{"Jobs", testJobs},
		{"JobUpdates", testJobUpdates},
		{"JobStarts", testJobStarts},
		{"Usage", testUsage},
		{"Purge", testPurge},
		{"PurgeWithoutAuditStart", testFinishWithoutStart},
		{"Times", testTimes},
		{"Ping", testPing},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			g.run(t, newStore)
		})
	}
}

func testPing(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	if err := newStore(t).Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// t0 is the suite's "now": microsecond precision, so what goes in is what
// comes out.
func t0() time.Time { return time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC) }

// raw gives direct access to the database behind a store.
type raw struct {
	db *sql.DB
	d  sqlstore.Dialect
}

// rawDB returns the raw access of s, or skips the test when s has none.
func rawDB(t *testing.T, s echogen.Store) raw {
	t.Helper()
	r, ok := s.(RawDB)
	if !ok {
		testenv.Skip(t, "the store does not implement storetest.RawDB")
	}
	db, d := r.RawDB()
	return raw{db: db, d: d}
}

// exec runs one statement written with ? placeholders and Go values.
func (r raw) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	if _, err := r.db.ExecContext(context.Background(), r.d.Rebind(query), r.args(args)...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// count runs a query returning one integer.
func (r raw) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := r.db.QueryRowContext(context.Background(), r.d.Rebind(query), r.args(args)...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (r raw) args(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = r.d.Arg(a)
	}
	return out
}

// jsonDest scans a JSON column (TEXT or jsonb) into v.
type jsonDest struct{ v any }

func (d jsonDest) Scan(src any) error {
	switch b := src.(type) {
	case string:
		return json.Unmarshal([]byte(b), d.v)
	case []byte:
		return json.Unmarshal(b, d.v)
	}
	return fmt.Errorf("scan json: unsupported type %T", src)
}
