// Package jobs runs the server's background work on River: durable jobs in
// the same database as everything else (SQLite or PostgreSQL), worked by
// in-process workers, stopped cleanly on shutdown.
package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/echogen/server/internal/echogen"
)

// riverClient is what Queue needs of a river.Client, whatever its driver.
type riverClient interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	Subscribe(kinds ...river.EventKind) (<-chan *river.Event, func())
	PeriodicJobs() *river.PeriodicJobBundle
	JobCancel(ctx context.Context, jobID int64) (*rivertype.JobRow, error)
}

// Sealer encrypts job arguments that must not sit in the database in clear
// text, such as mail carrying a password-reset token.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// Options tune the queue.
type Options struct {
	// Workers is how many jobs run at once in this process.
	Workers int
	// PollInterval is how often River looks for new jobs where it cannot be
	// told (SQLite). Zero keeps River's default of one second.
	PollInterval time.Duration
	// RescueAfter is how long a job may run before River decides its
	// worker died and runs it again; it must exceed every job type's
	// timeout. Zero means 15 minutes.
	RescueAfter time.Duration
	// RetryDelay, when set, replaces River's exponential backoff (about
	// attempt⁴ seconds, with jitter) between failed attempts.
	RetryDelay func(attempt int) time.Duration
	// ReapInterval is how often a PostgreSQL worker looks for the running
	// jobs of workers that died (see presence.go). Zero means 5 seconds.
	ReapInterval time.Duration
	// PollOnly makes River poll for jobs instead of listening for them:
	// LISTEN/NOTIFY does not pass a transaction pooler (PgBouncer,
	// Supavisor in transaction mode).
	PollOnly bool
	// Middleware wraps every insert and every job attempt, on each River
	// client of the queue (tracing.RiverMiddleware).
	Middleware []rivertype.Middleware
}

// retryPolicy adapts Options.RetryDelay to River.
type retryPolicy func(attempt int) time.Duration

func (p retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().UTC().Add(p(job.Attempt))
}

// Queue is the server's job queue.
type Queue struct {
	client   riverClient
	inserter txInserter // enqueues inside the store's transactions
	store    jobStore
	events   *broker
	pg       *pgEvents // PostgreSQL, listening: job events across processes
	presence *presence // PostgreSQL, listening: recovers dead workers' jobs
	reaping  chan struct{}
	stopReap context.CancelFunc
	db       *sql.DB // for the queue depth
	workerID string
	workers  *river.Workers
	sealer   Sealer
	log      *slog.Logger
	startup  *sqliteStartup // SQLite only; see recover.go
	admin    adminFactory   // the River UI on the working client; see admin.go
}

// NewSQLite returns a queue on a SQLite database. db must be the single
// writer connection pool; store (may be nil for mail-only uses) writes the
// job rows.
func NewSQLite(db *sql.DB, store jobStore, mailer echogen.Mailer, sealer Sealer, log *slog.Logger, opts Options) (*Queue, error) {
	q, client, err := newQueue(riversqlite.New(db), mailer, sealer, log, opts)
	if err != nil {
		return nil, err
	}
	q.inserter, q.store, q.db = client, store, db
	q.startup = &sqliteStartup{db: db, log: log}
	return q, nil
}

// NewPostgres returns a queue on a PostgreSQL database. Workers use pgx;
// job rows are written through database/sql (db), so their queue entries
// are inserted there too, in the same transaction, by an insert-only
// client.
func NewPostgres(pool *pgxpool.Pool, db *sql.DB, store jobStore, mailer echogen.Mailer, sealer Sealer, log *slog.Logger, opts Options) (*Queue, error) {
	q, client, err := newQueue(riverpgxv5.New(pool), mailer, sealer, log, opts)
	if err != nil {
		return nil, err
	}
	if !opts.PollOnly {
		connect := dedicatedConn(pool)
		q.pg = &pgEvents{broker: q.events, pool: pool, connect: connect, log: log}
		q.pg.revocations.events = q.pg
		q.presence = &presence{connect: connect, clientID: client.ID(), interval: cmp.Or(opts.ReapInterval, 5*time.Second), log: log}
	}
	inserter, err := river.NewClient(riverdatabasesql.New(db), &river.Config{Logger: log.With("component", "river"), SkipUnknownJobCheck: true, Middleware: opts.Middleware})
	if err != nil {
		return nil, fmt.Errorf("create job inserter: %w", err)
	}
	q.inserter, q.store, q.db = inserter, store, db
	return q, nil
}

func newQueue[TTx any](driver riverdriver.Driver[TTx], mailer echogen.Mailer, sealer Sealer, log *slog.Logger, opts Options) (*Queue, *river.Client[TTx], error) {
	if opts.Workers <= 0 {
		opts.Workers = 10
	}
	if opts.RescueAfter <= 0 {
		opts.RescueAfter = 15 * time.Minute
	}
	q := &Queue{workers: river.NewWorkers(), sealer: sealer, log: log, events: newBroker()}
	river.AddWorker(q.workers, &mailWorker{mailer: mailer, sealer: sealer})
	cfg := &river.Config{
		ID:                   newClientID(),
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: opts.Workers}},
		Workers:              q.workers,
		Logger:               log.With("component", "river"),
		FetchPollInterval:    opts.PollInterval,
		JobTimeout:           min(5*time.Minute, opts.RescueAfter),
		RescueStuckJobsAfter: opts.RescueAfter,
		PollOnly:             opts.PollOnly,
		Middleware:           opts.Middleware,
	}
	if opts.RetryDelay != nil {
		cfg.RetryPolicy = retryPolicy(opts.RetryDelay)
	}
	client, err := river.NewClient(driver, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("create job queue: %w", err)
	}
	q.workerID = cfg.ID
	q.client, q.admin = client, newAdminFactory(client, log)
	return q, client, nil
}

// SchedulePurge registers the account purge and runs it every interval
// (and once at start). Call it before Start.
func (q *Queue) SchedulePurge(accounts Purger, interval time.Duration) {
	river.AddWorker(q.workers, &purgeWorker{accounts: accounts, log: q.log})
	q.client.PeriodicJobs().Add(river.NewPeriodicJob(
		river.PeriodicInterval(interval),
		func() (river.JobArgs, *river.InsertOpts) { return PurgeAccountsArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true, ID: "account_purge"},
	))
}

// Start starts working jobs. On SQLite it first queues again the jobs that
// a process which has since died was running (see recover.go).
func (q *Queue) Start(ctx context.Context) error {
	if q.startup != nil {
		if err := q.startup.acquire(ctx); err != nil {
			return fmt.Errorf("start job queue: %w", err)
		}
	}
	if q.presence != nil {
		if err := q.presence.start(ctx); err != nil {
			return fmt.Errorf("start job queue: %w", err)
		}
	}
	if err := q.client.Start(ctx); err != nil {
		q.release()
		return fmt.Errorf("start job queue: %w", err)
	}
	if q.presence != nil {
		rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		q.reaping, q.stopReap = make(chan struct{}), cancel
		go func() {
			defer close(q.reaping)
			q.presence.run(rctx)
		}()
	}
	return nil
}

// WorkerID is the River client id this process works jobs under: it is
// what river_job.attempted_by records.
func (q *Queue) WorkerID() string { return q.workerID }

// Listen relays job events from other processes until ctx ends; without
// them (SQLite, a transaction pooler) it returns at once, and progress
// streams reread their job every few seconds instead.
func (q *Queue) Listen(ctx context.Context) {
	if q.pg != nil {
		q.pg.listen(ctx)
	}
}

// Revocations shares revoked sessions between the processes on one
// PostgreSQL database; nil where there is one process (SQLite) or no
// LISTEN (a transaction pooler).
func (q *Queue) Revocations() echogen.RevocationFeed {
	if q.pg == nil {
		return nil
	}
	return &q.pg.revocations
}

// Depth counts the queue's unfinished entries by state: available,
// scheduled, retryable and running.
func (q *Queue) Depth(ctx context.Context) (map[string]int64, error) {
	rows, err := q.db.QueryContext(ctx, `SELECT CAST(state AS TEXT), count(*) FROM river_job
		WHERE state IN ('available', 'scheduled', 'retryable', 'running') GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("queue depth: %w", err)
	}
	defer rows.Close()
	depth := map[string]int64{"available": 0, "scheduled": 0, "retryable": 0, "running": 0}
	for rows.Next() {
		var state string
		var n int64
		if err := rows.Scan(&state, &n); err != nil {
			return nil, fmt.Errorf("queue depth: %w", err)
		}
		depth[state] = n
	}
	return depth, rows.Err()
}

// Stop stops taking new jobs and waits for running ones until ctx ends;
// then it cancels them, so they are retried (elsewhere or after restart).
func (q *Queue) Stop(ctx context.Context) error {
	err := q.client.Stop(ctx)
	if err == nil {
		q.release()
		return nil
	}
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("stop job queue: %w", err)
	}
	q.log.Warn("jobs still running at the shutdown deadline; cancelling them so they are retried")
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := q.client.StopAndCancel(cctx); err != nil {
		return fmt.Errorf("stop job queue: %w", err) // still working: keep the lock
	}
	q.release()
	return nil
}

// release lets another process recover this database's jobs once none
// runs here any more.
func (q *Queue) release() {
	if q.startup != nil {
		q.startup.release()
	}
	if q.stopReap != nil {
		q.stopReap()
		<-q.reaping
		q.stopReap = nil
	}
	if q.presence != nil {
		q.presence.release(context.Background())
	}
}

// Subscribe returns job events of the given kinds (for tests and progress
// streams) and a function to stop listening.
func (q *Queue) Subscribe(kinds ...river.EventKind) (<-chan *river.Event, func()) {
	return q.client.Subscribe(kinds...)
}

// Insert enqueues a job.
func (q *Queue) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return q.client.Insert(ctx, args, opts)
}
