package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"
)

// On PostgreSQL a worker process killed mid-job leaves its queue entries
// "running", and River's rescuer gives them back only after
// RescueStuckJobsAfter — over an hour here, since that must exceed the
// longest job. So every working process proves it is alive the way the
// SQLite queue does with its lock file: it holds a session advisory lock
// named after its River client id on a connection of its own. The server
// drops that lock the moment the process's connection goes, however the
// process died. Every worker looks now and then at the running entries of
// other clients; when their lock is free twice in a row (a reconnecting
// process gets a second chance), that client is gone and its entries are
// made available again, as River's rescuer would.
//
// This needs session state, so it is off behind a transaction pooler,
// where River's rescuer alone does the work.

// presenceLockClass is the first key of every presence lock ("ec").
const presenceLockClass = 0x6563

// presence is one working process's proof of life and its reaper.
type presence struct {
	connect  func(context.Context) (*pgx.Conn, error)
	clientID string
	interval time.Duration
	log      *slog.Logger

	mu       sync.Mutex
	conn     *pgx.Conn
	suspects map[string]bool // clients whose lock was free at the last look
}

// newClientID names this process's River client uniquely, even for
// processes started in the same second on one host.
func newClientID() string {
	host, _ := os.Hostname()
	host = strings.NewReplacer(".", "_", "-", "_").Replace(host)
	if len(host) > 40 {
		host = host[:40]
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s_%d_%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// start takes this process's lock; call it before the River client starts.
func (p *presence) start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hold(ctx)
}

// hold takes this process's lock on a connection of its own; p.mu is held.
func (p *presence) hold(ctx context.Context) error {
	conn, err := p.connect(ctx)
	if err != nil {
		return fmt.Errorf("worker presence: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1, hashtext($2))", presenceLockClass, p.clientID); err != nil {
		conn.Close(ctx)
		return fmt.Errorf("worker presence: %w", err)
	}
	p.conn = conn
	return nil
}

// run reaps the entries of dead workers every interval until ctx ends,
// taking the lock again if its connection was lost.
func (p *presence) run(ctx context.Context) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.reap(ctx); err != nil && ctx.Err() == nil {
			p.log.WarnContext(ctx, "looking for the jobs of dead workers", "error", err)
		}
	}
}

// reap looks once.
func (p *presence) reap(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn == nil || p.conn.IsClosed() {
		if err := p.hold(ctx); err != nil {
			return err
		}
	}
	rows, err := p.conn.Query(ctx, `SELECT DISTINCT attempted_by[array_length(attempted_by, 1)]
		FROM river_job WHERE state = 'running' AND array_length(attempted_by, 1) > 0`)
	if err != nil {
		return err
	}
	clients, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	suspects := map[string]bool{}
	for _, c := range clients {
		if c == p.clientID {
			continue
		}
		var free bool
		if err := p.conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, hashtext($2))", presenceLockClass, c).Scan(&free); err != nil {
			return err
		}
		if !free {
			continue
		}
		if _, err := p.conn.Exec(ctx, "SELECT pg_advisory_unlock($1, hashtext($2))", presenceLockClass, c); err != nil {
			return err
		}
		if !p.suspects[c] {
			suspects[c] = true // look again next time
			continue
		}
		n, err := requeueClient(ctx, p.conn, c, time.Now())
		if err != nil {
			return err
		}
		p.log.InfoContext(ctx, "queued again the jobs of a worker that ended while running them", "worker", c, "jobs", n)
	}
	p.suspects = suspects
	return nil
}

// release drops the lock; call it only once the River client has stopped.
func (p *presence) release(ctx context.Context) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != nil {
		p.conn.Close(ctx) // closing the session releases the lock
		p.conn = nil
	}
}

// requeueClient does for one dead client's running entries what River's
// rescuer does: available again, or cancelled if cancellation was asked
// for, or discarded when out of attempts, with the reason among its errors.
func requeueClient(ctx context.Context, conn *pgx.Conn, clientID string, now time.Time) (int64, error) {
	attemptErr, err := json.Marshal(rivertype.AttemptError{At: now.UTC(),
		Error: "the worker running this attempt (" + clientID + ") ended; queued again by another worker"})
	if err != nil {
		return 0, err
	}
	tag, err := conn.Exec(ctx, `WITH dead AS (
			SELECT id,
				CASE WHEN metadata ? 'cancel_attempted_at' THEN 'cancelled'
				     WHEN attempt >= max_attempts THEN 'discarded'
				     ELSE 'available' END AS next
			FROM river_job
			WHERE state = 'running' AND attempted_by[array_length(attempted_by, 1)] = $1
			FOR UPDATE SKIP LOCKED)
		UPDATE river_job j SET
			state = dead.next::river_job_state,
			finalized_at = CASE WHEN dead.next = 'available' THEN NULL ELSE now() END,
			scheduled_at = CASE WHEN dead.next = 'available' THEN now() ELSE j.scheduled_at END,
			errors = array_append(j.errors, $2::jsonb)
		FROM dead WHERE j.id = dead.id`, clientID, string(attemptErr))
	if err != nil {
		return 0, fmt.Errorf("requeue the jobs of worker %s: %w", clientID, err)
	}
	return tag.RowsAffected(), nil
}
