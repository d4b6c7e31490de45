-- Reason: the blocklist compares prompts with accents removed (nüde counts as nude) unless
-- a server turns that off with /imagemod config fold_accents:False. Existing servers get
-- it on, like new ones.

ALTER TABLE guild_settings ADD COLUMN fold_accents INTEGER NOT NULL DEFAULT 1
    CHECK (fold_accents IN (0, 1));
