"""Event-loop lag sampler for a benchmarked ``python -m bot`` child (bench/bench_capacity.py).

Put this folder first on the child's ``PYTHONPATH``. Python imports only the first
``sitecustomize`` it finds, so this one also runs the fake Discord's
(``tests/fakes/sitecustomize/sitecustomize.py``), which points discord.py at the fake.

With ``LEMONBOT_LAG_FILE`` set, ``asyncio.run`` is wrapped: beside the program's main
coroutine a sampler task sleeps ``LEMONBOT_LAG_INTERVAL`` seconds (default 0.01) again
and again and records by how much each sleep overshot (the time the loop was busy with
something else when the timer was due). ``SIGUSR1`` pauses the sampler and ``SIGUSR2``
resumes it (its 100 wake-ups a second cost CPU of their own, about 2 % of a core, so
the benchmark measures CPU with it paused). At exit (the bot's clean SIGTERM shutdown
returns from ``asyncio.run``; ``atexit`` is the fallback) it writes JSON to that file:
``samples`` as ``[wall_time, lag_seconds]`` pairs (the benchmark keeps those inside
its window), ``p50``/``p99``/``max`` over the whole run, and ``interval``.

``LEMONBOT_INFO_LOGGERS`` (comma-separated logger names) sets those loggers to INFO
once logging is configured, so one line such as ``resumed jobs: {...}`` is written
although ``LOG_LEVEL`` is WARNING. Without either variable nothing changes.
"""

import os
import sys
from pathlib import Path

_FAKE_DISCORD = (
    Path(__file__).resolve().parents[2] / "tests" / "fakes" / "sitecustomize" / "sitecustomize.py"
)
_LAG_FILE = os.environ.get("LEMONBOT_LAG_FILE", "").strip()
_INFO_LOGGERS = [n for n in os.environ.get("LEMONBOT_INFO_LOGGERS", "").split(",") if n.strip()]


def _chain_fake_discord() -> None:
    """Run the fake Discord's sitecustomize (shadowed by this one) as its own module."""
    if not _FAKE_DISCORD.exists():
        return
    import importlib.util

    spec = importlib.util.spec_from_file_location("_lemonbot_fake_sitecustomize", _FAKE_DISCORD)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)


def _install_lag_sampler(path: str) -> None:
    import asyncio
    import atexit
    import json
    import signal
    import time

    interval = float(os.environ.get("LEMONBOT_LAG_INTERVAL", "") or 0.01)
    samples: list[tuple[float, float]] = []
    written = False

    def write() -> None:
        nonlocal written
        if written:
            return
        written = True
        lags = sorted(lag for _, lag in samples)

        def pct(q: float) -> float | None:
            if not lags:
                return None
            return lags[min(len(lags) - 1, round((len(lags) - 1) * q / 100))]

        body = {
            "interval": interval,
            "count": len(lags),
            "p50": pct(50),
            "p99": pct(99),
            "max": lags[-1] if lags else None,
            "samples": samples,
        }
        tmp = f"{path}.tmp"
        with open(tmp, "w") as out:
            json.dump(body, out)
        os.replace(tmp, path)

    async def sampler(running: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await running.wait()
            began = loop.time()
            await asyncio.sleep(interval)
            samples.append((time.time(), max(0.0, loop.time() - began - interval)))

    original_run = asyncio.run

    def run(main, **kwargs):  # type: ignore[no-untyped-def]
        async def measured():  # type: ignore[no-untyped-def]
            running = asyncio.Event()
            running.set()

            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGUSR1, running.clear)
            loop.add_signal_handler(signal.SIGUSR2, running.set)
            task = asyncio.ensure_future(sampler(running))
            try:
                return await main
            finally:
                task.cancel()
                loop.remove_signal_handler(signal.SIGUSR1)
                loop.remove_signal_handler(signal.SIGUSR2)
                write()

        return original_run(measured(), **kwargs)

    asyncio.run = run  # type: ignore[assignment]
    atexit.register(write)


def _info_loggers(names: list[str]) -> None:
    """Set ``names`` to INFO (``bot.logs.setup_logging`` sets only the root's level and a
    few libraries', so these survive it)."""
    import logging

    for name in names:
        logging.getLogger(name.strip()).setLevel(logging.INFO)


_chain_fake_discord()
if _LAG_FILE:
    _install_lag_sampler(_LAG_FILE)
if _INFO_LOGGERS:
    _info_loggers(_INFO_LOGGERS)
