package jobs_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/echogen/server/internal/echogen"
)

// riverJob reads a queue entry's state, attempt and errors.
func riverJob(t *testing.T, b backend, id int64) (state string, attempt int, errs string) {
	t.Helper()
	if err := b.db.QueryRowContext(context.Background(),
		"SELECT state, attempt, coalesce(json(errors), '') FROM river_job WHERE id = ?", id).Scan(&state, &attempt, &errs); err != nil {
		t.Fatal(err)
	}
	return state, attempt, errs
}

// asLeftByDeadProcess marks a queue entry as a killed process leaves it.
func asLeftByDeadProcess(t *testing.T, b backend, id int64, attempt int, metadata string) {
	t.Helper()
	if _, err := b.db.ExecContext(context.Background(), `UPDATE river_job SET state = 'running', attempt = ?,
		attempted_at = datetime('now', 'subsec'), attempted_by = jsonb('["dead_client"]'), metadata = jsonb(?) WHERE id = ?`,
		attempt, metadata, id); err != nil {
		t.Fatal(err)
	}
}

func TestSQLiteStartRequeuesTheJobsOfADeadProcess(t *testing.T) {
	b := backends(t)["sqlite"](t)
	ctx := context.Background()
	var mails atomic.Int32
	q, err := b.newQueue(mailerFunc(func(context.Context, echogen.Mail) error { mails.Add(1); return nil }), newKeyring(t))
	if err != nil {
		t.Fatal(err)
	}
	echo := &testHandler{typ: "echo", limit: echogen.JobLimits{MaxAttempts: 3, Timeout: time.Hour},
		run: func(context.Context, int, echogen.JobRun) (map[string]any, error) {
			return map[string]any{"ok": true}, nil
		}}
	svc := echogen.NewJobService(b.store, q, q.Events(), echogen.SystemClock{}, slog.New(slog.DiscardHandler), 10, nil)
	svc.Register(echo)
	q.RegisterJobs(svc)
	e := &jobEnv{svc: svc, queue: q, store: b.store, user: echogen.Principal{UserID: echogen.NewID()}}

	// Before this process starts: a user job whose run died with its
	// process, a mail out of attempts, and a mail whose cancellation was
	// asked for while it ran.
	j, err := svc.Enqueue(ctx, e.user, "echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	asLeftByDeadProcess(t, b, j.QueueJobID, 1, `{}`)
	var mailIDs []int64
	for range 2 {
		if err := q.EnqueueMail(ctx, echogen.Mail{To: "ada@example.com", Subject: "hi"}); err != nil {
			t.Fatal(err)
		}
		var id int64
		if err := b.db.QueryRowContext(ctx, "SELECT max(id) FROM river_job").Scan(&id); err != nil {
			t.Fatal(err)
		}
		mailIDs = append(mailIDs, id)
	}
	asLeftByDeadProcess(t, b, mailIDs[0], 12, `{}`)
	asLeftByDeadProcess(t, b, mailIDs[1], 3, `{"cancel_attempted_at":"2026-01-01T00:00:00Z"}`)

	start(t, q)
	if got := e.waitFor(t, j.ID, "succeeded", finished); got.Status != echogen.JobSucceeded || echo.runs.Load() != 1 {
		t.Errorf("the recovered job: status %s, %d runs", got.Status, echo.runs.Load())
	}
	// River records the completion a moment after the run returns.
	state, attempt, errs := riverJob(t, b, j.QueueJobID)
	for deadline := time.Now().Add(10 * time.Second); state == "running" && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		state, attempt, errs = riverJob(t, b, j.QueueJobID)
	}
	if state != "completed" || attempt != 2 || !strings.Contains(errs, "queued again at start-up") {
		t.Errorf("its queue entry: %s, attempt %d, errors %s", state, attempt, errs)
	}
	for i, want := range []string{"discarded", "cancelled"} {
		if state, _, _ := riverJob(t, b, mailIDs[i]); state != want {
			t.Errorf("mail entry %d: %s, want %s", i, state, want)
		}
	}
	if n := mails.Load(); n != 0 {
		t.Errorf("%d mails sent, want none", n)
	}
}

func TestSQLiteStartLeavesTheJobsOfALiveProcess(t *testing.T) {
	b := backends(t)["sqlite"](t)
	ctx := context.Background()
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	slow := &testHandler{typ: "slow", limit: echogen.JobLimits{MaxAttempts: 3, Timeout: time.Hour},
		run: func(ctx context.Context, _ int, _ echogen.JobRun) (map[string]any, error) {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return map[string]any{"ok": true}, nil
		}}
	e := newJobEnv(t, b, 10, slow)
	j, err := e.svc.Enqueue(ctx, e.user, "slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-started

	// A second queue on the same database starts while the first one is
	// still running the job: it must not take the job back.
	other := newMailQueue(t, b)
	other.RegisterJobs(e.svc)
	start(t, other)
	time.Sleep(500 * time.Millisecond) // several polls of both queues
	if state, attempt, _ := riverJob(t, b, j.QueueJobID); state != "running" || attempt != 1 {
		t.Errorf("while the first queue runs it: %s, attempt %d", state, attempt)
	}
	if n := slow.runs.Load(); n != 1 {
		t.Errorf("%d runs, want 1", n)
	}
	close(release)
	if got := e.waitFor(t, j.ID, "succeeded", finished); got.Status != echogen.JobSucceeded || slow.runs.Load() != 1 {
		t.Errorf("status %s after %d runs", got.Status, slow.runs.Load())
	}
}

// TestJobThatKillsEveryWorkerEnds: a job whose every attempt died with its
// process (the row still "running", its attempts used up) is failed when
// it comes round again, not run once more and not left running forever.
func TestJobThatKillsEveryWorkerEnds(t *testing.T) {
	b := backends(t)["sqlite"](t)
	ctx := context.Background()
	q := newMailQueue(t, b)
	doomed := &testHandler{typ: "doomed", limit: echogen.JobLimits{MaxAttempts: 2, Timeout: time.Hour},
		run: func(context.Context, int, echogen.JobRun) (map[string]any, error) {
			return map[string]any{"ok": true}, nil
		}}
	svc := echogen.NewJobService(b.store, q, q.Events(), echogen.SystemClock{}, quiet, 10, nil)
	svc.Register(doomed)
	q.RegisterJobs(svc)
	e := &jobEnv{svc: svc, queue: q, store: b.store, user: echogen.Principal{UserID: echogen.NewID()}}
	j, err := svc.Enqueue(ctx, e.user, "doomed", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Its second attempt started, and then its process died too.
	if _, err := b.db.ExecContext(ctx, "UPDATE processing_jobs SET status = 'running', attempt = 2 WHERE id = ?", j.ID); err != nil {
		t.Fatal(err)
	}
	asLeftByDeadProcess(t, b, j.QueueJobID, 2, `{}`)

	start(t, q)
	got := e.waitFor(t, j.ID, "failed", finished)
	if got.Status != echogen.JobFailed || got.Error == nil || !strings.Contains(*got.Error, "stopped during each of its 2 attempts") {
		t.Errorf("status %s, error %v", got.Status, got.Error)
	}
	if n := doomed.runs.Load(); n != 0 {
		t.Errorf("run %d more times", n)
	}
}
