"""Which reference images an audit post (or /imagemod job) can carry."""

from __future__ import annotations

from bot.moderation.audit import attachable
from bot.store import InputImage
from bot.ui.moderation import ReferenceFiles

MIB = 1024 * 1024


def image(position: int, size: int | None) -> InputImage:
    data = None if size is None else b"x" * size
    return InputImage(position, f"reference-{position + 1}.png", "image/png", data)


def test_each_file_within_the_servers_limit() -> None:
    chosen, files = attachable([image(0, 12 * MIB), image(1, MIB)], 10 * MIB)
    assert [i.position for i in chosen] == [1]
    assert files == ReferenceFiles(attached=1, too_large=1)


def test_the_request_within_25_mib_and_10_files() -> None:
    chosen, files = attachable([image(n, 9 * MIB) for n in range(3)], 50 * MIB)
    assert [i.position for i in chosen] == [0, 1] and files.too_large == 1
    chosen, files = attachable([image(n, 10) for n in range(12)], 10 * MIB)
    assert len(chosen) == 10 and files == ReferenceFiles(attached=10, too_large=2)


def test_bytes_removed_by_retention_are_neither() -> None:
    chosen, files = attachable([image(0, None), image(1, 10)], 10 * MIB)
    assert [i.position for i in chosen] == [1] and files == ReferenceFiles(attached=1)
