-- The library: provider keys sealed by the vault, script titles, and the
-- indexes of the list queries. See internal/sqlite/migrations for SQLite;
-- the conventions of 00001 hold.

-- +goose Up

-- encrypted_key is dropped: no release wrote it, and its value could never
-- be opened by the vault. sealed_key has no default, so a legacy row (which
-- has no sealed secret) fails this migration rather than stay as a key
-- nobody can open; SQLite fails the same way.
ALTER TABLE user_api_keys
    DROP COLUMN encrypted_key,
    ADD COLUMN sealed_key bytea NOT NULL,
    ADD COLUMN key_hint text NOT NULL DEFAULT '',
    ADD COLUMN status text NOT NULL DEFAULT 'unverified' CHECK (status IN ('unverified', 'valid', 'invalid')),
    ADD COLUMN status_message text NOT NULL DEFAULT '',
    ADD COLUMN last_verified_at timestamptz;

ALTER TABLE podcast_scripts ADD COLUMN title text NOT NULL DEFAULT '';

-- scraped_content.url stays NOT NULL with no CHECK: '' is pasted text or an
-- uploaded document.

-- The list queries order by (created_at DESC, id DESC) within a user.
DROP INDEX user_api_keys_user_id_idx;
CREATE INDEX user_api_keys_user_id_idx ON user_api_keys (user_id, created_at DESC, id DESC);
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
DROP INDEX user_api_keys_user_id_idx;
CREATE INDEX user_api_keys_user_id_idx ON user_api_keys (user_id, created_at DESC);

ALTER TABLE podcast_scripts DROP COLUMN title;

DELETE FROM user_api_keys;
ALTER TABLE user_api_keys
    DROP COLUMN sealed_key,
    DROP COLUMN key_hint,
    DROP COLUMN status,
    DROP COLUMN status_message,
    DROP COLUMN last_verified_at,
    ADD COLUMN encrypted_key text NOT NULL;
