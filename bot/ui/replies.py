"""Private replies, and the one router that turns any error into one.

:func:`report_error` serves the command tree (``LemonTree.on_error``) and every
persistent button alike: a :class:`~bot.errors.Refusal` is rendered in the member's
language (``interaction.locale``), a check failure gets its short text, and anything
unexpected becomes "Something went wrong (ref XYZ)" with the traceback logged (in
English) under the same reference. No traceback or raw upstream error ever reaches a
person.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import aiohttp
import discord
from discord import app_commands

from bot.errors import GatewayError, LemonbotError, Refusal, branch_of
from bot.i18n import LocaleLike, t
from bot.ui.format import clip

log = logging.getLogger(__name__)


class CheckRefused(Refusal, app_commands.CheckFailure):
    """A command check refused the member, with a message from the catalogue.

    A :class:`~discord.app_commands.CheckFailure` too, so that discord.py treats it as
    the failed check it is.
    """


# check failure -> its catalogue key
CHECK_FAILURE_TEXT = {
    app_commands.NoPrivateMessage: "refusal.server_only",
    app_commands.MissingPermissions: "refusal.missing_permissions",
}


def member_role_ids(user: discord.User | discord.Member) -> tuple[int, ...]:
    """Return the ids of a member's roles, as sent with the interaction.

    The raw ids are used rather than ``Member.roles``, which drops roles missing from
    the guild cache (for instance right after a reconnect).
    """
    if not isinstance(user, discord.Member):
        return ()
    return tuple(user._roles)


async def send_ephemeral(interaction: discord.Interaction[Any], text: str) -> None:
    """Reply privately, whether or not the interaction was answered already."""
    text = clip(text)
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not send an ephemeral reply: HTTP %s", exc.status)
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:  # Discord unreachable
        log.warning("could not send an ephemeral reply: %s", type(exc).__name__)


def error_text(error: BaseException, where: str, locale: LocaleLike) -> str:
    """Return what a member is told about ``error``, in ``locale`` (logging the rest).

    It branches on the bot's exception tree (:mod:`bot.errors`): a refusal is said as
    it is; the gateway failing is said as such, logged in one line; any other error of
    the bot gets a reference, logged in one line naming its branch; anything else gets
    a reference and its traceback in the log.
    """
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    if isinstance(error, app_commands.TransformerError) and error.__cause__ is not None:
        error = error.__cause__  # an option type refused the value (see bot.ui.options)
    if isinstance(error, Refusal):  # CheckRefused included
        return error.render(locale)
    if type(error) in CHECK_FAILURE_TEXT:
        return t(CHECK_FAILURE_TEXT[type(error)], locale)
    if isinstance(error, app_commands.CheckFailure):
        return t("refusal.check_failed", locale)
    if isinstance(error, GatewayError):
        log.warning("%s failed: the gateway failed: %r", where, error)
        return t("failure.unavailable", locale)
    ref = secrets.token_hex(3).upper()
    if isinstance(error, LemonbotError):
        log.error("%s failed (ref %s): %s: %s", where, ref, branch_of(error), error)
    else:
        log.error("%s failed (ref %s)", where, ref, exc_info=error)
    return t("refusal.unexpected", locale, ref=ref)


async def report_error(
    interaction: discord.Interaction[Any], error: BaseException, where: str
) -> None:
    """Answer ``interaction`` privately with what went wrong, in the member's language."""
    await send_ephemeral(interaction, error_text(error, where, interaction.locale))
