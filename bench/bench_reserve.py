"""Quota reservations: 200 at once, exact, and how long each waits (issue 13).

Target (issue 13): "Quota reservations. 200 concurrent reservations are exact, with
p99 < 5 ms."

200 ``Admissions.admit`` calls (how every accepted request reserves and stores its job)
start at once (``asyncio.gather``) on a fresh, migrated database: 50 members of one
server, each with a limit of 3 units and 4 requests of 1 unit, the requests interleaved
member by member. Exact means: every member has exactly 3 accepted and 1 refused
(``QuotaExceeded``), the units the ledger counts for each member (``quota_used``) are 3,
and 150 rows were stored. A round that is not exact fails the benchmark. Latency: from
a call's start to its return (refusals included), pooled over the rounds.

Baseline (same run, same engine): a bare ``store.jobs.insert`` of the same drafts, 200
at once, on its own fresh database: the floor of one row's transaction there. Rounds
alternate reserve, insert, insert, reserve, ... (each on a fresh database); one warm-up
round of each is left out. A second pair of rows does the same one call at a time
(concurrency 1): the cost of one reservation with no one to wait for.

SQLite: a fresh file per round. PostgreSQL: when ``TEST_DATABASE_URL`` is set or the
server binaries are on the machine, the throwaway cluster of ``tests/postgres.py`` (in
memory, ``fsync=off``) with a fresh database per round, copied from a migrated template;
otherwise the PostgreSQL rows are skipped with a note.

Run: ``python bench/bench_reserve.py`` (or ``python bench/run.py reserve``), ~15 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)

from bench._common import Report, percentile  # noqa: E402
from bot.background import Background  # noqa: E402
from bot.errors import QuotaExceeded  # noqa: E402
from bot.jobs.admission import Admissions  # noqa: E402
from bot.quota import QuotaService, api_user, window_of  # noqa: E402
from bot.store import JobDraft, Store  # noqa: E402
from tests.factories import draft  # noqa: E402

GUILD = 1
MEMBERS = 50
LIMIT = 3  # units per member per day
REQUESTS_PER_MEMBER = 4  # of 1 unit: 3 fit, 1 is refused
CONCURRENT = MEMBERS * REQUESTS_PER_MEMBER  # 200
ROUNDS = 6  # per side and engine, after one warm-up each
SERIAL_CALLS = 200  # the concurrency-1 rows: calls one after another
TARGET_P99_MS = 5.0
ROUND_TIMEOUT = 30.0
TIME_BUDGET = 20.0  # seconds per engine: rounds stop early (fewer samples) past it


def drafts() -> list[JobDraft]:
    """The 200 requests, member by member in turn (m1, m2, ..., m50, m1, ...)."""
    window = window_of(time.time())
    return [
        draft(
            guild_id=GUILD,
            user_id=100 + member,
            api_user=api_user(GUILD, 100 + member),
            interaction_id=1000 + turn * MEMBERS + member,
            quota_units=1,
            quota_window=window,  # admit sets it again; insert keeps it
        )
        for turn in range(REQUESTS_PER_MEMBER)
        for member in range(MEMBERS)
    ]


@dataclass
class Side:
    """The samples of one kind of call on one engine."""

    latencies: list[float] = field(default_factory=list)  # seconds
    walls: list[float] = field(default_factory=list)  # seconds per round of 200
    serial: list[float] = field(default_factory=list)  # concurrency 1

    def ms(self, pct: float) -> float:
        return percentile(self.latencies, pct) * 1000


@dataclass
class EngineResult:
    name: str
    reserve: Side = field(default_factory=Side)
    insert: Side = field(default_factory=Side)
    exact_rounds: int = 0
    rounds: int = 0
    detail: str = ""


async def _unfinished(store: Store) -> int:
    """Count the jobs still generating or whose outcome is not yet delivered."""
    row = await store.db.fetchone(
        "SELECT COUNT(*) AS n FROM jobs WHERE state IN ('queued', 'submitted', 'running') "
        "OR delivery_state = 'pending'"
    )
    return int(row["n"]) if row else 0


async def _timed(call: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    began = time.perf_counter()
    try:
        outcome: Any = await call()
    except QuotaExceeded as exc:
        outcome = exc
    return time.perf_counter() - began, outcome


async def reserve_round(store: Store, side: Side | None) -> str:
    """200 reservations at once; check exactness (raise if not); return a summary."""
    admissions = Admissions(store, QuotaService(store, period_limit=LIMIT), background=Background())
    requests = drafts()
    began = time.perf_counter()
    async with asyncio.timeout(ROUND_TIMEOUT):
        results = await asyncio.gather(*(_timed(lambda d=d: admissions.admit(d)) for d in requests))
    wall = time.perf_counter() - began
    accepted: Counter[int] = Counter()
    refused: Counter[int] = Counter()
    for d, (_, outcome) in zip(requests, results, strict=True):
        (refused if isinstance(outcome, QuotaExceeded) else accepted)[d.user_id] += 1
    window = window_of(time.time())
    used = {
        d.user_id: await store.quota.quota_used(GUILD, d.user_id, window)
        for d in requests[:MEMBERS]
    }
    stored = await _unfinished(store)
    expected = min(REQUESTS_PER_MEMBER, LIMIT)
    wrong = [
        member
        for member in used
        if accepted[member] != expected
        or used[member] != expected
        or refused[member] != REQUESTS_PER_MEMBER - expected
    ]
    if wrong or stored != MEMBERS * expected or sum(used.values()) != stored:
        raise RuntimeError(
            f"reservations not exact: members {wrong[:5]} accepted "
            f"{[accepted[m] for m in wrong[:5]]}, used {[used[m] for m in wrong[:5]]}; "
            f"{stored} rows stored, {sum(used.values())} units used"
        )
    if side is not None:
        side.latencies += [latency for latency, _ in results]
        side.walls.append(wall)
    return (
        f"{sum(accepted.values())} accepted / {sum(refused.values())} refused, "
        f"{stored} rows, {sum(used.values())} units used, in {admissions.batches} transactions"
    )


async def insert_round(store: Store, side: Side | None) -> None:
    """The baseline: the same 200 drafts inserted at once, no quota check."""
    requests = drafts()
    began = time.perf_counter()
    async with asyncio.timeout(ROUND_TIMEOUT):
        results = await asyncio.gather(
            *(_timed(lambda d=d: store.jobs.insert_many([(d, ())])) for d in requests)
        )
    wall = time.perf_counter() - began
    if await _unfinished(store) != CONCURRENT:
        raise RuntimeError("the baseline did not store every row")
    if side is not None:
        side.latencies += [latency for latency, _ in results]
        side.walls.append(wall)


async def serial(store: Store, side: Side, reserve: bool) -> None:
    """One call at a time (concurrency 1); members in turn, every call accepted."""
    admissions = Admissions(
        store, QuotaService(store, period_limit=SERIAL_CALLS), background=Background()
    )
    for d in drafts()[:SERIAL_CALLS]:
        call = admissions.admit if reserve else store.jobs.insert
        latency, _ = await _timed(lambda d=d, call=call: call(d))
        side.serial.append(latency)


Opener = Callable[[], contextlib.AbstractAsyncContextManager[Store]]


async def run_engine(name: str, fresh: Opener) -> EngineResult:
    """Warm-up, then rounds in ABBA order, each on a fresh database; then the serial rows."""
    result = EngineResult(name)
    deadline = time.perf_counter() + TIME_BUDGET
    async with fresh() as store:
        result.detail = await reserve_round(store, None)  # warm-up
    async with fresh() as store:
        await insert_round(store, None)
    order = ["reserve", "insert", "insert", "reserve"]
    for i in range(ROUNDS * 2):
        if time.perf_counter() > deadline:
            break
        kind = order[i % 4]
        async with fresh() as store:
            if kind == "reserve":
                result.detail = await reserve_round(store, result.reserve)
                result.exact_rounds += 1
                result.rounds += 1
            else:
                await insert_round(store, result.insert)
    for reserve, side in ((False, result.insert), (True, result.reserve)):
        async with fresh() as store:
            await serial(store, side, reserve)
    return result


@contextlib.contextmanager
def postgres_server() -> Iterator[Any]:
    """The tests' PostgreSQL server (TEST_DATABASE_URL or a throwaway cluster), or None."""
    from tests import postgres

    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    cluster = None
    if not url:
        binaries = postgres.find_binaries()
        if binaries is None:
            yield None, postgres.NOT_FOUND
            return
        try:
            cluster = postgres.LocalCluster(binaries)
            url = cluster.start()
        except RuntimeError as exc:
            if cluster is not None:
                cluster.stop()
            yield None, f"the server could not start: {exc}"
            return
    try:
        server = postgres.PostgresServer(url)
        try:
            yield server, "throwaway cluster" if cluster is not None else "TEST_DATABASE_URL"
        finally:
            server.close()
    finally:
        if cluster is not None:
            cluster.stop()


async def run() -> Report:
    """Measure SQLite, then PostgreSQL when there is one; return the report."""
    results: list[EngineResult] = []
    with tempfile.TemporaryDirectory(prefix="lemonbot-reserve-") as tmp:
        files = (Path(tmp) / f"r{i}.db" for i in range(1_000))

        @contextlib.asynccontextmanager
        async def fresh_sqlite() -> AsyncIterator[Store]:
            async with Store.open(next(files)) as store:
                yield store

        results.append(await run_engine("SQLite", fresh_sqlite))

    pg_note = ""
    with postgres_server() as (server, how):
        if server is None:
            pg_note = f"PostgreSQL skipped: {how}"
        else:
            loop = asyncio.get_running_loop()

            @contextlib.asynccontextmanager
            async def fresh_postgres() -> AsyncIterator[Store]:
                name = await loop.run_in_executor(None, server.create_database)
                try:
                    async with Store.open(server.url(name)) as store:
                        yield store
                finally:
                    await loop.run_in_executor(None, server.drop_database, name)

            results.append(await run_engine("PostgreSQL", fresh_postgres))
            pg_note = (
                f"PostgreSQL: {how} from tests/postgres.py (fsync=off, in memory when "
                "/dev/shm has room), a fresh database per round, the bot's pool (10 connections)"
            )
    return report(results, pg_note)


def report(results: list[EngineResult], pg_note: str) -> Report:
    rep = Report(
        title=f"Quota reservations: {CONCURRENT} concurrent admissions "
        f"({MEMBERS} members x {REQUESTS_PER_MEMBER} requests, limit {LIMIT})",
        baseline=f"bare store.jobs.insert of the same drafts, {CONCURRENT} at once, same "
        "engine, fresh database per round; rounds interleaved reserve, insert, insert, "
        "reserve; one warm-up round each left out",
    )
    for r in results:
        res, ins = r.reserve, r.insert
        for label, q in (("p50", 50), ("p95", 95), ("p99", 99)):
            rep.add(f"{r.name} c={CONCURRENT} {label}", res.ms(q), "ms", ins.ms(q))
        rep.add(f"{r.name} c={CONCURRENT} max", res.ms(100), "ms", ins.ms(100))
        wall = min(res.walls) * 1000 / CONCURRENT
        rep.add(
            f"{r.name} c={CONCURRENT} wall / call", wall, "ms", min(ins.walls) * 1000 / CONCURRENT
        )
        for label, q in (("p50", 50), ("p99", 99)):
            rep.add(
                f"{r.name} c=1 {label}",
                percentile(res.serial, q) * 1000,
                "ms",
                percentile(ins.serial, q) * 1000,
            )
    for r in results:
        p99 = r.reserve.ms(99)
        rep.notes.append(
            f"{r.name}: exact in {r.exact_rounds}/{r.rounds} rounds (+ warm-up): every member "
            f"{min(REQUESTS_PER_MEMBER, LIMIT)} accepted and "
            f"{REQUESTS_PER_MEMBER - min(REQUESTS_PER_MEMBER, LIMIT)} refused, quota_used = "
            f"{LIMIT} each ({r.detail}); target p99 < {TARGET_P99_MS:.0f} ms at "
            f"c={CONCURRENT}: {'PASS' if p99 < TARGET_P99_MS else 'FAIL'} ({p99:.1f} ms; "
            f"one call alone: p99 {percentile(r.reserve.serial, 99) * 1000:.2f} ms)"
        )
    rep.notes += [
        f"latency = from calling admit (or insert) to its return, refusals "
        f"included, {len(results[0].reserve.latencies):,} samples a side on SQLite; "
        f"'wall / call' = the fastest round's wall time / {CONCURRENT} (the cost of one call "
        f"when they queue); c=1 = {SERIAL_CALLS} calls one after another on a fresh database",
        pg_note,
    ]
    return rep


if __name__ == "__main__":
    print(asyncio.run(run()).render())
