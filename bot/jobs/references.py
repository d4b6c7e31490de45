"""Reference images: a member's attachments (or a result's images) turned into job inputs.

Each image is checked before anything is reserved or sent: at most ``max_bytes`` (the
size Discord declares is checked before any download; the download itself is streamed
and stopped the moment it passes the cap, whatever was declared), and it must really
be PNG, JPEG, WebP or GIF: the bytes are sniffed, the declared type is not trusted.
The bytes are kept with the job, so a restart before the create still has them, and
they reach the gateway as an upload, never as Discord's signed, expiring link.

Downloads go through a :data:`Fetch` (``JobService.download``: the same bounded,
address-checked streaming as result images, :mod:`bot.lemondata.downloads`, in slots
of their own). A request's images are read at once, under one READ_SECONDS, and one
member's requests one after another (:class:`Readings`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import discord

from bot.errors import InvalidRequest
from bot.i18n import Number, Text
from bot.lemondata import LemonDataError
from bot.lemondata.downloads import NOT_AN_IMAGE, Download
from bot.lemondata.images import EXTENSIONS, image_type
from bot.store import InputImage

log = logging.getLogger(__name__)

# Download one image from a URL, keeping at most ``max_bytes`` (no bytes: it was larger).
Fetch = Callable[[str, int], Awaitable[Download]]
# The most one reference image may take to download, retries included: a host that
# trickles its bytes would otherwise hold one of the client's request slots for hours.
READ_SECONDS = 30.0
# One member's readings at once: one running and one waiting its turn; a further one is
# refused (a member cannot queue up readings that outlive their interactions).
MAX_PENDING_READINGS = 2


@dataclass(frozen=True)
class Source:
    """Where a reference image is read from, and how a refusal names it."""

    url: str
    name: str | Text  # a file name, or a message such as "image 2"
    declared_size: int | None = None  # what Discord says, when it says


class Unreadable(InvalidRequest):
    """A reference image that could not be downloaded (gone, unreachable, refused)."""


def of_attachment(attachment: discord.Attachment) -> Source:
    """Return the source of a Discord attachment (its signed CDN link and declared size)."""
    return Source(attachment.url, attachment.filename, attachment.size)


def _megabytes(size: int) -> Text:
    return Text.of("unit.megabytes", size=Number(size / (1024 * 1024), decimals=1))


def _shown(name: str | Text) -> str | Text:
    return f"`{name[:80]}`" if isinstance(name, str) else name


def _too_large(name: str | Text, size: int, max_bytes: int) -> InvalidRequest:
    return InvalidRequest(
        "refusal.image_too_large",
        name=_shown(name),
        size=_megabytes(size),
        max=_megabytes(max_bytes),
    )


def check_sizes(attachments: Sequence[discord.Attachment], max_bytes: int) -> None:
    """Refuse an attachment larger than ``max_bytes`` by its declared size (no download)."""
    for attachment in attachments:
        if attachment.size > max_bytes:
            raise _too_large(attachment.filename, attachment.size, max_bytes)


def as_input(position: int, data: bytes, shown_name: str | Text, max_bytes: int) -> InputImage:
    """Return checked bytes as a job input; raise InvalidRequest when they are no image.

    ``shown_name`` names the image in a refusal: a file name, or a message such as
    "image 2" of a result.
    """
    if len(data) > max_bytes:
        raise _too_large(shown_name, len(data), max_bytes)
    kind = image_type(data)
    if kind is None:
        raise InvalidRequest("refusal.not_an_image", name=_shown(shown_name))
    return InputImage(position, f"reference-{position + 1}.{EXTENSIONS[kind]}", kind, data)


async def read(source: Source, position: int, max_bytes: int, fetch: Fetch) -> InputImage:
    """Download one image, streamed and capped at ``max_bytes``; return it as a job input.

    Refused (InvalidRequest) when its declared or real size passes the cap, when it is
    no image, or when it cannot be downloaded within READ_SECONDS; nothing is kept of a
    refused image.
    """
    try:
        async with asyncio.timeout(READ_SECONDS):  # a trickling host keeps no slot for long
            return await _read(source, position, max_bytes, fetch)
    except TimeoutError:
        raise _late(source, position) from None


async def _read(source: Source, position: int, max_bytes: int, fetch: Fetch) -> InputImage:
    if source.declared_size is not None and source.declared_size > max_bytes:
        raise _too_large(source.name, source.declared_size, max_bytes)
    try:
        download = await fetch(source.url, max_bytes)
    except LemonDataError as exc:
        if exc.code == NOT_AN_IMAGE:
            raise InvalidRequest("refusal.not_an_image", name=_shown(source.name)) from None
        log.info("could not download reference image %s: %r", position + 1, exc)
        raise Unreadable("refusal.attachment_unreadable", name=_shown(source.name)) from None
    if download.data is None:  # the stream passed the cap: it was stopped there
        raise InvalidRequest(
            "refusal.image_over_limit", name=_shown(source.name), max=_megabytes(max_bytes)
        )
    return as_input(position, download.data, source.name, max_bytes)


def _late(source: Source, position: int) -> Unreadable:
    log.info("reference image %s not downloaded within %s s", position + 1, READ_SECONDS)
    return Unreadable("refusal.attachment_unreadable", name=_shown(source.name))


async def read_sources(
    sources: Sequence[Source], max_bytes: int, fetch: Fetch
) -> tuple[InputImage, ...]:
    """Download and check the images at once (declared sizes first); return job inputs.

    All of them share one READ_SECONDS; the first refusal stops the others.
    """
    for source in sources:
        if source.declared_size is not None and source.declared_size > max_bytes:
            raise _too_large(source.name, source.declared_size, max_bytes)
    tasks: list[asyncio.Task[InputImage]] = []
    try:
        async with asyncio.timeout(READ_SECONDS), asyncio.TaskGroup() as group:
            for position, source in enumerate(sources):
                tasks.append(group.create_task(_read(source, position, max_bytes, fetch)))
    except TimeoutError:
        late = next((n for n, task in enumerate(tasks) if task.cancelled()), 0)
        raise _late(sources[late], late) from None
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return tuple(task.result() for task in tasks)


async def read_attachments(
    attachments: Sequence[discord.Attachment], max_bytes: int, fetch: Fetch
) -> tuple[InputImage, ...]:
    """Download and check each attachment (sizes first); return them as job inputs."""
    return await read_sources([of_attachment(a) for a in attachments], max_bytes, fetch)


@dataclass
class _Member:
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: int = 0  # readings running or waiting


class Readings:
    """At most one reading of reference images per member at a time.

    A member's second request waits until the first one's images are read (within
    READ_SECONDS); a third, while both are pending, is refused privately.
    """

    def __init__(self) -> None:
        self._members: dict[int, _Member] = {}

    @asynccontextmanager
    async def turn(self, member_id: int) -> AsyncIterator[None]:
        """Hold the member's turn to read images; raise InvalidRequest when too many wait."""
        member = self._members.setdefault(member_id, _Member())
        if member.pending >= MAX_PENDING_READINGS:
            raise InvalidRequest("refusal.references_busy")
        member.pending += 1
        try:
            async with member.turn:
                yield
        finally:
            member.pending -= 1
            if not member.pending:
                del self._members[member_id]

    def pending(self, member_id: int) -> int:
        """How many of the member's readings are running or waiting."""
        member = self._members.get(member_id)
        return member.pending if member else 0
