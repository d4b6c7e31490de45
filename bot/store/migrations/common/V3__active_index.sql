-- Reason: the running-cap checks on every /imagine count a server's active jobs; this
-- partial index keeps that count proportional to the jobs in flight, not to the
-- server's whole history.

CREATE INDEX jobs_active ON jobs (guild_id, user_id) WHERE state IN ('submitted', 'running');
