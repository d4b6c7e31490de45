-- Reason: issue 23's benchmark, the dashboard's gallery with 100,000 jobs. Every gallery
-- page lists the server's models for its filter: jobs_guild_model answers that with one
-- seek per model (a loose index scan, bot/store/web.py) instead of reading every job of
-- the server, and serves the model filter newest first. jobs_guild_user serves the
-- member filter newest first. jobs_guild_created bounds a date range's ids (the main scan
-- stays on jobs_guild_recent, newest first), so an old week no longer reads the whole
-- server's newer jobs, nor a wide range sorts them.

CREATE INDEX jobs_guild_model ON jobs (guild_id, model, id);
CREATE INDEX jobs_guild_user ON jobs (guild_id, user_id, id);
CREATE INDEX jobs_guild_created ON jobs (guild_id, created_at, id);
