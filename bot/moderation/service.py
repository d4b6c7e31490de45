"""ModerationService: server rules, moderator actions, the job log, and retention.

:meth:`ModerationService.check_request` runs in ``JobService.accept`` before any quota
is reserved or any request is sent. A blocked prompt is refused saying that a server
rule blocked it, without revealing the rule; the server's audit channel gets the
details.

Every moderator write goes through :meth:`ModeratorActions.act
<bot.moderation.actions.ModeratorActions.act>`, which makes the change and its entry in
the moderator log one transaction, then posts the action to the audit channel
(:class:`~bot.moderation.audit.AuditLog`). What an action did is a
:class:`~bot.i18n.Text`: the moderator reads it in their language, the audit channel
in the server's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bot.errors import InvalidRequest, NotAllowed
from bot.i18n import ENGLISH, LocaleLike, Text
from bot.moderation.actions import ModeratorActions
from bot.moderation.audit import AuditLog
from bot.moderation.blocklist import MAX_RULES_PER_GUILD, RuleSet, check_new_rule, rule_set
from bot.moderation.export import jobs_csv, read_jobs
from bot.moderation.matching import RuleMatcher
from bot.store import (
    BlockedUser,
    GuildSettings,
    InputImage,
    Job,
    JobFilter,
    PromptRule,
    QuotaRule,
    Store,
)
from bot.ui.cards import thumbnail_url
from bot.ui.format import limit_text, mention, shorten
from bot.ui.moderation import action_audit_embed, blocked_audit_embed, rule_kind
from bot.ui.rules import per_period

log = logging.getLogger(__name__)

# Delete a job's result message; True when it was already gone (Delivery.remove).
RemoveMessage = Callable[[Job], Awaitable[bool]]


class PromptBlocked(NotAllowed):
    """The prompt matched the server's blocklist; the message does not reveal the rule."""

    def __init__(self, rule: PromptRule) -> None:
        super().__init__("refusal.prompt_blocked")
        self.rule = rule


class ModerationService:
    """Server rules applied to requests before they cost anything, and moderator actions."""

    def __init__(
        self,
        store: Store,
        audit: AuditLog,
        matcher: RuleMatcher | None = None,
        *,
        remove: RemoveMessage | None = None,
    ) -> None:
        self._store = store
        self.audit = audit
        self._actions = ModeratorActions(store, audit)
        self.matcher = matcher or RuleMatcher()
        self._remove = remove

    # ------------------------------------------------------------------ requests

    async def check_member(self, guild_id: int | None, user_id: int) -> None:
        """Raise NotAllowed if the member is blocked in this server (before a form opens)."""
        if guild_id is not None and await self._store.guilds.blocked_user(guild_id, user_id):
            raise NotAllowed("refusal.member_blocked")

    async def check_request(
        self, guild_id: int, user_id: int, prompt: str, channel_id: int | None = None
    ) -> None:
        """Raise NotAllowed if the user is blocked or the prompt hits the blocklist.

        The blocklist is matched off the event loop (:mod:`bot.moderation.matching`); a
        match past its time limit refuses the prompt too (MatchTimedOut, a NotAllowed).
        """
        await self.check_member(guild_id, user_id)
        rules = await self._store.guilds.prompt_rules(guild_id)
        if not rules:
            return
        fold = (await self._store.guilds.settings(guild_id)).fold_accents
        rule = await self.matcher.first_match(guild_id, rules, fold, prompt)
        if rule is not None:
            log.info("guild %s: prompt of user %s blocked by rule %s", guild_id, user_id, rule.id)
            await self._store.actions.record(
                guild_id, None, "prompt_blocked", f"user:{user_id}", f"rule {rule.id}"
            )
            self.audit.post_soon(
                guild_id, lambda lang: blocked_audit_embed(user_id, channel_id, prompt, rule, lang)
            )
            raise PromptBlocked(rule)

    # ------------------------------------------------------------------ reading

    async def settings(self, guild_id: int) -> GuildSettings:
        """Return a server's settings."""
        return await self._store.guilds.settings(guild_id)

    async def overview(
        self, guild_id: int
    ) -> tuple[GuildSettings, list[PromptRule], list[BlockedUser], list[QuotaRule]]:
        """Return a server's settings, blocklist, blocked members and quota rules."""
        guilds = self._store.guilds
        return (
            await guilds.settings(guild_id),
            await guilds.prompt_rules(guild_id),
            await guilds.blocked_users(guild_id),
            await guilds.quota_rules(guild_id),
        )

    async def blocklist(self, guild_id: int) -> tuple[list[PromptRule], RuleSet]:
        """Return a server's blocklist and how it is applied (entries skipped, cost)."""
        rules = await self._store.guilds.prompt_rules(guild_id)
        fold = (await self._store.guilds.settings(guild_id)).fold_accents
        return rules, await self.matcher.run(rule_set, tuple(rules), fold)

    async def job(self, guild_id: int, job_id: int) -> Job:
        """Return a job of this server; raise InvalidRequest when there is none."""
        job = await self._store.jobs.get(job_id)
        if job is None or job.guild_id != guild_id:
            raise InvalidRequest("refusal.no_such_job", job_id=job_id)
        return job

    async def inputs(self, job: Job) -> list[InputImage]:
        """Return the reference images a job was made from (for moderators to see)."""
        return await self._store.jobs.inputs(job.id) if job.input_count else []

    async def jobs(self, filters: JobFilter, *, limit: int, offset: int = 0) -> list[Job]:
        """Return the jobs matching ``filters``, newest first."""
        return await self._store.jobs.search(filters, limit=limit, offset=offset)

    async def export(
        self, filters: JobFilter, max_rows: int, locale: LocaleLike = ENGLISH
    ) -> tuple[str, int]:
        """Return ``(csv_text, row_count)`` for up to ``max_rows`` matching jobs.

        The header row is in ``locale`` (the moderator's language).
        """
        jobs = await read_jobs(
            lambda limit, offset: self.jobs(filters, limit=limit, offset=offset), max_rows
        )
        return jobs_csv(jobs, locale), len(jobs)

    # ------------------------------------------------------------------ actions

    async def cost_visible(self, guild_id: int) -> bool:
        """Whether the server lets members see what their jobs cost (Details)."""
        return (await self._store.guilds.settings(guild_id)).cost_visible

    async def configure(
        self,
        guild_id: int,
        moderator_id: int,
        changes: dict[str, Any],
        text: Text,
        *,
        via: str | None = None,
    ) -> tuple[GuildSettings, bool]:
        """Change server settings; return them and whether the audit post got through.

        Turning the audit channel off is still announced in the channel it used to be.
        ``via="web"`` (here and in the other settings' actions) records that it was done
        from the dashboard.
        """
        before = await self._store.guilds.settings(guild_id)
        after = await self._actions.act(
            guild_id,
            moderator_id,
            "config",
            text,
            lambda: self._store.guilds.update_settings(guild_id, **changes),
            detail=", ".join(f"{k}={v}" for k, v in changes.items()),
            post=False,
            via=via,
        )
        channel_id = after.log_channel_id or before.log_channel_id
        posted = await self.audit.post(
            guild_id,
            lambda lang: action_audit_embed(moderator_id, text, lang),
            channel_id=channel_id,
        )
        return after, posted

    async def set_default_quota(
        self,
        guild_id: int,
        moderator_id: int,
        changes: dict[str, Any],
        bot_default: int,
        *,
        via: str | None = None,
    ) -> Text:
        """Change the server's default quota or its period; return what was done."""

        def describe(settings: GuildSettings) -> Text:
            limit = bot_default if settings.period_limit is None else settings.period_limit
            quota = per_period(limit_text(limit), settings.quota_period)
            if settings.period_limit is None:
                return Text.of("action.default_quota_bot", quota=quota)
            return Text.of("action.default_quota", quota=quota)

        settings = await self._actions.act(
            guild_id,
            moderator_id,
            "quota_default",
            describe,
            lambda: self._store.guilds.update_settings(guild_id, **changes),
            detail=", ".join(f"{k}={v}" for k, v in changes.items()),
            via=via,
        )
        return describe(settings)

    async def block(
        self,
        guild_id: int,
        user_id: int,
        reason: str | None,
        moderator_id: int,
        *,
        via: str | None = None,
    ) -> None:
        """Stop a member from using /imagine in this server (``via="web"``: from the web)."""
        user = mention(user_id)
        text = (
            Text.of("action.block_reason", user=user, reason=reason)
            if reason
            else Text.of("action.block", user=user)
        )
        await self._actions.act(
            guild_id,
            moderator_id,
            "block",
            text,
            lambda: self._store.guilds.block_user(guild_id, user_id, reason, moderator_id),
            target=f"user:{user_id}",
            detail=reason,
            via=via,
        )

    async def unblock(
        self, guild_id: int, user_id: int, moderator_id: int, *, via: str | None = None
    ) -> None:
        """Let a blocked member use /imagine again; refuse if they were not blocked."""

        async def change() -> None:
            if not await self._store.guilds.unblock_user(guild_id, user_id):
                raise InvalidRequest("refusal.not_blocked", user=mention(user_id))

        await self._actions.act(
            guild_id,
            moderator_id,
            "unblock",
            Text.of("action.unblock", user=mention(user_id)),
            change,
            target=f"user:{user_id}",
            via=via,
        )

    async def add_rule(
        self,
        guild_id: int,
        pattern: str,
        is_regex: bool,
        moderator_id: int,
        *,
        via: str | None = None,
    ) -> PromptRule:
        """Validate and add a blocklist entry (within the limits of bot.moderation.blocklist)."""
        pattern, kind = pattern.strip(), rule_kind(is_regex)
        fold = (await self._store.guilds.settings(guild_id)).fold_accents

        async def change() -> PromptRule:
            rules = await self._store.guilds.prompt_rules(guild_id)
            if len(rules) >= MAX_RULES_PER_GUILD:
                raise InvalidRequest("refusal.blocklist_full", count=len(rules))
            checked = await self.matcher.run(check_new_rule, pattern, is_regex, rules, fold)
            return await self._store.guilds.add_prompt_rule(
                guild_id, checked, is_regex, moderator_id
            )

        rule = await self._actions.act(
            guild_id,
            moderator_id,
            "blocklist_add",
            lambda rule: Text.of(
                "action.blocklist_add", id=rule.id, kind=kind, pattern=f"`{shorten(pattern, 100)}`"
            ),
            change,
            target=lambda rule: f"rule:{rule.id}",
            detail=f"{kind.render(ENGLISH)}: {pattern}",
            via=via,
        )
        return rule

    async def remove_rule(
        self, guild_id: int, rule_id: int, moderator_id: int, *, via: str | None = None
    ) -> None:
        """Remove a blocklist entry; refuse if there is none with that number."""

        async def change() -> None:
            if not await self._store.guilds.remove_prompt_rule(guild_id, rule_id):
                raise InvalidRequest("refusal.no_such_rule", id=rule_id)

        await self._actions.act(
            guild_id,
            moderator_id,
            "blocklist_remove",
            Text.of("action.blocklist_remove", id=rule_id),
            change,
            target=f"rule:{rule_id}",
            via=via,
        )

    async def set_quota_rule(
        self,
        guild_id: int,
        kind: str,
        target_id: int,
        units: int | None,
        moderator_id: int,
        *,
        via: str | None = None,
    ) -> Text:
        """Set a member's or a role's quota (None = unlimited); return what was done."""
        shown = mention(target_id, "role" if kind == "role" else "user")
        text = Text.of("action.quota_rule", target=shown, limit=limit_text(units))
        await self._actions.act(
            guild_id,
            moderator_id,
            f"quota_{kind}",
            text,
            lambda: self._store.guilds.set_quota_rule(
                guild_id, kind, target_id, units, moderator_id
            ),
            target=f"{kind}:{target_id}",
            detail=limit_text(units).render(ENGLISH),
            via=via,
        )
        return text

    async def clear_quota_rule(
        self, guild_id: int, kind: str, target_id: int, moderator_id: int, *, via: str | None = None
    ) -> Text:
        """Remove a member's or a role's quota; refuse if there is none; return what was done."""
        shown = mention(target_id, "role" if kind == "role" else "user")

        async def change() -> None:
            if not await self._store.guilds.clear_quota_rule(guild_id, kind, target_id):
                raise InvalidRequest("refusal.no_quota_rule", target=shown)

        text = Text.of("action.quota_clear", target=shown)
        await self._actions.act(
            guild_id,
            moderator_id,
            f"quota_clear_{kind}",
            text,
            change,
            target=f"{kind}:{target_id}",
            via=via,
        )
        return text

    @staticmethod
    def deletable(job: Job) -> Job:
        """Return ``job`` if its image message can be deleted; raise InvalidRequest if not."""
        if job.deleted_at is not None:
            raise InvalidRequest(
                "refusal.already_deleted", job_id=job.id, by=mention(job.deleted_by)
            )
        if job.delivered_message_id is None or job.delivered_channel_id is None:
            raise InvalidRequest("refusal.nothing_to_delete", job_id=job.id)
        return job

    async def delete_image(self, job: Job, by_user_id: int, *, via: str | None = None) -> Text:
        """Delete a job's image message(s), record who did it; say what happened.

        The message goes through ``remove`` (``Delivery.remove``, wired by the client),
        which returns True when it was already gone (still recorded). The requester
        deleting their own image is recorded exactly like a moderator. ``via="web"``
        records that it was done from the dashboard.
        """
        assert self._remove is not None  # the client wires it
        gone = await self._remove(job)
        await self._actions.act(
            job.guild_id,
            by_user_id,
            "delete",
            Text.of("action.delete", job_id=job.id, user=mention(job.user_id)),
            lambda: self._store.jobs.mark_deleted(job.id, by_user_id),
            target=f"job:{job.id}",
            detail="message already gone" if gone else None,
            thumbnail=thumbnail_url(job),
            via=via,
        )
        if gone:
            return Text.of("mod.deleted_gone", job_id=job.id)
        return Text.of("mod.deleted_image", job_id=job.id)

    # ------------------------------------------------------------------ retention

    async def apply_retention(self, days: int) -> int:
        """Strip prompts and URLs from finished jobs older than ``days`` (0 = keep all)."""
        if days <= 0:
            return 0
        redacted = await self._store.jobs.redact_before(time.time() - days * 86400)
        if redacted:
            log.info("log retention: redacted %d jobs older than %d days", redacted, days)
        return redacted
