-- EchoGen schema for SQLite (see internal/postgres/migrations for PostgreSQL).
--
-- Conventions, relied on by package sqlstore:
--   * ids are TEXT (UUIDs, except processing_jobs.id);
--   * times are TEXT in the fixed-width UTC form 2006-01-02T15:04:05.000000Z,
--     so they sort and compare as text; the CHECKs refuse any other shape;
--   * JSON is TEXT holding valid JSON; booleans are INTEGER 0/1;
--   * no table references users: with Supabase Auth the users live elsewhere.
--     A purge deletes by user_id instead (sqlstore.FinishDeletion).

-- +goose Up
CREATE TABLE users (
    id TEXT NOT NULL PRIMARY KEY,
    email TEXT UNIQUE,
    phone TEXT UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'authenticated',
    email_confirmed_at TEXT CHECK (email_confirmed_at LIKE '____-__-__T__:__:__.______Z'),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (updated_at LIKE '____-__-__T__:__:__.______Z'),
    last_sign_in_at TEXT CHECK (last_sign_in_at LIKE '____-__-__T__:__:__.______Z')
) STRICT;

-- A profile's id is its user's id.
CREATE TABLE profiles (
    id TEXT NOT NULL PRIMARY KEY,
    full_name TEXT,
    avatar_url TEXT,
    bio TEXT,
    preferences TEXT CHECK (json_valid(preferences)),
    onboarding_completed INTEGER NOT NULL DEFAULT 0 CHECK (onboarding_completed IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
) STRICT;

CREATE TABLE onboarding_responses (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    responses TEXT NOT NULL CHECK (json_valid(responses)),
    completed_at TEXT CHECK (completed_at LIKE '____-__-__T__:__:__.______Z'),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at LIKE '____-__-__T__:__:__.______Z')
) STRICT;
CREATE INDEX onboarding_responses_user_id_idx ON onboarding_responses (user_id, created_at DESC);

CREATE TABLE account_deletion_requests (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    requested_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (requested_at LIKE '____-__-__T__:__:__.______Z'),
    scheduled_for TEXT NOT NULL CHECK (scheduled_for LIKE '____-__-__T__:__:__.______Z'),
    cancelled_at TEXT CHECK (cancelled_at LIKE '____-__-__T__:__:__.______Z'),
    completed_at TEXT CHECK (completed_at LIKE '____-__-__T__:__:__.______Z')
) STRICT;
CREATE INDEX account_deletion_requests_user_id_idx ON account_deletion_requests (user_id, requested_at DESC);
-- One active request per user; ScheduleDeletion upserts on it.
CREATE UNIQUE INDEX account_deletion_requests_active_idx ON account_deletion_requests (user_id)
    WHERE cancelled_at IS NULL AND completed_at IS NULL;
CREATE INDEX account_deletion_requests_due_idx ON account_deletion_requests (scheduled_for)
    WHERE cancelled_at IS NULL AND completed_at IS NULL;

-- The record of a purge. No foreign key: it outlives the user and the request.
CREATE TABLE account_deletion_audit (
    request_id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    requested_at TEXT NOT NULL CHECK (requested_at LIKE '____-__-__T__:__:__.______Z'),
    scheduled_for TEXT NOT NULL CHECK (scheduled_for LIKE '____-__-__T__:__:__.______Z'),
    started_at TEXT NOT NULL CHECK (started_at LIKE '____-__-__T__:__:__.______Z'),
    completed_at TEXT CHECK (completed_at LIKE '____-__-__T__:__:__.______Z'),
    objects_deleted INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX account_deletion_audit_user_id_idx ON account_deletion_audit (user_id);

CREATE TABLE user_sessions (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    user_agent TEXT NOT NULL DEFAULT '',
    ip_address TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    last_used_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (last_used_at LIKE '____-__-__T__:__:__.______Z'),
    expires_at TEXT NOT NULL CHECK (expires_at LIKE '____-__-__T__:__:__.______Z'),
    revoked_at TEXT CHECK (revoked_at LIKE '____-__-__T__:__:__.______Z')
) STRICT;
CREATE INDEX user_sessions_user_id_idx ON user_sessions (user_id, created_at DESC);

-- Only hashes of refresh tokens are stored; parent_id links the rotation chain.
CREATE TABLE refresh_tokens (
    id TEXT NOT NULL PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES user_sessions (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    parent_id TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    used_at TEXT CHECK (used_at LIKE '____-__-__T__:__:__.______Z')
) STRICT;
CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

CREATE TABLE one_time_tokens (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    expires_at TEXT NOT NULL CHECK (expires_at LIKE '____-__-__T__:__:__.______Z'),
    used_at TEXT CHECK (used_at LIKE '____-__-__T__:__:__.______Z')
) STRICT;
CREATE INDEX one_time_tokens_user_id_idx ON one_time_tokens (user_id);

-- The tables of later features, created now so that a purge covers them.

CREATE TABLE user_api_keys (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    key_alias TEXT,
    encrypted_key TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
) STRICT;
CREATE INDEX user_api_keys_user_id_idx ON user_api_keys (user_id, created_at DESC);

CREATE TABLE scraped_content (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    url TEXT NOT NULL,
    title TEXT,
    markdown TEXT,
    provider TEXT,
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
) STRICT;
CREATE INDEX scraped_content_user_id_idx ON scraped_content (user_id, created_at DESC);

CREATE TABLE podcast_scripts (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    source_content_id TEXT REFERENCES scraped_content (id) ON DELETE SET NULL,
    prompt TEXT,
    model TEXT,
    language TEXT,
    segments TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(segments)),
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
) STRICT;
CREATE INDEX podcast_scripts_user_id_idx ON podcast_scripts (user_id, created_at DESC);
CREATE INDEX podcast_scripts_source_content_id_idx ON podcast_scripts (source_content_id);

CREATE TABLE generated_podcasts (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    script_id TEXT REFERENCES podcast_scripts (id) ON DELETE CASCADE,
    audio_path TEXT,
    cover_art_path TEXT,
    duration_seconds REAL,
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
) STRICT;
CREATE INDEX generated_podcasts_user_id_idx ON generated_podcasts (user_id, created_at DESC);
CREATE INDEX generated_podcasts_script_id_idx ON generated_podcasts (script_id);

-- Job ids are "<job_type>_<12 of [a-z0-9]>", not UUIDs.
CREATE TABLE processing_jobs (
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
CREATE INDEX processing_jobs_user_id_idx ON processing_jobs (user_id, created_at DESC);

CREATE TABLE usage_events (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    provider TEXT,
    model TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    characters INTEGER,
    cost_usd REAL,
    job_id TEXT,
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at LIKE '____-__-__T__:__:__.______Z')
) STRICT;
CREATE INDEX usage_events_user_id_idx ON usage_events (user_id, created_at DESC);
CREATE INDEX usage_events_job_id_idx ON usage_events (job_id);

-- +goose Down
DROP TABLE usage_events;
DROP TABLE processing_jobs;
DROP TABLE generated_podcasts;
DROP TABLE podcast_scripts;
DROP TABLE scraped_content;
DROP TABLE user_api_keys;
DROP TABLE one_time_tokens;
DROP TABLE refresh_tokens;
DROP TABLE user_sessions;
DROP TABLE account_deletion_audit;
DROP TABLE account_deletion_requests;
DROP TABLE onboarding_responses;
DROP TABLE profiles;
DROP TABLE users;
