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

from bot.errors import Refusal
from bot.i18n import ENGLISH, LocaleLike, t
from bot.ui.replies import report_error

log = logging.getLogger(__name__)

ButtonHandler = Callable[[discord.Interaction[Any], int], Awaitable[None]]
VIEW_TIMEOUT_SECONDS = 300
PageFetcher = Callable[[int], Awaitable[tuple[str, list[discord.Embed], bool]]]


async def run_button(interaction: discord.Interaction[Any], action: str, job_id: int) -> None:
    """Run the handler a cog registered for ``action``; report any error privately."""
    handlers: dict[str, ButtonHandler] = getattr(interaction.client, "button_handlers", {})
    handler = handlers.get(action)
    try:
        if handler is None:
            raise Refusal("refusal.button_gone")
        await handler(interaction, job_id)
    except Exception as exc:
        await report_error(interaction, exc, f"button {action}:{job_id}")


# action -> style; the label is button.<action>, the custom_id lemonbot:<action>:<job id>.
JOB_ACTIONS = {
    "cancel": discord.ButtonStyle.secondary,
    "reroll": discord.ButtonStyle.primary,
    "edit": discord.ButtonStyle.secondary,
    "details": discord.ButtonStyle.secondary,
    "delete": discord.ButtonStyle.danger,
}
EDIT_PICK = "editpick"


class JobButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"lemonbot:(?P<action>cancel|reroll|edit|details|delete):(?P<job_id>[0-9]+)",
):
    """A button acting on a job: Cancel, Reroll, Edit, Details or Delete.

    Its label is in the language of the member the message was made for; a press is
    matched by custom_id alone, whatever the label says.
    """

    def __init__(self, action: str, job_id: int, locale: LocaleLike = ENGLISH) -> None:
        super().__init__(
            discord.ui.Button(
                label=t(f"button.{action}", locale),
                style=JOB_ACTIONS[action],
                custom_id=f"lemonbot:{action}:{job_id}",
            )
        )
        self.action = action
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> JobButton:
        """Rebuild the button from a press on any message."""
        return cls(match["action"], int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Hand the press to the handler registered for its action."""
        await run_button(interaction, self.action, self.job_id)


class EditPicker(
    discord.ui.DynamicItem[discord.ui.Select[discord.ui.View]],
    template=r"lemonbot:editpick:(?P<job_id>[0-9]+)",
):
    """On a result with several images: which one Edit starts from."""

    def __init__(self, job_id: int, count: int = 1, locale: LocaleLike = ENGLISH) -> None:
        super().__init__(
            discord.ui.Select(
                custom_id=f"lemonbot:{EDIT_PICK}:{job_id}",
                placeholder=t("button.edit_pick", locale),
                options=[
                    discord.SelectOption(label=t("button.edit_image", locale, n=n), value=str(n))
                    for n in range(1, max(1, count) + 1)
                ],
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
    ) -> EditPicker:
        """Rebuild the select from a choice on any message."""
        return cls(int(match["job_id"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Hand the choice to the ``editpick`` handler (it reads the chosen value)."""
        await run_button(interaction, EDIT_PICK, self.job_id)


def _view(*items: discord.ui.Item[Any]) -> discord.ui.View:
    """Return a view of persistent items, stopped so that only the dynamic items answer."""
    view = discord.ui.View(timeout=None)
    for item in items:
        view.add_item(item)
    view.stop()  # not stored in the view store: presses go to the registered DynamicItems
    return view


def cancel_view(job_id: int, locale: LocaleLike = ENGLISH) -> discord.ui.View:
    """Return the view of a waiting card: one Cancel button."""
    return _view(JobButton("cancel", job_id, locale))


def result_view(job_id: int, images: int, locale: LocaleLike = ENGLISH) -> discord.ui.View:
    """Return the buttons of a delivered result; with several images, a pick for Edit."""
    actions = ["reroll", "edit", "details", "delete"]
    if images > 1:
        actions.remove("edit")  # the select below picks which image to edit
    buttons: list[discord.ui.Item[Any]] = [JobButton(a, job_id, locale) for a in actions]
    if images > 1:
        buttons.append(EditPicker(job_id, images, locale))
    return _view(*buttons)


PERSISTENT_ITEMS: tuple[type[discord.ui.DynamicItem[Any]], ...] = (JobButton, EditPicker)


class PageView(discord.ui.View):
    """Previous/Next buttons of a private list (``/imagemod logs``, ``/models``), for its reader."""

    def __init__(
        self,
        fetch: PageFetcher,
        owner_id: int,
        origin: discord.Interaction[Any],
        has_next: bool,
        *,
        not_owner: str = "refusal.not_page_owner",
    ) -> None:
        super().__init__(timeout=VIEW_TIMEOUT_SECONDS)
        self._not_owner = not_owner  # the catalogue key another member's press is told
        self._fetch = fetch
        self._owner_id = owner_id
        self._origin = origin
        self.page = 0
        self.previous.label = t("button.previous", origin.locale)
        self.next.label = t("button.next", origin.locale)
        self._update_buttons(has_next)

    def _update_buttons(self, has_next: bool) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = not has_next

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Let only the member who ran the command turn the pages."""
        if interaction.user.id == self._owner_id:
            return True
        await interaction.response.send_message(
            t(self._not_owner, interaction.locale), ephemeral=True
        )
        return False

    @discord.ui.button(style=discord.ButtonStyle.secondary, custom_id="lemonbot:page:previous")
    async def previous(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[PageView]
    ) -> None:
        """Show the newer page."""
        await self._show(interaction, max(0, self.page - 1))

    @discord.ui.button(style=discord.ButtonStyle.secondary, custom_id="lemonbot:page:next")
    async def next(
        self, interaction: discord.Interaction[Any], button: discord.ui.Button[PageView]
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
            log.debug("could not remove the page buttons: HTTP %s", exc.status)
