package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/sqlstore"
)

// seeded is what seedUser created for a user, to look for afterwards.
type seeded struct {
	userID      string
	request     *echogen.DeletionRequest
	refreshHash []string
}

// seedUser gives a new user rows in every table a user owns: through the
// Store where it can, and with plain SQL for the tables of later features.
// A table added later with a user_id column needs a row here too, or
// testPurge fails: that is how the purge is kept complete.
func seedUser(t *testing.T, s echogen.Store, r raw) seeded {
	t.Helper()
	ctx := t.Context()
	u := newUser(t, s)
	newProfile(t, s, u.ID)
	answers := []echogen.OnboardingAnswer{{QuestionID: "goal", Question: "Why?", Answer: "fun"}}
	if _, err := s.SaveOnboarding(ctx, u.ID, answers, t0(), func(p *echogen.Profile) error { p.OnboardingCompleted = true; return nil }); err != nil {
		t.Fatal(err)
	}
	out := seeded{userID: u.ID}
	for i := range 2 {
		x, first := newSession(t, s, u.ID, t0().Add(time.Duration(i)*time.Minute))
		next := &echogen.RefreshToken{SessionID: x.ID, TokenHash: "rt-" + echogen.NewID(), ParentID: first.ID, CreatedAt: t0()}
		if err := s.CreateRefreshToken(ctx, next); err != nil {
			t.Fatal(err)
		}
		out.refreshHash = append(out.refreshHash, first.TokenHash, next.TokenHash)
	}
	tok := &echogen.OneTimeToken{UserID: u.ID, Purpose: echogen.PurposeEmailVerification, TokenHash: "ott-" + echogen.NewID(), CreatedAt: t0(), ExpiresAt: t0().Add(time.Hour)}
	if err := s.CreateOneTimeToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	// A cancelled request and the active one.
	if _, err := s.ScheduleDeletion(ctx, u.ID, t0(), t0().Add(day)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CancelDeletion(ctx, u.ID, t0()); err != nil {
		t.Fatal(err)
	}
	d, err := s.ScheduleDeletion(ctx, u.ID, t0(), t0().Add(30*day))
	if err != nil {
		t.Fatal(err)
	}
	out.request = d

	// The library, through the Store with every column set; seedLibrary
	// also leaves a row to the schema's defaults in each changed table.
	contentID := seedLibrary(t, s, r, u.ID)

	// A job as the queue writes it, with every column set, and one left to
	// the schema's defaults (created_at and updated_at too), which must fit
	// the schema's conventions and CHECKs.
	job := finishedJob(u.ID, t0())
	job.Payload["content_id"] = contentID
	insertJob(t, s, job)
	jobID := echogen.NewJobID("podcast_generation")
	r.exec(t, `INSERT INTO processing_jobs (id, user_id, job_type, payload, started_at) VALUES (?, ?, ?, ?, ?)`,
		jobID, u.ID, "podcast_generation", `{"content_id":"`+contentID+`"}`, t0())

	// usage_events, a later feature's table, with plain SQL.
	r.exec(t, `INSERT INTO usage_events (id, user_id, event_type, provider, input_tokens, cost_usd, job_id) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		echogen.NewID(), u.ID, "script_generation", "openai", 1200, 0.0042, jobID)
	return out
}

// userTables lists the tables with a user_id column, read from the catalog
// so that a table added later is not missed.
func userTables(t *testing.T, r raw) []string {
	t.Helper()
	query := map[sqlstore.Dialect]string{
		sqlstore.SQLite: `SELECT m.name FROM sqlite_schema AS m JOIN pragma_table_info(m.name) AS c
			WHERE m.type = 'table' AND c.name = 'user_id' ORDER BY m.name`,
		sqlstore.Postgres: `SELECT table_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND column_name = 'user_id' ORDER BY table_name`,
	}[r.d]
	rows, err := r.db.QueryContext(t.Context(), query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(tables) == 0 {
		t.Fatal("found no table with a user_id column")
	}
	return tables
}

// rowCounts counts the rows of the user in every table that holds them.
func rowCounts(t *testing.T, r raw, tables []string, sd seeded) map[string]int {
	t.Helper()
	counts := map[string]int{
		"users":          r.count(t, `SELECT count(*) FROM users WHERE id = ?`, sd.userID),
		"profiles":       r.count(t, `SELECT count(*) FROM profiles WHERE id = ?`, sd.userID),
		"refresh_tokens": 0,
	}
	for _, h := range sd.refreshHash {
		counts["refresh_tokens"] += r.count(t, `SELECT count(*) FROM refresh_tokens WHERE token_hash = ?`, h)
	}
	for _, table := range tables {
		counts[table] = r.count(t, `SELECT count(*) FROM `+table+` WHERE user_id = ?`, sd.userID)
	}
	return counts
}

func testPurge(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()
	r := rawDB(t, s)
	tables := userTables(t, r)

	gone, kept := seedUser(t, s, r), seedUser(t, s, r)
	before := rowCounts(t, r, tables, gone)
	for table, n := range before {
		if n == 0 && table != "account_deletion_audit" {
			t.Errorf("seedUser put no row in %s: give it one so the purge is checked there", table)
		}
	}
	keptBefore := rowCounts(t, r, tables, kept)

	d := *gone.request
	started, finished := t0().Add(31*day), t0().Add(31*day+time.Minute)
	if err := s.StartDeletionAudit(ctx, d, started); err != nil {
		t.Fatal(err)
	}
	wantAudit := &echogen.DeletionAudit{RequestID: d.ID, UserID: d.UserID, RequestedAt: d.RequestedAt, ScheduledFor: d.ScheduledFor,
		StartedAt: started, CompletedAt: &finished, ObjectsDeleted: 7}

	// The second run, as after a crash, deletes nothing more and keeps the
	// first completion.
	for i, at := range []time.Time{finished, finished.Add(time.Hour)} {
		if err := s.FinishDeletion(ctx, d, at, 7-i); err != nil {
			t.Fatalf("FinishDeletion #%d: %v", i+1, err)
		}
		after := rowCounts(t, r, tables, gone)
		for table, n := range after {
			want := 0
			if table == "account_deletion_audit" {
				want = 1 // it outlives the user
			}
			if n != want {
				t.Errorf("after FinishDeletion #%d: %d rows of the user in %s, want %d", i+1, n, table, want)
			}
		}
		if diff := cmp.Diff(keptBefore, rowCounts(t, r, tables, kept)); diff != "" {
			t.Errorf("after FinishDeletion #%d, another user's rows changed (-before +after):\n%s", i+1, diff)
		}
		audit, err := s.DeletionAudit(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(wantAudit, audit); diff != "" {
			t.Errorf("DeletionAudit after FinishDeletion #%d (-want +got):\n%s", i+1, diff)
		}
	}

	// Through the Store too: the user, their profile and tokens are gone.
	notFound := []struct {
		name string
		call func() error
	}{
		{"user", func() error { _, err := s.UserByID(ctx, gone.userID); return err }},
		{"profile", func() error { _, err := s.Profile(ctx, gone.userID); return err }},
		{"refresh token", func() error { _, err := s.RefreshTokenByHash(ctx, gone.refreshHash[0]); return err }},
	}
	for _, tt := range notFound {
		wantKind(t, tt.call(), echogen.KindNotFound)
	}
	if got, err := s.ActiveDeletion(ctx, gone.userID); err != nil || got != nil {
		t.Errorf("ActiveDeletion after the purge = %v, %v; want nil, nil", got, err)
	}
	due, err := s.DueDeletions(ctx, d.ScheduledFor.Add(day), 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]echogen.DeletionRequest{*kept.request}, due); diff != "" {
		t.Errorf("DueDeletions after the purge (-want +got):\n%s", diff)
	}
	if _, err := s.RefreshTokenByHash(ctx, kept.refreshHash[0]); err != nil {
		t.Errorf("another user's refresh token: %v", err)
	}
}

func testFinishWithoutStart(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()
	d, err := s.ScheduleDeletion(ctx, newUser(t, s).ID, t0(), t0().Add(day))
	if err != nil {
		t.Fatal(err)
	}
	at := t0().Add(2 * day)
	if err := s.FinishDeletion(ctx, *d, at, 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.DeletionAudit(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := &echogen.DeletionAudit{RequestID: d.ID, UserID: d.UserID, RequestedAt: t0(), ScheduledFor: t0().Add(day), StartedAt: at, CompletedAt: &at}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DeletionAudit (-want +got):\n%s", diff)
	}
}
