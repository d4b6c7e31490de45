-- Reason: the blocklist compares prompts with accents removed (nüde counts as nude) unless
-- a server turns that off with /imagemod config fold_accents:False. Existing servers get
-- it on, like new ones.
-- PostgreSQL spelling of sqlite/V8; a 0/1 number, as in SQLite (like prompt_rules.is_regex).

ALTER TABLE guild_settings ADD COLUMN fold_accents SMALLINT NOT NULL DEFAULT 1
    CHECK (fold_accents IN (0, 1));
