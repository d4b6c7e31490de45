"""The CSV export is safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io

from bot.moderation.export import jobs_csv
from tests.factories import job as _job


def test_csv_cells_are_not_formulas():
    """Cells a spreadsheet would evaluate are prefixed with an apostrophe."""
    job = _job(prompt="=cmd|' /C calc'!A0", revised_prompt="+1")
    (row,) = list(csv.DictReader(io.StringIO(jobs_csv([job]))))
    assert row["prompt"] == "'=cmd|' /C calc'!A0"
    assert row["revised_prompt"] == "'+1"
