"""Builders of rows for tests: a job draft and a finished job, with overrides."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from bot.store import InputImage, Job, JobDraft, Store

NOW = 1_780_000_000.0
MODEL = "gemini-2.5-flash-image"


def draft(**overrides) -> JobDraft:
    values = dict(
        guild_id=1,
        channel_id=2,
        user_id=3,
        api_user="discord:1:3",
        application_id=4,
        interaction_id=5,
        interaction_token="tok",
        token_expires_at=1000.0,
        upload_limit=10_000_000,
        model="nano-banana",
        options={"prompt": "a cat", "model": "nano-banana"},
        prompt="a cat",
        request={"model": "nano-banana", "prompt": "a cat"},
        quota_units=1,
        quota_window="2026-11-24",
    )
    values.update(overrides)
    return JobDraft(**values)


def job(**overrides: Any) -> Job:
    values: dict[str, Any] = dict(
        id=1,
        guild_id=10,
        channel_id=20,
        user_id=30,
        api_user="discord:10:30",
        application_id=40,
        interaction_id=None,
        interaction_token=None,
        token_expires_at=None,
        message_id=None,
        upload_limit=1,
        model=MODEL,
        options={"prompt": "p"},
        prompt="p",
        request={},
        state="succeeded",
        task_id=None,
        poll_url=None,
        quota_units=1,
        quota_state="settled",
        quota_window="w",
        result_urls=[],
        revised_prompt=None,
        error_code=None,
        error_message=None,
        delivery_state="delivered",
        delivered_via=None,
        delivered_channel_id=None,
        delivered_message_id=None,
        created_at=NOW,
        submitted_at=None,
        finished_at=None,
        delivered_at=None,
        updated_at=NOW,
    )
    values.update(overrides)
    return Job(**values)


def costly_rules(budget: int | None = None) -> list[str]:
    """Regexes as expensive as the blocklist's limits allow, filling a server's budget.

    ``😀.{20}N``: on a prompt of random 😀 and 😁 (:func:`costly_prompt`) RE2's DFA runs
    out of memory and each search simulates the program, 10-20 ms per entry on a
    4,000-character prompt; 23 of them fill :data:`MAX_GUILD_PROGRAM_SIZE`. One of the
    worst shapes measured per instruction (bench/bench_blocklist.py searches for it).
    """
    from bot.moderation.blocklist import MAX_GUILD_PROGRAM_SIZE, compile_rule

    budget = MAX_GUILD_PROGRAM_SIZE if budget is None else budget
    patterns: list[str] = []
    used = 0
    for index in range(MAX_GUILD_PROGRAM_SIZE):
        pattern = f"😀.{{20}}{index}"
        cost = compile_rule(pattern, True).cost
        if used + cost > budget:
            break
        patterns.append(pattern)
        used += cost
    return patterns


def costly_prompt(length: int = 4000, seed: int = 0) -> str:
    """A prompt of random 😀 and 😁: the worst case for :func:`costly_rules`."""
    rng = random.Random(seed)
    return "".join(rng.choice("😀😁") for _ in range(length))


async def insert_job(
    store: Store, draft: JobDraft, *, now: float | None = None, inputs: Sequence[InputImage] = ()
) -> Job:
    """Store one new job, ``queued`` with its quota reserved (the bot admits in groups)."""
    return (await store.jobs.insert_many([(draft, inputs)], now=now))[0]


async def unfinished_jobs(store: Store) -> list[Job]:
    """Return the jobs still generating or whose outcome is not yet delivered."""
    rows = await store.db.fetchall(
        "SELECT * FROM jobs WHERE state IN ('queued', 'submitted', 'running') "
        "OR delivery_state = 'pending' ORDER BY id"
    )
    return [Job.from_row(r) for r in rows]
