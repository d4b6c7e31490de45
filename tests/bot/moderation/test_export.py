"""The CSV export is safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io

import pytest

from bot.moderation.export import CSV_COLUMNS, jobs_csv
from tests.factories import job as _job


def test_csv_cells_are_not_formulas():
    """Cells a spreadsheet would evaluate are prefixed with an apostrophe."""
    job = _job(prompt="=cmd|' /C calc'!A0", revised_prompt="+1")
    (row,) = list(csv.DictReader(io.StringIO(jobs_csv([job]))))
    assert row["prompt"] == "'=cmd|' /C calc'!A0"
    assert row["revised_prompt"] == "'+1"


def test_csv_shows_lineage_and_reference_images():
    """The parent job, how a job was made and how many reference images it used."""
    edit = _job(id=2, parent_id=1, kind="edit", input_count=1)
    remix = _job(id=3, kind="remix", input_count=2)
    plain = _job(id=4)
    rows = list(csv.DictReader(io.StringIO(jobs_csv([edit, remix, plain]))))
    assert [(r["id"], r["parent_id"], r["kind"], r["input_images"]) for r in rows] == [
        ("2", "1", "edit", "1"),
        ("3", "", "remix", "2"),
        ("4", "", "imagine", "0"),
    ]


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@"])
def test_model_error_code_and_result_urls_are_escaped_too(prefix):
    """The escaping holds on every column from outside, not only the prompts."""
    job = _job(
        model=f"{prefix}SUM(1+1)",
        error_code=f"{prefix}cmd|' /C calc'!A0",
        result_urls=[f'{prefix}HYPERLINK("https://evil.example")', "https://cdn.example/2.png"],
    )
    (row,) = list(csv.DictReader(io.StringIO(jobs_csv([job]))))
    assert row["model"] == f"'{prefix}SUM(1+1)"
    assert row["error_code"] == f"'{prefix}cmd|' /C calc'!A0"
    assert row["result_urls"] == (
        f'\'{prefix}HYPERLINK("https://evil.example") https://cdn.example/2.png'
    )


def test_the_header_row_is_in_the_readers_language():
    """English keeps the column ids (what scripts read); Chinese names each column."""
    english = next(csv.reader(io.StringIO(jobs_csv([_job()]))))
    assert english == list(CSV_COLUMNS)
    chinese = next(csv.reader(io.StringIO(jobs_csv([_job()], "zh-CN"))))
    assert chinese[0] == "编号" and len(chinese) == len(CSV_COLUMNS)
    assert not any(name in CSV_COLUMNS for name in chinese)


def test_csv_shows_each_jobs_cost_in_dollars_and_where_it_came_from():
    settled = _job(id=5, cost=39_000, cost_estimate=39_000, cost_source="price")
    usage = _job(id=6, cost=171_400, cost_estimate=250_000, cost_source="usage")
    unpriced = _job(id=7, cost_source="unpriced")
    rows = list(csv.DictReader(io.StringIO(jobs_csv([settled, usage, unpriced]))))
    assert [(r["cost_usd"], r["cost_estimate_usd"], r["cost_source"]) for r in rows] == [
        ("0.039", "0.039", "price"),
        ("0.1714", "0.25", "usage"),
        ("", "", "unpriced"),
    ]
