"""How a result's images are spread over messages, within Discord's upload limits.

Discord refuses a file over the upload limit of the place it is posted in (10 MiB
without boosts; a DM has its own) and a request over 25 MiB in total, or with more
than 10 files. The images are packed, in order, into as few messages as fit; an image
too large to attach is linked (the gateway's URL) in the first message. An image that
can be neither attached nor linked is counted, so that it is not charged. Pure, so
that a retry plans exactly the same parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.lemondata.images import EXTENSIONS
from bot.store import StoredImage

MIB = 1024 * 1024
DEFAULT_UPLOAD_LIMIT = 10 * MIB
REQUEST_LIMIT = 25 * MIB
# Room left in a request for the JSON part (embeds, components) and multipart framing.
REQUEST_OVERHEAD = 256 * 1024
MAX_FILES = 10


@dataclass(frozen=True)
class Part:
    """One message of a result: files to attach (name, bytes) and their image positions."""

    files: tuple[tuple[str, bytes], ...] = ()
    positions: tuple[int, ...] = ()


@dataclass(frozen=True)
class Plan:
    """All messages of a result, the links shown in the first, and what cannot be shown."""

    parts: tuple[Part, ...] = (Part(),)
    links: tuple[str, ...] = ()
    link_positions: tuple[int, ...] = ()
    unshown: tuple[int, ...] = ()
    shown_in_first: tuple[int, ...] = field(default=())

    def shown(self, parts_sent: int) -> int:
        """Return how many images a member has seen once ``parts_sent`` parts went out."""
        attached = sum(len(part.positions) for part in self.parts[:parts_sent])
        return attached + (len(self.links) if parts_sent else 0)


def file_name(job_id: int, image: StoredImage) -> str:
    """Return the attachment name of an image (ASCII, as Discord and components want)."""
    return f"lemonbot-{job_id}-{image.position + 1}.{EXTENSIONS.get(image.content_type, 'png')}"


def plan(job_id: int, images: Sequence[StoredImage], file_limit: int) -> Plan:
    """Pack ``images`` into messages: files within ``file_limit``, requests within 25 MiB."""
    budget = REQUEST_LIMIT - REQUEST_OVERHEAD
    parts: list[Part] = []
    files: list[tuple[str, bytes]] = []
    positions: list[int] = []
    links: list[str] = []
    link_positions: list[int] = []
    unshown: list[int] = []
    used = 0
    for image in images:
        if image.data is None or len(image.data) > min(file_limit, budget):
            if image.url:
                links.append(image.url)
                link_positions.append(image.position)
            else:
                unshown.append(image.position)
            continue
        if files and (used + len(image.data) > budget or len(files) == MAX_FILES):
            parts.append(Part(tuple(files), tuple(positions)))
            files, positions, used = [], [], 0
        files.append((file_name(job_id, image), image.data))
        positions.append(image.position)
        used += len(image.data)
    if files or not parts:
        parts.append(Part(tuple(files), tuple(positions)))
    return Plan(
        parts=tuple(parts),
        links=tuple(links),
        link_positions=tuple(link_positions),
        unshown=tuple(unshown),
    )
