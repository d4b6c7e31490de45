"""Acknowledgement latency: 30 simultaneous /imagine, from arrival to Discord's callback.

The real code path: a logged-in LemonBot (as ``bot/client.py`` builds it) gets 30
INTERACTION_CREATE payloads at once through discord.py's own parser, and answers each
over HTTP to a loopback fake Discord; the clock runs from handing a payload to the
parser to the fake receiving that interaction's callback. Every accept validates,
checks the blocklist, reserves quota and writes the job row before it answers.

Baseline: the same 30 interactions at once to a command that answers at once with no
work at all (discord.py's parsing plus the HTTP round-trip: the floor), same run.
Synchronous creates are held at the emulator, so the generations started by the
accepted jobs wait (their requests still run beside the measurement, as they would).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)

import discord  # noqa: E402
import httpx  # noqa: E402
import yarl  # noqa: E402

from bench._common import Report, percentile  # noqa: E402
from bot.client import LemonBot  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.store import JobFilter, Store  # noqa: E402
from tests.fakes.fake_discord import FakeDiscord  # noqa: E402
from tests.fakes.lemondata import LemonDataEmulator  # noqa: E402

SIMULTANEOUS = 30
ROUNDS = 6
WARMUP_ROUNDS = 1
TARGET_P99_MS = 50.0


async def _round(
    bot: LemonBot,
    fake: FakeDiscord,
    name: str,
    options: dict[str, Any],
    users: list[Any],
    arrived: dict[int, float],
) -> list[float]:
    """Hand ``SIMULTANEOUS`` payloads to the parser at once; return each latency (ms)."""
    payloads = [fake.interaction_payload(name, dict(options), user=user) for user in users]
    sent: dict[int, float] = {}
    for payload in payloads:
        sent[int(payload["id"])] = time.perf_counter()
        bot._connection.parse_interaction_create(payload)
    await fake.wait_for(lambda: all(i in arrived for i in sent), 30, what="callbacks")
    return [(arrived[i] - t) * 1000 for i, t in sent.items()]


async def _acknowledged(store: Store, count: int) -> None:
    """Wait (bounded) until every accepted job recorded its acknowledgement."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        jobs = await store.jobs.search(JobFilter(), limit=count + 1)
        if len(jobs) >= count and all(j.acknowledged_at for j in jobs):
            return
        await asyncio.sleep(0.01)
    raise RuntimeError("accepted jobs never recorded their acknowledgement")


async def run() -> Report:
    """Measure and return the report."""
    async with FakeDiscord() as fake, LemonDataEmulator() as lemondata:
        lemondata.gate = asyncio.Event()  # creates wait: only the acknowledgements are timed
        lemondata.record_requests = False
        arrived: dict[int, float] = {}
        original = fake._callback

        def timed_callback(rec: Any, m: dict[str, str]) -> Any:
            arrived.setdefault(int(m["iid"]), time.perf_counter())
            return original(rec, m)

        fake._callback = timed_callback  # type: ignore[method-assign]
        fake._build_routes()
        users = [fake.add_user(f"member{i}") for i in range(SIMULTANEOUS)]
        discord.http.Route.BASE = fake.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                discord_token=fake.bot_token,
                lemondata_api_key=lemondata.api_key,
                lemondata_base_url=lemondata.base_url,
                database=Path(tmp) / "ack.db",
                daily_image_quota=100_000,
            )
            settings = dataclasses.replace(
                settings, max_queued_jobs_per_guild=10_000, max_queued_jobs_per_user=10_000
            )
            async with httpx.AsyncClient() as http, Store.open(settings.database) as store:
                bot = LemonBot(settings=settings, store=store, http=http)

                @bot.tree.command(name="ping", description="answers at once")
                async def ping(interaction: discord.Interaction) -> None:
                    await interaction.response.send_message("pong")

                try:
                    await bot.login(settings.discord_token)
                    bot._connection.parse_guild_create(fake.guild_payload())
                    await bot.catalog.refresh()
                    imagine = {"prompt": "a lemon on a beach", "model": "nano-banana"}
                    results: dict[str, list[float]] = {"imagine": [], "ping": []}
                    for round_no in range(WARMUP_ROUNDS + ROUNDS):
                        for name, options in (("ping", {}), ("imagine", imagine)):
                            latencies = await _round(bot, fake, name, options, users, arrived)
                            if round_no >= WARMUP_ROUNDS:
                                results[name] += latencies
                    await _acknowledged(store, (WARMUP_ROUNDS + ROUNDS) * SIMULTANEOUS)
                finally:
                    lemondata.gate.set()
                    await bot.close()
    report = Report(
        title=f"Acknowledgement: {SIMULTANEOUS} simultaneous /imagine, arrival to callback",
        baseline="the same interactions to a command that answers with no work (floor), same run",
    )
    for label, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        report.add(
            f"latency {label}",
            percentile(results["imagine"], q),
            "ms",
            percentile(results["ping"], q),
        )
    report.add("latency max", max(results["imagine"]), "ms", max(results["ping"]))
    report.add("target p99", TARGET_P99_MS, "ms", percentile(results["imagine"], 99))
    report.notes.append(
        f"{ROUNDS} rounds of {SIMULTANEOUS} (after {WARMUP_ROUNDS} warm-up), "
        f"{len(results['imagine'])} samples each; "
        f"p99 {'within' if percentile(results['imagine'], 99) < TARGET_P99_MS else 'OVER'} the "
        f"{TARGET_P99_MS:.0f} ms target"
    )
    report.notes.append(
        "bot, fake Discord and emulator share one event loop, so the figures include the "
        "fake's own work; 'target p99' row: baseline column = measured p99"
    )
    return report


if __name__ == "__main__":
    print(asyncio.run(run()).render())
