-- Reason: the shared request budget held a fixed window opened at its first place, so
-- places taken near one window's end and the next one's start could reach the gateway
-- within one of its windows when requests are slow to arrive (a busy machine). Each
-- request is now counted from its place until its answer, in request_log (a sliding log
-- that latency cannot shorten); the limit and window are the pair the gateway announced
-- last (announced_at), and the gateway's own Remaining until Reset bounds what is sent
-- before that reset (gateway_*); once it passed, one request (opener) goes first and its
-- answer tells the new window's figures before the others go.

CREATE TABLE request_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key         TEXT NOT NULL,
    taken_at    DOUBLE PRECISION NOT NULL,
    lost_at     DOUBLE PRECISION NOT NULL,
    answered_at DOUBLE PRECISION
);
CREATE INDEX request_log_key ON request_log (key, taken_at);

ALTER TABLE request_budget DROP COLUMN window_start;
ALTER TABLE request_budget DROP COLUMN used;
ALTER TABLE request_budget ADD COLUMN announced_at DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE request_budget ADD COLUMN gateway_remaining BIGINT;
ALTER TABLE request_budget ADD COLUMN gateway_reset DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE request_budget ADD COLUMN gateway_as_of DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE request_budget ADD COLUMN opener BIGINT;
ALTER TABLE request_budget ADD COLUMN opener_until DOUBLE PRECISION NOT NULL DEFAULT 0;
