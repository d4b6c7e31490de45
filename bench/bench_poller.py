"""Real time, small scale: the bot's poller and budget against naive polling, on the emulator.

Eight async tasks at once, with durations drawn per model (a seeded draw within 5-20 s,
so the run takes under a minute), are created on the LemonData emulator (127.0.0.1),
whose rate limit is set to 60 requests a minute and which sends the X-RateLimit headers.
The bot's ``TaskPoller`` (the planner and the ``RequestBudget``, through the real
``LemonDataClient``, primed with earlier completion times as the ledger would) follows
them; so does a naive poller asking every 5 s (the gateway's advice) and every 3 s,
through the same client without a budget. Figures: the delay from each task's completion
(the emulator's clock) to its detection, polls per task, and 429 answers. The simulated
benchmark (``bench/bench_scheduler.py``) covers the large cases.

Run: ``python bench/bench_poller.py`` (or ``python bench/run.py poller``).
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench._common import Report, percentile  # noqa: E402
from bot.background import Background  # noqa: E402
from bot.jobs.poller import TaskPoller  # noqa: E402
from bot.lemondata import GatewayError, LemonDataClient, TaskStatus  # noqa: E402
from bot.scheduler import RequestBudget  # noqa: E402
from tests.fakes.lemondata import LemonDataEmulator  # noqa: E402

TASKS = 8
SEED = 7
RPM = 60
# model -> (shortest, longest) seconds of the draw; the history taught matches it.
MODELS = {"gpt-image-2": (12.0, 20.0), "flux-pro": (5.0, 10.0)}
HISTORY = 40
TIMEOUT_SECONDS = 60.0


class FinishedJob:
    """A finished job of the ledger, as the poller learns from them."""

    def __init__(self, model: str, duration: float) -> None:
        self.model = model
        self.options: dict[str, Any] = {}
        self.state = "succeeded"
        self.task_id = "t"
        self.finished_at = time.time()
        self.submitted_at = self.finished_at - duration


def draws(rng: random.Random) -> list[tuple[str, float]]:
    return [
        (model, rng.uniform(*span)) for model, span in MODELS.items() for _ in range(TASKS // 2)
    ]


async def create_all(
    api: LemonDataClient, emulator: LemonDataEmulator, plan: list[tuple[str, float]]
) -> list[tuple[TaskStatus, str]]:
    durations = iter(plan)
    emulator.task_duration = lambda task: next(durations)[1]
    tasks = []
    for model, _ in plan:
        body = {"model": model, "prompt": "a paper boat", "async": True, "user": "bench"}
        result = await api.create_image(body)
        assert result.task is not None
        tasks.append((result.task, model))
    return tasks


async def with_poller(
    api: LemonDataClient, emulator: LemonDataEmulator, plan: list[tuple[str, float]]
) -> dict[str, float]:
    background = Background()
    detected: dict[str, float] = {}
    all_done = asyncio.Event()
    ids: dict[int, str] = {}

    async def on_done(job_id: int, status: TaskStatus) -> None:
        detected[ids[job_id]] = emulator.clock()
        if len(detected) == len(plan):
            all_done.set()

    async def failed(job_id: int, *args: Any) -> None:
        raise RuntimeError(f"task of job {job_id} did not complete")

    poller = TaskPoller(
        api,
        budget=api.budget,  # type: ignore[arg-type]
        on_done=on_done,
        on_timeout=failed,
        on_lost=failed,
        interval=0.5,
        max_interval=60.0,
        background=background,
    )
    rng = random.Random(SEED + 1)
    poller.learn([FinishedJob(m, rng.uniform(*MODELS[m])) for m in MODELS for _ in range(HISTORY)])
    tasks = await create_all(api, emulator, plan)
    for job_id, (task, model) in enumerate(tasks):
        ids[job_id] = task.task_id
        poller.track(
            job_id,
            task.task_id,
            task.poll_url,
            time.time() + 600,
            model=model,
            submitted_at=time.time(),
        )
    poller.start()
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            await all_done.wait()
    finally:
        await background.close()
    return detected


async def naive(
    api: LemonDataClient, emulator: LemonDataEmulator, plan: list[tuple[str, float]], every: float
) -> dict[str, float]:
    tasks = await create_all(api, emulator, plan)
    detected: dict[str, float] = {}

    async def follow(task: TaskStatus) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                status = await api.get_task(task.task_id, task.poll_url, retry=False)
            except GatewayError:
                continue  # a 429: the next tick asks again
            if status.done:
                detected[task.task_id] = emulator.clock()
                return

    async with asyncio.timeout(TIMEOUT_SECONDS):
        await asyncio.gather(*(follow(task) for task, _ in tasks))
    return detected


async def run() -> Report:
    """Measure and return the report."""
    plan = draws(random.Random(SEED))
    results: dict[str, tuple[list[float], float, int]] = {}
    async with LemonDataEmulator() as emulator, httpx.AsyncClient() as http:
        emulator.rate_limit = RPM
        for name in ("poller", "naive 5 s", "naive 3 s"):
            emulator.reset_rate_limit()
            emulator.clear_requests()
            limited_before = emulator.rate_limited_count
            budget = RequestBudget(rpm=RPM) if name == "poller" else None
            api = LemonDataClient(
                http, base_url=emulator.base_url, api_key=emulator.api_key, budget=budget
            )
            if name == "poller":
                detected = await with_poller(api, emulator, plan)
            else:
                detected = await naive(api, emulator, plan, 5.0 if "5" in name else 3.0)
            delays = [
                detected[t.task_id] - t.complete_at
                for t in emulator.tasks.values()
                if t.task_id in detected
            ]
            polls = len(emulator.polls()) / len(plan)
            results[name] = (delays, polls, emulator.rate_limited_count - limited_before)
    report = Report(
        title=f"Real time: {TASKS} tasks of 5-20 s at once, emulator limited to {RPM}/min",
        baseline="naive polling every 5 s through the same client, same run",
    )
    base = results["naive 5 s"]
    for name, (delays, polls, limited) in results.items():
        report.add(
            f"{name}: mean delay", sum(delays) / len(delays), "s", sum(base[0]) / len(base[0])
        )
        report.add(f"{name}: p95 delay", percentile(delays, 95), "s", percentile(base[0], 95))
        report.add(f"{name}: polls per task", polls, "polls", base[1])
        report.add(f"{name}: 429 answers", limited, "429s", base[2])
    report.notes.append(
        f"seeded durations (seed {SEED}); the poller learned {HISTORY} finished tasks per "
        "model first, as from the ledger"
    )
    return report


if __name__ == "__main__":
    print(asyncio.run(run()).render())
