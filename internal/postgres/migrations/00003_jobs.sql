-- Background jobs: progress, attempts, a version for watchers and the
-- queue's own id, on processing_jobs. See internal/sqlite/migrations for
-- SQLite; the conventions of 00001 hold.

-- +goose Up

-- A row whose status is not one of the five stops the migration rather
-- than be guessed at (SQLite fails the same way).
ALTER TABLE processing_jobs
    ADD COLUMN progress jsonb NOT NULL DEFAULT '{"stage": "", "percent": 0, "message": ""}' CHECK (jsonb_typeof(progress) = 'object'),
    ADD COLUMN attempt integer NOT NULL DEFAULT 0,
    ADD COLUMN max_attempts integer NOT NULL DEFAULT 1,
    ADD COLUMN version bigint NOT NULL DEFAULT 1,
    ADD COLUMN queue_job_id bigint,
    ADD CONSTRAINT processing_jobs_status_check CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled'));

-- The list query orders by (created_at DESC, id DESC) within a user;
-- CountRunningJobs counts by status within a user.
DROP INDEX processing_jobs_user_id_idx;
CREATE INDEX processing_jobs_user_id_idx ON processing_jobs (user_id, created_at DESC, id DESC);
CREATE INDEX processing_jobs_user_id_status_idx ON processing_jobs (user_id, status);

-- +goose Down
-- Going down is deliberate, so it drops what 00001 cannot hold: progress,
-- attempts, versions and queue ids.
DROP INDEX processing_jobs_user_id_status_idx;
DROP INDEX processing_jobs_user_id_idx;
CREATE INDEX processing_jobs_user_id_idx ON processing_jobs (user_id, created_at DESC);

ALTER TABLE processing_jobs
    DROP CONSTRAINT processing_jobs_status_check,
    DROP COLUMN progress,
    DROP COLUMN attempt,
    DROP COLUMN max_attempts,
    DROP COLUMN version,
    DROP COLUMN queue_job_id;
