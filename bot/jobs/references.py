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
from bot.i18n import Number, Text
from bot.lemondata.images import EXTENSIONS, image_type
from bot.store import InputImage

log = logging.getLogger(__name__)


def _megabytes(size: int) -> Text:
    return Text.of("unit.megabytes", size=Number(size / (1024 * 1024), decimals=1))


def _shown(name: str | Text) -> str | Text:
    return f"`{name[:80]}`" if isinstance(name, str) else name


def check_sizes(attachments: Sequence[discord.Attachment], max_bytes: int) -> None:
    """Refuse an attachment larger than ``max_bytes`` by its declared size (no download)."""
    for attachment in attachments:
        if attachment.size > max_bytes:
            raise InvalidRequest(
                "refusal.image_too_large",
                name=_shown(attachment.filename),
                size=_megabytes(attachment.size),
                max=_megabytes(max_bytes),
            )


def as_input(position: int, data: bytes, shown_name: str | Text, max_bytes: int) -> InputImage:
    """Return checked bytes as a job input; raise InvalidRequest when they are no image.

    ``shown_name`` names the image in a refusal: a file name, or a message such as
    "image 2" of a result.
    """
    if len(data) > max_bytes:
        raise InvalidRequest(
            "refusal.image_too_large",
            name=_shown(shown_name),
            size=_megabytes(len(data)),
            max=_megabytes(max_bytes),
        )
    kind = image_type(data)
    if kind is None:
        raise InvalidRequest("refusal.not_an_image", name=_shown(shown_name))
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
                "refusal.attachment_unreadable", name=_shown(attachment.filename)
            ) from None
        inputs.append(as_input(position, data, attachment.filename, max_bytes))
    return tuple(inputs)
