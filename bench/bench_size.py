"""Benchmark 3: the gpt-image-2 size solver, ``bot.catalog.gpt_image_size``.

The solver runs inside ``JobService.accept`` (through ``build_request``) for every
gpt-image-2 request, so it is on the acknowledgement path. It walks every height
that is a multiple of 16 up to 3840 and scores the two nearest widths, checking
each candidate with ``is_valid_gpt_size``: a few hundred checks and logarithms
per call.

Baseline: one ``is_valid_gpt_size`` call on one size (the solver's inner check), in
the same run. Every figure is the best of several timed repeats (the usual way to
time pure CPU work on a shared machine: other load only ever adds time), with the
repeats of the solver and of the baseline interleaved.

Run: ``python bench/bench_size.py`` (or ``python bench/run.py size``).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import Report  # noqa: E402
from bot.catalog import RATIOS, RESOLUTIONS, gpt_image_size, is_valid_gpt_size  # noqa: E402

REPEATS = 5  # timed repeats of each figure; the best is kept
SOLVER_CALLS = 40  # calls per repeat, per ratio x resolution
CHECK_CALLS = 20_000  # calls per repeat of the baseline
BUDGET_SECONDS = 10.0  # stop repeating (keeping what was measured) past this
DEADLINE_MS = 3000.0  # Discord's deadline for the first answer
BASELINE_SIZE = (1360, 768)  # 16:9 at 1k, a valid size


def per_call(fn: Callable[[], object], calls: int) -> float:
    """Return the seconds per call of ``fn`` over ``calls`` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def run() -> Report:
    report = Report(
        title="gpt-image-2 size solver: gpt_image_size() for every ratio x resolution",
        baseline=f"is_valid_gpt_size{BASELINE_SIZE} (one check of the size contract), "
        f"same run; best of {REPEATS} interleaved repeats",
    )
    combos = [(ratio, resolution) for ratio in RATIOS for resolution in RESOLUTIONS]
    sizes = {combo: gpt_image_size(*combo) for combo in combos}
    invalid = [combo for combo, size in sizes.items() if not is_valid_gpt_size(*size)]
    if invalid:
        raise RuntimeError(f"the solver returned invalid sizes for {invalid}")

    best: dict[tuple[str, str], float] = {}
    check = float("inf")
    width, height = BASELINE_SIZE
    stop_at = time.perf_counter() + BUDGET_SECONDS
    repeats = 0
    for _ in range(REPEATS):
        if repeats and time.perf_counter() > stop_at:
            break
        check = min(check, per_call(partial(is_valid_gpt_size, width, height), CHECK_CALLS))
        for ratio, resolution in combos:
            seconds = per_call(partial(gpt_image_size, ratio, resolution), SOLVER_CALLS)
            best[(ratio, resolution)] = min(best.get((ratio, resolution), seconds), seconds)
        repeats += 1

    micro = {combo: seconds * 1e6 for combo, seconds in best.items()}
    check_us = check * 1e6
    slowest = max(micro, key=lambda combo: micro[combo])
    fastest = min(micro, key=lambda combo: micro[combo])
    report.add(
        f"mean over {len(combos)} ratio x resolution",
        statistics.fmean(micro.values()),
        "us/call",
        check_us,
    )
    report.add(f"slowest ({slowest[0]} {slowest[1]})", micro[slowest], "us/call", check_us)
    report.add(f"fastest ({fastest[0]} {fastest[1]})", micro[fastest], "us/call", check_us)
    for resolution in RESOLUTIONS:
        values = [us for (_, q), us in micro.items() if q == resolution]
        report.add(f"mean at {resolution}", statistics.fmean(values), "us/call", check_us)
    report.add("is_valid_gpt_size (baseline)", check_us, "us/call", check_us)
    report.notes += [
        f"slowest call = {micro[slowest] / 1000 / DEADLINE_MS:.4%} of Discord's 3 s "
        f"deadline; {repeats} repeats of {SOLVER_CALLS} calls per combination and "
        f"{CHECK_CALLS:,} baseline calls",
        "ratio = one solve's cost in baseline checks (a solve makes up to 480 checks, "
        "each followed by two logarithms when valid); sizes at 1k: "
        + ", ".join(f"{r}={w}x{h}" for (r, q), (w, h) in sizes.items() if q == "1k"),
    ]
    return report


def main() -> None:
    print(run().render())


if __name__ == "__main__":
    main()
