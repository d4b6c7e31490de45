-- Reason: jobs made from another (Reroll, Edit, Remix) record their parent and how they
-- were made, and reference images travel with the job: their bytes are kept with it from
-- the moment the request is accepted, so that a restart before the create still has them.

ALTER TABLE jobs ADD COLUMN parent_id BIGINT REFERENCES jobs (id) ON DELETE SET NULL;
ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'imagine'
    CHECK (kind IN ('imagine', 'reroll', 'edit', 'remix'));
ALTER TABLE jobs ADD COLUMN input_count BIGINT NOT NULL DEFAULT 0;
CREATE INDEX jobs_parent ON jobs (parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE job_inputs (
    job_id       BIGINT  NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position     BIGINT  NOT NULL,
    filename     TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    data         BYTEA,
    PRIMARY KEY (job_id, position)
);
