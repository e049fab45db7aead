-- The library: provider keys sealed by the vault, script titles, and the
-- indexes of the list queries. See internal/postgres/migrations for
-- PostgreSQL; the conventions of 00001 hold.

-- +goose Up

-- user_api_keys is rebuilt: SQLite cannot add a NOT NULL column without a
-- default, nor drop NOT NULL from encrypted_key. encrypted_key is dropped:
-- no release wrote it, and its value could never be opened by the vault.
-- No table references user_api_keys, so the rebuild needs no pragma.
CREATE TABLE user_api_keys_new (
    id TEXT NOT NULL PRIMARY KEY,
    user_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    key_alias TEXT,
    sealed_key BLOB NOT NULL,
    key_hint TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'unverified' CHECK (status IN ('unverified', 'valid', 'invalid')),
    status_message TEXT NOT NULL DEFAULT '',
    last_verified_at TEXT CHECK (last_verified_at LIKE '____-__-__T__:__:__.______Z'),
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (created_at LIKE '____-__-__T__:__:__.______Z'),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')) CHECK (updated_at LIKE '____-__-__T__:__:__.______Z')
) STRICT;
-- A legacy row has no sealed secret, so copying one fails on sealed_key's
-- NOT NULL and the migration stops rather than keep a key nobody can open
-- (PostgreSQL fails the same way).
INSERT INTO user_api_keys_new (id, user_id, provider, key_alias, sealed_key, metadata, created_at, updated_at)
    SELECT id, user_id, provider, key_alias, NULL, metadata, created_at, updated_at FROM user_api_keys;
DROP TABLE user_api_keys;
ALTER TABLE user_api_keys_new RENAME TO user_api_keys;
CREATE INDEX user_api_keys_user_id_idx ON user_api_keys (user_id, created_at DESC, id DESC);

ALTER TABLE podcast_scripts ADD COLUMN title TEXT NOT NULL DEFAULT '';

-- scraped_content.url stays NOT NULL with no CHECK: '' is pasted text or an
-- uploaded document.

-- The list queries order by (created_at DESC, id DESC) within a user.
DROP INDEX scraped_content_user_id_idx;
CREATE INDEX scraped_content_user_id_idx ON scraped_content (user_id, created_at DESC, id DESC);
DROP INDEX podcast_scripts_user_id_idx;
CREATE INDEX podcast_scripts_user_id_idx ON podcast_scripts (user_id, created_at DESC, id DESC);
DROP INDEX generated_podcasts_user_id_idx;
CREATE INDEX generated_podcasts_user_id_idx ON generated_podcasts (user_id, created_at DESC, id DESC);

-- +goose Down
-- Going down is deliberate, so it drops what 00001 cannot hold: script
-- titles and the sealed keys.
DROP INDEX generated_podcasts_user_id_idx;
CREATE INDEX generated_podcasts_user_id_idx ON generated_podcasts (user_id, created_at DESC);
DROP INDEX podcast_scripts_user_id_idx;
CREATE INDEX podcast_scripts_user_id_idx ON podcast_scripts (user_id, created_at DESC);
DROP INDEX scraped_content_user_id_idx;
CREATE INDEX scraped_content_user_id_idx ON scraped_content (user_id, created_at DESC);

ALTER TABLE podcast_scripts DROP COLUMN title;

DROP TABLE user_api_keys;
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
