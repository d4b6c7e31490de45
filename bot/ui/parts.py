"""How a result's images are spread over messages, within Discord's limits.

Discord refuses a file over the upload limit of the place it is posted in (10 MiB
without boosts; a DM has its own) and a request over 25 MiB in total, or with more
than 10 files. The images are packed, in order, into as few messages as fit. An image
too large to attach is linked (the gateway's URL): in the first message (its content
beside attachments, else a field of its embed) as far as the links fit there, then in
the content of the next messages, adding messages when that takes more. So every link
planned is one the member sees, never cut to "+N more"; an image that can be neither
attached nor linked (no URL, or one longer than a message can carry) is counted, so
that it is not charged. Pure, so that a retry plans exactly the same parts; the
embed and links each part shows (:func:`embed`, :func:`link_text`) are pure too.

Discord's upload limits are written here, once; the audit channel's posts
(:mod:`bot.moderation.audit`) keep within them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import discord

from bot.i18n import ENGLISH, t
from bot.lemondata.images import EXTENSIONS
from bot.store import Job, StoredImage
from bot.ui.cards import failure_embed, links_text, result_embed, result_notes, too_large_field
from bot.ui.format import fit_lines

# Discord's upload limits (https://discord.com/developers/docs/reference#uploading-files).
MIB = 1024 * 1024
DEFAULT_UPLOAD_LIMIT = 10 * MIB  # per file, in a server without boosts (and in a DM)
REQUEST_LIMIT = 25 * MIB  # per request, every file and the JSON part together
REQUEST_OVERHEAD = 256 * 1024  # room for the JSON part and the multipart framing
MAX_FILES = 10  # per message
# Room for links, one per line: in a message's content (2,000 characters, leaving space
# for a headline and a mention), and in an embed field (1,024 characters).
LINKS_CONTENT_LIMIT = 1600
LINKS_FIELD_LIMIT = 1024


@dataclass(frozen=True)
class Part:
    """One message of a result: files to attach (name, bytes), links, their positions."""

    files: tuple[tuple[str, bytes], ...] = ()
    positions: tuple[int, ...] = ()
    links: tuple[str, ...] = ()
    link_positions: tuple[int, ...] = ()


@dataclass(frozen=True)
class Plan:
    """All messages of a result, and the images that cannot be shown at all."""

    parts: tuple[Part, ...] = (Part(),)
    unshown: tuple[int, ...] = ()

    @property
    def links(self) -> tuple[str, ...]:
        """Every link, in order, over all parts."""
        return tuple(link for part in self.parts for link in part.links)

    @property
    def link_positions(self) -> tuple[int, ...]:
        """The image position of every link, in order."""
        return tuple(pos for part in self.parts for pos in part.link_positions)

    def shown(self, parts_sent: int) -> int:
        """Return how many images a member has seen once ``parts_sent`` parts went out."""
        return sum(len(part.positions) + len(part.links) for part in self.parts[:parts_sent])


def links_length(links: Sequence[str]) -> int:
    """Return the characters ``links`` take one per line."""
    return sum(len(link) for link in links) + max(0, len(links) - 1)


def file_name(job_id: int, image: StoredImage) -> str:
    """Return the attachment name of an image (ASCII, as Discord and components want)."""
    return f"lemonbot-{job_id}-{image.position + 1}.{EXTENSIONS.get(image.content_type, 'png')}"


def plan(job_id: int, images: Sequence[StoredImage], file_limit: int) -> Plan:
    """Pack ``images`` into messages: files within ``file_limit``, requests within 25 MiB.

    Links take what a message's text can carry, in as many messages as they need.
    """
    budget = REQUEST_LIMIT - REQUEST_OVERHEAD
    parts: list[Part] = []
    files: list[tuple[str, bytes]] = []
    positions: list[int] = []
    linked: list[StoredImage] = []
    unshown: list[int] = []
    used = 0
    for image in images:
        if image.data is None or len(image.data) > min(file_limit, budget):
            if image.url and len(image.url) <= LINKS_CONTENT_LIMIT:
                linked.append(image)
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
    return Plan(parts=_place_links(parts, linked), unshown=tuple(unshown))


def _place_links(parts: list[Part], linked: Sequence[StoredImage]) -> tuple[Part, ...]:
    """Give each link, in order, to the first message from the current one with room.

    The first message carries links in its embed's field when it has no files, else in
    its content; the others in their content. Messages are added while links remain.
    """
    links: list[list[StoredImage]] = [[] for _ in parts]
    index = 0
    for image in linked:
        assert image.url is not None
        while True:
            if index == len(links):
                parts.append(Part())
                links.append([])
            room = LINKS_FIELD_LIMIT if index == 0 and not parts[0].files else LINKS_CONTENT_LIMIT
            if links_length([*(i.url or "" for i in links[index]), image.url]) <= room:
                links[index].append(image)
                break
            index += 1
    return tuple(
        replace(
            part,
            links=tuple(i.url or "" for i in shown),
            link_positions=tuple(i.position for i in shown),
        )
        for part, shown in zip(parts, links, strict=True)
    )


def join_links(links: Sequence[str], limit: int, locale: str = ENGLISH) -> str:
    """Join whole links, one per line, within ``limit`` characters ("+N more" after)."""
    return fit_lines(links, limit, more=lambda count: t("result.more_links", locale, count=count))


def embed(job: Job, plan: Plan, stored: Sequence[StoredImage]) -> discord.Embed:
    """Return the embed of an outcome's first part."""
    if job.state != "succeeded":
        return failure_embed(job)
    first = plan.parts[0]
    ref = (
        f"attachment://{first.files[0][0]}"
        if first.files
        else (first.links[0] if first.links else None)
    )
    embed = result_embed(job, image_ref=ref)
    if first.links and not first.files:
        embed.add_field(
            name=too_large_field(job),
            value=join_links(first.links, LINKS_FIELD_LIMIT, job.locale),
        )
    for name, value in result_notes(job, arrived=len(stored), unshown=len(plan.unshown)):
        embed.add_field(name=name, value=value, inline=False)
    return embed


def link_text(job: Job, plan: Plan, index: int) -> str | None:
    """Return the links a part shows in its content (none is cut: the plan made them fit).

    The first part's links go in its embed instead when it has no files.
    """
    part = plan.parts[index]
    if not part.links or (index == 0 and not part.files):
        return None
    return links_text(job, join_links(part.links, LINKS_CONTENT_LIMIT, job.locale))
