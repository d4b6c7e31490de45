"""Reference images: a member's attachments (or a result's images) turned into job inputs.

Each image is checked before anything is reserved or sent: at most ``max_bytes`` (the
size Discord declares is checked before any download, the bytes read after), and it must
really be PNG, JPEG, WebP or GIF: the bytes are sniffed, the declared type is not
trusted. The bytes are kept with the job, so a restart before the create still has
them, and they reach the gateway as an upload, never as Discord's signed, expiring link.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import discord

from bot.errors import InvalidRequest
from bot.lemondata.images import EXTENSIONS, image_type
from bot.store import InputImage

log = logging.getLogger(__name__)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def check_sizes(attachments: Sequence[discord.Attachment], max_bytes: int) -> None:
    """Refuse an attachment larger than ``max_bytes`` by its declared size (no download)."""
    for attachment in attachments:
        if attachment.size > max_bytes:
            raise InvalidRequest(
                f"`{attachment.filename[:80]}` is {_megabytes(attachment.size)}; reference "
                f"images can be at most {_megabytes(max_bytes)}."
            )


def as_input(position: int, data: bytes, shown_name: str, max_bytes: int) -> InputImage:
    """Return checked bytes as a job input; raise InvalidRequest when they are no image."""
    if len(data) > max_bytes:
        raise InvalidRequest(
            f"`{shown_name[:80]}` is {_megabytes(len(data))}; reference images can be at "
            f"most {_megabytes(max_bytes)}."
        )
    kind = image_type(data)
    if kind is None:
        raise InvalidRequest(
            f"`{shown_name[:80]}` is not an image the bot can use: attach a PNG, JPEG, WebP or GIF."
        )
    return InputImage(position, f"reference-{position + 1}.{EXTENSIONS[kind]}", kind, data)


async def read_attachments(
    attachments: Sequence[discord.Attachment], max_bytes: int
) -> tuple[InputImage, ...]:
    """Download and check each attachment (sizes first); return them as job inputs."""
    check_sizes(attachments, max_bytes)
    inputs = []
    for position, attachment in enumerate(attachments):
        try:
            data = await attachment.read()
        except (discord.HTTPException, OSError) as exc:
            log.info("could not read attachment %s: %r", attachment.id, exc)
            raise InvalidRequest(
                f"`{attachment.filename[:80]}` could not be read from Discord. Please attach "
                "it again."
            ) from None
        inputs.append(as_input(position, data, attachment.filename, max_bytes))
    return tuple(inputs)
