package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/echogen/server/internal/echogen"
)

const jobColumns = `id, user_id, job_type, status, payload, result, error, progress, attempt, max_attempts, version, queue_job_id,
	created_at, updated_at, started_at, finished_at`

func scanJob(r rowScanner) (*echogen.Job, error) {
	var j echogen.Job
	err := r.Scan(&j.ID, &j.UserID, &j.Type, &j.Status, jsonScanner{&j.Payload}, jsonScanner{&j.Result}, &j.Error,
		jsonScanner{&j.Progress}, &j.Attempt, &j.MaxAttempts, &j.Version, nullInt64{&j.QueueJobID},
		scanTime(&j.CreatedAt), scanTime(&j.UpdatedAt), scanNullTime(&j.StartedAt), scanNullTime(&j.FinishedAt))
	if err != nil {
		return nil, err
	}
	return &j, nil
}

// nullInt64 scans a nullable integer column, NULL becoming 0.
type nullInt64 struct{ dst *int64 }

func (s nullInt64) Scan(src any) error {
	var n sql.NullInt64
	if err := n.Scan(src); err != nil {
		return err
	}
	*s.dst = n.Int64
	return nil
}

// int64OrNull maps 0 to NULL, for optional ids such as queue_job_id.
func int64OrNull(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

// jobJSON encodes a job's mutable JSON columns: result (NULL when nil) and
// progress.
func jobJSON(j *echogen.Job) (result, progress any, err error) {
	if result, err = jsonArg(j.Result, j.Result == nil); err != nil {
		return nil, nil, err
	}
	if progress, err = jsonArg(j.Progress, false); err != nil {
		return nil, nil, err
	}
	return result, progress, nil
}

// InTx runs fn in a write transaction of the store, committing when fn
// returns nil; an error from fn is returned as is, after the rollback. It
// is for callers that write the store's tables and their own in one
// transaction, such as the job queue (InsertJob and the queue's insert).
// On SQLite the transaction holds the only writer connection: fn must not
// call the store's other methods, only those that take tx.
func (s *Store) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return s.inTx(ctx, fn)
}

// InsertJob inserts j inside tx, which must come from InTx. An empty ID
// becomes a new job id, an empty Status JobQueued, a Version below one 1
// and MaxAttempts below one 1, all set on j too; a nil Payload is stored,
// and set, as an empty object. A taken id is KindConflict.
func (s *Store) InsertJob(ctx context.Context, tx *sql.Tx, j *echogen.Job) error {
	if j.ID == "" {
		j.ID = echogen.NewJobID(j.Type)
	}
	if j.Status == "" {
		j.Status = echogen.JobQueued
	}
	if j.Version < 1 {
		j.Version = 1
	}
	if j.MaxAttempts < 1 {
		j.MaxAttempts = 1
	}
	if j.Payload == nil {
		j.Payload = map[string]any{}
	}
	payload, err := objectArg(j.Payload)
	if err != nil {
		return fmt.Errorf("insert job: %w", err)
	}
	result, progress, err := jobJSON(j)
	if err != nil {
		return fmt.Errorf("insert job: %w", err)
	}
	_, err = s.exec(ctx, tx, `INSERT INTO processing_jobs (`+jobColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		j.ID, j.UserID, j.Type, string(j.Status), payload, result, j.Error, progress, j.Attempt, j.MaxAttempts, j.Version,
		int64OrNull(j.QueueJobID), j.CreatedAt, j.UpdatedAt, j.StartedAt, j.FinishedAt)
	if isUniqueViolation(err) {
		return echogen.Errorf(echogen.KindConflict, "job_exists", "job %s already exists", j.ID)
	}
	if err != nil {
		return fmt.Errorf("insert job: %w", err)
	}
	return nil
}

// SetJobQueueID records, inside tx (from InTx), the queue's own id for a
// job. It is bookkeeping of the transaction that creates the job, so
// neither the version nor updated_at moves.
func (s *Store) SetJobQueueID(ctx context.Context, tx *sql.Tx, id string, queueJobID int64) error {
	return s.execOne(ctx, tx, "Job", `UPDATE processing_jobs SET queue_job_id = ? WHERE id = ?`, int64OrNull(queueJobID), id)
}

// Job returns one of the user's jobs.
func (s *Store) Job(ctx context.Context, userID, id string) (*echogen.Job, error) {
	j, err := scanJob(s.queryRow(ctx, s.read, `SELECT `+jobColumns+` FROM processing_jobs WHERE id = ? AND user_id = ?`, id, userID))
	if err != nil {
		return nil, scanErr(err, "Job")
	}
	return j, nil
}

// JobByID returns a job whoever owns it, for its worker.
func (s *Store) JobByID(ctx context.Context, id string) (*echogen.Job, error) {
	j, err := scanJob(s.queryRow(ctx, s.read, `SELECT `+jobColumns+` FROM processing_jobs WHERE id = ?`, id))
	if err != nil {
		return nil, scanErr(err, "Job")
	}
	return j, nil
}

// ListJobs returns a page of the user's jobs, newest first, of the
// filter's status and type when set; a page limit below one means no
// limit. page.Query is ignored.
func (s *Store) ListJobs(ctx context.Context, userID string, filter echogen.JobFilter, page echogen.Page) ([]echogen.Job, error) {
	query := `SELECT ` + jobColumns + ` FROM processing_jobs WHERE user_id = ?`
	args := []any{userID}
	if filter.Status != "" {
		query += ` AND status = ?`
		args = append(args, string(filter.Status))
	}
	if filter.Type != "" {
		query += ` AND job_type = ?`
		args = append(args, filter.Type)
	}
	limit, limitArgs := pageClause(page)
	return queryAll(ctx, s, "list jobs", scanJob, query+newestFirst+limit, append(args, limitArgs...)...)
}

// CountRunningJobs counts the user's jobs in status running.
func (s *Store) CountRunningJobs(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.queryRow(ctx, s.read, `SELECT count(*) FROM processing_jobs WHERE user_id = ? AND status = ?`,
		userID, string(echogen.JobRunning)).Scan(&n)
	if isMalformedID(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("count running jobs: %w", err)
	}
	return n, nil
}

// UpdateJob reads the job, calls update on it and writes the result back
// with the version increased and updated_at = at, in one transaction that
// holds the row, so concurrent updates queue rather than lose each other's
// changes. An error from update is returned as is and changes nothing. A
// job that was succeeded, failed or cancelled keeps its status: a change
// of it is KindConflict "job_finished" and changes nothing, while writing
// the same status again is allowed. The id, owner, type, payload and
// creation time cannot change. It returns the job as a later read returns
// it. update must not call the store: on SQLite the transaction holds the
// only writer.
func (s *Store) UpdateJob(ctx context.Context, id string, at time.Time, update func(*echogen.Job) error) (*echogen.Job, error) {
	var j *echogen.Job
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		if j, err = s.jobForUpdate(ctx, tx, id); err != nil {
			return err
		}
		return s.writeJob(ctx, tx, j, at, update)
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

// StartJob is UpdateJob for the update that marks a job running, unless
// the job's user already has maxRunning other jobs running: then it
// changes nothing, does not call update and returns the job as stored with
// started false. The count and the change are one transaction, and the
// transactions of StartJob for one user's jobs run one at a time, so racing
// workers cannot exceed the limit (UpdateJob, which does not count, can).
// A job that is running already (a run resumed) does not count against
// itself; a finished one is not counted for, and update decides as in
// UpdateJob. A maxRunning below one means no limit.
func (s *Store) StartJob(ctx context.Context, id string, at time.Time, maxRunning int, update func(*echogen.Job) error) (*echogen.Job, bool, error) {
	var j *echogen.Job
	var started bool
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if lock := s.d.lockJobStarts(); lock != "" {
			if _, err := s.exec(ctx, tx, lock, id); err != nil {
				return fmt.Errorf("start job: %w", err)
			}
		}
		var err error
		if j, err = s.jobForUpdate(ctx, tx, id); err != nil {
			return err
		}
		if maxRunning > 0 && !j.Status.Terminal() {
			var running int
			err := s.queryRow(ctx, tx, `SELECT count(*) FROM processing_jobs WHERE user_id = ? AND status = ? AND id <> ?`,
				j.UserID, string(echogen.JobRunning), id).Scan(&running)
			if err != nil {
				return fmt.Errorf("start job: %w", err)
			}
			if running >= maxRunning {
				return nil
			}
		}
		if err := s.writeJob(ctx, tx, j, at, update); err != nil {
			return err
		}
		started = true
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return j, started, nil
}

// jobForUpdate reads a job inside tx, holding its row until tx ends.
func (s *Store) jobForUpdate(ctx context.Context, tx *sql.Tx, id string) (*echogen.Job, error) {
	j, err := scanJob(s.queryRow(ctx, tx, `SELECT `+jobColumns+` FROM processing_jobs WHERE id = ?`+s.d.forUpdate(), id))
	if err != nil {
		return nil, scanErr(err, "Job")
	}
	return j, nil
}

// writeJob calls update on j, read by jobForUpdate, and writes the result
// back inside tx, as UpdateJob describes; j becomes what a later read
// returns.
func (s *Store) writeJob(ctx context.Context, tx *sql.Tx, j *echogen.Job, at time.Time, update func(*echogen.Job) error) error {
	was := *j
	// The payload is not written back; keep a copy update cannot touch.
	payload, err := json.Marshal(j.Payload)
	if err != nil {
		return fmt.Errorf("update job: %w", err)
	}
	if err := update(j); err != nil {
		return err
	}
	if was.Status.Terminal() && j.Status != was.Status {
		return echogen.Errorf(echogen.KindConflict, "job_finished", "job already finished")
	}
	j.ID, j.UserID, j.Type, j.CreatedAt = was.ID, was.UserID, was.Type, was.CreatedAt
	if err := (jsonScanner{&j.Payload}).Scan(payload); err != nil {
		return fmt.Errorf("update job: %w", err)
	}
	j.UpdatedAt, j.StartedAt, j.FinishedAt = storedTime(at), storedTimePtr(j.StartedAt), storedTimePtr(j.FinishedAt)
	result, progress, err := jobJSON(j)
	if err != nil {
		return fmt.Errorf("update job: %w", err)
	}
	// Hand back what a later read will return: plain JSON types.
	if err := (jsonScanner{&j.Result}).Scan(result); err != nil {
		return fmt.Errorf("update job: %w", err)
	}
	if err := (jsonScanner{&j.Progress}).Scan(progress); err != nil {
		return fmt.Errorf("update job: %w", err)
	}
	err = s.queryRow(ctx, tx, `UPDATE processing_jobs SET status = ?, result = ?, error = ?, progress = ?, attempt = ?, max_attempts = ?,
		queue_job_id = ?, started_at = ?, finished_at = ?, version = version + 1, updated_at = ? WHERE id = ? RETURNING version`,
		string(j.Status), result, j.Error, progress, j.Attempt, j.MaxAttempts, int64OrNull(j.QueueJobID),
		j.StartedAt, j.FinishedAt, j.UpdatedAt, j.ID).Scan(&j.Version)
	if err != nil {
		return fmt.Errorf("update job: %w", err)
	}
	return nil
}
