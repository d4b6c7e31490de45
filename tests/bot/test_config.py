"""Settings from the environment, and the entry point's one-line failures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigurationError, Settings

BASE = {"DISCORD_TOKEN": "tok-123456", "LEMONDATA_API_KEY": "sk-abcdef"}


def test_defaults():
    """Only the two secrets are required; the rest has documented defaults."""
    settings = Settings.from_env(BASE)
    assert settings.lemondata_base_url == "https://api.lemondata.cc"
    assert settings.database == Path("data/lemonbot.db")
    assert settings.dev_guild_id is None
    assert settings.daily_image_quota == 25


def test_absolute_database_url_and_overrides():
    """sqlite:////absolute/path.db is an absolute path; numbers are parsed."""
    settings = Settings.from_env(
        BASE
        | {
            "DATABASE_URL": "sqlite:////var/lib/lemonbot/bot.db",
            "DEV_GUILD_ID": "1234",
            "DAILY_IMAGE_QUOTA": "7",
            "JOB_TIMEOUT_SECONDS": "90",
            "LOG_LEVEL": "debug",
            "LEMONDATA_BASE_URL": "http://127.0.0.1:9/",
        }
    )
    assert settings.database == Path("/var/lib/lemonbot/bot.db")
    assert settings.dev_guild_id == 1234
    assert settings.daily_image_quota == 7
    assert settings.job_timeout_seconds == 90
    assert settings.log_level == "DEBUG"
    assert settings.lemondata_base_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"LEMONDATA_API_KEY": "k"}, "DISCORD_TOKEN"),
        ({"DISCORD_TOKEN": "t"}, "LEMONDATA_API_KEY"),
        (BASE | {"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        (BASE | {"DEV_GUILD_ID": "abc"}, "DEV_GUILD_ID"),
        (BASE | {"DAILY_IMAGE_QUOTA": "lots"}, "DAILY_IMAGE_QUOTA"),
        (BASE | {"JOB_TIMEOUT_SECONDS": "0"}, "JOB_TIMEOUT_SECONDS"),
        (BASE | {"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ],
)
def test_bad_settings_name_the_variable(env, needle):
    """Each bad setting raises ConfigurationError naming the variable."""
    with pytest.raises(ConfigurationError, match=needle):
        Settings.from_env(env)


def test_secrets_are_not_in_repr():
    """Settings can be logged without leaking the token or the key."""
    text = repr(Settings.from_env(BASE))
    assert "tok-123456" not in text and "sk-abcdef" not in text


def test_missing_token_exits_with_one_line(tmp_path):
    """`python -m bot` without a token exits non-zero with one line, no traceback."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "LEMONDATA_API_KEY")}
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,  # no .env here
        env=env | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "DISCORD_TOKEN" in lines[0] and ".env.example" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("sqlite:///:memory:", "in-memory database"),
        ("sqlite:///file:bot?mode=memory&cache=shared", "in-memory database"),
        ("sqlite:///data/bot.db?mode=ro", "query string"),
        ("sqlite:///data/bot.db#x", "query string or fragment"),
        ("sqlite:///data/", "names a folder"),
        ("sqlite:///", "must look like"),
        ("sqlite://data/bot.db", "must look like"),
    ],
)
def test_database_urls_that_would_lose_data_are_refused(url, needle):
    """A DATABASE_URL that would silently lose data is refused with one line saying why."""
    with pytest.raises(ConfigurationError, match=needle) as caught:
        Settings.from_env(BASE | {"DATABASE_URL": url})
    assert "\n" not in str(caught.value) and "DATABASE_URL" in str(caught.value)


def test_base_url_scheme_and_host_are_normalised():
    """HTTP://Host is the same origin as http://host: it is stored in canonical form."""
    settings = Settings.from_env(BASE | {"LEMONDATA_BASE_URL": "HTTP://Gateway.Test:8080/"})
    assert settings.lemondata_base_url == "http://gateway.test:8080"
    with pytest.raises(ConfigurationError, match="LEMONDATA_BASE_URL"):
        Settings.from_env(BASE | {"LEMONDATA_BASE_URL": "gateway.test"})


def test_in_memory_database_exits_with_one_line(tmp_path):
    """`python -m bot` with an in-memory DATABASE_URL exits 2 with one line, no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=os.environ
        | BASE
        | {
            "DATABASE_URL": "sqlite:///:memory:",
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        },
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "in-memory database" in lines[0], result.stderr


@pytest.mark.parametrize(
    ("count", "ids", "expected", "zero"),
    [
        ("", "", None, True),
        ("8", "0-3", (0, 1, 2, 3), True),
        ("8", "4,5,6,7", (4, 5, 6, 7), False),
        ("8", "6, 1-2", (1, 2, 6), False),
    ],
)
def test_shards(count, ids, expected, zero):
    """SHARD_IDS takes ranges and lists; only the holder of shard 0 syncs commands."""
    settings = Settings.from_env(BASE | {"SHARD_COUNT": count, "SHARD_IDS": ids})
    assert settings.shard_ids == expected and settings.holds_shard_zero is zero


@pytest.mark.parametrize(
    ("count", "ids", "needle"),
    [("", "0-3", "needs SHARD_COUNT"), ("4", "2-5", "within 0..3"), ("4", "a", "look like")],
)
def test_bad_shards_are_refused(count, ids, needle):
    """Shard settings that cannot work are refused with one line."""
    with pytest.raises(ConfigurationError, match=needle):
        Settings.from_env(BASE | {"SHARD_COUNT": count, "SHARD_IDS": ids})


def test_a_postgresql_url_selects_postgresql_and_its_password_is_secret():
    """postgresql:// is kept as a URL for the store; its password is redacted from logs."""
    url = "postgresql://bot:s3cret-pw@db.internal:5432/lemonbot"
    settings = Settings.from_env(BASE | {"DATABASE_URL": url})
    assert settings.database == url
    assert "s3cret-pw" in settings.secrets() and "s3cret-pw" not in repr(settings)


@pytest.mark.parametrize(
    ("url", "passwords"),
    [
        ("postgresql://bot@db/lemon?password=q", {"q"}),
        ("postgresql://bot:p%40ss@db/lemon?sslpassword=k%26", {"p%40ss", "p@ss", "k%26", "k&"}),
        ("postgresql://bot@db/lemon", set()),
    ],
)
def test_every_form_of_the_database_password_is_a_secret(url, passwords):
    """The query string's password and the decoded forms are redacted from logs too."""
    settings = Settings.from_env(BASE | {"DATABASE_URL": url})
    assert set(settings.secrets()) - {settings.discord_token, settings.lemondata_api_key} == (
        passwords
    )


WEB = {
    "WEB_BASE_URL": "https://Bot.Example.org/",
    "WEB_SECRET": "s" * 32,
    "DISCORD_CLIENT_SECRET": "client-secret-xyz",
}


def test_the_dashboard_is_off_without_its_settings_and_on_with_all_three():
    off = Settings.from_env(BASE)
    assert not off.web_enabled and off.web_port == 8080
    on = Settings.from_env(BASE | WEB | {"WEB_PORT": "9000"})
    assert on.web_enabled and on.web_port == 9000
    assert on.web_base_url == "https://bot.example.org"
    assert "client-secret-xyz" in on.secrets() and "s" * 32 in on.secrets()
    assert "client-secret-xyz" not in repr(on) and "s" * 32 not in repr(on)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"WEB_BASE_URL": "https://bot.example.org"}, "WEB_SECRET is not set"),
        ({"WEB_SECRET": "s" * 32}, "WEB_BASE_URL is not set"),
        (WEB | {"DISCORD_CLIENT_SECRET": ""}, "DISCORD_CLIENT_SECRET is not set"),
        (WEB | {"WEB_BASE_URL": "ftp://bot.example.org"}, "WEB_BASE_URL must be"),
        (WEB | {"WEB_BASE_URL": "bot.example.org"}, "WEB_BASE_URL must be"),
        (WEB | {"WEB_BASE_URL": "https://bot.example.org/?x=1"}, "WEB_BASE_URL must be"),
        (WEB | {"WEB_SECRET": "short"}, "WEB_SECRET must be at least 32"),
        (WEB | {"WEB_PORT": "http"}, "WEB_PORT"),
        (WEB | {"WEB_PORT": "70000"}, "WEB_PORT"),
    ],
)
def test_a_dashboard_setting_missing_or_malformed_names_itself(env, needle):
    with pytest.raises(ConfigurationError, match=needle) as raised:
        Settings.from_env(BASE | env)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("args", "extra", "needle"),
    [
        (["web"], {}, "python -m bot web needs WEB_BASE_URL"),
        ([], {"WEB_BASE_URL": "https://bot.example.org"}, "WEB_SECRET is not set"),
        (["web"], {**WEB, "WEB_SECRET": "short"}, "WEB_SECRET must be at least 32"),
    ],
)
def test_the_dashboard_refuses_to_start_with_one_line(tmp_path, args, extra, needle):
    """A missing or malformed dashboard setting (or `web` without them): one line, exit 2."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WEB_", "DISCORD_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,  # no .env here
        env=env | BASE | extra | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], result.stderr
    assert "Traceback" not in result.stderr
