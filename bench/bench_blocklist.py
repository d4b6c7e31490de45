"""Benchmark 8: one server holding the most expensive blocklist allowed (issue 19, item 1).

``ModerationService.check_request`` matches a server's blocklist in a thread of
``bot.moderation.matching`` (one match per server at a time, a 1 s limit that refuses),
within the limits of ``bot.moderation.blocklist`` (2,000 instructions per entry, 4,000
per server). This measures what a server at those limits costs everyone else.

1. **The worst allowed set.** Several shapes known to defeat RE2's DFA (a marker, then
   a counted run of any character, ``😀.{20}N``; the same over ASCII ``a[ab]{n}c``, over
   ``中文``...) each fill one server's budget with distinct entries, and are searched in
   a crafted 4,000-character prompt (random characters of the shape's alphabet: the
   most that validation lets through). Each set's time for one prompt (best of 3, in
   the calling thread) is printed; the slowest is "the worst allowed set" below.
2. **Event-loop lag and the other servers.** Server A holds the worst set; 4 of its
   members send the crafted prompt again and again (each check waits for A's previous
   one: they queue, and those past 1 s are refused). Meanwhile server B, with a
   10-entry blocklist, checks an ordinary prompt again and again, and a sampler task
   sleeps 10 ms again and again, recording each overshoot: the event-loop lag.
   Segments of 3 s, in ABBA order against the **baseline**: the same load with A's
   blocklist empty.
3. **Before this change**, for comparison: the same set matched on the event loop (as
   ``check_request`` did), 1 s of it, the lag sampler beside it.

The service is the one ``bot/client.py`` builds (``LemonBot(...).moderation``, never
logged in) over a fresh SQLite file; nothing is sent anywhere. The benchmark fails if a
check that should be answered is not (B's prompt refused, or A's crafted prompt
matched).

Run: ``python bench/bench_blocklist.py`` (or ``python bench/run.py blocklist``), ~20 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sys
import tempfile
import time
import warnings
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# discord.py imports audioop (voice support), deprecated since Python 3.11.
warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)

import httpx  # noqa: E402

from bench._common import Report, percentile  # noqa: E402
from bench.bench_accept import REGEX_RULES, WORD_RULES  # noqa: E402
from bot.catalog import MAX_PROMPT_LENGTH  # noqa: E402
from bot.client import LemonBot  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.errors import Refusal  # noqa: E402
from bot.moderation import ModerationService  # noqa: E402
from bot.moderation.blocklist import (  # noqa: E402
    MAX_GUILD_PROGRAM_SIZE,
    compile_rule,
    rule_set,
)
from bot.moderation.matching import MATCH_TIMEOUT_SECONDS  # noqa: E402
from bot.store import PromptRule, Store  # noqa: E402

SLOW, OTHER = 910_001, 910_002
MEMBERS = 4  # of the slow server, each sending the crafted prompt again and again
SEGMENT_SECONDS = 3.0
ORDER = ("baseline", "loaded", "loaded", "baseline")
ON_LOOP_SECONDS = 1.0
LAG_INTERVAL = 0.010
PACE = 0.005  # a member sends again 5 ms after each answer (not a busy loop)
ORDINARY = "A lighthouse on a basalt cliff at dusk, oil painting, warm light, gulls"


@dataclass(frozen=True)
class Shape:
    """A family of costly entries, and the alphabet of the prompt that defeats them."""

    name: str
    pattern: Callable[[int], str]  # entry number -> a distinct pattern of the same cost
    alphabet: str


SHAPES = (
    Shape("😀.{20}N", lambda i: f"😀.{{20}}{i}", "😀😁"),
    Shape("😀[😀😁]{60}N", lambda i: f"😀[😀😁]{{60}}{i}", "😀😁"),
    Shape("a[ab]{400}N", lambda i: f"a[ab]{{400}}{i}", "ab"),
    Shape("a(?:a|b){60}N", lambda i: f"a(?:a|b){{60}}{i}", "ab"),
    Shape("中[中文]{100}N", lambda i: f"中[中文]{{100}}{i}", "中文"),
)


def fill(shape: Shape) -> list[str]:
    """Distinct entries of ``shape`` up to the server's budget."""
    patterns: list[str] = []
    used = 0
    for index in range(MAX_GUILD_PROGRAM_SIZE):
        pattern = shape.pattern(index)
        cost = compile_rule(pattern, True).cost
        if used + cost > MAX_GUILD_PROGRAM_SIZE:
            break
        patterns.append(pattern)
        used += cost
    return patterns


def crafted(shape: Shape, seed: int = 0) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(shape.alphabet) for _ in range(MAX_PROMPT_LENGTH))


def rules_of(guild_id: int, patterns: list[str]) -> tuple[PromptRule, ...]:
    return tuple(PromptRule(i, guild_id, p, True, 1, 0.0) for i, p in enumerate(patterns, 1))


def set_seconds(shape: Shape) -> float:
    """One crafted prompt against a full set of ``shape``: best of 3, in this thread."""
    applied = rule_set(rules_of(SLOW, fill(shape)))
    prompt = crafted(shape)
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        if applied.first_match(prompt) is not None:
            raise RuntimeError(f"the crafted prompt matched the {shape.name} set")
        best = min(best, time.perf_counter() - began)
    return best


@dataclass
class Segment:
    """What one segment measured."""

    lags: list[float] = field(default_factory=list)  # seconds past each 10 ms sleep
    other: list[float] = field(default_factory=list)  # seconds per check of server B
    slow: list[float] = field(default_factory=list)  # seconds per answered check of A
    refused: int = 0  # A's checks refused (past the time limit)


@contextlib.asynccontextmanager
async def sampling(segment: Segment) -> AsyncIterator[None]:
    """Record the event loop's lag while the block runs."""

    async def sample() -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + LAG_INTERVAL
            await asyncio.sleep(LAG_INTERVAL)
            segment.lags.append(max(0.0, loop.time() - due))

    task = asyncio.create_task(sample())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_segment(service: ModerationService, prompt: str) -> Segment:
    """A's members and B's member check prompts for SEGMENT_SECONDS, the sampler beside."""
    segment = Segment()
    stop_at = time.perf_counter() + SEGMENT_SECONDS

    async def slow_member(user_id: int) -> None:
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            try:
                await service.check_request(SLOW, user_id, prompt)
            except Refusal as exc:
                if exc.text.key != "refusal.blocklist_timeout":
                    raise RuntimeError(f"A's crafted prompt refused: {exc.message}") from None
                segment.refused += 1
            else:
                segment.slow.append(time.perf_counter() - began)
            await asyncio.sleep(PACE)

    async def other_member() -> None:
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            await service.check_request(OTHER, 2, ORDINARY)  # raises if refused: a failure
            segment.other.append(time.perf_counter() - began)
            await asyncio.sleep(PACE)

    async with sampling(segment), asyncio.timeout(SEGMENT_SECONDS * 3 + 5):
        await asyncio.gather(other_member(), *(slow_member(100 + i) for i in range(MEMBERS)))
    return segment


async def on_the_loop(patterns: list[str], prompt: str) -> Segment:
    """The worst set matched on the event loop, as before this change."""
    segment = Segment()
    applied = rule_set(rules_of(SLOW, patterns))
    stop_at = time.perf_counter() + ON_LOOP_SECONDS
    async with sampling(segment):
        await asyncio.sleep(LAG_INTERVAL / 2)  # the sampler is asleep, its timer set
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            applied.first_match(prompt)  # blocking, on purpose
            segment.slow.append(time.perf_counter() - began)
            await asyncio.sleep(PACE)  # the sampler wakes late: that is the lag
    return segment


def pooled(segments: list[Segment]) -> Segment:
    out = Segment()
    for s in segments:
        out.lags += s.lags
        out.other += s.other
        out.slow += s.slow
        out.refused += s.refused
    return out


async def run() -> Report:
    report = Report(
        title="Blocklist: one server at its limits, matched off the event loop",
        baseline="the same load with the slow server's blocklist empty, same run; "
        f"{SEGMENT_SECONDS:g} s segments in ABBA order, samples pooled",
    )
    # The refusals past the time limit are counted below; their log lines are not printed.
    logging.getLogger("bot.moderation").setLevel(logging.ERROR)
    timings = {shape.name: set_seconds(shape) for shape in SHAPES}
    worst = max(SHAPES, key=lambda shape: timings[shape.name])
    patterns, prompt = fill(worst), crafted(worst)
    cost = sum(compile_rule(p, True).cost for p in patterns)
    with tempfile.TemporaryDirectory(prefix="lemonbot-bench-") as tmp:
        settings = Settings(
            discord_token="bench-not-used",
            lemondata_api_key="bench-not-used",
            lemondata_base_url="http://127.0.0.1:9",
            database=Path(tmp) / "blocklist.db",
        )
        async with Store.open(settings.database) as db, httpx.AsyncClient() as http:
            service = LemonBot(settings=settings, store=db, http=http).moderation
            for word in WORD_RULES:
                await service.add_rule(OTHER, word, False, 1)
            for pattern in REGEX_RULES:
                await service.add_rule(OTHER, pattern, True, 1)
            segments: dict[str, list[Segment]] = {"baseline": [], "loaded": []}
            for kind in ORDER:
                if kind == "loaded" and not await db.guilds.prompt_rules(SLOW):
                    for pattern in patterns:  # through the service: within its limits
                        await service.add_rule(SLOW, pattern, True, 1)
                if kind == "baseline":
                    for rule in await db.guilds.prompt_rules(SLOW):
                        await db.guilds.remove_prompt_rule(SLOW, rule.id)
                segments[kind].append(await run_segment(service, prompt))
            before = await on_the_loop(patterns, prompt)

    base, loaded = pooled(segments["baseline"]), pooled(segments["loaded"])
    ms = 1000.0
    for pct in (50, 99):
        report.add(
            f"event-loop lag p{pct}",
            percentile(loaded.lags, pct) * ms,
            "ms",
            percentile(base.lags, pct) * ms,
        )
    report.add("event-loop lag max", max(loaded.lags) * ms, "ms", max(base.lags) * ms)
    for pct in (50, 99):
        report.add(
            f"server B check p{pct}",
            percentile(loaded.other, pct) * ms,
            "ms",
            percentile(base.other, pct) * ms,
        )
    report.add("server B checks", len(loaded.other), "checks", len(base.other))
    answered = loaded.slow or [float("nan")]
    report.add("server A check p50 (answered)", percentile(answered, 50) * ms, "ms")
    report.add("server A checks answered", len(loaded.slow), "checks", len(base.slow))
    report.add("server A checks refused (time limit)", loaded.refused, "checks", base.refused)
    report.add(
        "before: lag max, matched on the loop",
        max(before.lags or [0.0]) * ms,
        "ms",
        max(base.lags) * ms,
    )
    for shape in SHAPES:
        report.add(f"full set {shape.name}, one prompt", timings[shape.name] * ms, "ms")
    report.notes += [
        f"worst allowed set: {len(patterns)} entries {worst.name} ({cost:,} of "
        f"{MAX_GUILD_PROGRAM_SIZE:,} instructions), prompt of {MAX_PROMPT_LENGTH:,} random "
        f"{worst.alphabet!r} characters; {MEMBERS} of A's members at once, one check of A at "
        f"a time, time limit {MATCH_TIMEOUT_SECONDS:g} s",
        "server B: 8 words and 2 regexes (bench_accept's list), an ordinary prompt, one "
        "member; every member sends again 5 ms after each answer",
        "lag: overshoot of a 10 ms asyncio.sleep, sampled all through each segment",
        "before: the same set and prompt matched by the event loop itself, "
        f"{ON_LOOP_SECONDS:g} s of it ({len(before.slow)} prompts, "
        f"{percentile(before.slow, 50) * ms:.0f} ms each)",
    ]
    return report


def main() -> None:
    print(asyncio.run(run()).render())


if __name__ == "__main__":
    main()
