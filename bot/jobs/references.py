"""Reference images: a member's attachments, a message's or a result's images, as job inputs.

Each image is checked before anything is reserved or sent. What Discord declares of an
attachment (its media type, file name and size) is checked before the first answer, so a
text file or one too large is refused at once and privately. Then the download is
streamed and stopped the moment it passes ``max_bytes``, whatever was declared, and the
image must really be PNG, JPEG, WebP or GIF: the bytes are sniffed, the declared type is
not trusted.
The bytes are kept with the job, so a restart before the create still has them, and
they reach the gateway as an upload, never as Discord's signed, expiring link. Once the
job's outcome is delivered only a small copy of each stays (:mod:`bot.jobs.kept`).

Downloads go through a :data:`Fetch` (``JobService.download``: the same bounded,
address-checked streaming as result images, :mod:`bot.lemondata.downloads`).
:class:`References` (built in :mod:`bot.client`) holds that fetch and the cap, and the
Remix forms on their way to members: the images of the message they were opened on,
kept until the form is submitted (at most :data:`REMIX_TTL_SECONDS`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import discord

from bot.errors import InvalidRequest
from bot.i18n import Number, Text
from bot.lemondata import GatewayError
from bot.lemondata.downloads import NOT_AN_IMAGE, Download
from bot.lemondata.images import EXTENSIONS, image_type
from bot.store import InputImage, Job, StoredImage
from bot.ui.cards import footer_job
from bot.ui.parts import file_name

log = logging.getLogger(__name__)

# Download one image from a URL, keeping at most ``max_bytes`` (no bytes: it was larger).
Fetch = Callable[[str, int], Awaitable[Download]]
# What Discord may declare for an image the gateway takes ("image/jpg": some clients').
DECLARED_IMAGE_TYPES = frozenset({*EXTENSIONS, "image/jpg"})
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")
# The most one reference image may take to download, retries included: a host that
# trickles its bytes would otherwise hold one of the client's request slots for hours.
READ_SECONDS = 30.0
# A Remix form not submitted within this is forgotten (its images must be picked again).
REMIX_TTL_SECONDS = 15 * 60
MAX_PENDING_REMIXES = 500


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


def declared_type(attachment: discord.Attachment) -> str:
    """Return the media type Discord declares for an attachment (``""`` when none)."""
    return (attachment.content_type or "").split(";", 1)[0].strip().lower()


def check_declared(attachments: Sequence[discord.Attachment], max_bytes: int) -> None:
    """Refuse, with no download, what Discord says is no image the bot takes or too large.

    A declared media type must be PNG, JPEG, WebP or GIF; without one, the file name must
    end like one. What passes is still sniffed once downloaded (:func:`as_input`).
    """
    for attachment in attachments:
        kind = declared_type(attachment)
        if kind and kind not in DECLARED_IMAGE_TYPES:
            raise InvalidRequest(
                "refusal.declared_not_an_image",
                name=_shown(attachment.filename),
                kind=f"`{kind[:60]}`",
            )
        if not kind and not attachment.filename.lower().endswith(IMAGE_SUFFIXES):
            raise InvalidRequest("refusal.not_an_image", name=_shown(attachment.filename))
    check_sizes(attachments, max_bytes)


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
    no image, or when it cannot be downloaded; nothing is kept of a refused image.
    """
    if source.declared_size is not None and source.declared_size > max_bytes:
        raise _too_large(source.name, source.declared_size, max_bytes)
    try:
        async with asyncio.timeout(READ_SECONDS):  # a trickling host keeps no slot for long
            download = await fetch(source.url, max_bytes)
    except TimeoutError:
        log.info("reference image %s not downloaded within %s s", position + 1, READ_SECONDS)
        raise Unreadable("refusal.attachment_unreadable", name=_shown(source.name)) from None
    except GatewayError as exc:
        if exc.code == NOT_AN_IMAGE:
            raise InvalidRequest("refusal.not_an_image", name=_shown(source.name)) from None
        log.info("could not download reference image %s: %r", position + 1, exc)
        raise Unreadable("refusal.attachment_unreadable", name=_shown(source.name)) from None
    if download.data is None:  # the stream passed the cap: it was stopped there
        raise InvalidRequest(
            "refusal.image_over_limit", name=_shown(source.name), max=_megabytes(max_bytes)
        )
    return as_input(position, download.data, source.name, max_bytes)


async def read_sources(
    sources: Sequence[Source], max_bytes: int, fetch: Fetch
) -> tuple[InputImage, ...]:
    """Download and check each image (declared sizes first); return them as job inputs."""
    for source in sources:
        if source.declared_size is not None and source.declared_size > max_bytes:
            raise _too_large(source.name, source.declared_size, max_bytes)
    return tuple([await read(s, position, max_bytes, fetch) for position, s in enumerate(sources)])


async def read_attachments(
    attachments: Sequence[discord.Attachment], max_bytes: int, fetch: Fetch
) -> tuple[InputImage, ...]:
    """Download and check each attachment (sizes first); return them as job inputs."""
    return await read_sources([of_attachment(a) for a in attachments], max_bytes, fetch)


def message_images(message: discord.Message, result_urls: Sequence[str] = ()) -> list[Source]:
    """Return the images a message shows, in order, each once.

    Its image attachments; then the gateway links of a lemonbot result
    (``result_urls``) that it shows (an image too large to attach is linked); then the
    images of its embeds: an embed's image, and the picture of a link's preview.
    """
    found: list[Source] = []
    seen: set[str] = set()

    def add(url: str | None, name: str | None = None, size: int | None = None) -> None:
        if not url or not url.startswith(("https://", "http://")):
            return  # attachment://…, an embed's own reference to a file listed above
        key = url.split("?", 1)[0]
        if key not in seen:
            seen.add(key)
            shown = name or Text.of("refusal.result_image", n=len(found) + 1)
            found.append(Source(url, shown, size))

    for attachment in message.attachments:
        if _looks_like_image(attachment):
            add(attachment.url, attachment.filename, attachment.size)
    text = " ".join([message.content, *(_embed_text(e) for e in message.embeds)])
    for url in result_urls:
        if url in text:
            add(url)
    for embed in message.embeds:
        add(embed.image.url)
        if embed.type in ("image", "gifv"):  # a posted link's preview
            add(embed.thumbnail.url or embed.url)
    return found


def _embed_text(embed: discord.Embed) -> str:
    parts = [embed.description or "", embed.image.url or ""]
    parts += [field.value or "" for field in embed.fields]
    return " ".join(parts)


def _looks_like_image(attachment: discord.Attachment) -> bool:
    """Whether an attachment says it is an image (its bytes are checked on download)."""
    kind = (attachment.content_type or "").lower()
    return kind.startswith("image/") or attachment.filename.lower().endswith(IMAGE_SUFFIXES)


def job_of(message: discord.Message) -> int | None:
    """Return the job a lemonbot result message shows (its card's footer), if any."""
    for embed in message.embeds:
        job_id = footer_job(embed.footer.text or "")
        if job_id is not None:
            return job_id
    return None


@dataclass
class PendingRemix:
    """A Remix form on its way to the member: the message's images, kept until submitted."""

    images: list[Source]
    parent_id: int | None
    created: float  # time.monotonic() when the form opened


class References:
    """Read reference images (capped at ``max_bytes``) and keep the pending Remix forms."""

    def __init__(self, fetch: Fetch, max_bytes: int) -> None:
        self._fetch = fetch
        self.max_bytes = max_bytes
        self._remixes: dict[str, PendingRemix] = {}

    def check_declared(self, attachments: Sequence[discord.Attachment]) -> None:
        """Refuse, with no download, attachments declared as no image or over the cap."""
        check_declared(attachments, self.max_bytes)

    async def attachments(
        self, attachments: Sequence[discord.Attachment]
    ) -> tuple[InputImage, ...]:
        """Download and check a member's attachments; return them as job inputs."""
        return await read_attachments(attachments, self.max_bytes, self._fetch)

    async def sources(self, sources: Sequence[Source]) -> tuple[InputImage, ...]:
        """Download and check the images of a message; return them as job inputs."""
        return await read_sources(sources, self.max_bytes, self._fetch)

    async def result_image(
        self, message: discord.Message | None, job: Job, image: int
    ) -> InputImage:
        """Return the bytes of a result's ``image`` (from 1): its attachment, else its link."""
        wanted = file_name(job.id, StoredImage(image - 1, None, "image/png", None))
        stem = wanted.rsplit(".", 1)[0] + "."
        for attachment in message.attachments if message else ():
            if attachment.filename.startswith(stem):
                (reference,) = await self.attachments([attachment])
                return reference
        if image <= len(job.result_urls):
            name = Text.of("refusal.result_image", n=image)
            try:
                source = Source(job.result_urls[image - 1], name)
                return await read(source, 0, self.max_bytes, self._fetch)
            except Unreadable:
                pass  # the gateway's link expired: said below
        raise InvalidRequest("refusal.edit_gone", image=image, job_id=job.id)

    def hold_remix(self, images: list[Source], parent_id: int | None) -> str:
        """Keep a Remix form's images until it is submitted; return the form's token."""
        now = time.monotonic()
        for token, pending in list(self._remixes.items()):
            expired = now - pending.created > REMIX_TTL_SECONDS
            if expired or len(self._remixes) > MAX_PENDING_REMIXES:
                self._remixes.pop(token, None)
        token = secrets.token_hex(8)
        self._remixes[token] = PendingRemix(images, parent_id, now)
        return token

    def take_remix(self, token: str) -> PendingRemix:
        """Return (and forget) a submitted Remix form's images; refuse an expired form."""
        pending = self._remixes.pop(token, None)
        if pending is None:
            raise InvalidRequest("refusal.remix_expired")
        return pending
