-- Reason: per-server settings (quota window and default, concurrency caps, audit channel,
-- moderator role), quota rules for roles and users, blocked users, the prompt blocklist,
-- the moderator action log, and who deleted a job's image.

CREATE TABLE guild_settings (
    guild_id              INTEGER PRIMARY KEY,
    daily_limit           INTEGER,
    quota_period          TEXT    NOT NULL DEFAULT 'day'
                              CHECK (quota_period IN ('day', 'week', 'month')),
    max_running_per_user  INTEGER,
    max_running_per_guild INTEGER,
    log_channel_id        INTEGER,
    moderator_role_id     INTEGER,
    updated_at            REAL    NOT NULL
);

-- limit_units NULL means unlimited.
CREATE TABLE quota_rules (
    guild_id    INTEGER NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('role', 'user')),
    target_id   INTEGER NOT NULL,
    limit_units INTEGER,
    set_by      INTEGER NOT NULL,
    set_at      REAL    NOT NULL,
    PRIMARY KEY (guild_id, kind, target_id)
);

CREATE TABLE blocked_users (
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    reason     TEXT,
    blocked_by INTEGER NOT NULL,
    blocked_at REAL    NOT NULL,
    PRIMARY KEY (guild_id, user_id)
);

CREATE TABLE prompt_rules (
    id       INTEGER PRIMARY KEY,
    guild_id INTEGER NOT NULL,
    pattern  TEXT    NOT NULL,
    is_regex INTEGER NOT NULL CHECK (is_regex IN (0, 1)),
    added_by INTEGER NOT NULL,
    added_at REAL    NOT NULL,
    UNIQUE (guild_id, pattern, is_regex)
);

CREATE TABLE mod_actions (
    id           INTEGER PRIMARY KEY,
    guild_id     INTEGER NOT NULL,
    moderator_id INTEGER,
    action       TEXT    NOT NULL,
    target       TEXT,
    detail       TEXT,
    created_at   REAL    NOT NULL
);
CREATE INDEX mod_actions_guild ON mod_actions (guild_id, id);

ALTER TABLE jobs ADD COLUMN deleted_by INTEGER;
ALTER TABLE jobs ADD COLUMN deleted_at REAL;
CREATE INDEX jobs_guild_recent ON jobs (guild_id, id);
CREATE INDEX jobs_queue ON jobs (guild_id, id) WHERE state = 'queued';
