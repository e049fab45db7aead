package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/sqlstore"
)

// RunJobArgs is the queue entry of a processing_jobs row; the row holds
// the payload, the queue only says which row to run.
type RunJobArgs struct {
	JobID   string `json:"job_id"`
	JobType string `json:"job_type"`
}

// Kind names the queue entries of user jobs.
func (RunJobArgs) Kind() string { return "echogen_job" }

// txInserter inserts a queue entry inside a database/sql transaction.
type txInserter interface {
	InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Enqueue implements echogen.JobQueue: the job row and its queue entry are
// written in one transaction, so neither exists without the other.
func (q *Queue) Enqueue(ctx context.Context, j *echogen.Job) error {
	if q.store == nil || q.inserter == nil {
		return errors.New("job queue: no store configured")
	}
	maxAttempts := 2 * j.MaxAttempts // the row counts attempts; River's count only backstops it
	if maxAttempts < 2 {
		maxAttempts = 2
	}
	return q.store.InTx(ctx, func(tx *sql.Tx) error {
		if err := q.store.InsertJob(ctx, tx, j); err != nil {
			return err
		}
		res, err := q.inserter.InsertTx(ctx, tx, RunJobArgs{JobID: j.ID, JobType: j.Type}, &river.InsertOpts{MaxAttempts: maxAttempts})
		if err != nil {
			return fmt.Errorf("enqueue job: %w", err)
		}
		j.QueueJobID = res.Job.ID
		return q.store.SetJobQueueID(ctx, tx, j.ID, res.Job.ID)
	})
}

// CancelQueued implements echogen.JobQueue.
func (q *Queue) CancelQueued(ctx context.Context, j *echogen.Job) error {
	if j.QueueJobID == 0 {
		return nil
	}
	if _, err := q.client.JobCancel(ctx, j.QueueJobID); err != nil && !errors.Is(err, rivertype.ErrNotFound) {
		return fmt.Errorf("cancel queue entry: %w", err)
	}
	return nil
}

// RegisterJobs makes this process work user jobs. Call it before Start.
func (q *Queue) RegisterJobs(svc *echogen.JobService) {
	river.AddWorker(q.workers, &jobWorker{jobs: svc, events: q.events, log: q.log})
}

type jobWorker struct {
	river.WorkerDefaults[RunJobArgs]
	jobs   *echogen.JobService
	events echogen.JobEvents
	log    *slog.Logger
}

// Timeout is the job type's own limit.
func (w *jobWorker) Timeout(job *river.Job[RunJobArgs]) time.Duration {
	if h, ok := w.jobs.Handler(job.Args.JobType); ok && h.Limits().Timeout > 0 {
		return h.Limits().Timeout
	}
	return 0
}

func (w *jobWorker) Work(ctx context.Context, job *river.Job[RunJobArgs]) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A cancellation made in this process reaches the run at once; River
	// carries those made elsewhere.
	changed, stop := w.events.Subscribe(job.Args.JobID)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case _, ok := <-changed:
				if !ok {
					return
				}
				if j, err := w.jobs.Status(ctx, job.Args.JobID); err == nil && j == echogen.JobCancelled {
					cancel()
					return
				}
			}
		}
	}()
	err := w.jobs.Execute(ctx, job.Args.JobID)
	cancel()
	wg.Wait()
	w.log.DebugContext(ctx, "job attempt ended", "job_id", job.Args.JobID, "queue_attempt", job.Attempt, "outcome", fmt.Sprint(err))
	var later *echogen.RetryLater
	switch {
	case err == nil:
		return nil
	case errors.Is(err, echogen.ErrUserBusy):
		return river.JobSnooze(echogen.UserBusyDelay)
	case errors.As(err, &later):
		return river.JobSnooze(later.Delay)
	case echogen.Permanent(err):
		return river.JobCancel(err)
	}
	return err
}

// Events is the queue's job-change broker: across processes on PostgreSQL.
func (q *Queue) Events() echogen.JobEvents {
	if q.pg != nil {
		return q.pg
	}
	return q.events
}

var _ echogen.JobQueue = (*Queue)(nil)

// jobStore is what the queue needs of the SQL store.
type jobStore interface {
	InTx(ctx context.Context, fn func(*sql.Tx) error) error
	InsertJob(ctx context.Context, tx *sql.Tx, j *echogen.Job) error
	SetJobQueueID(ctx context.Context, tx *sql.Tx, id string, queueJobID int64) error
}

var _ jobStore = (*sqlstore.Store)(nil)
