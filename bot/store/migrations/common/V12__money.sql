-- Reason: issue 22, money. Every job carries its worst-case cost before it is sent
-- (cost_estimate, micro-dollars: 1000000 = $1) and its cost once settled (cost, NULL
-- until then; cost_source: usage, price or estimate). A server's dollar budget (one row
-- per server, amounts in micro-dollars) is reserved against in the admission's
-- transaction, beside the unit quota: a job counts against the budget window it was
-- admitted in (budget_window) while its quota is reserved or settled, at its cost once
-- known, else at its estimate. budget_alerts keeps the thresholds already announced per
-- window, so each is posted once, whichever process settles the job that crosses it.
-- BIGINT in both engines (SQLite gives it INTEGER affinity).

ALTER TABLE jobs ADD COLUMN cost_estimate BIGINT NOT NULL DEFAULT 0;
-- Whether a member's Details shows what their job cost (moderators always see it).
ALTER TABLE guild_settings ADD COLUMN cost_visible SMALLINT NOT NULL DEFAULT 0
    CHECK (cost_visible IN (0, 1));
ALTER TABLE jobs ADD COLUMN cost BIGINT;
ALTER TABLE jobs ADD COLUMN cost_source TEXT;
ALTER TABLE jobs ADD COLUMN budget_window TEXT NOT NULL DEFAULT '';
CREATE INDEX jobs_budget_window ON jobs (guild_id, budget_window);

CREATE TABLE guild_budgets (
    guild_id BIGINT PRIMARY KEY,
    amount BIGINT NOT NULL CHECK (amount >= 0),
    period TEXT NOT NULL CHECK (period IN ('day', 'week', 'month')),
    member_cap BIGINT CHECK (member_cap >= 0),
    allow_unpriced SMALLINT NOT NULL DEFAULT 0 CHECK (allow_unpriced IN (0, 1)),
    set_by BIGINT NOT NULL,
    set_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE budget_alerts (
    guild_id BIGINT NOT NULL,
    budget_window TEXT NOT NULL,
    threshold INTEGER NOT NULL,
    posted_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (guild_id, budget_window, threshold)
);

-- A role's own dollar cap per member in the budget's period (the most generous of a
-- member's roles applies, else the budget's member_cap).
CREATE TABLE budget_role_caps (
    guild_id BIGINT NOT NULL,
    role_id BIGINT NOT NULL,
    cap BIGINT NOT NULL CHECK (cap >= 0),
    set_by BIGINT NOT NULL,
    set_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (guild_id, role_id)
);
