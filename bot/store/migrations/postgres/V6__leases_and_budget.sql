-- Reason: several processes share one ledger. A job being worked on (created, polled,
-- delivered) is leased by one process until lease_until; another process takes it over
-- when the lease expires, and lease_token (raised at every hand-over) fences the writes
-- of a process that lost its lease. request_budget is the one request budget of the API
-- key that all processes draw from.

ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_until DOUBLE PRECISION;
ALTER TABLE jobs ADD COLUMN lease_token BIGINT NOT NULL DEFAULT 0;
CREATE INDEX jobs_lease ON jobs (lease_until)
    WHERE state IN ('submitted', 'running') OR delivery_state = 'pending';

CREATE TABLE request_budget (
    key           TEXT    PRIMARY KEY,
    window_start  DOUBLE PRECISION NOT NULL,
    used          BIGINT  NOT NULL,
    request_limit BIGINT  NOT NULL,
    window_length DOUBLE PRECISION NOT NULL,
    paused_until  DOUBLE PRECISION NOT NULL DEFAULT 0
);
