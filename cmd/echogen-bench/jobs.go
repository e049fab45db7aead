package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/echogen/server/internal/apptest"
	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/jobs"
	"github.com/echogen/server/internal/postgres"
	"github.com/echogen/server/internal/sqlite"
	"github.com/echogen/server/internal/vault"
)

// noopHandler is a job type that does nothing but note when it started.
type noopHandler struct {
	mu      sync.Mutex
	started map[string]time.Time
	done    chan struct{}
}

func (h *noopHandler) Type() string                  { return "noop" }
func (h *noopHandler) Validate(map[string]any) error { return nil }
func (h *noopHandler) Limits() echogen.JobLimits {
	return echogen.JobLimits{MaxAttempts: 1, Timeout: time.Minute}
}
func (h *noopHandler) Run(_ context.Context, run echogen.JobRun) (map[string]any, error) {
	h.mu.Lock()
	h.started[run.Job.ID] = time.Now()
	h.mu.Unlock()
	h.done <- struct{}{}
	return map[string]any{"ok": true}, nil
}

// benchJobs measures enqueue-to-start latency (jobs sent one at a time)
// and throughput of no-op jobs (a batch enqueued at once), on the real
// queue and database.
func benchJobs(ctx context.Context, out io.Writer, databaseURL string, n int) error {
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	spec, err := vault.FormatKey(vault.GenerateKey())
	if err != nil {
		return err
	}
	keys, err := vault.ParseKeyring(spec)
	if err != nil {
		return err
	}
	noMail := mailerFunc(func(context.Context, echogen.Mail) error { return nil })
	var store echogen.Store
	var q *jobs.Queue
	db := "sqlite"
	if databaseURL == "" {
		dir, err := os.MkdirTemp("", "echogen-jobs-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		lite, err := sqlite.Open(ctx, filepath.Join(dir, "echogen.db"))
		if err != nil {
			return err
		}
		defer lite.Close()
		if err := lite.Migrate(ctx); err != nil {
			return err
		}
		store = lite.Store()
		q, err = jobs.NewSQLite(lite.Write, lite.Store(), noMail, keys, log, jobs.Options{PollInterval: 100 * time.Millisecond})
		if err != nil {
			return err
		}
	} else {
		db = "postgres"
		url, drop, err := apptest.Schema(ctx, databaseURL)
		if err != nil {
			return err
		}
		defer drop()
		pg, err := postgres.Open(ctx, url)
		if err != nil {
			return err
		}
		defer pg.Close()
		if err := pg.Migrate(ctx); err != nil {
			return err
		}
		store = pg.Store()
		q, err = jobs.NewPostgres(pg.Pool, pg.SQL, pg.Store(), noMail, keys, log, jobs.Options{})
		if err != nil {
			return err
		}
	}
	h := &noopHandler{started: map[string]time.Time{}, done: make(chan struct{}, n)}
	svc := echogen.NewJobService(store, q, q.Events(), echogen.SystemClock{}, log, 1000, nil)
	svc.Register(h)
	q.RegisterJobs(svc)
	if err := q.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(sctx)
	}()
	user := echogen.Principal{UserID: echogen.NewID()}

	// Latency: one job at a time, each waited for.
	const latencyJobs = 100
	var latencies []time.Duration
	for range latencyJobs {
		t0 := time.Now()
		j, err := svc.Enqueue(ctx, user, "noop", nil)
		if err != nil {
			return err
		}
		<-h.done
		h.mu.Lock()
		latencies = append(latencies, h.started[j.ID].Sub(t0))
		h.mu.Unlock()
	}
	slices.Sort(latencies)
	fmt.Fprintf(out, "enqueue-to-start, %s, %d jobs one at a time: p50 %.1f ms, p99 %.1f ms\n",
		db, latencyJobs, ms(latencies[latencyJobs/2]), ms(latencies[latencyJobs*99/100]))

	// Throughput: n jobs enqueued, then all worked.
	t0 := time.Now()
	for range n {
		if _, err := svc.Enqueue(ctx, user, "noop", nil); err != nil {
			return err
		}
	}
	enqueued := time.Since(t0)
	for range n {
		<-h.done
	}
	elapsed := time.Since(t0)
	fmt.Fprintf(out, "%d no-op jobs, %s: enqueued in %.0f ms (%.0f/s); all done in %.0f ms: %.0f jobs/s\n",
		n, db, ms(enqueued), float64(n)/enqueued.Seconds(), ms(elapsed), float64(n)/elapsed.Seconds())
	return nil
}

type mailerFunc func(context.Context, echogen.Mail) error

func (f mailerFunc) Send(ctx context.Context, m echogen.Mail) error { return f(ctx, m) }
