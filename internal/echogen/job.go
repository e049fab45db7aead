package echogen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// JobStatus is where a job is in its life.
type JobStatus string

const (
	JobQueued    JobStatus = "queued"
	JobRunning   JobStatus = "running"
	JobSucceeded JobStatus = "succeeded"
	JobFailed    JobStatus = "failed"
	JobCancelled JobStatus = "cancelled"
)

// Terminal reports whether the job will not change again.
func (s JobStatus) Terminal() bool {
	return s == JobSucceeded || s == JobFailed || s == JobCancelled
}

// Progress is how far a running job has come.
type Progress struct {
	Stage   string  `json:"stage"`
	Percent float64 `json:"percent"`
	Message string  `json:"message"`
}

// Job is a unit of background work (table processing_jobs). Version grows
// with every change, so a watcher can tell old news from new.
type Job struct {
	ID          string
	UserID      string
	Type        string
	Status      JobStatus
	Payload     map[string]any
	Result      map[string]any
	Error       *string
	Progress    Progress
	Attempt     int
	MaxAttempts int
	Version     int64
	QueueJobID  int64 // the queue's own id for the job (River's), for cancellation
	CreatedAt   time.Time
	UpdatedAt   time.Time
	StartedAt   *time.Time
	FinishedAt  *time.Time
}

// JobFilter narrows a job list.
type JobFilter struct {
	Status JobStatus // "" for any
	Type   string    // "" for any
}

// JobStore keeps processing_jobs rows. Updates that would move a job out
// of a terminal state are refused (KindConflict), so a late worker cannot
// undo a cancellation.
type JobStore interface {
	Job(ctx context.Context, userID, id string) (*Job, error)
	// JobByID reads a job for its worker, whoever owns it.
	JobByID(ctx context.Context, id string) (*Job, error)
	ListJobs(ctx context.Context, userID string, filter JobFilter, page Page) ([]Job, error)
	// UpdateJob reads the job, calls update and writes it back with the
	// version increased and updated_at = at, in one transaction.
	UpdateJob(ctx context.Context, id string, at time.Time, update func(*Job) error) (*Job, error)
	// CountRunningJobs counts the user's jobs in status running.
	CountRunningJobs(ctx context.Context, userID string) (int, error)
	// StartJob applies update (which marks the job running) unless the
	// job's user already has maxRunning other jobs running; the count and
	// the change are one atomic step, so racing workers cannot exceed it.
	StartJob(ctx context.Context, id string, at time.Time, maxRunning int, update func(*Job) error) (job *Job, started bool, err error)
}

// JobQueue puts a job row and its queue entry in the database in one
// transaction, and cancels queued or running work.
type JobQueue interface {
	Enqueue(ctx context.Context, job *Job) error
	// CancelQueued stops the queue entry: a running job's context is
	// cancelled, a waiting one never starts.
	CancelQueued(ctx context.Context, job *Job) error
}

// JobEvents publishes and follows job changes, across processes where
// the queue allows.
type JobEvents interface {
	// Publish tells watchers that the job changed.
	Publish(ctx context.Context, job *Job)
	// Subscribe returns a channel that receives the job id each time it
	// may have changed, and a function to stop.
	Subscribe(jobID string) (<-chan struct{}, func())
}

// ProgressFunc reports progress from inside a running job.
type ProgressFunc func(ctx context.Context, p Progress)

// JobRun is what a handler knows of the job it runs.
type JobRun struct {
	Job      *Job
	Progress ProgressFunc
}

// JobHandler does the work of one job type.
type JobHandler interface {
	// Type is the job_type the handler serves.
	Type() string
	// Validate checks a payload before the job is queued; its errors are
	// KindInvalid with loc ["body", "payload", ...].
	Validate(payload map[string]any) error
	// Run does the work and returns the result. An error of a client kind
	// (Invalid, BadRequest, Unauthenticated, PermissionDenied, NotFound)
	// fails the job at once; any other error is retried.
	Run(ctx context.Context, run JobRun) (map[string]any, error)
	// Limits are the job type's attempts and time per attempt.
	Limits() JobLimits
}

// JobLimits bound a job type.
type JobLimits struct {
	MaxAttempts int
	Timeout     time.Duration
}

// Permanent reports whether err will fail the same way if retried.
func Permanent(err error) bool {
	switch ErrorKind(err) {
	case KindInvalid, KindBadRequest, KindUnauthenticated, KindPermissionDenied, KindNotFound, KindTooLarge, KindNotImplemented:
		return true
	}
	return false
}

// DerivedID returns a UUID-shaped id that is the same every time for the
// same inputs. A job names its result record with it, so running the job
// twice cannot create two.
func DerivedID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	b := h.Sum(nil)[:16]
	b[6] = (b[6] & 0x0f) | 0x80 // version 8: custom
	b[8] = (b[8] & 0x3f) | 0x80
	x := hex.EncodeToString(b)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}
