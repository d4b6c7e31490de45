-- Reason: issue 23, the web dashboard. A signed-in browser's session is a row: the
-- cookie holds a random id, the row its SHA-256 (id_hash), so a copy of the database
-- signs nobody in. It expires (expires_at) and can be revoked (revoked_at, logout).
-- guild_ids lists the servers the user is in (from Discord's OAuth2 at sign-in);
-- moderated_ids those the bot's own view says they moderate, as of checked_at (checked
-- again after 60 s). job_thumbnails keeps each result image's WebP thumbnail, made once.
-- mod_actions.via says where a moderator acted: NULL for Discord, 'web' for the dashboard.
-- Differs between the engines in one word: BLOB / BYTEA.

CREATE TABLE web_sessions (
    id_hash       TEXT PRIMARY KEY,
    user_id       BIGINT NOT NULL,
    username      TEXT NOT NULL,
    locale        TEXT NOT NULL DEFAULT 'en',
    guild_ids     TEXT NOT NULL DEFAULT '',
    moderated_ids TEXT NOT NULL DEFAULT '',
    checked_at    DOUBLE PRECISION NOT NULL DEFAULT 0,
    created_at    DOUBLE PRECISION NOT NULL,
    expires_at    DOUBLE PRECISION NOT NULL,
    revoked_at    DOUBLE PRECISION
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);

CREATE TABLE job_thumbnails (
    job_id   BIGINT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    data     BYTEA NOT NULL,
    PRIMARY KEY (job_id, position)
);

ALTER TABLE mod_actions ADD COLUMN via TEXT;
