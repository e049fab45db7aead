package echogen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"
)

// DefaultMaxRunningJobsPerUser keeps one user's burst from taking every
// worker.
const DefaultMaxRunningJobsPerUser = 2

// UserBusyDelay is how long a job waits when its user already has the
// maximum number of jobs running.
const UserBusyDelay = 2 * time.Second

// ErrUserBusy tells the queue to try the job again later without counting
// an attempt: its user has enough jobs running.
var ErrUserBusy = errors.New("the user's other jobs are running")

// RetryLater tells the queue to run the job again after Delay (the
// provider asked for it with Retry-After); the attempt counts.
type RetryLater struct {
	Delay time.Duration
	Err   error
}

func (r *RetryLater) Error() string { return fmt.Sprintf("retry in %s: %v", r.Delay, r.Err) }
func (r *RetryLater) Unwrap() error { return r.Err }

// JobService holds the rules of background jobs: which types exist, what
// their payloads must be, who may see and cancel them, and how a run's
// outcome is recorded.
type JobService struct {
	store      Store
	queue      JobQueue
	events     JobEvents
	clock      Clock
	log        *slog.Logger
	handlers   map[string]JobHandler
	maxRunning int
	observer   Observer
}

// NewJobService returns a JobService; register handlers before use. A nil
// observer observes nothing.
func NewJobService(store Store, queue JobQueue, events JobEvents, clock Clock, log *slog.Logger, maxRunningPerUser int, observer Observer) *JobService {
	if maxRunningPerUser <= 0 {
		maxRunningPerUser = DefaultMaxRunningJobsPerUser
	}
	if observer == nil {
		observer = NopObserver{}
	}
	return &JobService{store: store, queue: queue, events: events, clock: clock, log: log, handlers: map[string]JobHandler{}, maxRunning: maxRunningPerUser, observer: observer}
}

// Register adds a job type.
func (s *JobService) Register(h JobHandler) { s.handlers[h.Type()] = h }

// Types lists the registered job types.
func (s *JobService) Types() []string {
	out := make([]string, 0, len(s.handlers))
	for t := range s.handlers {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Handler returns the handler of a job type.
func (s *JobService) Handler(jobType string) (JobHandler, bool) {
	h, ok := s.handlers[jobType]
	return h, ok
}

// Enqueue validates and queues a job for the caller.
func (s *JobService) Enqueue(ctx context.Context, p Principal, jobType string, payload map[string]any) (*Job, error) {
	if payload == nil {
		payload = map[string]any{}
	}
	if err := s.Validate(jobType, payload); err != nil {
		return nil, err
	}
	h := s.handlers[jobType]
	now := s.clock.Now()
	j := &Job{
		ID: NewJobID(jobType), UserID: p.UserID, Type: jobType, Status: JobQueued, Payload: payload,
		Progress: Progress{Stage: "queued"}, MaxAttempts: h.Limits().MaxAttempts, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.queue.Enqueue(ctx, j); err != nil {
		return nil, err
	}
	return j, nil
}

// Validate checks a job's type and payload as Enqueue does, without
// queueing it.
func (s *JobService) Validate(jobType string, payload map[string]any) error {
	h, ok := s.handlers[jobType]
	if !ok {
		return Errorf(KindBadRequest, "unknown_job_type", "No handler registered for job type '%s'; valid types: %s", jobType, strings.Join(s.Types(), ", "))
	}
	if err := checkMetadata(payload); err != nil {
		return Invalid([]string{"body", "payload"}, "too_long", "payload is too large")
	}
	return h.Validate(payload)
}

// Job returns one of the caller's jobs.
func (s *JobService) Job(ctx context.Context, p Principal, id string) (*Job, error) {
	return s.store.Job(ctx, p.UserID, id)
}

// List lists the caller's jobs, newest first.
func (s *JobService) List(ctx context.Context, p Principal, filter JobFilter, page Page) ([]Job, error) {
	return s.store.ListJobs(ctx, p.UserID, filter, page)
}

// Cancel stops one of the caller's jobs. A finished job is returned as it
// is: cancelling is idempotent.
func (s *JobService) Cancel(ctx context.Context, p Principal, id string) (*Job, error) {
	j, err := s.store.Job(ctx, p.UserID, id)
	if err != nil {
		return nil, err
	}
	if j.Status.Terminal() {
		return j, nil
	}
	now := s.clock.Now()
	j, err = s.store.UpdateJob(ctx, id, now, func(j *Job) error {
		msg := "cancelled by the user"
		j.Status, j.Error, j.FinishedAt = JobCancelled, &msg, &now
		j.Progress.Message = msg
		return nil
	})
	if ErrorKind(err) == KindConflict { // it finished meanwhile
		return s.store.Job(ctx, p.UserID, id)
	}
	if err != nil {
		return nil, err
	}
	s.events.Publish(ctx, j)
	if err := s.queue.CancelQueued(ctx, j); err != nil {
		s.log.WarnContext(ctx, "job cancelled but its queue entry was not", "job_id", j.ID, "error", err.Error())
	}
	return j, nil
}

// Status reads a job's status, for its worker.
func (s *JobService) Status(ctx context.Context, id string) (JobStatus, error) {
	j, err := s.store.JobByID(ctx, id)
	if err != nil {
		return "", err
	}
	return j.Status, nil
}

// Watch follows one of the caller's jobs: it returns the job now and a
// channel that signals when it may have changed.
func (s *JobService) Watch(ctx context.Context, p Principal, id string) (*Job, <-chan struct{}, func(), error) {
	changed, stop := s.events.Subscribe(id)
	j, err := s.store.Job(ctx, p.UserID, id)
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	return j, changed, stop, nil
}

// Execute runs one attempt of a job for the queue. It records every
// outcome on the job row and tells the queue what to do next through its
// error: nil (done, or nothing to do), ErrUserBusy (wait, no attempt
// used), *RetryLater or any other error (retry), or a Permanent one (stop).
func (s *JobService) Execute(ctx context.Context, id string) error {
	j, err := s.store.JobByID(ctx, id)
	if err != nil {
		return err
	}
	if j.Status.Terminal() {
		return nil // cancelled while queued, or already done by an earlier run
	}
	if j.Status == JobRunning && j.Attempt >= j.MaxAttempts {
		// Every attempt started and none ended: each time, the process
		// running it died (killed, out of memory). Another would too.
		return s.finish(ctx, j, time.Now(), nil, Errorf(KindUnavailable, "worker_lost",
			"the job's worker stopped during each of its %d attempts (killed or out of memory); it was not run again", j.Attempt))
	}
	h, ok := s.handlers[j.Type]
	if !ok {
		return s.finish(ctx, j, time.Now(), nil, Errorf(KindBadRequest, "unknown_job_type", "no handler for job type %q on this worker", j.Type))
	}
	now := s.clock.Now()
	j, started, err := s.store.StartJob(ctx, id, now, s.maxRunning, func(j *Job) error {
		j.Status, j.Attempt, j.Error = JobRunning, j.Attempt+1, nil
		if j.StartedAt == nil {
			j.StartedAt = &now
		}
		j.Progress = Progress{Stage: "starting", Message: fmt.Sprintf("attempt %d of %d", j.Attempt, j.MaxAttempts)}
		return nil
	})
	if ErrorKind(err) == KindConflict {
		return nil // cancelled just now
	}
	if err != nil {
		return err
	}
	if !started {
		return ErrUserBusy
	}
	s.events.Publish(ctx, j)

	start := time.Now() // an attempt's duration is measured, not business time
	result, runErr := h.Run(ctx, JobRun{Job: j, Progress: s.progressFunc(j.ID)})
	if runErr == nil && len(result) == 0 {
		runErr = Errorf(KindInvalid, "empty_result", "the job finished without producing anything")
	}
	return s.finish(ctx, j, start, result, runErr)
}

// finish records the outcome of an attempt.
func (s *JobService) finish(ctx context.Context, j *Job, start time.Time, result map[string]any, runErr error) error {
	now := s.clock.Now()
	if runErr != nil && ctx.Err() != nil {
		// Cancelled by the user (the row says so already) or stopped by a
		// shutdown: leave the row for the next run, which resumes it.
		if cur, err := s.store.JobByID(context.WithoutCancel(ctx), j.ID); err == nil && cur.Status == JobCancelled {
			s.observer.JobAttempt(j.Type, "cancelled", time.Since(start))
			return nil
		}
		s.observer.JobAttempt(j.Type, "interrupted", time.Since(start))
		return runErr
	}
	retry := runErr != nil && !Permanent(runErr) && j.Attempt < j.MaxAttempts
	outcome := "failed"
	switch {
	case runErr == nil:
		outcome = "succeeded"
	case retry:
		outcome = "retried"
	}
	s.observer.JobAttempt(j.Type, outcome, time.Since(start))
	updated, err := s.store.UpdateJob(context.WithoutCancel(ctx), j.ID, now, func(j *Job) error {
		switch {
		case runErr == nil:
			j.Status, j.Result, j.FinishedAt, j.Error = JobSucceeded, result, &now, nil
			j.Progress = Progress{Stage: "done", Percent: 100, Message: "finished"}
		case retry:
			msg := failureMessage(runErr)
			j.Status, j.Error = JobQueued, &msg
			j.Progress = Progress{Stage: "retrying", Percent: j.Progress.Percent, Message: fmt.Sprintf("attempt %d failed: %s; retrying", j.Attempt, msg)}
		default:
			msg := failureMessage(runErr)
			j.Status, j.Error, j.FinishedAt = JobFailed, &msg, &now
			j.Progress.Message = msg
		}
		return nil
	})
	if ErrorKind(err) == KindConflict {
		return nil // cancelled while it ran
	}
	if err != nil {
		return err
	}
	s.events.Publish(ctx, updated)
	switch {
	case runErr == nil:
		return nil
	case retry:
		var later *RetryLater
		if d := retryAfter(runErr); d > 0 && !errors.As(runErr, &later) {
			return &RetryLater{Delay: d, Err: runErr}
		}
		return runErr
	}
	s.log.InfoContext(ctx, "job failed", "job_id", j.ID, "job_type", j.Type, "attempt", j.Attempt, "error", runErr.Error())
	return &Error{Kind: KindBadRequest, Code: "job_failed", Message: failureMessage(runErr), Err: runErr}
}

func retryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// failureMessage is what the job's error field says: the domain error's
// message (a provider's own words), or a generic line for internal errors.
func failureMessage(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != KindInternal {
		return e.Message
	}
	return "internal error: " + err.Error()
}

// progressFunc records progress on the job row and tells watchers.
func (s *JobService) progressFunc(id string) ProgressFunc {
	return func(ctx context.Context, p Progress) {
		j, err := s.store.UpdateJob(ctx, id, s.clock.Now(), func(j *Job) error {
			if j.Status != JobRunning {
				return Errorf(KindConflict, "job_not_running", "job is not running")
			}
			j.Progress = p
			return nil
		})
		if err != nil {
			return // cancelled or finished meanwhile: the run ends on its own
		}
		s.events.Publish(ctx, j)
	}
}
