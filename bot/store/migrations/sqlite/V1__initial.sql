-- Reason: the durable job ledger (one row per /imagine, written before the API call),
-- the quota reservation each job carries, downloaded images awaiting delivery, and a
-- small key/value table for the bot's own state (e.g. the synced command-set hash).

CREATE TABLE jobs (
    id                  INTEGER PRIMARY KEY,
    guild_id            INTEGER NOT NULL,
    channel_id          INTEGER NOT NULL,
    user_id             INTEGER NOT NULL,
    api_user            TEXT    NOT NULL,
    application_id      INTEGER NOT NULL,
    interaction_id      INTEGER,
    interaction_token   TEXT,
    token_expires_at    REAL,
    message_id          INTEGER,
    upload_limit        INTEGER NOT NULL,
    model               TEXT    NOT NULL,
    options             TEXT    NOT NULL,
    prompt              TEXT    NOT NULL,
    request             TEXT    NOT NULL,
    state               TEXT    NOT NULL CHECK (state IN
                            ('queued', 'submitted', 'running', 'succeeded',
                             'failed', 'timed_out', 'cancelled')),
    task_id             TEXT,
    poll_url            TEXT,
    quota_units         INTEGER NOT NULL,
    quota_state         TEXT    NOT NULL CHECK (quota_state IN ('reserved', 'settled', 'released')),
    quota_window        TEXT    NOT NULL,
    result_urls         TEXT,
    revised_prompt      TEXT,
    error_code          TEXT,
    error_message       TEXT,
    delivery_state      TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (delivery_state IN ('pending', 'delivered', 'failed')),
    delivered_via       TEXT,
    delivered_channel_id INTEGER,
    delivered_message_id INTEGER,
    created_at          REAL    NOT NULL,
    submitted_at        REAL,
    finished_at         REAL,
    delivered_at        REAL,
    updated_at          REAL    NOT NULL
);

CREATE INDEX jobs_open ON jobs (state, delivery_state)
    WHERE state IN ('queued', 'submitted', 'running') OR delivery_state = 'pending';
CREATE INDEX jobs_quota ON jobs (guild_id, user_id, quota_window);
CREATE UNIQUE INDEX jobs_task ON jobs (task_id) WHERE task_id IS NOT NULL;

CREATE TABLE job_images (
    job_id       INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL,
    url          TEXT,
    content_type TEXT    NOT NULL,
    data         BLOB,
    PRIMARY KEY (job_id, position)
);

CREATE TABLE bot_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
