"""Buttons and views. Persistent buttons are DynamicItems whose custom_id carries the job.

A persistent button is matched by its custom_id (``lemonbot:<action>:<job id>``), so it
keeps working after a restart and on old messages. Its press is handed to the handler
that a cog registered for the action in ``bot.button_handlers``; the cog checks again,
at run time, who may press it and whether the job still exists. Errors go through the
one router, :func:`bot.ui.replies.report_error`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from bot.errors import BotError
from bot.ui.replies import report_error

log = logging.getLogger(__name__)

ButtonHandler = Callable[[discord.Interaction[Any], int], Awaitable[None]]
NOT_OWNER_TEXT = "These buttons belong to the moderator who ran the command."
VIEW_TIMEOUT_SECONDS = 300
PageFetcher = Callable[[int], Awaitable[tuple[str, list[discord.Embed], bool]]]


async def run_button(interaction: discord.Interaction[Any], action: str, job_id: int) -> None:
    """Run the handler a cog registered for ``action``; report any error privately."""
    handlers: dict[str, ButtonHandler] = getattr(interaction.client, "button_handlers", {})
    handler = handlers.get(action)
    try:
        if handler is None:
            raise BotError("This button no longer works.")
        await handler(interaction, job_id)
    except Exception as exc:
        await report_error(interaction, exc, f"button {action}:{job_id}")


class CancelButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"lemonbot:cancel:(?P<job_id>[0-9]+)",
):
    """The Cancel button of a waiting request."""

    def __init__(self, job_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Cancel",
                style=discord.ButtonStyle.secondary,
                custom_id=f"lemonbot:cancel:{job_id}",
            )
        )
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> CancelButton:
        """Rebuild the button from a press on any message."""
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Hand the press to the registered ``cancel`` handler."""
        await run_button(interaction, "cancel", self.job_id)


def cancel_view(job_id: int) -> discord.ui.View:
    """Return the view of a waiting card: one Cancel button."""
    view = discord.ui.View(timeout=None)
    view.add_item(CancelButton(job_id))
    return view


PERSISTENT_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (CancelButton,)


class LogsView(discord.ui.View):
    """Previous/Next buttons of an ``/imagemod logs`` page, usable by its moderator only."""

    def __init__(
        self,
        fetch: PageFetcher,
        owner_id: int,
        origin: discord.Interaction[Any],
        has_next: bool,
    ) -> None:
        super().__init__(timeout=VIEW_TIMEOUT_SECONDS)
        self._fetch = fetch
        self._owner_id = owner_id
        self._origin = origin
        self.page = 0
        self._update_buttons(has_next)

    def _update_buttons(self, has_next: bool) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = not has_next

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Let only the moderator who ran the command turn the pages."""
        if interaction.user.id == self._owner_id:
            return True
        await interaction.response.send_message(NOT_OWNER_TEXT, ephemeral=True)
        return False

    @discord.ui.button(
        label="Previous", style=discord.ButtonStyle.secondary, custom_id="imagemod:logs:previous"
    )
    async def previous(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[LogsView]
    ) -> None:
        """Show the newer page."""
        await self._show(interaction, max(0, self.page - 1))

    @discord.ui.button(
        label="Next", style=discord.ButtonStyle.secondary, custom_id="imagemod:logs:next"
    )
    async def next(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[LogsView]
    ) -> None:
        """Show the older page."""
        await self._show(interaction, self.page + 1)

    async def _show(self, interaction: discord.Interaction[Any], page: int) -> None:
        content, embeds, has_next = await self._fetch(page)
        self.page = page
        self._update_buttons(has_next)
        await interaction.response.edit_message(content=content, embeds=embeds, view=self)

    async def on_timeout(self) -> None:
        """Remove the buttons once they stop working."""
        try:
            await self._origin.edit_original_response(view=None)
        except discord.HTTPException as exc:
            log.debug("could not remove the logs buttons: HTTP %s", exc.status)
