"""Results are spread over messages within Discord's upload limits; nothing billed is lost."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.store import StoredImage
from bot.ui.parts import (
    LINKS_CONTENT_LIMIT,
    LINKS_FIELD_LIMIT,
    MAX_FILES,
    MIB,
    REQUEST_LIMIT,
    links_length,
    plan,
)


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


def long_url(n: int, length: int) -> str:
    head = f"https://cdn/{n}.png?X-Amz-Signature="
    return head + "a" * (length - len(head))


def test_links_that_do_not_fit_the_first_message_spill_into_further_ones():
    """4 linked images with 700-character URLs: each shown in full, so each is charged."""
    urls = [long_url(n, 700) for n in range(4)]
    result = plan(1, [image(n, 12 * MIB, urls[n]) for n in range(4)], 10 * MIB)
    assert [p.links for p in result.parts] == [(urls[0],), (urls[1], urls[2]), (urls[3],)]
    assert links_length(result.parts[0].links) <= LINKS_FIELD_LIMIT  # the embed's field
    assert all(links_length(p.links) <= LINKS_CONTENT_LIMIT for p in result.parts[1:])
    assert [result.shown(n) for n in range(4)] == [0, 1, 3, 4]  # what the member has seen


def test_links_beside_attachments_go_in_the_content_then_the_next_messages():
    """With files in the first message, its links take its content; the rest follow."""
    urls = [long_url(n, 900) for n in range(2)]
    images = [image(0, MIB), image(1, 12 * MIB, urls[0]), image(2, 12 * MIB, urls[1])]
    result = plan(1, images, 10 * MIB)
    assert [(p.positions, p.links) for p in result.parts] == [((0,), (urls[0],)), ((), (urls[1],))]
    assert result.link_positions == (1, 2) and result.shown(1) == 2 and result.shown(2) == 3


def test_a_link_longer_than_a_message_can_carry_is_unshown_not_charged():
    """A URL over what a message's text can take is neither cut nor counted as shown."""
    result = plan(1, [image(0, 12 * MIB, long_url(0, LINKS_CONTENT_LIMIT + 1))], 10 * MIB)
    assert result.unshown == (0,) and result.links == () and result.shown(1) == 0


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=20, max_value=2000), min_size=1, max_size=10),
    attached=st.integers(min_value=0, max_value=3),
)
def test_every_link_planned_fits_its_message(lengths, attached):
    """Whatever the URLs: each part's links fit its room, and shown counts only those."""
    images = [image(i, MIB) for i in range(attached)]
    images += [image(attached + i, 12 * MIB, long_url(i, n)) for i, n in enumerate(lengths)]
    result = plan(1, images, 10 * MIB)
    first = result.parts[0]
    assert links_length(first.links) <= (LINKS_CONTENT_LIMIT if first.files else LINKS_FIELD_LIMIT)
    assert all(links_length(p.links) <= LINKS_CONTENT_LIMIT for p in result.parts)
    too_long = [attached + i for i, n in enumerate(lengths) if n > LINKS_CONTENT_LIMIT]
    assert result.unshown == tuple(too_long)
    assert result.shown(len(result.parts)) == len(images) - len(too_long)
