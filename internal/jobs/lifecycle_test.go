package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/jobs"
)

// testHandler is a job type whose behaviour each test sets.
type testHandler struct {
	typ   string
	runs  atomic.Int32
	limit echogen.JobLimits
	run   func(ctx context.Context, n int, run echogen.JobRun) (map[string]any, error)
}

func (h *testHandler) Type() string              { return h.typ }
func (h *testHandler) Limits() echogen.JobLimits { return h.limit }
func (h *testHandler) Validate(p map[string]any) error {
	if _, bad := p["bad"]; bad {
		return echogen.Invalid([]string{"body", "payload", "bad"}, "value_error", "bad field")
	}
	return nil
}
func (h *testHandler) Run(ctx context.Context, run echogen.JobRun) (map[string]any, error) {
	return h.run(ctx, int(h.runs.Add(1)), run)
}

// jobEnv is a JobService on a real queue and database.
type jobEnv struct {
	svc   *echogen.JobService
	queue *jobs.Queue
	store echogen.Store
	user  echogen.Principal
}

func newJobEnv(t *testing.T, b backend, maxRunning int, handlers ...echogen.JobHandler) *jobEnv {
	t.Helper()
	q := newMailQueue(t, b)
	svc := echogen.NewJobService(b.store, q, q.Events(), echogen.SystemClock{}, slog.New(slog.DiscardHandler), maxRunning, nil)
	for _, h := range handlers {
		svc.Register(h)
	}
	q.RegisterJobs(svc)
	start(t, q)
	return &jobEnv{svc: svc, queue: q, store: b.store, user: echogen.Principal{UserID: echogen.NewID()}}
}

// waitFor waits, on the job's change events, until ok holds for it.
func (e *jobEnv) waitFor(t *testing.T, id string, what string, ok func(*echogen.Job) bool) *echogen.Job {
	t.Helper()
	changed, stop := e.queue.Events().Subscribe(id)
	defer stop()
	timeout := time.After(30 * time.Second)
	for {
		j, err := e.svc.Job(context.Background(), e.user, id)
		if err != nil {
			t.Fatal(err)
		}
		if ok(j) {
			return j
		}
		select {
		case <-changed:
		case <-timeout:
			t.Fatalf("job %s never became %s; last: status %s, attempt %d, error %v", id, what, j.Status, j.Attempt, j.Error)
		}
	}
}

func finished(j *echogen.Job) bool { return j.Status.Terminal() }

func TestJobLifecycle(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := open(t)
			unavailable := func(msg string) error { return echogen.Errorf(echogen.KindUnavailable, "unavailable", "%s", msg) }
			echo := &testHandler{typ: "echo", limit: echogen.JobLimits{MaxAttempts: 3, Timeout: time.Minute},
				run: func(ctx context.Context, _ int, run echogen.JobRun) (map[string]any, error) {
					run.Progress(ctx, echogen.Progress{Stage: "working", Percent: 50, Message: "half way"})
					return map[string]any{"echo": run.Job.Payload["say"]}, nil
				}}
			flaky := &testHandler{typ: "flaky", limit: echogen.JobLimits{MaxAttempts: 3, Timeout: time.Minute},
				run: func(_ context.Context, n int, _ echogen.JobRun) (map[string]any, error) {
					if n <= 2 {
						return nil, unavailable(fmt.Sprintf("upstream 503 on try %d", n))
					}
					return map[string]any{"tries": n}, nil
				}}
			throttled := &testHandler{typ: "throttled", limit: echogen.JobLimits{MaxAttempts: 3, Timeout: time.Minute},
				run: func(_ context.Context, n int, _ echogen.JobRun) (map[string]any, error) {
					if n == 1 {
						e := echogen.Errorf(echogen.KindRateLimited, "rate_limited", "slow down")
						e.RetryAfter = 20 * time.Millisecond
						return nil, e
					}
					return map[string]any{"ok": true}, nil
				}}
			permanent := &testHandler{typ: "permanent", limit: echogen.JobLimits{MaxAttempts: 3, Timeout: time.Minute},
				run: func(context.Context, int, echogen.JobRun) (map[string]any, error) {
					return nil, echogen.Errorf(echogen.KindUnauthenticated, "bad_key", "Incorrect API key provided")
				}}
			hopeless := &testHandler{typ: "hopeless", limit: echogen.JobLimits{MaxAttempts: 2, Timeout: time.Minute},
				run: func(context.Context, int, echogen.JobRun) (map[string]any, error) {
					return nil, unavailable("always down")
				}}
			empty := &testHandler{typ: "empty", limit: echogen.JobLimits{MaxAttempts: 2, Timeout: time.Minute},
				run: func(context.Context, int, echogen.JobRun) (map[string]any, error) { return nil, nil }}
			e := newJobEnv(t, b, 10, echo, flaky, throttled, permanent, hopeless, empty)
			ctx := context.Background()

			if _, err := e.svc.Enqueue(ctx, e.user, "nope", nil); echogen.ErrorKind(err) != echogen.KindBadRequest {
				t.Errorf("unknown type: %v", err)
			}
			if _, err := e.svc.Enqueue(ctx, e.user, "echo", map[string]any{"bad": 1}); echogen.ErrorKind(err) != echogen.KindInvalid {
				t.Errorf("bad payload: %v", err)
			}

			tests := []struct {
				typ         string
				wantStatus  echogen.JobStatus
				wantAttempt int
				wantResult  map[string]any
				wantError   string
			}{
				{"echo", echogen.JobSucceeded, 1, map[string]any{"echo": "hi"}, ""},
				{"flaky", echogen.JobSucceeded, 3, map[string]any{"tries": float64(3)}, ""},
				{"throttled", echogen.JobSucceeded, 2, map[string]any{"ok": true}, ""},
				{"permanent", echogen.JobFailed, 1, nil, "Incorrect API key provided"},
				{"hopeless", echogen.JobFailed, 2, nil, "always down"},
				{"empty", echogen.JobFailed, 1, nil, "the job finished without producing anything"},
			}
			for _, tc := range tests {
				j, err := e.svc.Enqueue(ctx, e.user, tc.typ, map[string]any{"say": "hi"})
				if err != nil {
					t.Fatal(err)
				}
				if j.Status != echogen.JobQueued || j.QueueJobID == 0 {
					t.Fatalf("%s: enqueued %+v", tc.typ, j)
				}
				got := e.waitFor(t, j.ID, "finished", finished)
				errText := ""
				if got.Error != nil {
					errText = *got.Error
				}
				if got.Status != tc.wantStatus || got.Attempt != tc.wantAttempt || errText != tc.wantError || got.FinishedAt == nil {
					t.Errorf("%s: status %s attempt %d error %q", tc.typ, got.Status, got.Attempt, errText)
				}
				if diff := cmp.Diff(tc.wantResult, got.Result); diff != "" {
					t.Errorf("%s result (-want +got):\n%s", tc.typ, diff)
				}
			}
			if n := permanent.runs.Load(); n != 1 {
				t.Errorf("a permanent failure ran %d times", n)
			}
		})
	}
}

func TestJobCancelStopsTheRun(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			b := open(t)
			started := make(chan struct{})
			stopped := make(chan error, 1)
			blocker := &testHandler{typ: "blocker", limit: echogen.JobLimits{MaxAttempts: 3, Timeout: time.Minute},
				run: func(ctx context.Context, _ int, _ echogen.JobRun) (map[string]any, error) {
					close(started)
					<-ctx.Done()
					stopped <- ctx.Err()
					return nil, ctx.Err()
				}}
			e := newJobEnv(t, b, 10, blocker)
			ctx := context.Background()
			j, err := e.svc.Enqueue(ctx, e.user, "blocker", nil)
			if err != nil {
				t.Fatal(err)
			}
			<-started
			cancelled, err := e.svc.Cancel(ctx, e.user, j.ID)
			if err != nil || cancelled.Status != echogen.JobCancelled {
				t.Fatalf("cancel: %+v %v", cancelled, err)
			}
			select {
			case err := <-stopped:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("the run stopped with %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the running job's context was not cancelled")
			}
			got := e.waitFor(t, j.ID, "cancelled", finished)
			if got.Status != echogen.JobCancelled {
				t.Errorf("after cancel: %s", got.Status)
			}
			// Cancelling again, or another user's job, changes nothing.
			if again, err := e.svc.Cancel(ctx, e.user, j.ID); err != nil || again.Status != echogen.JobCancelled {
				t.Errorf("cancel twice: %v %v", again, err)
			}
			if _, err := e.svc.Cancel(ctx, echogen.Principal{UserID: echogen.NewID()}, j.ID); echogen.ErrorKind(err) != echogen.KindNotFound {
				t.Errorf("another user cancels: %v", err)
			}
		})
	}
}

func TestPerUserRunningCap(t *testing.T) {
	b := backends(t)["sqlite"](t)
	var mu sync.Mutex
	running, peak := 0, 0
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	slow := &testHandler{typ: "slow", limit: echogen.JobLimits{MaxAttempts: 1, Timeout: time.Minute},
		run: func(ctx context.Context, _ int, _ echogen.JobRun) (map[string]any, error) {
			mu.Lock()
			running++
			peak = max(peak, running)
			mu.Unlock()
			started <- struct{}{}
			<-release
			mu.Lock()
			running--
			mu.Unlock()
			return map[string]any{"ok": true}, nil
		}}
	e := newJobEnv(t, b, 2, slow)
	ctx := context.Background()
	var ids []string
	for range 4 {
		j, err := e.svc.Enqueue(ctx, e.user, "slow", nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	<-started
	<-started
	// Another user is not held up by the first user's queue.
	other := echogen.Principal{UserID: echogen.NewID()}
	oj, err := e.svc.Enqueue(ctx, other, "slow", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-started
	mu.Lock()
	if running != 3 {
		t.Errorf("%d jobs running, want 2 of the first user's and 1 of the other's", running)
	}
	mu.Unlock()
	close(release)
	for _, id := range ids {
		e.waitFor(t, id, "finished", finished)
	}
	e.user = other
	e.waitFor(t, oj.ID, "finished", finished)
	if peak > 3 {
		t.Errorf("peak %d jobs running at once", peak)
	}
}
