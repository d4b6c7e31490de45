-- Reason: a server's default quota covers its quota period (a day, a week or a month),
-- so the column says so: daily_limit becomes period_limit, its values kept. Both engines
-- rename a column in place (SQLite since 3.25).

ALTER TABLE guild_settings RENAME COLUMN daily_limit TO period_limit;
