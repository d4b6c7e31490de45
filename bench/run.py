"""Run lemonbot's benchmarks and print one table each (see bench/README.md).

    python bench/run.py                 # all: accept, ack, poller, size, scheduler,
                                        #      allowance, capacity, reserve, blocklist,
                                        #      processes, budget, gallery
    python bench/run.py poller size     # some of them
    python -m bench.run                 # the same, as a module

Each benchmark measures its baseline in the same run and bounds its own loops in
count and time; nothing here asserts on a timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# discord.py imports audioop (voice support), deprecated since Python 3.11.
warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)

from bench import (  # noqa: E402
    bench_accept,
    bench_ack,
    bench_allowance,
    bench_blocklist,
    bench_budget,
    bench_capacity,
    bench_gallery,
    bench_poller,
    bench_processes,
    bench_reserve,
    bench_scheduler,
    bench_size,
)
from bench._common import Report  # noqa: E402

BENCHMARKS: dict[str, Callable[[], Report]] = {
    "accept": lambda: asyncio.run(bench_accept.run()),
    "ack": lambda: asyncio.run(bench_ack.run()),
    "poller": lambda: asyncio.run(bench_poller.run()),
    "size": bench_size.run,
    "scheduler": bench_scheduler.run,
    "allowance": bench_allowance.run,
    "capacity": lambda: asyncio.run(bench_capacity.run()),
    "reserve": lambda: asyncio.run(bench_reserve.run()),
    "blocklist": lambda: asyncio.run(bench_blocklist.run()),
    "processes": lambda: asyncio.run(bench_processes.run()),
    "budget": lambda: asyncio.run(bench_budget.run()),
    "gallery": lambda: asyncio.run(bench_gallery.run()),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run ({', '.join(BENCHMARKS)}; default: all)",
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    names = args.names or list(BENCHMARKS)
    print(
        f"lemonbot benchmarks: Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}, {_cpus()} CPUs"
    )
    started = time.perf_counter()
    for name in names:
        began = time.perf_counter()
        report = BENCHMARKS[name]()
        print()
        print(report.render())
        print(f"({name}: {time.perf_counter() - began:.1f} s)")
    print(f"\nall done in {time.perf_counter() - started:.1f} s")


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


if __name__ == "__main__":
    main()
