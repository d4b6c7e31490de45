"""What ``/imagemod config`` and ``/imagemod quota`` accept, for the cogs and the dashboard.

Both turn a moderator's choices into the same changes and the same words through these
functions, so the web's Settings page refuses what the commands refuse, with the same
messages. Discord checks the ranges of a slash command's options itself; the dashboard
checks them against the same constants.
"""

from __future__ import annotations

from typing import Any

from bot.catalog import OUTPUT_FORMATS
from bot.errors import InvalidRequest
from bot.i18n import Joined, Text
from bot.ui.format import mention

MAX_LIMIT_UNITS = 100_000
MAX_RUNNING = 100
MAX_REASON_LENGTH = 300  # characters of a block's reason
# reset choice -> the settings put back to the default; its name is choice.reset_<choice>
# and the confirmation action.reset_<choice>.
RESETS = {
    "log_channel": ("log_channel_id",),
    "moderator_role": ("moderator_role_id",),
    "running": ("max_running_per_user", "max_running_per_guild"),
}
STRICTNESS = ("auto", "low_age_restricted")
# "bot": no server default, the bot picks PNG or WebP for each request.
FORMATS = ("bot", *OUTPUT_FORMATS)


def config_changes(
    guild_id: int,
    *,
    reset: str | None = None,
    log_channel_id: int | None = None,
    moderator_role_id: int | None = None,
    max_running_per_user: int | None = None,
    max_running_per_server: int | None = None,
    fold_accents: bool | None = None,
    strictness: str | None = None,
    output_format: str | None = None,
    show_cost: bool | None = None,
) -> tuple[dict[str, Any], Text | None]:
    """Return the settings to change and what the change says (None: nothing to change).

    Refuses @everyone (the role whose id is the server's) as the moderator role.
    """
    changes: dict[str, Any] = {}
    said: list[Text] = []
    if reset in RESETS:
        changes.update(dict.fromkeys(RESETS[reset]))
        said.append(Text(f"action.reset_{reset}"))
    if log_channel_id is not None:
        changes["log_channel_id"] = log_channel_id
        said.append(Text.of("action.audit_channel", channel=mention(log_channel_id, "channel")))
    if moderator_role_id is not None:
        if moderator_role_id == guild_id:
            raise InvalidRequest("refusal.everyone_moderator")
        changes["moderator_role_id"] = moderator_role_id
        said.append(Text.of("action.moderator_role", role=mention(moderator_role_id, "role")))
    if max_running_per_user is not None:
        changes["max_running_per_user"] = max_running_per_user
        said.append(Text.of("action.running_per_member", count=max_running_per_user))
    if max_running_per_server is not None:
        changes["max_running_per_guild"] = max_running_per_server
        said.append(Text.of("action.running_per_server", count=max_running_per_server))
    if fold_accents is not None:
        changes["fold_accents"] = fold_accents
        said.append(Text("action.fold_accents_on" if fold_accents else "action.fold_accents_off"))
    if strictness is not None:
        changes["strictness"] = strictness
        said.append(Text(f"action.strictness_{strictness}"))
    if output_format is not None:
        chosen = None if output_format == "bot" else output_format
        changes["output_format"] = chosen
        said.append(
            Text.of("action.output_format", format=chosen)
            if chosen
            else Text("action.output_format_bot")
        )
    if show_cost is not None:
        changes["cost_visible"] = show_cost
        said.append(Text("action.show_cost_on" if show_cost else "action.show_cost_off"))
    if not changes:
        return changes, None
    return changes, Text.of("action.config", changes=Joined(said, "clauses"))


def default_quota_changes(limit: int | None, period: str | None, reset: bool) -> dict[str, Any]:
    """Return the change of the default quota asked for; refuse nothing or a contradiction."""
    if limit is None and period is None and not reset:
        raise InvalidRequest("refusal.default_nothing")
    if reset and limit is not None:
        raise InvalidRequest("refusal.default_both")
    changes: dict[str, Any] = {}
    if reset or limit is not None:
        changes["period_limit"] = limit
    if period is not None:
        changes["quota_period"] = period
    return changes


def rule_units(limit: int | None, unlimited: bool) -> int | None:
    """Return a quota rule's units (None: unlimited); refuse both or neither."""
    if unlimited == (limit is not None):
        raise InvalidRequest("refusal.limit_or_unlimited")
    return None if unlimited else limit
