"""Database outages: PostgreSQL crashing under jobs in flight, and coming back, loses nothing."""

from __future__ import annotations

import asyncio

import pytest

from bot.i18n import t
from tests.e2e.conftest import BotFactory
from tests.e2e.harness import final_edits, ledger, until, wait_for_outcome
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.lemondata import LemonDataEmulator
from tests.postgres import LocalCluster

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(240)]

EPHEMERAL = 1 << 6
CHANNEL_MESSAGE = 4
DOWN_LINE = "database unreachable"
BACK_LINE = "database reachable again"
# Generous: two cores shared with CPU hogs, a server restarting, back-off up to 2 s.
SLOW = 90.0
LEASE_SECONDS = 2
# How long the server stays down: a scenario figure, not a wait for an event. Longer than
# a lease, so every lease the bot holds runs out in the outage.
OUTAGE_SECONDS = 3.0


async def test_a_postgres_crash_mid_run_delivers_every_job_once_and_refuses_meanwhile(
    crashable_postgres: LocalCluster,
    fake: FakeDiscord,
    emulator: LemonDataEmulator,
    make_bot: BotFactory,
) -> None:
    """Crash the server under three running tasks: the bot waits, refuses, then delivers."""
    cluster = crashable_postgres
    url = cluster.url
    emulator.hold_tasks = True
    bot = make_bot(env={"DATABASE_URL": url, "LEASE_SECONDS": str(LEASE_SECONDS)})
    await bot.start()
    members = [fake.alice, fake.bob, fake.owner]  # each within the running cap per member
    asked = [
        await fake.invoke("imagine", {"prompt": f"lemon {n}", "model": "gpt-image-2"}, user)
        for n, user in enumerate(members)
    ]
    for interaction in asked:
        await bot.race(fake.wait_for_callback(interaction, timeout=SLOW))

    async def all_running() -> bool:
        rows = await ledger(url)
        return len(rows) == len(asked) and all(r["state"] == "running" for r in rows)

    await bot.race(until(all_running, SLOW, "every job running"))

    await asyncio.to_thread(cluster.crash)
    await bot.wait_for_log(DOWN_LINE, timeout=SLOW)

    # Asked while the server is still down: answered at once, privately, from memory.
    late = await fake.invoke("imagine", {"prompt": "in the outage", "model": "gpt-image-2"})
    kind, data = await bot.race(fake.wait_for_callback(late, timeout=SLOW))
    assert kind == CHANNEL_MESSAGE
    assert int(data.get("flags") or 0) & EPHEMERAL
    assert data["content"] == t("refusal.database_unavailable", "en-US")
    assert len(emulator.creates()) == len(asked)  # nothing sent for it

    for task_id in emulator.tasks:  # the tasks finish while the database is away
        emulator.complete_task(task_id)
    await asyncio.sleep(OUTAGE_SECONDS)
    await asyncio.to_thread(cluster.restart)

    for interaction in asked:
        await bot.race(wait_for_outcome(fake, interaction, timeout=SLOW))

    async def all_delivered() -> bool:
        return all(r["delivery_state"] != "pending" for r in await ledger(url))

    await bot.race(until(all_delivered, SLOW, "every job delivered"))
    rows = await ledger(url)
    assert [(r["state"], r["quota_state"], r["delivered_via"]) for r in rows] == [
        ("succeeded", "settled", "edit")
    ] * len(asked)  # and no row for the request refused in the outage
    assert len(emulator.creates()) == len(asked)  # no second create
    assert [len(final_edits(interaction)) for interaction in asked] == [1] * len(asked)
    await bot.wait_for_log(BACK_LINE, timeout=SLOW)
    log = bot.log_of_start(1)
    assert (log.count(DOWN_LINE), log.count(BACK_LINE)) == (1, 1), log
    assert bot.running
