package storetest

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pressly/goose/v3"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/sqlstore"
)

// AtInit is a fresh database that only migration 00001 has run on, for
// MigrateFromInit.
type AtInit struct {
	DB      *sql.DB
	Dialect sqlstore.Dialect
	Store   echogen.Store
	Goose   *goose.Provider             // the schema's migrations, at version 1
	Migrate func(context.Context) error // what the server runs at start
}

// MigrateFromInit checks the later migrations over databases that 00001
// created: library and job rows survive, a legacy API key or a job of an
// unknown status stops the migration without loss, and going down to 00001
// and up again works.
func MigrateFromInit(t *testing.T, open func(t *testing.T) AtInit) {
	ctx := t.Context()
	version := func(t *testing.T, db AtInit) int64 {
		t.Helper()
		v, err := db.Goose.GetDBVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	t.Run("library rows survive", func(t *testing.T) {
		db := open(t)
		r := raw{db: db.DB, d: db.Dialect}
		userID, contentID, scriptID, podcastID := echogen.NewID(), echogen.NewID(), echogen.NewID(), echogen.NewID()
		r.exec(t, `INSERT INTO scraped_content (id, user_id, url, title) VALUES (?, ?, ?, ?)`, contentID, userID, "https://example.com/", "Example")
		r.exec(t, `INSERT INTO podcast_scripts (id, user_id, source_content_id, prompt) VALUES (?, ?, ?, ?)`, scriptID, userID, contentID, "Summarise")
		r.exec(t, `INSERT INTO generated_podcasts (id, user_id, script_id, audio_path) VALUES (?, ?, ?, ?)`, podcastID, userID, scriptID, userID+"/a.mp3")
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		sc, err := db.Store.Script(ctx, userID, scriptID)
		if err != nil {
			t.Fatal(err)
		}
		if sc.Title != "" || sc.Prompt != "Summarise" || sc.SourceContentID == nil || *sc.SourceContentID != contentID {
			t.Errorf("script after the migration = %+v", sc)
		}
		if c, err := db.Store.Content(ctx, userID, contentID); err != nil || c.Title != "Example" {
			t.Errorf("content after the migration = %+v, %v", c, err)
		}
		if p, err := db.Store.Podcast(ctx, userID, podcastID); err != nil || p.ScriptID != scriptID {
			t.Errorf("podcast after the migration = %+v, %v", p, err)
		}
	})

	t.Run("job rows survive", func(t *testing.T) {
		db := open(t)
		r := raw{db: db.DB, d: db.Dialect}
		userID, id := echogen.NewID(), echogen.NewJobID(jobType)
		r.exec(t, `INSERT INTO processing_jobs (id, user_id, job_type, status, payload, result, error, created_at, updated_at, started_at, finished_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, userID, jobType, "failed", `{"content_id":"c"}`, `{"partial":true}`, "boom", t0(), t0().Add(time.Hour), t0(), t0().Add(time.Hour))
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		want := &echogen.Job{ID: id, UserID: userID, Type: jobType, Status: echogen.JobFailed, Payload: map[string]any{"content_id": "c"},
			Result: map[string]any{"partial": true}, Error: ptr("boom"), MaxAttempts: 1, Version: 1,
			CreatedAt: t0(), UpdatedAt: t0().Add(time.Hour), StartedAt: ptr(t0()), FinishedAt: ptr(t0().Add(time.Hour))}
		got, err := db.Store.Job(ctx, userID, id)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("job after the migration (-want +got):\n%s", diff)
		}
	})

	t.Run("a job of unknown status stops it", func(t *testing.T) {
		db := open(t)
		r := raw{db: db.DB, d: db.Dialect}
		id := echogen.NewJobID(jobType)
		r.exec(t, `INSERT INTO processing_jobs (id, user_id, job_type, status) VALUES (?, ?, ?, ?)`, id, echogen.NewID(), jobType, "processing")
		if err := db.Migrate(ctx); err == nil {
			t.Fatal("Migrate succeeded over a job of status processing")
		}
		if v := version(t, db); v != 2 {
			t.Errorf("version = %d, want 2", v)
		}
		if n := r.count(t, `SELECT count(*) FROM processing_jobs WHERE id = ? AND status = 'processing'`, id); n != 1 {
			t.Errorf("job after the failed migration: %d rows, want it untouched", n)
		}
	})

	t.Run("a legacy key stops it", func(t *testing.T) {
		db := open(t)
		r := raw{db: db.DB, d: db.Dialect}
		keyID := echogen.NewID()
		r.exec(t, `INSERT INTO user_api_keys (id, user_id, provider, encrypted_key) VALUES (?, ?, ?, ?)`, keyID, echogen.NewID(), "openai", "legacy")
		if err := db.Migrate(ctx); err == nil {
			t.Fatal("Migrate succeeded over a legacy key")
		}
		if v := version(t, db); v != 1 {
			t.Errorf("version = %d, want 1", v)
		}
		if n := r.count(t, `SELECT count(*) FROM user_api_keys WHERE id = ? AND encrypted_key = 'legacy'`, keyID); n != 1 {
			t.Errorf("legacy key after the failed migration: %d rows, want it untouched", n)
		}
	})

	t.Run("down and up again", func(t *testing.T) {
		db := open(t)
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		userID := echogen.NewID()
		create(t, db.Store.CreateAPIKey, &echogen.APIKey{UserID: userID, Provider: echogen.ProviderGroq, Sealed: []byte("s")})
		job := insertJob(t, db.Store, finishedJob(userID, t0()))
		if _, err := db.Goose.DownTo(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if v := version(t, db); v != 1 {
			t.Errorf("version after down = %d, want 1", v)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		k := create(t, db.Store.CreateAPIKey, &echogen.APIKey{UserID: userID, Provider: echogen.ProviderGroq, Sealed: []byte("s")})
		// Going down dropped the sealed keys, which 00001 cannot hold.
		if keys, err := db.Store.ListAPIKeys(ctx, userID); err != nil || len(keys) != 1 || keys[0].ID != k.ID {
			t.Errorf("keys after down and up = %v, %v; want only the new one", keys, err)
		}
		// The job stays, without what 00001 cannot hold.
		job.Progress, job.Attempt, job.MaxAttempts, job.Version, job.QueueJobID = echogen.Progress{}, 0, 1, 1, 0
		if got, err := db.Store.Job(ctx, userID, job.ID); err != nil {
			t.Error(err)
		} else if diff := cmp.Diff(job, got); diff != "" {
			t.Errorf("job after down and up (-want +got):\n%s", diff)
		}
	})
}
