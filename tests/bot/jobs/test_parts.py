"""Results are spread over messages within Discord's upload limits; nothing billed is lost."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.jobs.parts import MAX_FILES, MIB, REQUEST_LIMIT, plan
from bot.store import StoredImage


def image(position: int, size: int | None, url: str | None = "https://cdn/x.png") -> StoredImage:
    data = None if size is None else b"\x89PNG" + b"\0" * (size - 4)
    return StoredImage(position, url, "image/png", data)


def test_four_large_images_fit_in_two_requests():
    """4 images of 8 MiB: each under the 10 MiB file limit, no request over 25 MiB."""
    result = plan(7, [image(i, 8 * MIB) for i in range(4)], 10 * MIB)
    sizes = [sum(len(data) for _, data in part.files) for part in result.parts]
    assert [p.positions for p in result.parts] == [(0, 1, 2), (3,)]
    assert all(size < REQUEST_LIMIT for size in sizes)
    assert result.links == () and result.unshown == ()
    assert result.shown(1) == 3 and result.shown(2) == 4
    assert result.parts[0].files[0][0] == "lemonbot-7-1.png"


def test_an_image_over_the_file_limit_is_linked():
    """Over the place's file limit, an image with a URL is linked in the first message."""
    result = plan(1, [image(0, 12 * MIB, "https://cdn/a.png"), image(1, MIB)], 10 * MIB)
    assert result.links == ("https://cdn/a.png",) and result.link_positions == (0,)
    assert [p.positions for p in result.parts] == [(1,)]
    assert result.shown(1) == 2


def test_an_image_that_can_be_neither_attached_nor_linked_is_counted():
    """Without bytes within the limit and without a URL, an image is counted as unshown."""
    result = plan(1, [image(0, 12 * MIB, url=None), image(1, None, url=None)], 10 * MIB)
    assert result.unshown == (0, 1) and result.shown(1) == 0
    assert result.parts[0].files == ()


def test_a_dm_limit_below_the_server_limit_links_more():
    """The same images planned for a smaller limit attach fewer and link the rest."""
    images = [image(0, 30 * MIB), image(1, 5 * MIB)]
    assert plan(1, images, 50 * MIB).parts[0].positions == (1,)  # 30 MiB > one request
    assert plan(1, images, 50 * MIB).links == ("https://cdn/x.png",)
    assert plan(1, [image(0, 20 * MIB)], 10 * MIB).links == ("https://cdn/x.png",)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=5, max_value=12 * MIB), min_size=1, max_size=14),
    limit=st.sampled_from([8 * MIB, 10 * MIB, 25 * MIB, 50 * MIB]),
)
def test_every_image_is_shown_once_within_every_limit(sizes, limit):
    """Whatever the sizes: each image attached once or linked, every message within limits."""
    result = plan(1, [image(i, size) for i, size in enumerate(sizes)], limit)
    attached = [pos for part in result.parts for pos in part.positions]
    assert sorted(attached + list(result.link_positions)) == list(range(len(sizes)))
    for part in result.parts:
        assert len(part.files) <= MAX_FILES
        assert sum(len(data) for _, data in part.files) <= REQUEST_LIMIT
        assert all(len(data) <= limit for _, data in part.files)
    assert result.shown(len(result.parts)) == len(sizes)


@pytest.mark.parametrize("count", [1, 10, 11, 25])
def test_at_most_ten_files_a_message(count):
    """Small images go ten to a message."""
    result = plan(1, [image(i, 100) for i in range(count)], 10 * MIB)
    assert [len(p.files) for p in result.parts] == [10] * (count // 10) + (
        [count % 10] if count % 10 else []
    )
