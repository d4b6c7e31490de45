"""Several real bot processes (different shards) on one PostgreSQL, the emulator, one Discord.

Every promise of one process holds for three: exact quotas, no job lost or done twice
(a killed process's jobs are finished by another), one request budget, and commands
synced by the holder of shard 0 alone.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from bot.store import Store
from tests.e2e.conftest import BotFactory
from tests.e2e.harness import BotProcess, final_edits, ledger, until, wait_for_outcome
from tests.fakes.fake_discord import FakeDiscord, FakeInteraction
from tests.fakes.lemondata import LemonDataEmulator

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(90)]

SHARDS = 3
# A busy loop, bounded in time: the machine CI runs on is rarely idle.
HOG = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end: pass"


@pytest.fixture
def busy_machine() -> Iterator[None]:
    """Keep every core busy with a CPU hog while the test runs (as a loaded CI machine)."""
    hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(os.cpu_count() or 2)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()


@pytest.fixture
def start_processes(
    postgres_url: str, fake: FakeDiscord, make_bot: BotFactory
) -> Callable[..., Awaitable[list[BotProcess]]]:
    """Start one bot process per shard (each with its own token label) on one database.

    ``postgres_url`` comes first: its database outlives the processes, stopped before.
    """

    async def start(count: int = SHARDS, **env: str) -> list[BotProcess]:
        bots = []
        for shard in range(count):
            token = f"{fake.bot_token}-p{shard}"
            fake.accept_token(token, f"p{shard}")
            bot = make_bot(
                f"p{shard}",
                env={
                    "DISCORD_TOKEN": token,
                    "DATABASE_URL": postgres_url,
                    "SHARD_COUNT": str(count),
                    "SHARD_IDS": str(shard),
                    "LEASE_SECONDS": "2",
                    **env,
                },
            )
            await bot.start()
            bots.append(bot)
        return bots

    return start


async def invoke_via(
    fake: FakeDiscord, shard: int, options: dict[str, Any], *, count: int = SHARDS, **kw: Any
) -> FakeInteraction:
    """Send a /imagine of the default server to the process holding ``shard`` of ``count``."""
    payload = fake.interaction_payload("imagine", options, **kw)
    await fake.dispatch(
        "INTERACTION_CREATE", payload, guild_id=fake.guild_id_for_shard(shard, count)
    )
    return fake.get_interaction(int(payload["id"]))


async def test_only_the_holder_of_shard_zero_syncs_commands(
    fake: FakeDiscord, start_processes: Callable[..., Awaitable[list[BotProcess]]]
) -> None:
    """Three processes identify their own shards; one sync, by the process with shard 0."""
    bots = await start_processes()
    assert fake.identified_shards == [0, 1, 2]
    syncs = [r for r in fake.requests if r.method == "PUT" and r.path.endswith("/commands")]
    assert [r.bot for r in syncs] == ["p0"]
    for bot in bots[1:]:
        assert "not syncing commands: shard 0 runs in another process" in bot.log_text()


async def test_two_processes_reserving_for_one_member_never_exceed_the_quota(
    fake: FakeDiscord,
    emulator: LemonDataEmulator,
    postgres_url: str,
    start_processes: Callable[..., Awaitable[list[BotProcess]]],
) -> None:
    """A member with 2 images left, eight requests at once through two processes: 2 pass."""
    bots = await start_processes(2, DAILY_IMAGE_QUOTA="2")
    emulator.hold_tasks = True
    interactions = await asyncio.gather(
        *(
            invoke_via(fake, i % 2, {"prompt": f"lemon {i}", "model": "gpt-image-2"}, count=2)
            for i in range(8)
        )
    )
    await asyncio.gather(*(fake.wait_for_callback(i, timeout=20) for i in interactions))
    # Both processes took the member's requests (discord.py logs each dispatch at DEBUG).
    assert all("Dispatching event interaction" in b.log_text() for b in bots)
    rows = await ledger(postgres_url)
    charged = [r for r in rows if r["quota_state"] in ("reserved", "settled")]
    assert sum(r["quota_units"] for r in charged) == 2  # gpt-image-2 weighs 2: one request
    refused = [i for i in interactions if i.callbacks and i.ephemeral]
    assert len(refused) == 8 - len(charged)


async def test_two_processes_never_overrun_one_dollar_budget(
    fake: FakeDiscord,
    emulator: LemonDataEmulator,
    postgres_url: str,
    start_processes: Callable[..., Awaitable[list[BotProcess]]],
) -> None:
    """$0.20 for the server, 20 requests of $0.039 at once through two processes: 5 pass.

    Settled in both processes, the spend crosses 50 % and 80 %: the audit channel hears
    each threshold once, whichever process settled the job that crossed it.
    """
    async with Store.open(postgres_url) as store:
        await store.guilds.update_settings(fake.guild_id, log_channel_id=fake.channel2_id)
        await store.spend.set_budget(
            fake.guild_id,
            amount=200_000,
            period="day",
            member_cap=None,
            allow_unpriced=False,
            set_by=fake.mod.id,
        )
    await start_processes(2)
    emulator.hold_tasks = True
    members = [fake.add_user(f"b{i}") for i in range(20)]
    interactions = await asyncio.gather(
        *(
            invoke_via(
                fake, i % 2, {"prompt": f"lemon {i}", "model": "nano-banana"}, count=2, user=m
            )
            for i, m in enumerate(members)
        )
    )
    await asyncio.gather(*(fake.wait_for_callback(i, timeout=20) for i in interactions))
    rows = await ledger(postgres_url)
    admitted = [r for r in rows if r["quota_state"] in ("reserved", "settled")]
    assert len(admitted) == 5 and sum(r["cost_estimate"] for r in admitted) == 195_000
    refused = [i for i in interactions if i.callbacks and i.ephemeral]
    assert len(refused) == 15
    assert all("image budget for today ($0.20)" in i.callbacks[0][1]["content"] for i in refused)
    for task_id in list(emulator.tasks):
        emulator.complete_task(task_id)

    async def settled() -> bool:
        rows = await ledger(postgres_url)
        done = [r for r in rows if r["quota_state"] == "settled"]
        return len(done) == 5 and all(r["delivery_state"] == "delivered" for r in done)

    await until(settled, 60, "the five admitted jobs settled and delivered")
    rows = await ledger(postgres_url)
    assert sum(r["cost"] for r in rows if r["quota_state"] == "settled") == 195_000  # 97.5 %
    await fake.wait_for(
        lambda: "Image budget: 80% reached" in alert_titles(fake),
        20,
        what="the 80 % alert in the audit channel",
    )
    titles = alert_titles(fake)
    async with Store.open(postgres_url) as store:
        claimed = await store.db.fetchall("SELECT threshold FROM budget_alerts ORDER BY threshold")
    assert [r["threshold"] for r in claimed] == [50, 80]  # each claimed once, in one row
    assert sorted(titles) == ["Image budget: 50% reached", "Image budget: 80% reached"]


def alert_titles(fake: FakeDiscord) -> list[str]:
    """The budget alerts posted in the audit channel (one per threshold and period)."""
    return [
        e.get("title") or ""
        for m in fake.channel_messages(fake.channel2_id)
        for e in m.get("embeds") or []
        if (e.get("title") or "").startswith("Image budget:")
    ]


async def test_a_killed_processs_jobs_are_finished_by_another_once(
    fake: FakeDiscord,
    emulator: LemonDataEmulator,
    postgres_url: str,
    start_processes: Callable[..., Awaitable[list[BotProcess]]],
) -> None:
    """SIGKILL the process running four tasks: the two others compete for them, each job
    is taken over by exactly one of them within the lease, and delivered once."""
    bots = await start_processes()
    emulator.hold_tasks = True
    members = [fake.alice, fake.bob, *(fake.add_user(f"m{i}") for i in range(2))]
    interactions = [
        await invoke_via(fake, 0, {"prompt": f"lemon {i}", "model": "gpt-image-2"}, user=m)
        for i, m in enumerate(members)
    ]
    await bots[0].race(emulator.wait_for(lambda: len(emulator.tasks) == 4, timeout=20))

    async def all_running() -> bool:
        rows = await ledger(postgres_url)
        return len(rows) == 4 and all(r["state"] == "running" for r in rows)

    await until(all_running, 20, "four running tasks")
    await bots[0].kill()
    for task_id in list(emulator.tasks):
        emulator.complete_task(task_id)
    survivors = bots[1:]
    edits = await survivors[0].race(
        survivors[1].race(
            asyncio.gather(*(wait_for_outcome(fake, i, timeout=30) for i in interactions))
        )
    )
    assert all(e.payload["embeds"][0]["title"] == "Here is your image" for e in edits)
    assert len(emulator.creates()) == 4  # no task created twice
    rows = await ledger(postgres_url)
    assert all(r["delivery_state"] == "delivered" for r in rows)
    owners = {r["lease_owner"].split(":")[1] for r in rows}
    assert owners <= {str(b.pid) for b in survivors}, owners  # never the dead one
    assert all(len(final_edits(i)) == 1 and not i.followups for i in interactions)
    assert any("taken" in b.log_text() for b in survivors)


@pytest.mark.usefixtures("busy_machine")
async def test_three_processes_share_one_budget_under_a_tight_limit(
    fake: FakeDiscord,
    emulator: LemonDataEmulator,
    start_processes: Callable[..., Awaitable[list[BotProcess]]],
) -> None:
    """6 requests per 2 s for the key, jobs on every shard: all delivered, no 429,
    on a machine whose every core is busy (requests then reach the gateway late).

    The gateway announces its limit from the first answer (the model list each process
    fetches at start), as LemonData's does; the processes share what they learn.
    """
    emulator.rate_limit = 6
    emulator.rate_window = 2.0
    emulator.reset_rate_limit()
    await start_processes()
    members = [fake.alice, fake.bob, *(fake.add_user(f"m{i}") for i in range(4))]
    interactions = [
        await invoke_via(fake, i % SHARDS, {"prompt": f"lemon {i}", "model": "gpt-image-2"}, user=m)
        for i, m in enumerate(members)
    ]
    edits = await asyncio.gather(*(wait_for_outcome(fake, i, timeout=60) for i in interactions))
    assert all(e.payload["embeds"][0]["title"] == "Here is your image" for e in edits)
    assert emulator.rate_limited_count == 0


# The gateway's plan changes between windows, as in the issue (60 per 60 s, then 6 per
# 5 s, then 60 per 60 s), with every time divided by five so the test takes half a
# minute: 60 per 12 s, 6 per 1 s, 60 per 12 s.
PHASES = ((60, 12.0, 40), (6, 1.0, 30), (60, 12.0, 40))  # limit, window, requests
MIN_THROUGHPUT = 0.8  # of the announced limit, when fewer than one window's worth are sent
# A busy machine may make a process miss a window's start: the later creates may fall
# behind the announced rate by at most this many windows.
SLACK_WINDOWS = 1.5


async def test_two_processes_follow_the_gateway_when_it_changes_its_limit(
    fake: FakeDiscord,
    emulator: LemonDataEmulator,
    start_processes: Callable[..., Awaitable[list[BotProcess]]],
) -> None:
    """60/12 s, then 6/1 s, then 60/12 s: no 429, and in each phase the creates go at the
    announced rate, at most one and a half windows behind it (or all at once when fewer)."""
    emulator.rate_reset_in_milliseconds = True
    emulator.rate_limit, emulator.rate_window = PHASES[0][:2]
    emulator.reset_rate_limit()
    await start_processes(
        2,
        DAILY_IMAGE_QUOTA="1000",
        MAX_RUNNING_JOBS_PER_USER="100",
        MAX_QUEUED_JOBS_PER_USER="100",
        MAX_RUNNING_JOBS_PER_GUILD="100",
        MAX_QUEUED_JOBS_PER_GUILD="100",
        # Creates wait seconds for the budget here: the fixture's 2 s lease, meant for
        # quick take-overs, could lapse on a busy machine and hand a create in flight over.
        LEASE_SECONDS="20",
    )
    creates: list[list[float]] = []
    for number, (limit, window, count) in enumerate(PHASES):
        if number:  # the gateway's new plan starts when its current window ends
            await asyncio.sleep(max(0.0, emulator.rate_window_end() - emulator.clock()) + 0.2)
            emulator.rate_limit, emulator.rate_window = limit, window
        start = len(emulator.rate_log)
        interactions = await asyncio.gather(
            *(
                invoke_via(fake, i % 2, {"prompt": f"lemon {i}", "model": "dall-e-3"}, count=2)
                for i in range(count)
            )
        )
        edits = await asyncio.gather(*(wait_for_outcome(fake, i, timeout=60) for i in interactions))
        assert all(e.payload["embeds"][0]["title"] == "Here is your image" for e in edits)
        creates.append(
            [
                e.at
                for e in emulator.rate_log[start:]
                if e.admitted and e.path == "/v1/images/generations"
            ]
        )
        assert len(creates[-1]) == count
    assert emulator.rate_limited_count == 0
    for (limit, window, count), times in zip(PHASES, creates, strict=True):
        # After the first window's worth, the rest go at the announced rate or faster.
        later = count - min(count, limit)
        took = times[-1] - times[0]
        if later:  # e.g. 24 after the first 6 at 6 per 1 s: 4 s, 5.5 s at most
            assert took <= (later / limit + SLACK_WINDOWS) * window, (limit, window, took)
        else:  # fewer than the limit: no waiting for the budget's sake
            assert count / max(took, 1e-9) >= MIN_THROUGHPUT * limit / window, (limit, took)
