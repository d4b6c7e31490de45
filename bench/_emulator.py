"""The LemonData emulator in a process of its own, for benchmarks that time the bot.

The real gateway is elsewhere; served from the benchmark's own process, the emulator's
work would delay the fake Discord's clock. Prints ``READY <base_url> <api_key>`` once
it listens, then ``GATED <n>`` whenever the number of inline creates waiting at its
gate changes. Creates wait there until a ``release`` line on standard input answers
those waiting (later ones wait again); it stops when standard input closes.

Run by ``bench_ack.py``: ``python -m bench._emulator``.
"""

from __future__ import annotations

import asyncio
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)

from tests.fakes.lemondata import LemonDataEmulator  # noqa: E402


async def main() -> None:
    loop = asyncio.get_running_loop()
    async with LemonDataEmulator() as lemondata:
        lemondata.gate = asyncio.Event()
        lemondata.record_requests = False
        print(f"READY {lemondata.base_url} {lemondata.api_key}", flush=True)
        reported = -1
        command = loop.run_in_executor(None, sys.stdin.readline)
        while True:
            if lemondata.gated != reported:
                reported = lemondata.gated
                print(f"GATED {reported}", flush=True)
            await asyncio.wait({command}, timeout=0.005)
            if not command.done():
                continue
            line = command.result()
            if not line:  # the parent closed it: stop
                lemondata.gate.set()
                return
            if line.strip() == "release":
                gate, lemondata.gate = lemondata.gate, asyncio.Event()
                gate.set()
            command = loop.run_in_executor(None, sys.stdin.readline)


if __name__ == "__main__":
    asyncio.run(main())
