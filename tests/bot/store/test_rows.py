"""Row types: building a Job from a row."""

from __future__ import annotations

import dataclasses
import json

import pytest

from bot.store import Job
from tests.factories import draft


def _row(**overrides: object) -> dict[str, object]:
    """A ``SELECT * FROM jobs`` row as either engine returns it (JSON columns as text)."""
    values = {f.name: None for f in dataclasses.fields(Job)}
    values.update(dataclasses.asdict(draft(options={"ratio": "16:9"}, request={"n": 1})))
    values.update(
        id=7,
        state="queued",
        quota_state="reserved",
        delivery_state="pending",
        created_at=1.0,
        updated_at=1.0,
        deleted_by=None,
        parts_delivered=0,
        lease_token=0,
        options=json.dumps({"ratio": "16:9"}),
        request=json.dumps({"n": 1}),
        result_urls=None,
    )
    values.update(overrides)
    return values


def test_a_whole_row_builds_the_same_job_as_init() -> None:
    row = _row(result_urls=json.dumps(["https://cdn.example/a.png"]))
    job = Job.from_row(row)
    decoded = {
        **row,
        "options": {"ratio": "16:9"},
        "request": {"n": 1},
        "result_urls": ["https://cdn.example/a.png"],
    }
    assert job == Job(**decoded)  # type: ignore[arg-type]
    assert job.result_urls == ["https://cdn.example/a.png"] and job.options == {"ratio": "16:9"}
    assert Job.from_row(_row()).result_urls == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.state = "running"  # type: ignore[misc]


def test_a_row_with_an_unknown_or_missing_column_is_refused() -> None:
    with pytest.raises(TypeError, match="surprise"):
        Job.from_row(_row(surprise=1))
    row = _row()
    del row["state"]
    with pytest.raises(TypeError, match="state"):
        Job.from_row(row)


def test_a_drafts_window_is_set_as_replace_would() -> None:
    from bot.store.rows import encode_draft, with_quota_window

    original = draft(options={"ratio": "1:1"}, quota_window="")
    windowed = with_quota_window(original, "2026-12-02")
    assert windowed == dataclasses.replace(original, quota_window="2026-12-02")
    assert original.quota_window == "" and windowed is not original
    with pytest.raises(dataclasses.FrozenInstanceError):
        windowed.quota_window = "x"  # type: ignore[misc]
    stored = encode_draft(windowed)
    assert list(stored) == [f.name for f in dataclasses.fields(original)]
    assert stored["options"] == '{"ratio": "1:1"}' and stored["quota_window"] == "2026-12-02"


@pytest.mark.parametrize(
    ("options", "asked"),
    [({"count": 3}, 3), ({}, 1), ({"count": None}, 1), ({"count": 0}, 1), ({"count": -2}, 1)],
)
def test_images_asked_is_the_count_at_least_one(options, asked) -> None:
    """A job asks for its ``count`` images; a missing or impossible count asks for one."""
    assert draft(options=options).images_asked == asked
    assert Job.from_row(_row(options=json.dumps(options))).images_asked == asked
