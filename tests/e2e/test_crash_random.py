"""SIGKILL the real bot at random moments while jobs come and go; then check the books.

Over at least 15 jobs and several kills (the whole test bounded to 60 s), whatever the
moments: every job ends delivered once, or failed (or dropped) and refunded; no task is
created twice; and every member's settled quota is the sum of their delivered jobs.
The seed is printed on failure and can be replayed with ``LEMONBOT_CRASH_SEED``.
"""

from __future__ import annotations

import asyncio
import collections
import os
import random
from typing import Any

import pytest

from tests.e2e.conftest import BotFactory
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.lemondata import LemonDataEmulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

MIN_JOBS = 15
MIN_KILLS = 4
BUDGET_SECONDS = 15.0  # for the jobs and kills; draining (at most DRAIN_SECONDS) comes after
DRAIN_SECONDS = 20.0  # with the budget, a slow last start and teardown: within 60 s
MODELS = ("nano-banana", "gpt-image-2", "gemini-2.5-flash-image", "flux-pro")


async def drained(bot: Any, timeout: float) -> list[dict[str, Any]]:
    """Wait until every job row has ended and its delivery was settled; return the rows."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        rows = bot.jobs()
        if all(
            r["state"] in ("succeeded", "failed", "timed_out", "cancelled") for r in rows
        ) and all(r["delivery_state"] != "pending" for r in rows):
            return rows
        if loop.time() >= deadline:
            raise AssertionError(f"jobs still open after {timeout}s: {rows!r}\n{bot.log_tail()}")
        await bot.race(asyncio.sleep(0.05))  # a bounded condition wait on the ledger


def outcome_posts(fake: FakeDiscord, job_id: int) -> list[dict[str, Any]]:
    """Channel and DM messages that carry a job's outcome (not its interaction's card)."""
    messages = [m for channel in fake.channels for m in fake.channel_messages(channel)]
    messages += [m for user in fake.users for m in fake.dms(user)]
    return [
        m
        for m in messages
        if m.get("type") != 20
        and any((e.get("footer") or {}).get("text") == f"Job {job_id}" for e in m.get("embeds", []))
    ]


async def test_random_kills_lose_nothing_and_double_nothing(
    fake: FakeDiscord, emulator: LemonDataEmulator, make_bot: BotFactory
) -> None:
    seed = int(os.environ.get("LEMONBOT_CRASH_SEED") or random.randrange(1 << 30))
    rng = random.Random(seed)
    print(f"crash seed {seed}")  # shown by pytest when the test fails
    members = [fake.alice, fake.bob, *(fake.add_user(f"member{i}") for i in range(2))]
    bot = make_bot(env={"MAX_RUNNING_JOBS_PER_USER": "3", "DAILY_IMAGE_QUOTA": "1000"})
    bot.errors_expected = True  # a kill mid-write may leave a warning; the books must hold
    await bot.start()
    emulator.polls_to_complete = 2
    loop = asyncio.get_running_loop()
    started = loop.time()
    sent = kills = 0
    while len(bot.jobs()) < MIN_JOBS or kills < MIN_KILLS:  # jobs stored, not just sent
        if loop.time() - started > BUDGET_SECONDS:
            break
        for _ in range(rng.randint(1, 4)):
            sent += 1
            options = {"prompt": f"lemon number {sent}", "model": rng.choice(MODELS)}
            await fake.invoke("imagine", options, user=rng.choice(members))
        # The random moment of the kill: anywhere from the intake to the deliveries.
        await bot.race(asyncio.sleep(rng.uniform(0.0, 0.6)))
        await bot.kill()
        kills += 1
        await bot.start()
    stored = len(bot.jobs())
    assert stored >= MIN_JOBS and kills >= MIN_KILLS, f"seed {seed}: {stored} jobs, {kills} kills"

    rows = await drained(bot, timeout=DRAIN_SECONDS)
    creates = collections.Counter(c["prompt"] for c in emulator.creates())
    assert max(creates.values(), default=0) == 1, f"seed {seed}: a task was created twice"
    settled: dict[int, int] = collections.defaultdict(int)
    delivered_units: dict[int, int] = collections.defaultdict(int)
    for row in rows:
        posts = outcome_posts(fake, row["id"])
        if row["state"] == "succeeded" and row["delivery_state"] == "delivered":
            delivered_units[row["user_id"]] += row["quota_units"]
            expected = 0 if row["delivered_via"] == "edit" else 1
            assert len(posts) == expected, f"seed {seed}: job {row['id']} shown {len(posts)}x"
        else:
            assert row["quota_state"] == "released", f"seed {seed}: job {row['id']} kept charge"
            assert len(posts) <= 1, f"seed {seed}: job {row['id']} explained twice"
        if row["quota_state"] == "settled":
            settled[row["user_id"]] += row["quota_units"]
        assert row["quota_state"] != "reserved", f"seed {seed}: job {row['id']} still reserved"
    assert settled == delivered_units, f"seed {seed}: quotas differ from what was delivered"
