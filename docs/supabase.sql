-- EchoGen on Supabase: optional hardening for projects that also expose
-- EchoGen's tables through Supabase's REST API (PostgREST) or Realtime.
--
-- Run it in the SQL editor (Dashboard → SQL Editor → New query) AFTER
-- `echogen migrate`, with the same schema the server uses (public unless
-- DATABASE_URL sets search_path). The server itself connects as the
-- tables' owner (the `postgres` role), so row-level security does not apply
-- to it; these policies only limit what the anon and authenticated roles
-- can reach through Supabase's own APIs.
--
-- Safe to run twice.

BEGIN;

-- 1. Every user-owned row belongs to a Supabase Auth user. ON DELETE
--    CASCADE: when the account purge deletes the auth user (the server
--    does it at the end of the deletion window), nothing is left behind.
--    account_deletion_requests and account_deletion_audit have no foreign
--    key on purpose: the purge finishes the request and keeps the audit
--    row after the user is gone.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        ('profiles', 'id'),
        ('onboarding_responses', 'user_id'),
        ('user_api_keys', 'user_id'),
        ('scraped_content', 'user_id'),
        ('podcast_scripts', 'user_id'),
        ('generated_podcasts', 'user_id'),
        ('processing_jobs', 'user_id'),
        ('usage_events', 'user_id')
    ) AS v(tbl, col) LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = t.tbl || '_auth_user_fkey') THEN
            EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I FOREIGN KEY (%I) REFERENCES auth.users (id) ON DELETE CASCADE',
                t.tbl, t.tbl || '_auth_user_fkey', t.col);
        END IF;
    END LOOP;
END $$;

-- 2. Row-level security on every table. With RLS on and no policy, a role
--    sees nothing: that is the state of the tables not listed in step 3
--    (provider keys, sessions, tokens, deletion requests and audit, and the
--    built-in auth's users table, unused in Supabase mode).
ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE one_time_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE account_deletion_requests ENABLE ROW LEVEL SECURITY;
ALTER TABLE account_deletion_audit ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_api_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE onboarding_responses ENABLE ROW LEVEL SECURITY;
ALTER TABLE scraped_content ENABLE ROW LEVEL SECURITY;
ALTER TABLE podcast_scripts ENABLE ROW LEVEL SECURITY;
ALTER TABLE generated_podcasts ENABLE ROW LEVEL SECURITY;
ALTER TABLE processing_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_events ENABLE ROW LEVEL SECURITY;

-- 3. What a signed-in user may do with their own rows through Supabase's
--    APIs, as the original schema recommended. Writes that need the
--    server's checks (jobs, usage, podcasts' media paths) stay read-only.
DROP POLICY IF EXISTS "own profile" ON profiles;
CREATE POLICY "own profile" ON profiles FOR ALL TO authenticated
    USING (id = auth.uid()) WITH CHECK (id = auth.uid());

DROP POLICY IF EXISTS "own onboarding" ON onboarding_responses;
CREATE POLICY "own onboarding" ON onboarding_responses FOR SELECT TO authenticated USING (user_id = auth.uid());

DROP POLICY IF EXISTS "own content" ON scraped_content;
CREATE POLICY "own content" ON scraped_content FOR ALL TO authenticated
    USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());

DROP POLICY IF EXISTS "own scripts" ON podcast_scripts;
CREATE POLICY "own scripts" ON podcast_scripts FOR ALL TO authenticated
    USING (user_id = auth.uid()) WITH CHECK (user_id = auth.uid());

DROP POLICY IF EXISTS "own podcasts" ON generated_podcasts;
CREATE POLICY "own podcasts" ON generated_podcasts FOR SELECT TO authenticated USING (user_id = auth.uid());

DROP POLICY IF EXISTS "own jobs" ON processing_jobs;
CREATE POLICY "own jobs" ON processing_jobs FOR SELECT TO authenticated USING (user_id = auth.uid());

DROP POLICY IF EXISTS "own usage" ON usage_events;
CREATE POLICY "own usage" ON usage_events FOR SELECT TO authenticated USING (user_id = auth.uid());

-- River's tables and goose's version table are the server's alone.
ALTER TABLE goose_db_version ENABLE ROW LEVEL SECURITY;
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['river_job', 'river_leader', 'river_migration', 'river_queue', 'river_client', 'river_client_queue'] LOOP
        IF to_regclass(t) IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        END IF;
    END LOOP;
END $$;

COMMIT;
