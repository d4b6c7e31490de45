"""Benchmark 1: the acknowledgement path of /imagine, ``JobService.accept()``.

``accept`` is everything /imagine does before it answers Discord, which must happen
within 3 seconds: validate the options against the model's family and build the API
body (for gpt-image-2 that includes the size solver), check the blocked-user list and
the server's prompt blocklist (cached per server), then admit it: room in the server's
queue, the member's quota and the job row, in one transaction shared with the requests
that arrive meanwhile (``bot/jobs/admission.py``).

The service is the one ``bot/client.py`` builds: a ``LemonBot`` constructed and
entered, never logged in (its services exist after ``__init__``), talking to the LemonData emulator
on 127.0.0.1 only to load the model list once before timing starts. ``accept`` does
no HTTP once the list is loaded.

Baseline: ``JobStore.insert`` of the same ``JobDraft`` at the same concurrency,
on its own fresh database: the floor set by SQLite + aiosqlite for writing one row.

Run: ``python bench/bench_accept.py`` (or ``python bench/run.py accept``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# discord.py imports audioop (voice support), deprecated since Python 3.11.
warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)

import httpx  # noqa: E402

from bench._common import LoadResult, Report, closed_loop  # noqa: E402
from bot.catalog import ImagineOptions, validate  # noqa: E402
from bot.client import LemonBot  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.jobs import JobRequest  # noqa: E402
from bot.jobs.service import draft_for as jobs_draft_for  # noqa: E402
from bot.quota import window_of  # noqa: E402
from bot.store import JobDraft, JobFilter, Store  # noqa: E402
from tests.fakes.lemondata import LemonDataEmulator  # noqa: E402

SEGMENT_CALLS = {1: 250, 50: 400}  # calls per segment, by concurrency
ORDER = ("insert", "accept", "accept", "insert")  # ABBA: both see early and late load
WARMUP = 50  # untimed calls on each database first
BUDGET_SECONDS = 4.0  # per segment; a segment stops early (fewer samples) past this
CONCURRENCIES = (1, 50)
HISTORY_JOBS = 20_000  # finished jobs already in the ledger for the "history" run
GUILDS = 50  # requests go round-robin over 50 servers...
MEMBERS = 20  # ...of 20 members each (1,000 members; a member stays in one server)
WORD_RULES = ("gore", "nsfw", "blood", "weapon", "nude", "violence", "hate", "drugs")
REGEX_RULES = (r"\bcelebrit(y|ies)\b", r"(?:real|famous)\s+person")
OPTIONS = ImagineOptions(
    prompt="A lighthouse on a basalt cliff at dusk, oil painting, warm light, gulls",
    model="gpt-image-2",
    ratio="16:9",
    resolution="2k",
    quality="high",
)


def settings_for(base_url: str, api_key: str, db_path: Path) -> Settings:
    """The bot's default settings (caps, quota), pointed at the emulator and a temp file."""
    return Settings(
        discord_token="bench-not-used",
        lemondata_api_key=api_key,
        lemondata_base_url=base_url,
        database=db_path,
    )


def request_for(index: int) -> JobRequest:
    """Spread requests round-robin over the servers and their members.

    Nothing is dispatched, so every accepted job stays queued: after its first
    request a server's queue is never empty, and every queue check takes its longest
    path (it also counts the member's own waiting jobs). The run stores at most
    ``max_queued_jobs_per_guild`` (25) jobs per server, so nothing is refused.
    """
    return JobRequest(
        options=OPTIONS,
        guild_id=900_000 + index % GUILDS,
        channel_id=800_000 + index % GUILDS,
        user_id=700_000 + index % (GUILDS * MEMBERS),
        application_id=600_000,
        interaction_id=10_000_000 + index,
        interaction_token=f"bench-token-{index}",
        upload_limit=10 * 1024 * 1024,
        received_at=time.time(),
    )


def draft_for(index: int, settings: Settings) -> JobDraft:
    """The draft ``accept`` would build for ``request_for(index)`` (for the baseline)."""
    request = request_for(index)
    options = validate(request.options, lambda _model: True)
    draft = jobs_draft_for(request, options, settings.model_weights)
    return replace(draft, quota_window=window_of(time.time()))


async def add_blocklists(db: Store) -> None:
    """Give every server a realistic blocklist (words and regexes) that does not match."""
    for guild in range(900_000, 900_000 + GUILDS):
        for word in WORD_RULES:
            await db.guilds.add_prompt_rule(guild, word, False, 1)
        for pattern in REGEX_RULES:
            await db.guilds.add_prompt_rule(guild, pattern, True, 1)


def seed_history(path: Path, count: int) -> None:
    """Add ``count`` finished jobs spread over the benchmark's servers (a months-old bot)."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
            INSERT INTO jobs (guild_id, channel_id, user_id, api_user, application_id,
                upload_limit, model, options, prompt, request, state, quota_units,
                quota_state, quota_window, delivery_state, created_at, updated_at)
            SELECT 900000 + i % ?, 1, 1000 + i % 20, 'discord:x', 1, 10485760,
                'gpt-image-2', '{}', 'old prompt', '{}', 'succeeded', 2, 'settled',
                '2026-01-01', 'delivered', 0, 0
            FROM n
            """,
            (count, GUILDS),
        )


async def measure(
    lemondata: LemonDataEmulator,
    http: httpx.AsyncClient,
    folder: Path,
    concurrency: int,
    history: int = 0,
) -> dict[str, LoadResult]:
    """Time accept and the bare insert at one concurrency, in interleaved segments.

    Each side has its own fresh database (accept's gets the blocklists); segments run
    in ``ORDER`` and each side's samples are pooled.
    """
    settings = settings_for(
        lemondata.base_url, lemondata.api_key, folder / f"accept-c{concurrency}-h{history}.db"
    )
    if history:
        async with Store.open(settings.database):
            pass  # create the schema
        seed_history(settings.database, history)
    per_segment = SEGMENT_CALLS[concurrency]
    total = per_segment * ORDER.count("accept")
    if (total + WARMUP) / GUILDS > settings.max_queued_jobs_per_guild:
        raise RuntimeError("too many calls: the servers' queues would fill up")
    async with (
        Store.open(settings.database) as accept_db,
        Store.open(folder / f"insert-c{concurrency}-h{history}.db") as insert_db,
    ):
        await add_blocklists(accept_db)
        bot = LemonBot(settings=settings, store=accept_db, http=http)
        await bot.__aenter__()  # discord.py's set-up without logging in (close needs it)
        try:
            await bot.catalog.refresh()  # the one model-list fetch, before timing
            if not bot.catalog.loaded:
                raise RuntimeError("the emulator's model list could not be loaded")
            jobs = bot.jobs
            drafts = [draft_for(i, settings) for i in range(total)]

            async def accept(index: int) -> None:
                await jobs.accept(request_for(index))

            async def insert(index: int) -> None:
                await insert_db.jobs.insert_many([(drafts[index], ())])

            ops = {"accept": accept, "insert": insert}
            for index in range(WARMUP):
                await accept(-1 - index)
                await insert_db.jobs.insert_many(
                    [(replace(drafts[0], interaction_id=-1 - index), ())]
                )
            results: dict[str, LoadResult] = {}
            done = {"accept": 0, "insert": 0}
            requests_before = len(lemondata.requests)
            for kind in ORDER:
                segment = await closed_loop(
                    ops[kind],
                    count=per_segment,
                    concurrency=concurrency,
                    budget=BUDGET_SECONDS,
                    first=done[kind],
                )
                done[kind] += segment.count
                results[kind] = results[kind] + segment if kind in results else segment
            if len(lemondata.requests) != requests_before:
                raise RuntimeError("accept made HTTP requests while being timed")
            stored = len(
                await accept_db.jobs.search(JobFilter(), limit=total + WARMUP + history + 1)
            )
            if stored != done["accept"] + WARMUP + history:
                raise RuntimeError(f"expected {done['accept'] + WARMUP} jobs, found {stored}")
            return results
        finally:
            await bot.close()


async def run() -> Report:
    report = Report(
        title="Acknowledgement path: JobService.accept() on a fresh SQLite file",
        baseline="bare JobStore.insert of the same JobDraft, same concurrency, "
        "its own fresh SQLite file (the SQLite + aiosqlite floor); segments interleaved "
        "insert, accept, accept, insert and each side's samples pooled",
    )
    with tempfile.TemporaryDirectory(prefix="lemonbot-bench-") as tmp:
        folder = Path(tmp)
        async with LemonDataEmulator() as lemondata, httpx.AsyncClient() as http:
            runs = [(c, 0) for c in CONCURRENCIES] + [(1, HISTORY_JOBS)]
            for concurrency, history in runs:
                results = await measure(lemondata, http, folder, concurrency, history)
                accepted, inserted = results["accept"], results["insert"]
                tag = f"c={concurrency}" + (f" +{history // 1000}k history" if history else "")
                for pct in (50, 95, 99):
                    report.add(f"accept {tag} p{pct}", accepted.ms(pct), "ms", inserted.ms(pct))
                report.add(
                    f"accept {tag} throughput", accepted.throughput, "req/s", inserted.throughput
                )
                report.notes.append(
                    f"{tag}: {accepted.count} accepts in {accepted.wall:.2f} s, "
                    f"{inserted.count} inserts in {inserted.wall:.2f} s"
                )
    report.notes += [
        "latency = from calling accept() to its return; at c=50 it includes waiting "
        "for the one database connection (transactions are serialised), which is what "
        "a member in a burst of 50 simultaneous /imagine would wait",
        "request: gpt-image-2 16:9 2k quality high (runs the size solver); default "
        "settings; 50 servers x 20 members, each server with a 10-entry blocklist "
        "(8 words, 2 regexes) and a non-empty queue (0-21 jobs, the longest check path)",
        "Discord's deadline for the first answer is 3,000 ms",
        f"history: the ledger already holds {HISTORY_JOBS:,} finished jobs over the 50 "
        "servers (how a bot looks after months); the counts accept runs must not scan them",
    ]
    return report


def main() -> None:
    print(asyncio.run(run()).render())


if __name__ == "__main__":
    main()
