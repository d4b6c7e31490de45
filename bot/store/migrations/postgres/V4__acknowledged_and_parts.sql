-- Reason: a job whose interaction was never answered must be dropped (and refunded) at a
-- restart, not generated out of the blue, so the acknowledgement is recorded; a result
-- spread over several messages is delivered part by part, and a retry resumes after the
-- last part that got through instead of posting the first ones again.

ALTER TABLE jobs ADD COLUMN acknowledged_at DOUBLE PRECISION;
ALTER TABLE jobs ADD COLUMN parts_delivered BIGINT NOT NULL DEFAULT 0;
-- Jobs stored before this version were answered (an unanswered one was cancelled at once).
UPDATE jobs SET acknowledged_at = created_at;
