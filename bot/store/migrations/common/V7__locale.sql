-- Reason: a job keeps its requester's language, so that its cards (progress, result,
-- failure) read as the request did, also when they are delivered after a restart or
-- posted in the channel or a DM instead of editing the answer.

ALTER TABLE jobs ADD COLUMN locale TEXT NOT NULL DEFAULT 'en';
