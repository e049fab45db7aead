-- Background jobs: progress, attempts, a version for watchers and the
-- queue's own id, on processing_jobs. See internal/postgres/migrations for
-- PostgreSQL; the conventions of 00001 hold.

-- +goose Up

-- processing_jobs is rebuilt: SQLite cannot add a CHECK to a column. The
-- new columns come last, where PostgreSQL's ADD COLUMN puts them. A row
-- whose status is not one of the five stops the migration rather than be
-- guessed at (PostgreSQL fails the same way). No table references
-- processing_jobs (usage_events.job_id is plain text), so the rebuild needs
-- no pragma.
CREATE TABLE processing_jobs_new (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    job_type TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    payload TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    result TEXT CHECK (json_valid(result)),
    error TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (updated_at LIKE '____-__-__T__:__:__.______Z'),
    started_at TEXT CHECK (started_at LIKE '____-__-__T__:__:__.______Z'),
    finished_at TEXT CHECK (finished_at LIKE '____-__-__T__:__:__.______Z'),
    progress TEXT NOT NULL DEFAULT '{"stage":"","percent":0,"message":""}' CHECK (json_valid(progress) AND json_type(progress) = 'object'),
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 1,
    version INTEGER NOT NULL DEFAULT 1,
    queue_job_id INTEGER
) STRICT;
INSERT INTO processing_jobs_new (id, user_id, job_type, status, payload, result, error, created_at, updated_at, started_at, finished_at)
    SELECT id, user_id, job_type, status, payload, result, error, created_at, updated_at, started_at, finished_at FROM processing_jobs;
DROP TABLE processing_jobs;
ALTER TABLE processing_jobs_new RENAME TO processing_jobs;
-- The list query orders by (created_at DESC, id DESC) within a user;
-- CountRunningJobs counts by status within a user.
CREATE INDEX processing_jobs_user_id_idx ON processing_jobs (user_id, created_at DESC, id DESC);
CREATE INDEX processing_jobs_user_id_status_idx ON processing_jobs (user_id, status);

-- +goose Down
-- Going down is deliberate, so it drops what 00001 cannot hold: progress,
-- attempts, versions and queue ids.
CREATE TABLE processing_jobs_old (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    job_type TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued',
    payload TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
    result TEXT CHECK (json_valid(result)),
    error TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (updated_at LIKE '____-__-__T__:__:__.______Z'),
    started_at TEXT CHECK (started_at LIKE '____-__-__T__:__:__.______Z'),
    finished_at TEXT CHECK (finished_at LIKE '____-__-__T__:__:__.______Z')
) STRICT;
INSERT INTO processing_jobs_old (id, user_id, job_type, status, payload, result, error, created_at, updated_at, started_at, finished_at)
    SELECT id, user_id, job_type, status, payload, result, error, created_at, updated_at, started_at, finished_at FROM processing_jobs;
DROP TABLE processing_jobs;
ALTER TABLE processing_jobs_old RENAME TO processing_jobs;
CREATE INDEX processing_jobs_user_id_idx ON processing_jobs (user_id, created_at DESC);
