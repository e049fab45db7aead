package jobs_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
)

// presenceLock is the advisory lock a working process named client holds.
const presenceLock = "SELECT pg_advisory_lock(25955, hashtext($1))"

func TestPostgresWorkerRequeuesOnlyTheJobsOfDeadWorkers(t *testing.T) {
	b := backends(t)["postgres"](t)
	ctx := t.Context()
	q := newMailQueue(t, b)
	echo := &testHandler{typ: "echo", limit: echogen.JobLimits{MaxAttempts: 3, Timeout: time.Hour},
		run: func(context.Context, int, echogen.JobRun) (map[string]any, error) {
			return map[string]any{"ok": true}, nil
		}}
	svc := echogen.NewJobService(b.store, q, q.Events(), echogen.SystemClock{}, quiet, 10, nil)
	svc.Register(echo)
	q.RegisterJobs(svc)
	e := &jobEnv{svc: svc, queue: q, store: b.store, user: echogen.Principal{UserID: echogen.NewID()}}

	// Before this worker starts, two others were running a job each: one
	// still is (it holds its lock), the other was killed (its lock is gone
	// with its connection).
	live, err := b.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if _, err := live.ExecContext(ctx, presenceLock, "live_client"); err != nil {
		t.Fatal(err)
	}
	ids := map[string]*echogen.Job{}
	for _, client := range []string{"live_client", "dead_client"} {
		j, err := svc.Enqueue(ctx, e.user, "echo", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.db.ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(),
			attempted_by = ARRAY[$1] WHERE id = $2`, client, j.QueueJobID); err != nil {
			t.Fatal(err)
		}
		ids[client] = j
	}

	start(t, q)
	dead := ids["dead_client"]
	if got := e.waitFor(t, dead.ID, "succeeded", finished); got.Status != echogen.JobSucceeded {
		t.Errorf("the dead worker's job: %s", got.Status)
	}
	var state, errs string
	if err := b.db.QueryRowContext(ctx, "SELECT state, array_to_string(errors, ' ') FROM river_job WHERE id = $1", dead.QueueJobID).
		Scan(&state, &errs); err != nil {
		t.Fatal(err)
	}
	// The reaper looked at both workers at least twice before it took the
	// dead one's job: the live one's must still be its own.
	if err := b.db.QueryRowContext(ctx, "SELECT state FROM river_job WHERE id = $1", ids["live_client"].QueueJobID).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if state != "running" {
		t.Errorf("the live worker's job was taken: %s", state)
	}
	if n := echo.runs.Load(); n != 1 {
		t.Errorf("%d runs, want 1 (the dead worker's job only)", n)
	}
	if want := "dead_client"; !strings.Contains(errs, want) {
		t.Errorf("the requeued entry's errors do not name the dead worker: %q", errs)
	}
}

func TestPostgresEventsReachOtherProcesses(t *testing.T) {
	b := backends(t)["postgres"](t)
	ctx, cancel := context.WithCancel(t.Context())
	listening := make(chan struct{})
	api := newMailQueue(t, b)
	worker := newMailQueue(t, b)
	revoked := make(chan echogen.Revocation, 1)
	api.Revocations().Subscribe(func(r echogen.Revocation) { revoked <- r })
	job := &echogen.Job{ID: echogen.NewID()}
	changed, stop := api.Events().Subscribe(job.ID)
	defer stop()
	go func() {
		defer close(listening)
		api.Listen(ctx)
	}()
	defer func() { cancel(); <-listening }()

	wait := func(what string) {
		t.Helper()
		select {
		case <-changed:
		case <-time.After(30 * time.Second):
			t.Fatalf("no signal %s", what)
		}
	}
	wait("once the listener is connected") // it tells every watcher to look
	worker.Events().Publish(ctx, job)
	wait("for a change published by another process")

	other := &echogen.Job{ID: echogen.NewID()}
	worker.Events().Publish(ctx, other)
	worker.Events().Publish(ctx, job)
	wait("for the second change")
	select {
	case <-changed:
		t.Error("a change to another job reached this job's watcher")
	default:
	}

	// A session signed out on one process is refused by the others.
	want := echogen.Revocation{SessionID: echogen.NewID(), Until: time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)}
	worker.Revocations().Publish(ctx, want)
	select {
	case got := <-revoked:
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("revocation (-want +got):\n%s", diff)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a revocation did not reach the other process")
	}
}

func TestQueueDepth(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := open(t)
			q := newMailQueue(t, b)
			for range 3 {
				if err := q.EnqueueMail(t.Context(), echogen.Mail{To: "ada@example.com", Subject: "hi"}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := q.Depth(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if want := map[string]int64{"available": 3, "scheduled": 0, "retryable": 0, "running": 0}; cmp.Diff(want, got) != "" {
				t.Errorf("depth (-want +got):\n%s", cmp.Diff(want, got))
			}
		})
	}
}
