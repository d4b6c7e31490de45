"""CSV export of the job log, safe to open in a spreadsheet.

Every cell that a spreadsheet would evaluate as a formula is prefixed with an
apostrophe, in every column, since prompts, model ids and URLs all come from outside.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import Any

from bot.i18n import ENGLISH, LocaleLike, t
from bot.store import Job
from bot.ui.cards import jump_link
from bot.ui.moderation import options_without_prompt

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXPORT_BATCH = 500


def _iso(moment: float | None) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat() if moment else ""


def _usd(micros: int | None) -> str | None:
    return None if micros is None else str(Decimal(micros) / 1_000_000)


# Column name -> how a job fills it.
COLUMNS: dict[str, Callable[[Job], Any]] = {
    "id": lambda job: job.id,
    "created_at": lambda job: _iso(job.created_at),
    "user_id": lambda job: job.user_id,
    "channel_id": lambda job: job.channel_id,
    "model": lambda job: job.model,
    "state": lambda job: job.state,
    "prompt": lambda job: job.prompt,
    "revised_prompt": lambda job: job.revised_prompt,
    "options": lambda job: json.dumps(options_without_prompt(job), sort_keys=True),
    "error_code": lambda job: job.error_code,
    "quota_units": lambda job: job.quota_units,
    "quota_state": lambda job: job.quota_state,
    "delivered_via": lambda job: job.delivered_via,
    "jump_link": jump_link,
    "result_urls": lambda job: " ".join(job.result_urls),
    "finished_at": lambda job: _iso(job.finished_at),
    "deleted_by": lambda job: job.deleted_by,
    "parent_id": lambda job: job.parent_id,
    "kind": lambda job: job.kind,
    "input_images": lambda job: job.input_count,
    # Money, in US dollars to the micro-dollar (a spreadsheet sums them exactly).
    "cost_usd": lambda job: _usd(job.cost),
    "cost_estimate_usd": lambda job: _usd(job.cost_estimate) if job.cost_estimate else None,
    "cost_source": lambda job: job.cost_source,
}
CSV_COLUMNS = tuple(COLUMNS)


def cell(value: Any) -> str:
    """Return a CSV cell that spreadsheets will not evaluate as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def jobs_csv(jobs: Sequence[Job], locale: LocaleLike = ENGLISH) -> str:
    """Return the jobs as CSV text (header row first, columns as in CSV_COLUMNS).

    The header row is in the reader's language (``csv.<column>``; in English the column
    ids themselves); the cells are the data as stored.
    """
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([t(f"csv.{name}", locale) for name in CSV_COLUMNS])
    for job in jobs:
        writer.writerow([cell(fill(job)) for fill in COLUMNS.values()])
    return out.getvalue()


async def read_jobs(
    search: Callable[[int, int], Awaitable[Sequence[Job]]], max_rows: int
) -> list[Job]:
    """Return up to ``max_rows`` jobs from ``search(limit, offset)``, read in batches."""
    jobs: list[Job] = []
    while len(jobs) < max_rows:
        batch = await search(min(EXPORT_BATCH, max_rows - len(jobs)), len(jobs))
        jobs.extend(batch)
        if not batch:
            break
    return jobs
