"""Boot, command sync and model autocomplete of the real bot process."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import BotFactory
from tests.e2e.harness import REPO_ROOT, BotProcess, all_settings
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.lemondata import DEFAULT_MODELS, LemonDataEmulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

STRING, INTEGER, ATTACHMENT = 3, 4, 11
RATIOS = ["1:1", "16:9", "9:16", "3:2", "2:3", "4:3", "3:4", "21:9"]


def _options(command: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {option["name"]: option for option in command.get("options", [])}


async def test_boot_syncs_imagine_globally_with_the_documented_options(
    fake: FakeDiscord, bot: BotProcess
) -> None:
    # One global sync (no DEV_GUILD_ID), nothing per guild.
    [(scope, names)] = fake.command_syncs
    assert scope is None
    assert "imagine" in names
    assert fake.guild_commands.get(fake.guild_id, []) == []
    [imagine] = [c for c in fake.global_commands if c["name"] == "imagine"]
    assert imagine["name"] == "imagine"
    assert imagine["type"] == 1
    options = _options(imagine)
    assert list(options) == [
        "prompt",
        "model",
        "ratio",
        "resolution",
        "quality",
        "count",
        "style",
        "image",
        "image2",
        "image3",
        "background",
        "output_format",
        "compression",
        "negative_prompt",
        "seed",
    ]
    assert [name for name, o in options.items() if o.get("required")] == ["prompt"]
    assert {name: o["type"] for name, o in options.items()} == {
        "prompt": STRING,
        "model": STRING,
        "ratio": STRING,
        "resolution": STRING,
        "quality": STRING,
        "count": INTEGER,
        "style": STRING,
        "image": ATTACHMENT,
        "image2": ATTACHMENT,
        "image3": ATTACHMENT,
        "background": STRING,
        "output_format": STRING,
        "compression": INTEGER,
        "negative_prompt": STRING,
        "seed": INTEGER,
    }
    assert options["prompt"]["max_length"] == 4000
    assert options["model"].get("autocomplete") is True
    assert "choices" not in options["model"]

    def values(name: str) -> list[str]:
        return [c["value"] for c in options[name]["choices"]]

    assert values("ratio") == RATIOS
    assert values("resolution") == ["1k", "2k", "4k"]
    assert values("quality") == ["auto", "low", "medium", "high", "standard", "hd"]
    assert values("style") == ["vivid", "natural"]
    assert (options["count"]["min_value"], options["count"]["max_value"]) == (1, 4)
    assert values("background") == ["auto", "opaque", "transparent"]
    assert values("output_format") == ["png", "jpeg", "webp"]
    assert (options["compression"]["min_value"], options["compression"]["max_value"]) == (0, 100)
    assert (options["seed"]["min_value"], options["seed"]["max_value"]) == (0, 2**32 - 1)
    assert (options["negative_prompt"]["min_length"], options["negative_prompt"]["max_length"]) == (
        1,
        1000,
    )
    for option in options.values():
        assert option.get("description"), option  # Discord requires one
    # Guild-only: not offered in DMs.
    assert imagine.get("contexts") in ([0], None) or imagine.get("dm_permission") is False
    assert fake.unhandled == []
    log = bot.log_text()
    assert "lemonbot" in log
    assert fake.bot_token not in log, "the bot token must never be logged"
    assert bot.emulator.api_key not in log, "the API key must never be logged"
    bot.assert_log_clean()


async def test_restart_with_the_same_database_does_not_sync_again_but_a_fresh_one_does(
    fake: FakeDiscord, make_bot: BotFactory
) -> None:
    first = make_bot()
    await first.start()
    assert len(fake.command_syncs) == 1

    assert await first.terminate() == 0
    await first.start()
    assert len(fake.command_syncs) == 1, "same command set, same database: no second sync"
    assert "command set unchanged; not syncing" in first.log_of_start(2)

    fresh = make_bot("fresh")
    await first.terminate()
    await fresh.start()
    assert [scope for scope, _names in fake.command_syncs] == [None, None]
    assert fake.command_syncs[0] == fake.command_syncs[1]
    first.assert_log_clean()
    fresh.assert_log_clean()


async def test_model_autocomplete_lists_the_gateways_models(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    everything = await fake.autocomplete("imagine", {"model": ""}, focused="model")
    assert [c["value"] for c in everything] == DEFAULT_MODELS
    for choice in everything:
        assert choice["value"] in choice["name"]
        assert len(choice["name"]) <= 100

    gem = await fake.autocomplete("imagine", {"prompt": "a lemon", "model": "gem"}, focused="model")
    assert [c["value"] for c in gem] == [m for m in DEFAULT_MODELS if "gem" in m]
    assert {c["value"] for c in gem} == {
        "gemini-3-pro-image-preview",
        "gemini-2.5-flash-image",
        "gemini-3.1-flash-image-preview",
        "gemini-2.0-flash-preview-image-generation",
    }

    assert await fake.autocomplete("imagine", {"model": "no-such"}, focused="model") == []
    assert emulator.creates() == []
    assert [r.query for r in emulator.requests if r.path == "/v1/models"] == [
        {"recommended_for": "image"}
    ], "the model list is fetched once and cached"
    bot.assert_log_clean()


async def test_an_installed_bot_reads_dotenv_from_the_working_directory(tmp_path: Path) -> None:
    """README: settings come from the environment or from ``.env`` in the working directory.

    Regression: a bare ``load_dotenv()`` searches upwards from the folder of
    ``bot/__main__.py``, so an installed bot (``pip install .``) never read ``./.env``.
    """
    # The layout `pip install .` produces: the packages live elsewhere than the .env.
    site = tmp_path / "site-packages"
    for package in ("bot", "cogs"):
        shutil.copytree(
            REPO_ROOT / package, site / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    workdir = tmp_path / "work"
    workdir.mkdir()
    # Valid credentials but a malformed DATABASE_URL: if ./.env is read, the bot stops at
    # once on that setting (exit 2) before opening any connection.
    (workdir / ".env").write_text(
        "DISCORD_TOKEN=token-from-dotenv\n"
        "LEMONDATA_API_KEY=sk-from-dotenv\n"
        "DATABASE_URL=not-a-sqlite-url\n"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DISCORD_", "LEMONDATA_", "LEMONBOT_")) and key not in all_settings()
    }
    env["PYTHONPATH"] = str(site)
    env["LEMONDATA_BASE_URL"] = "http://127.0.0.1:9"  # never the real gateway
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=workdir,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _out, err = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert "DATABASE_URL must look like" in err.decode(), err.decode()
    assert proc.returncode == 2
