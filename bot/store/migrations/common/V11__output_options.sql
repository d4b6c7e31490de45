-- Reason: issue 21's server policies and gateway hints. A server picks how strict the
-- gateway's moderation is (strictness: 'auto' everywhere, or 'low' in age-restricted
-- channels only) and the output format its images get when a member picks none
-- (output_format NULL: the bot picks PNG, or WebP when PNG would not fit Discord's upload
-- limit). A job the gateway refused keeps what the refusal allowed (error_hint, JSON), so
-- the card can name it in the member's language. Both engines spell these alike.

ALTER TABLE guild_settings ADD COLUMN strictness TEXT NOT NULL DEFAULT 'auto'
    CHECK (strictness IN ('auto', 'low_age_restricted'));
ALTER TABLE guild_settings ADD COLUMN output_format TEXT
    CHECK (output_format IN ('png', 'jpeg', 'webp'));
ALTER TABLE jobs ADD COLUMN error_hint TEXT;
