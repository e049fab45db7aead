package postgres_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/echogen/server/internal/storetest"
)

// TestSupabaseSQL runs docs/supabase.sql over a migrated schema, next to a
// stand-in of Supabase's auth schema (auth.users, auth.uid() and the
// authenticated role), and checks what it promises: deleting the auth user
// deletes the user's rows, and a signed-in user sees only their own rows.
func TestSupabaseSQL(t *testing.T) {
	ctx := t.Context()
	db := storetest.OpenPostgres(t)
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join("..", "..", "docs", "supabase.sql"))
	if err != nil {
		t.Fatal(err)
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%.80s: %v", sql, err)
		}
	}
	var schema string
	if err := db.Pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	// Supabase's own pieces, as a project has them.
	exec(`CREATE SCHEMA IF NOT EXISTS auth`)
	t.Cleanup(func() { db.Pool.Exec(context.Background(), `DROP SCHEMA auth CASCADE`) })
	exec(`CREATE TABLE auth.users (id uuid PRIMARY KEY)`)
	exec(`CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('request.jwt.claim.sub', true), '')::uuid $$`)
	exec(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'authenticated') THEN CREATE ROLE authenticated NOLOGIN; END IF; END $$`)
	exec(`GRANT USAGE ON SCHEMA auth TO authenticated`)
	exec(`GRANT USAGE ON SCHEMA ` + schema + ` TO authenticated`)
	exec(`GRANT SELECT ON ALL TABLES IN SCHEMA ` + schema + ` TO authenticated`)

	for i := range 2 { // it says it can run twice
		if _, err := db.Pool.Exec(ctx, string(script)); err != nil {
			t.Fatalf("docs/supabase.sql, run %d: %v", i+1, err)
		}
	}
	ada, bob := "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	for _, id := range []string{ada, bob} {
		exec(`INSERT INTO auth.users (id) VALUES ($1)`, id)
		exec(`INSERT INTO profiles (id) VALUES ($1)`, id)
		exec(`INSERT INTO scraped_content (id, user_id, url, title, markdown, provider) VALUES (gen_random_uuid(), $1, '', 't', 'm', 'p')`, id)
		exec(`INSERT INTO user_api_keys (id, user_id, provider, sealed_key) VALUES (gen_random_uuid(), $1, 'openai', '\x00')`, id)
	}
	count := func(sql string, args ...any) int {
		t.Helper()
		var n int
		if err := db.Pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	// As Ada through Supabase's API: her own content, and no provider keys at all.
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`SET LOCAL ROLE authenticated`, `SELECT set_config('request.jwt.claim.sub', '` + ada + `', true)`} {
		if _, err := tx.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	var content, keys int
	if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM scraped_content), (SELECT count(*) FROM user_api_keys)`).Scan(&content, &keys); err != nil {
		t.Fatal(err)
	}
	tx.Rollback(ctx)
	if content != 1 || keys != 0 {
		t.Errorf("as Ada: %d content rows (want her 1), %d key rows (want 0)", content, keys)
	}
	// Deleting Ada's auth user deletes her rows and only hers.
	exec(`DELETE FROM auth.users WHERE id = $1`, ada)
	if n := count(`SELECT count(*) FROM scraped_content WHERE user_id = $1`, ada) + count(`SELECT count(*) FROM profiles WHERE id = $1`, ada); n != 0 {
		t.Errorf("%d of Ada's rows survived her auth user", n)
	}
	if n := count(`SELECT count(*) FROM scraped_content WHERE user_id = $1`, bob); n != 1 {
		t.Errorf("Bob has %d content rows", n)
	}
}
