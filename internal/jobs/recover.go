package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/riverqueue/river/rivertype"
)

// On SQLite a process killed mid-job leaves its queue entry "running".
// River's rescuer gives it back only once this process leads (the dead
// leader's lease runs out first, 15 s or more), its 30-second tick comes
// round, RescueStuckJobsAfter has passed and so has the worker's own
// Timeout (three minutes for content_ingest). So at start-up the SQLite
// queue hands such entries back itself — but only when it can tell that no
// other process is working the same database.
//
// It can tell by a lock file beside the database: every SQLite queue holds
// a shared lock on it while it runs, and the kernel drops the lock of a
// process that dies, however it dies. A queue that gets the lock
// exclusively at start-up, before its River client starts, therefore knows
// that every "running" entry belongs to a process that is gone, and makes
// it available again before taking its own shared lock. If another live
// process holds the lock, nothing is touched and River's rescuer does its
// usual work. PostgreSQL has its own proof of life; see presence.go.

// sqliteStartup holds the lock file of one SQLite queue.
type sqliteStartup struct {
	db   *sql.DB
	log  *slog.Logger
	lock *os.File
}

// acquire takes the shared lock, first recovering the entries of dead
// processes if the lock can be had exclusively.
func (s *sqliteStartup) acquire(ctx context.Context) error {
	var path string
	if err := s.db.QueryRowContext(ctx, "SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&path); err != nil {
		return fmt.Errorf("find the database file: %w", err)
	}
	if path == "" {
		return nil // in memory: nothing outlives the process that wrote it
	}
	f, err := os.OpenFile(path+"-jobs.lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open job lock: %w", err)
	}
	alone, err := flock(f, true)
	if err == nil && alone {
		var n int
		n, err = recoverRunning(ctx, s.db, time.Now())
		if n > 0 {
			s.log.InfoContext(ctx, "queued again the jobs of a process that ended while running them", "jobs", n)
		}
	}
	if err == nil {
		err = lockShared(ctx, f)
	}
	if err != nil {
		f.Close()
		return err
	}
	s.lock = f
	return nil
}

// release drops the lock; call it only once the River client has stopped.
func (s *sqliteStartup) release() {
	if s.lock != nil {
		s.lock.Close() // closing the last descriptor releases the lock
		s.lock = nil
	}
}

// lockShared takes (or turns the exclusive lock into) the shared lock,
// waiting while another process holds it exclusively for its own start-up.
func lockShared(ctx context.Context, f *os.File) error {
	for {
		ok, err := flock(f, false)
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("job lock: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// sqliteTime is how River's SQLite driver writes times; only this format
// compares correctly with the ones SQLite itself produces.
func sqliteTime(t time.Time) string {
	return t.UTC().Round(time.Millisecond).Format("2006-01-02 15:04:05.000")
}

// recoverRunning makes every running queue entry available again (or,
// like River's rescuer, cancelled if cancellation was asked for, or
// discarded if it has no attempts left), recording why among its errors.
// The caller must know that no live process is working any of them.
func recoverRunning(ctx context.Context, db *sql.DB, now time.Time) (int, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("recover running jobs: %w", err)
	}
	defer tx.Rollback()
	type entry struct {
		id, attempt, maxAttempts int64
		cancelled                bool
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, attempt, max_attempts,
		CASE WHEN typeof(metadata) = 'text' AND NOT json_valid(metadata) THEN 0
		     ELSE json_extract(metadata, '$.cancel_attempted_at') IS NOT NULL END
		FROM river_job WHERE state = 'running' ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("recover running jobs: %w", err)
	}
	var entries []entry
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.id, &e.attempt, &e.maxAttempts, &e.cancelled); err != nil {
			rows.Close()
			return 0, fmt.Errorf("recover running jobs: %w", err)
		}
		entries = append(entries, e)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return 0, fmt.Errorf("recover running jobs: %w", err)
	}
	at := sqliteTime(now)
	for _, e := range entries {
		attemptErr, err := json.Marshal(rivertype.AttemptError{At: now.UTC(), Attempt: int(max(e.attempt, 0)),
			Error: "the process running this attempt ended; queued again at start-up"})
		if err != nil {
			return 0, err
		}
		state, finalized, scheduled := "available", any(nil), any(at)
		switch {
		case e.cancelled:
			state, finalized, scheduled = string(rivertype.JobStateCancelled), at, nil
		case e.attempt >= e.maxAttempts:
			state, finalized, scheduled = string(rivertype.JobStateDiscarded), at, nil
		}
		// The errors expression is the one River's own rescue uses.
		if _, err := tx.ExecContext(ctx, `UPDATE river_job SET
			state = ?1,
			finalized_at = ?2,
			scheduled_at = coalesce(?3, scheduled_at),
			errors = CASE WHEN typeof(errors) = 'text' AND NOT json_valid(errors)
			              THEN jsonb(json_array(errors, json(?4)))
			              WHEN coalesce(json_type(errors), 'array') <> 'array'
			              THEN jsonb(json_array(json(errors), json(?4)))
			              ELSE jsonb(json_insert(json(coalesce(errors, jsonb('[]'))), '$[#]', json(?4))) END
			WHERE id = ?5 AND state = 'running'`,
			state, finalized, scheduled, string(attemptErr), e.id); err != nil {
			return 0, fmt.Errorf("recover running job %d: %w", e.id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("recover running jobs: %w", err)
	}
	return len(entries), nil
}
