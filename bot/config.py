"""Settings: the bot's whole configuration, read once from the environment.

This module is the only reader of ``os.environ``. Everything else receives a
:class:`Settings` instance. Secrets are excluded from ``repr`` so that a settings
object can be logged or shown in a traceback without leaking them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bot.errors import ConfigurationError
from bot.lemondata.urls import UnsafeURLError, normalise_base_url

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.lemondata.cc"
DEFAULT_DATABASE_URL = "sqlite:///data/lemonbot.db"
DEFAULT_MODEL = "gemini-2.5-flash-image"
DEFAULT_EDIT_MODEL = "gemini-2.5-flash-image"  # takes a reference image (image-to-image)
DEFAULT_MAX_INPUT_IMAGE_MB = 20
DEFAULT_DAILY_IMAGE_QUOTA = 25
DEFAULT_JOB_TIMEOUT_SECONDS = 600
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_WEB_PORT = 8080
WEB_SECRET_MIN_LENGTH = 32
# The dashboard is on when all three are set, off when none is; anything between refuses.
WEB_SETTINGS = ("WEB_BASE_URL", "WEB_SECRET", "DISCORD_CLIENT_SECRET")


def database_target(url: str) -> Path | str:
    """Turn ``DATABASE_URL`` into what the store opens: a SQLite path, or a PostgreSQL URL.

    ``sqlite:///relative.db`` and ``sqlite:////absolute.db`` name a file; values that
    would silently lose data are refused: an in-memory database, and a query string or
    fragment (SQLite options here would become part of the file name).
    ``postgresql://user:password@host:5432/name`` (or ``postgres://``) selects PostgreSQL.
    """
    if url.lower().startswith(("postgresql://", "postgres://")):
        if len(url.split("://", 1)[1]) < 1:
            raise ConfigurationError("DATABASE_URL names no PostgreSQL server")
        return url
    prefix = "sqlite:///"
    shape = (
        f"DATABASE_URL must look like {DEFAULT_DATABASE_URL}, sqlite:////absolute/path.db "
        "or postgresql://user:password@host/name"
    )
    if not url.lower().startswith(prefix) or len(url) == len(prefix):
        raise ConfigurationError(f"{shape}, got {url!r}")
    path = url[len(prefix) :]  # sqlite:///data/x.db -> data/x.db ; sqlite:////abs -> /abs
    if path == ":memory:" or path.startswith("file:") or "mode=memory" in path:
        raise ConfigurationError(
            f"DATABASE_URL {url!r} is an in-memory database: every job and quota would be "
            "lost at each restart; give a file path"
        )
    if "?" in path or "#" in path:
        raise ConfigurationError(
            f"DATABASE_URL {url!r} has a query string or fragment, which would become part of "
            f"the file name; {shape}"
        )
    if path.endswith("/"):
        raise ConfigurationError(f"DATABASE_URL {url!r} names a folder, not a file; {shape}")
    return Path(path)


def parse_shard_ids(raw: str, count: int | None) -> tuple[int, ...] | None:
    """Parse ``SHARD_IDS`` (``0-3``, ``4,5,6,7`` or both mixed); None when empty."""
    if not raw.strip():
        return None
    if count is None:
        raise ConfigurationError("SHARD_IDS needs SHARD_COUNT (the total number of shards)")
    ids: set[int] = set()
    for part in raw.split(","):
        low, sep, high = part.strip().partition("-")
        if not low.isdigit() or (sep and not high.isdigit()):
            raise ConfigurationError(f"SHARD_IDS must look like 0-3 or 4,5,6,7; got {raw!r}")
        first, last = int(low), int(high) if sep else int(low)
        if first > last or last >= count:
            raise ConfigurationError(
                f"SHARD_IDS {part.strip()!r} is not within 0..{count - 1} (SHARD_COUNT={count})"
            )
        ids.update(range(first, last + 1))
    return tuple(sorted(ids))


def parse_web_base_url(raw: str) -> str:
    """Check ``WEB_BASE_URL``: an http(s) origin, maybe with a path; no query or fragment.

    Returned without its trailing slash (``https://bot.example.org``), so that paths can
    be appended to it.
    """
    parts = urlsplit(raw)
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        raise ConfigurationError(
            f"WEB_BASE_URL must be an http(s) address such as https://bot.example.org, got {raw!r}"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ConfigurationError(f"WEB_BASE_URL has a bad port: {raw!r}") from None
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}".rstrip("/")


def parse_weights(raw: str) -> dict[str, int]:
    """Parse ``MODEL_WEIGHTS`` (``model=weight`` pairs separated by commas)."""
    weights: dict[str, int] = {}
    for item in raw.split(","):
        if not item.strip():
            continue
        model, sep, value = item.partition("=")
        if not sep or not model.strip() or not value.strip().isdigit():
            raise ConfigurationError(
                "MODEL_WEIGHTS must look like gpt-image-2=3,nano-banana-pro=2; "
                f"got {item.strip()!r}"
            )
        weights[model.strip()] = int(value)
    return weights


@dataclass(frozen=True)
class Settings:
    """Typed configuration; build it with :meth:`from_env`."""

    discord_token: str = field(repr=False)
    lemondata_api_key: str = field(repr=False)
    lemondata_base_url: str = DEFAULT_BASE_URL
    database: Path | str = field(
        default=Path("data/lemonbot.db"), repr=False
    )  # may hold a password
    dev_guild_id: int | None = None
    default_model: str = DEFAULT_MODEL
    daily_image_quota: int = DEFAULT_DAILY_IMAGE_QUOTA
    job_timeout_seconds: float = DEFAULT_JOB_TIMEOUT_SECONDS
    log_level: str = "INFO"
    poll_interval_seconds: float = 0.5
    poll_max_interval_seconds: float = 60.0
    lemondata_rpm: int = 60
    lease_seconds: float = 30.0
    model_cache_seconds: float = 600.0
    model_weights: dict[str, int] = field(default_factory=dict)
    max_running_jobs_per_user: int = 2
    max_running_jobs_per_guild: int = 8
    max_queued_jobs_per_user: int = 5
    max_queued_jobs_per_guild: int = 25
    log_retention_days: int = 90
    max_input_image_mb: float = DEFAULT_MAX_INPUT_IMAGE_MB
    default_edit_model: str = DEFAULT_EDIT_MODEL
    shard_count: int | None = None  # None: as many as Discord recommends, all here
    shard_ids: tuple[int, ...] | None = None  # None: every shard of shard_count
    # The web dashboard (bot/web): on when the three are set (web_enabled).
    web_base_url: str | None = None
    web_secret: str | None = field(default=None, repr=False)
    discord_client_secret: str | None = field(default=None, repr=False)
    web_port: int = DEFAULT_WEB_PORT

    @property
    def web_enabled(self) -> bool:
        """Whether the dashboard is configured (WEB_BASE_URL, WEB_SECRET, client secret)."""
        return bool(self.web_base_url and self.web_secret and self.discord_client_secret)

    @property
    def holds_shard_zero(self) -> bool:
        """Whether this process runs shard 0 (it alone syncs the commands)."""
        return self.shard_ids is None or 0 in self.shard_ids

    @property
    def max_input_image_bytes(self) -> int:
        """The largest reference image accepted, in bytes."""
        return int(self.max_input_image_mb * 1024 * 1024)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default ``os.environ``); raise ConfigurationError if bad."""
        env = os.environ if env is None else env

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ConfigurationError(
                    f"{name} is not set: copy .env.example to .env and fill it in "
                    "(or set it in the environment)"
                )
            return value

        def number(name: str, default: float, *, minimum: float = 0) -> float:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = float(raw)
            except ValueError:
                raise ConfigurationError(f"{name} must be a number, got {raw!r}") from None
            if value < minimum:
                raise ConfigurationError(f"{name} must be at least {minimum:g}, got {raw!r}")
            return value

        def integer(name: str, default: int, *, minimum: int = 0) -> int:
            value = number(name, default, minimum=minimum)
            if value != int(value):
                raise ConfigurationError(f"{name} must be a whole number, got {env.get(name)!r}")
            return int(value)

        token = required("DISCORD_TOKEN")
        shard_count = (
            integer("SHARD_COUNT", 0, minimum=1) if env.get("SHARD_COUNT", "").strip() else None
        )
        api_key = required("LEMONDATA_API_KEY")

        guild_raw = env.get("DEV_GUILD_ID", "").strip()
        if guild_raw and not guild_raw.isdigit():
            raise ConfigurationError(f"DEV_GUILD_ID must be a numeric server id, got {guild_raw!r}")

        level = env.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
        if level not in LOG_LEVELS:
            raise ConfigurationError(
                f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {level!r}"
            )

        base_url = env.get("LEMONDATA_BASE_URL", "").strip() or DEFAULT_BASE_URL
        try:
            base_url = normalise_base_url(base_url)  # HTTP://Host -> http://host
        except UnsafeURLError:
            raise ConfigurationError(
                f"LEMONDATA_BASE_URL must be an http(s) address such as {DEFAULT_BASE_URL}, "
                f"got {base_url!r}"
            ) from None

        web = {
            "WEB_BASE_URL": env.get("WEB_BASE_URL", "").strip(),
            "WEB_SECRET": env.get("WEB_SECRET", "").strip(),
            "DISCORD_CLIENT_SECRET": env.get("DISCORD_CLIENT_SECRET", "").strip(),
        }
        missing = [name for name in WEB_SETTINGS if not web[name]]
        if 0 < len(missing) < len(WEB_SETTINGS):
            raise ConfigurationError(
                f"{missing[0]} is not set: the web dashboard needs WEB_BASE_URL, WEB_SECRET "
                "and DISCORD_CLIENT_SECRET (set all three, or none to leave it off)"
            )
        web_on = not missing
        if web_on and len(web["WEB_SECRET"]) < WEB_SECRET_MIN_LENGTH:
            raise ConfigurationError(
                f"WEB_SECRET must be at least {WEB_SECRET_MIN_LENGTH} characters long "
                "(a random string, e.g. from: python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))')"
            )
        web_port = integer("WEB_PORT", DEFAULT_WEB_PORT, minimum=1)
        if web_port > 65535:
            raise ConfigurationError(f"WEB_PORT must be at most 65535, got {web_port}")

        return cls(
            discord_token=token,
            lemondata_api_key=api_key,
            lemondata_base_url=base_url,
            database=database_target(env.get("DATABASE_URL", "").strip() or DEFAULT_DATABASE_URL),
            dev_guild_id=int(guild_raw) if guild_raw else None,
            default_model=env.get("DEFAULT_MODEL", "").strip() or DEFAULT_MODEL,
            daily_image_quota=integer("DAILY_IMAGE_QUOTA", DEFAULT_DAILY_IMAGE_QUOTA),
            job_timeout_seconds=number(
                "JOB_TIMEOUT_SECONDS", DEFAULT_JOB_TIMEOUT_SECONDS, minimum=1
            ),
            log_level=level,
            poll_interval_seconds=number("POLL_INTERVAL_SECONDS", 0.5, minimum=0.01),
            poll_max_interval_seconds=number("POLL_MAX_INTERVAL_SECONDS", 60.0, minimum=0.01),
            lemondata_rpm=integer("LEMONDATA_RPM", 60, minimum=1),
            lease_seconds=number("LEASE_SECONDS", 30.0, minimum=1),
            model_cache_seconds=number("MODEL_CACHE_SECONDS", 600.0, minimum=1),
            model_weights=parse_weights(env.get("MODEL_WEIGHTS", "")),
            max_running_jobs_per_user=integer("MAX_RUNNING_JOBS_PER_USER", 2, minimum=1),
            max_running_jobs_per_guild=integer("MAX_RUNNING_JOBS_PER_GUILD", 8, minimum=1),
            max_queued_jobs_per_user=integer("MAX_QUEUED_JOBS_PER_USER", 5),
            max_queued_jobs_per_guild=integer("MAX_QUEUED_JOBS_PER_GUILD", 25),
            log_retention_days=integer("LOG_RETENTION_DAYS", 90),
            max_input_image_mb=number(
                "MAX_INPUT_IMAGE_MB", DEFAULT_MAX_INPUT_IMAGE_MB, minimum=0.01
            ),
            default_edit_model=env.get("DEFAULT_EDIT_MODEL", "").strip() or DEFAULT_EDIT_MODEL,
            shard_count=shard_count,
            shard_ids=parse_shard_ids(env.get("SHARD_IDS", ""), shard_count),
            web_base_url=parse_web_base_url(web["WEB_BASE_URL"]) if web_on else None,
            web_secret=web["WEB_SECRET"] if web_on else None,
            discord_client_secret=web["DISCORD_CLIENT_SECRET"] if web_on else None,
            web_port=web_port,
        )

    def secrets(self) -> tuple[str, ...]:
        """Return the secret values, for the log redaction filter."""
        web = tuple(v for v in (self.web_secret, self.discord_client_secret) if v)
        return (
            self.discord_token,
            self.lemondata_api_key,
            *web,
            *database_passwords(self.database),
        )


def database_passwords(target: Path | str) -> tuple[str, ...]:
    """Return the passwords a PostgreSQL URL carries, as written and percent-decoded.

    libpq reads one in the user info (``user:pw@host``) and in the query string
    (``?password=pw``, ``sslpassword=``); a log line may quote either form.
    """
    if isinstance(target, Path) or "://" not in target:
        return ()
    parts = urlsplit(target)
    found: list[str] = []
    credentials, at, _ = parts.netloc.rpartition("@")
    if at and ":" in credentials:
        found.append(credentials.split(":", 1)[1])
    for pair in parts.query.split("&"):
        key, sep, value = pair.partition("=")
        if sep and value and key.lower() in ("password", "sslpassword"):
            found.append(value)
    passwords = [*found, *(unquote(value) for value in found)]
    return tuple(dict.fromkeys(value for value in passwords if value))
