package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/echogen/server/internal/echogen"
	"github.com/echogen/server/internal/testenv"
)

// JobInserter is how the job queue writes a job row: in its own
// transaction, beside the queue's entry. The stores NewSQLite and
// NewPostgres implement it; for other stores the checks that need it are
// skipped.
type JobInserter interface {
	InTx(ctx context.Context, fn func(*sql.Tx) error) error
	InsertJob(ctx context.Context, tx *sql.Tx, j *echogen.Job) error
	SetJobQueueID(ctx context.Context, tx *sql.Tx, id string, queueJobID int64) error
}

// jobInserter returns the JobInserter of s, or skips the test when it has
// none.
func jobInserter(t *testing.T, s echogen.Store) JobInserter {
	t.Helper()
	ins, ok := s.(JobInserter)
	if !ok {
		testenv.Skip(t, "the store does not implement storetest.JobInserter")
	}
	return ins
}

// insertJob stores j in a transaction of its own and returns it.
func insertJob(t *testing.T, s echogen.Store, j *echogen.Job) *echogen.Job {
	t.Helper()
	ins := jobInserter(t, s)
	err := ins.InTx(t.Context(), func(tx *sql.Tx) error { return ins.InsertJob(t.Context(), tx, j) })
	if err != nil {
		t.Fatalf("InsertJob: %v", err)
	}
	return j
}

const jobType = "podcast_generation"

func sampleJob(userID string, at time.Time) *echogen.Job {
	return &echogen.Job{
		ID:     echogen.NewJobID(jobType),
		UserID: userID,
		Type:   jobType,
		Status: echogen.JobQueued,
		Payload: map[string]any{
			"content_id": echogen.NewID(),
			"options":    map[string]any{"voices": []any{"nova", "alloy"}, "speed": 1.25, "intro": true},
		},
		Progress:    echogen.Progress{Stage: "queued"},
		MaxAttempts: 3,
		Version:     1,
		CreatedAt:   at,
		UpdatedAt:   at,
	}
}

// finishedJob is sampleJob after a whole life: every column set.
func finishedJob(userID string, at time.Time) *echogen.Job {
	j := sampleJob(userID, at)
	j.Status = echogen.JobSucceeded
	j.Result = map[string]any{"podcast_id": echogen.NewID(), "duration": 312.5, "chapters": []any{"intro", map[string]any{"n": 2.0}}}
	j.Error = ptr("attempt 1 failed: rate limited; retrying")
	j.Progress = echogen.Progress{Stage: "done", Percent: 42.5, Message: "finished 🎙 \"quoted\""}
	j.Attempt, j.MaxAttempts, j.Version = 2, 5, 7
	j.QueueJobID = 1 << 40
	j.UpdatedAt = at.Add(time.Hour)
	j.StartedAt, j.FinishedAt = ptr(at.Add(time.Minute)), ptr(at.Add(time.Hour))
	return j
}

// readJob returns the job as both reads see it, failing when they differ.
func readJob(t *testing.T, s echogen.Store, userID, id string) *echogen.Job {
	t.Helper()
	j, err := s.Job(t.Context(), userID, id)
	if err != nil {
		t.Fatalf("Job: %v", err)
	}
	byID, err := s.JobByID(t.Context(), id)
	if err != nil {
		t.Fatalf("JobByID: %v", err)
	}
	if diff := cmp.Diff(j, byID); diff != "" {
		t.Errorf("Job and JobByID differ (-Job +JobByID):\n%s", diff)
	}
	return j
}

func wantJobFinished(t *testing.T, err error) {
	t.Helper()
	var e *echogen.Error
	if !errors.As(err, &e) || e.Kind != echogen.KindConflict || e.Code != "job_finished" || e.Message != "job already finished" {
		t.Errorf("error = %v, want KindConflict job_finished %q", err, "job already finished")
	}
}

func testJobs(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()
	ins := jobInserter(t, s)

	t.Run("insert and read", func(t *testing.T) {
		tests := []struct {
			name string
			job  func(userID string) *echogen.Job
		}{
			{"all fields", func(userID string) *echogen.Job { return finishedJob(userID, t0()) }},
			{"new job", func(userID string) *echogen.Job { return sampleJob(userID, t0()) }},
			{"running, nothing optional", func(userID string) *echogen.Job {
				j := sampleJob(userID, t0())
				j.Status, j.Payload, j.Progress, j.StartedAt = echogen.JobRunning, map[string]any{}, echogen.Progress{}, ptr(t0())
				return j
			}},
			{"empty result object", func(userID string) *echogen.Job {
				j := sampleJob(userID, t0())
				j.Status, j.Result, j.Error, j.FinishedAt = echogen.JobFailed, map[string]any{}, ptr(""), ptr(t0())
				return j
			}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				j := tt.job(echogen.NewID())
				want := *j
				insertJob(t, s, j)
				if diff := cmp.Diff(&want, j); diff != "" {
					t.Errorf("InsertJob changed the job (-before +after):\n%s", diff)
				}
				if diff := cmp.Diff(j, readJob(t, s, j.UserID, j.ID)); diff != "" {
					t.Errorf("read back (-inserted +read):\n%s", diff)
				}
			})
		}
	})

	t.Run("insert fills the defaults", func(t *testing.T) {
		userID := echogen.NewID()
		j := &echogen.Job{UserID: userID, Type: "script_generation", CreatedAt: t0(), UpdatedAt: t0()}
		insertJob(t, s, j)
		if !strings.HasPrefix(j.ID, "script_generation_") || len(j.ID) != len("script_generation_")+12 {
			t.Errorf("id = %q, want script_generation_ and 12 characters", j.ID)
		}
		want := &echogen.Job{ID: j.ID, UserID: userID, Type: "script_generation", Status: echogen.JobQueued, Payload: map[string]any{},
			MaxAttempts: 1, Version: 1, CreatedAt: t0(), UpdatedAt: t0()}
		if diff := cmp.Diff(want, j); diff != "" {
			t.Errorf("job after InsertJob (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, readJob(t, s, userID, j.ID)); diff != "" {
			t.Errorf("stored job (-want +got):\n%s", diff)
		}
	})

	t.Run("nil result is NULL", func(t *testing.T) {
		r := rawDB(t, s)
		j := insertJob(t, s, sampleJob(echogen.NewID(), t0()))
		if n := r.count(t, `SELECT count(*) FROM processing_jobs WHERE id = ? AND result IS NULL AND error IS NULL AND queue_job_id IS NULL`, j.ID); n != 1 {
			t.Errorf("result, error and queue_job_id of a new job: want NULL")
		}
	})

	t.Run("insert goes with its transaction", func(t *testing.T) {
		j := sampleJob(echogen.NewID(), t0())
		boom := errors.New("boom")
		err := ins.InTx(ctx, func(tx *sql.Tx) error {
			if err := ins.InsertJob(ctx, tx, j); err != nil {
				return err
			}
			if err := ins.SetJobQueueID(ctx, tx, j.ID, 7); err != nil {
				return err
			}
			return boom // as when the queue's own insert fails
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx error = %v, want the callback's", err)
		}
		_, err = s.JobByID(ctx, j.ID)
		wantNotFound(t, "JobByID after the rollback", err, "Job not found")
	})

	t.Run("queue id", func(t *testing.T) {
		j := sampleJob(echogen.NewID(), t0())
		err := ins.InTx(ctx, func(tx *sql.Tx) error {
			if err := ins.InsertJob(ctx, tx, j); err != nil {
				return err
			}
			return ins.SetJobQueueID(ctx, tx, j.ID, 9_007_199_254_740_993) // beyond float64's integers
		})
		if err != nil {
			t.Fatal(err)
		}
		j.QueueJobID = 9_007_199_254_740_993 // version and updated_at stay
		if diff := cmp.Diff(j, readJob(t, s, j.UserID, j.ID)); diff != "" {
			t.Errorf("job after SetJobQueueID (-want +got):\n%s", diff)
		}
		err = ins.InTx(ctx, func(tx *sql.Tx) error { return ins.SetJobQueueID(ctx, tx, jobType+"_missing00000", 1) })
		wantNotFound(t, "SetJobQueueID of a missing job", err, "Job not found")
	})

	t.Run("a taken id is a conflict", func(t *testing.T) {
		first := insertJob(t, s, sampleJob(echogen.NewID(), t0()))
		again := sampleJob(echogen.NewID(), t0().Add(time.Hour))
		again.ID = first.ID
		err := ins.InTx(ctx, func(tx *sql.Tx) error { return ins.InsertJob(ctx, tx, again) })
		wantKind(t, err, echogen.KindConflict)
		if diff := cmp.Diff(first, readJob(t, s, first.UserID, first.ID)); diff != "" {
			t.Errorf("the first job changed (-want +got):\n%s", diff)
		}
	})

	t.Run("an unknown status is refused", func(t *testing.T) {
		j := sampleJob(echogen.NewID(), t0())
		j.Status = "paused"
		if err := ins.InTx(ctx, func(tx *sql.Tx) error { return ins.InsertJob(ctx, tx, j) }); err == nil {
			t.Fatal("InsertJob stored the status paused")
		}
		_, err := s.JobByID(ctx, j.ID)
		wantNotFound(t, "JobByID", err, "Job not found")
	})

	t.Run("scoped by user", func(t *testing.T) {
		owner, stranger := echogen.NewID(), echogen.NewID()
		j := finishedJob(owner, t0())
		j.Status = echogen.JobRunning
		insertJob(t, s, j)
		insertJob(t, s, sampleJob(stranger, t0()))
		cases := []struct {
			name, userID, id string
		}{
			{"another user's id", stranger, j.ID},
			{"missing id", owner, echogen.NewJobID(jobType)},
			{"malformed id", owner, "not a job id"},
			{"empty id", owner, ""},
			{"malformed user id", "not-a-uuid", j.ID},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := s.Job(ctx, c.userID, c.id)
				wantNotFound(t, "Job", err, "Job not found")
				if c.userID == owner {
					_, err := s.JobByID(ctx, c.id)
					wantNotFound(t, "JobByID", err, "Job not found")
					return
				}
				list, err := s.ListJobs(ctx, c.userID, echogen.JobFilter{}, echogen.Page{})
				if err != nil {
					t.Fatalf("ListJobs: %v", err)
				}
				for _, x := range list {
					if x.ID == j.ID {
						t.Errorf("ListJobs of user %s shows the owner's job", c.userID)
					}
				}
				if n, err := s.CountRunningJobs(ctx, c.userID); err != nil || n != 0 {
					t.Errorf("CountRunningJobs(%s) = %d, %v; want 0", c.userID, n, err)
				}
			})
		}
		// JobByID is the worker's: it finds the job whoever owns it.
		if got, err := s.JobByID(ctx, j.ID); err != nil || got.UserID != owner {
			t.Errorf("JobByID = %+v, %v; want the owner's job", got, err)
		}
		if n, err := s.CountRunningJobs(ctx, owner); err != nil || n != 1 {
			t.Errorf("CountRunningJobs(owner) = %d, %v; want 1", n, err)
		}
	})

	t.Run("list newest first, filtered and paged", func(t *testing.T) {
		userID := echogen.NewID()
		specs := []struct {
			at     time.Duration
			status echogen.JobStatus
			typ    string
		}{
			{0, echogen.JobQueued, jobType},
			{time.Hour, echogen.JobRunning, jobType},
			{time.Minute, echogen.JobSucceeded, "script_generation"},
			{time.Minute, echogen.JobRunning, "script_generation"}, // a tie on created_at
			{time.Minute, echogen.JobFailed, jobType},
			{2 * time.Hour, echogen.JobCancelled, jobType},
			{-time.Hour, echogen.JobRunning, jobType},
		}
		var jobs []echogen.Job
		for _, sp := range specs {
			j := sampleJob(userID, t0().Add(sp.at))
			j.ID, j.Type, j.Status = echogen.NewJobID(sp.typ), sp.typ, sp.status
			jobs = append(jobs, *insertJob(t, s, j))
		}
		insertJob(t, s, sampleJob(echogen.NewID(), t0())) // another user's
		jobs = newestFirst(jobs, func(j echogen.Job) (time.Time, string) { return j.CreatedAt, j.ID })

		filters := []echogen.JobFilter{
			{},
			{Status: echogen.JobRunning},
			{Type: "script_generation"},
			{Status: echogen.JobRunning, Type: jobType},
			{Status: echogen.JobSucceeded, Type: jobType}, // matches none
			{Type: "unknown"},
		}
		pages := []echogen.Page{{}, {Limit: 2}, {Limit: 2, Offset: 2}, {Limit: 3, Offset: 1}, {Offset: 1}, {Limit: 1, Offset: 10}, {Query: "ignored"}}
		for _, f := range filters {
			var match []echogen.Job
			for _, j := range jobs {
				if (f.Status == "" || j.Status == f.Status) && (f.Type == "" || j.Type == f.Type) {
					match = append(match, j)
				}
			}
			for _, p := range pages {
				got, err := s.ListJobs(ctx, userID, f, p)
				if err != nil {
					t.Fatal(err)
				}
				want := window(match, p)
				if want == nil {
					want = []echogen.Job{}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("ListJobs(%+v, %+v) (-want +got):\n%s", f, p, diff)
				}
			}
		}
		if n, err := s.CountRunningJobs(ctx, userID); err != nil || n != 3 {
			t.Errorf("CountRunningJobs = %d, %v; want 3", n, err)
		}
		if n, err := s.CountRunningJobs(ctx, echogen.NewID()); err != nil || n != 0 {
			t.Errorf("CountRunningJobs of a user without jobs = %d, %v; want 0", n, err)
		}
	})

	t.Run("rows of older code read with the defaults", func(t *testing.T) {
		r := rawDB(t, s)
		userID, id := echogen.NewID(), echogen.NewJobID(jobType)
		r.exec(t, `INSERT INTO processing_jobs (id, user_id, job_type, created_at, updated_at) VALUES (?, ?, ?, ?, ?)`, id, userID, jobType, t0(), t0())
		want := &echogen.Job{ID: id, UserID: userID, Type: jobType, Status: echogen.JobQueued, Payload: map[string]any{},
			MaxAttempts: 1, Version: 1, CreatedAt: t0(), UpdatedAt: t0()}
		if diff := cmp.Diff(want, readJob(t, s, userID, id)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}

func testJobUpdates(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()
	at := t0().Add(2 * time.Hour)
	notCalled := func(t *testing.T) func(*echogen.Job) error {
		return func(*echogen.Job) error { t.Error("update called"); return nil }
	}

	t.Run("every mutable field", func(t *testing.T) {
		userID := echogen.NewID()
		j := insertJob(t, s, sampleJob(userID, t0()))
		other := insertJob(t, s, sampleJob(userID, t0()))
		done := finishedJob(userID, t0())
		got, err := s.UpdateJob(ctx, j.ID, at, func(x *echogen.Job) error {
			if diff := cmp.Diff(j, x); diff != "" {
				t.Errorf("update got (-stored +got):\n%s", diff)
			}
			x.Status, x.Result, x.Error, x.Progress = done.Status, done.Result, done.Error, done.Progress
			x.Attempt, x.MaxAttempts, x.QueueJobID, x.StartedAt, x.FinishedAt = done.Attempt, done.MaxAttempts, done.QueueJobID, done.StartedAt, done.FinishedAt
			// None of these can move.
			x.Payload["content_id"] = "changed in place"
			x.ID, x.UserID, x.Type, x.CreatedAt = echogen.NewJobID(jobType), echogen.NewID(), "other", t0().Add(day)
			x.Version, x.UpdatedAt = 100, t0().Add(day)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := *done
		want.ID, want.Payload, want.Version, want.UpdatedAt = j.ID, j.Payload, 2, at
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("UpdateJob returned (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(got, readJob(t, s, userID, j.ID)); diff != "" {
			t.Errorf("read after the update (-returned +read):\n%s", diff)
		}
		if diff := cmp.Diff(other, readJob(t, s, userID, other.ID)); diff != "" {
			t.Errorf("another job changed (-want +got):\n%s", diff)
		}
	})

	t.Run("clear the optional fields", func(t *testing.T) {
		j := finishedJob(echogen.NewID(), t0())
		j.Status = echogen.JobRunning
		insertJob(t, s, j)
		got, err := s.UpdateJob(ctx, j.ID, at, func(x *echogen.Job) error {
			x.Status, x.Result, x.Error, x.Progress, x.QueueJobID, x.StartedAt, x.FinishedAt = echogen.JobQueued, nil, nil, echogen.Progress{}, 0, nil, nil
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		want := *j
		want.Status, want.Result, want.Error, want.Progress, want.QueueJobID, want.StartedAt, want.FinishedAt = echogen.JobQueued, nil, nil, echogen.Progress{}, 0, nil, nil
		want.Version, want.UpdatedAt = j.Version+1, at
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("UpdateJob returned (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(got, readJob(t, s, j.UserID, j.ID)); diff != "" {
			t.Errorf("read after the update (-returned +read):\n%s", diff)
		}
	})

	t.Run("version and updated_at move with every update", func(t *testing.T) {
		j := insertJob(t, s, sampleJob(echogen.NewID(), t0()))
		// A life: run, fail and retry, run again, succeed. Times in any zone
		// and beyond the microsecond come back truncated, in UTC.
		zone := time.FixedZone("UTC+05:30", 5*3600+30*60)
		steps := []echogen.JobStatus{echogen.JobRunning, echogen.JobQueued, echogen.JobRunning, echogen.JobSucceeded, echogen.JobSucceeded}
		for i, status := range steps {
			when := t0().Add(time.Duration(i+1)*time.Minute + 999).In(zone)
			got, err := s.UpdateJob(ctx, j.ID, when, func(x *echogen.Job) error {
				x.Status = status
				x.StartedAt = &when
				return nil
			})
			if err != nil {
				t.Fatalf("step %d (%s): %v", i+1, status, err)
			}
			utc := when.UTC().Truncate(time.Microsecond)
			if got.Version != int64(i+2) || !got.UpdatedAt.Equal(utc) || got.UpdatedAt.Location() != time.UTC || !got.StartedAt.Equal(utc) {
				t.Errorf("step %d: version %d, updated_at %v, started_at %v; want %d and %v", i+1, got.Version, got.UpdatedAt, got.StartedAt, i+2, utc)
			}
			if diff := cmp.Diff(got, readJob(t, s, j.UserID, j.ID)); diff != "" {
				t.Errorf("step %d: read after the update (-returned +read):\n%s", i+1, diff)
			}
		}
	})

	t.Run("fails and changes nothing", func(t *testing.T) {
		boom := errors.New("boom")
		tests := []struct {
			name   string
			status echogen.JobStatus
			update func(x *echogen.Job) error
			check  func(t *testing.T, err error)
		}{
			{"callback error", echogen.JobRunning, func(x *echogen.Job) error {
				x.Status, x.Attempt, x.Progress.Percent = echogen.JobSucceeded, 9, 99
				return boom
			}, func(t *testing.T, err error) {
				if !errors.Is(err, boom) {
					t.Errorf("error = %v, want the callback's", err)
				}
			}},
			{"unknown status", echogen.JobRunning, func(x *echogen.Job) error { x.Status, x.Attempt = "paused", 9; return nil },
				func(t *testing.T, err error) {
					if err == nil {
						t.Error("UpdateJob stored the status paused")
					}
				}},
		}
		for _, terminal := range []echogen.JobStatus{echogen.JobSucceeded, echogen.JobFailed, echogen.JobCancelled} {
			for _, to := range []echogen.JobStatus{echogen.JobQueued, echogen.JobRunning, echogen.JobSucceeded, echogen.JobFailed, echogen.JobCancelled} {
				if to == terminal {
					continue
				}
				tests = append(tests, struct {
					name   string
					status echogen.JobStatus
					update func(x *echogen.Job) error
					check  func(t *testing.T, err error)
				}{fmt.Sprintf("%s to %s", terminal, to), terminal, func(x *echogen.Job) error {
					x.Status, x.Attempt, x.Error, x.FinishedAt = to, x.Attempt+1, ptr("late worker"), nil
					return nil
				}, wantJobFinished})
			}
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				j := finishedJob(echogen.NewID(), t0())
				j.Status = tt.status
				insertJob(t, s, j)
				_, err := s.UpdateJob(ctx, j.ID, at, tt.update)
				tt.check(t, err)
				if diff := cmp.Diff(j, readJob(t, s, j.UserID, j.ID)); diff != "" {
					t.Errorf("job after a failed update (-want +got):\n%s", diff)
				}
			})
		}
	})

	t.Run("a finished job takes its own status again", func(t *testing.T) {
		for _, terminal := range []echogen.JobStatus{echogen.JobSucceeded, echogen.JobFailed, echogen.JobCancelled} {
			t.Run(string(terminal), func(t *testing.T) {
				j := finishedJob(echogen.NewID(), t0())
				j.Status = terminal
				insertJob(t, s, j)
				got, err := s.UpdateJob(ctx, j.ID, at, func(x *echogen.Job) error {
					x.Error, x.Progress.Message = ptr("written twice"), "written twice"
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				want := *j
				want.Error, want.Progress.Message, want.Version, want.UpdatedAt = ptr("written twice"), "written twice", j.Version+1, at
				if diff := cmp.Diff(&want, got); diff != "" {
					t.Errorf("UpdateJob returned (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(got, readJob(t, s, j.UserID, j.ID)); diff != "" {
					t.Errorf("read after the update (-returned +read):\n%s", diff)
				}
			})
		}
	})

	t.Run("missing job", func(t *testing.T) {
		for _, id := range []string{echogen.NewJobID(jobType), "not a job id", ""} {
			_, err := s.UpdateJob(ctx, id, at, notCalled(t))
			wantNotFound(t, fmt.Sprintf("UpdateJob(%q)", id), err, "Job not found")
		}
	})

	t.Run("concurrent updates lose nothing", func(t *testing.T) {
		const n = 20
		j := insertJob(t, s, sampleJob(echogen.NewID(), t0()))
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				_, err := s.UpdateJob(ctx, j.ID, at.Add(time.Duration(i)*time.Second), func(x *echogen.Job) error {
					x.Attempt++
					x.Status = echogen.JobRunning
					return nil
				})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("UpdateJob: %v", err)
			}
		}
		got := readJob(t, s, j.UserID, j.ID)
		if got.Attempt != n || got.Version != n+1 {
			t.Errorf("after %d concurrent increments: attempt %d, version %d; want %d and %d", n, got.Attempt, got.Version, n, n+1)
		}
		if n, err := s.CountRunningJobs(ctx, j.UserID); err != nil || n != 1 {
			t.Errorf("CountRunningJobs = %d, %v; want 1", n, err)
		}
	})
}

func testJobStarts(t *testing.T, newStore func(t *testing.T) echogen.Store) {
	s := newStore(t)
	ctx := t.Context()
	at := t0().Add(2 * time.Hour)
	start := func(x *echogen.Job) error {
		x.Status, x.Attempt, x.StartedAt = echogen.JobRunning, x.Attempt+1, &at
		x.Progress = echogen.Progress{Stage: "starting"}
		return nil
	}
	// jobsOf inserts a job of userID in each status.
	jobsOf := func(t *testing.T, userID string, statuses ...echogen.JobStatus) []*echogen.Job {
		var out []*echogen.Job
		for _, st := range statuses {
			j := sampleJob(userID, t0())
			j.Status = st
			out = append(out, insertJob(t, s, j))
		}
		return out
	}

	t.Run("starts below the limit", func(t *testing.T) {
		userID := echogen.NewID()
		jobsOf(t, userID, echogen.JobRunning, echogen.JobSucceeded, echogen.JobFailed, echogen.JobCancelled, echogen.JobQueued)
		jobsOf(t, echogen.NewID(), echogen.JobRunning, echogen.JobRunning) // another user's
		j := jobsOf(t, userID, echogen.JobQueued)[0]
		got, started, err := s.StartJob(ctx, j.ID, at, 2, start)
		if err != nil || !started {
			t.Fatalf("StartJob = %v, %v; want started", started, err)
		}
		want := *j
		want.Status, want.Attempt, want.StartedAt, want.Progress = echogen.JobRunning, 1, &at, echogen.Progress{Stage: "starting"}
		want.Version, want.UpdatedAt = 2, at
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("StartJob returned (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(got, readJob(t, s, userID, j.ID)); diff != "" {
			t.Errorf("read after StartJob (-returned +read):\n%s", diff)
		}
		if n, err := s.CountRunningJobs(ctx, userID); err != nil || n != 2 {
			t.Errorf("CountRunningJobs = %d, %v; want 2", n, err)
		}
	})

	t.Run("at the limit nothing changes", func(t *testing.T) {
		userID := echogen.NewID()
		jobsOf(t, userID, echogen.JobRunning, echogen.JobRunning)
		j := jobsOf(t, userID, echogen.JobQueued)[0]
		got, started, err := s.StartJob(ctx, j.ID, at, 2, func(*echogen.Job) error { t.Error("update called"); return nil })
		if err != nil || started {
			t.Fatalf("StartJob = %v, %v; want not started, no error", started, err)
		}
		if diff := cmp.Diff(j, got); diff != "" {
			t.Errorf("StartJob returned (-stored +got):\n%s", diff)
		}
		if diff := cmp.Diff(j, readJob(t, s, userID, j.ID)); diff != "" {
			t.Errorf("job after StartJob (-want +got):\n%s", diff)
		}
	})

	t.Run("a running job does not count against itself", func(t *testing.T) {
		userID := echogen.NewID()
		j := jobsOf(t, userID, echogen.JobRunning)[0]
		got, started, err := s.StartJob(ctx, j.ID, at, 1, start)
		if err != nil || !started || got.Attempt != 1 || got.Version != 2 {
			t.Fatalf("StartJob = %+v, %v, %v; want attempt 1 started", got, started, err)
		}
	})

	t.Run("no limit below one", func(t *testing.T) {
		userID := echogen.NewID()
		jobsOf(t, userID, echogen.JobRunning, echogen.JobRunning, echogen.JobRunning)
		j := jobsOf(t, userID, echogen.JobQueued)[0]
		for _, limit := range []int{0, -1} {
			if _, started, err := s.StartJob(ctx, j.ID, at, limit, start); err != nil || !started {
				t.Errorf("StartJob with limit %d = %v, %v; want started", limit, started, err)
			}
		}
	})

	t.Run("fails and changes nothing", func(t *testing.T) {
		boom := errors.New("boom")
		for _, terminal := range []echogen.JobStatus{echogen.JobSucceeded, echogen.JobFailed, echogen.JobCancelled} {
			t.Run(string(terminal), func(t *testing.T) {
				userID := echogen.NewID()
				jobsOf(t, userID, echogen.JobRunning) // at the limit: a finished job is refused all the same
				j := jobsOf(t, userID, terminal)[0]
				_, started, err := s.StartJob(ctx, j.ID, at, 1, start)
				wantJobFinished(t, err)
				if started {
					t.Error("started")
				}
				if diff := cmp.Diff(j, readJob(t, s, userID, j.ID)); diff != "" {
					t.Errorf("job after StartJob (-want +got):\n%s", diff)
				}
			})
		}
		t.Run("callback error", func(t *testing.T) {
			j := jobsOf(t, echogen.NewID(), echogen.JobQueued)[0]
			if _, started, err := s.StartJob(ctx, j.ID, at, 1, func(x *echogen.Job) error { x.Status = echogen.JobRunning; return boom }); !errors.Is(err, boom) || started {
				t.Errorf("StartJob = %v, %v; want the callback's error", started, err)
			}
			if diff := cmp.Diff(j, readJob(t, s, j.UserID, j.ID)); diff != "" {
				t.Errorf("job after StartJob (-want +got):\n%s", diff)
			}
		})
		t.Run("missing job", func(t *testing.T) {
			for _, id := range []string{echogen.NewJobID(jobType), "not a job id", ""} {
				_, started, err := s.StartJob(ctx, id, at, 1, func(*echogen.Job) error { t.Error("update called"); return nil })
				wantNotFound(t, fmt.Sprintf("StartJob(%q)", id), err, "Job not found")
				if started {
					t.Error("started")
				}
			}
		})
	})

	t.Run("racing workers keep to the limit", func(t *testing.T) {
		const n, limit = 12, 2
		userID := echogen.NewID()
		var queued []*echogen.Job
		for range n {
			queued = append(queued, jobsOf(t, userID, echogen.JobQueued)...)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		startedCount := 0
		for _, j := range queued {
			wg.Go(func() {
				_, started, err := s.StartJob(ctx, j.ID, at, limit, start)
				if err != nil {
					t.Errorf("StartJob: %v", err)
				}
				if started {
					mu.Lock()
					startedCount++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if startedCount != limit {
			t.Errorf("%d of %d racing starts went through, want %d", startedCount, n, limit)
		}
		if got, err := s.CountRunningJobs(ctx, userID); err != nil || got != limit {
			t.Errorf("CountRunningJobs = %d, %v; want %d", got, err, limit)
		}
	})
}
