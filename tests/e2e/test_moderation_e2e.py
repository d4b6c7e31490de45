"""/imagemod through the real bot process: permissions, blocks, blocklist, audit, delete.

Here the bot gets the guild (roles and members) from the fake gateway's GUILD_CREATE,
so the moderator-role check and role lookups run exactly as in production.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.e2e.harness import BotProcess, field_value, wait_for_outcome
from tests.fakes.fake_discord import FakeDiscord, FakeInteraction, FakeUser, snowflake
from tests.fakes.lemondata import LemonDataEmulator, make_png

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

EPHEMERAL = 1 << 6
MIB = 1024 * 1024
NOT_MODERATOR = "Only moderators can use /imagemod."


def add_role(fake: FakeDiscord, name: str) -> int:
    """Add a role without permissions to the fake guild (before the bot connects)."""
    role = copy.deepcopy(fake.roles[fake.everyone_role_id])
    role_id = snowflake()
    role.update(id=str(role_id), name=name, position=1, permissions="0")
    fake.roles[role_id] = role
    return role_id


async def ephemeral_answer(fake: FakeDiscord, interaction: FakeInteraction) -> dict[str, Any]:
    """The interaction's final ephemeral answer (the edit after a defer)."""
    kind, _ = await fake.wait_for_callback(interaction)
    if kind == 5:
        await fake.wait_for(lambda: interaction.edits or interaction.followup_ids)
        if interaction.followup_ids:
            return interaction.followups[-1]
    message = interaction.original
    assert message is not None and message["flags"] & EPHEMERAL, message
    return message


async def run(
    fake: FakeDiscord, name: str, options: dict[str, Any], user: FakeUser
) -> dict[str, Any]:
    return await ephemeral_answer(fake, await fake.invoke(name, options, user))


async def audit_post(fake: FakeDiscord, title: str) -> dict[str, Any]:
    """The embed of the audit channel's message whose title starts with ``title``."""
    message = await audit_message(fake, title)
    embed: dict[str, Any] = message["embeds"][0]
    return embed


async def audit_message(fake: FakeDiscord, title: str) -> dict[str, Any]:
    """The audit channel's message whose embed title starts with ``title``."""

    def find() -> dict[str, Any] | None:
        return next(
            (
                m
                for m in fake.channel_messages(fake.channel2_id)
                if m["embeds"][0].get("title", "").startswith(title)
            ),
            None,
        )

    found = await fake.wait_for(find, what=f"audit post {title!r}")
    assert found is not None
    return found


@pytest.fixture
async def helper(fake: FakeDiscord) -> FakeUser:
    """A member whose only role is a plain "Helpers" role (no Manage Messages)."""
    role_id = add_role(fake, "Helpers")
    return fake.add_user("helper", roles=[role_id])


async def test_moderation_in_the_real_process(
    fake: FakeDiscord, emulator: LemonDataEmulator, helper: FakeUser, make_bot: Any
) -> None:
    bot: BotProcess = make_bot()
    await bot.start()
    (group,) = [c for c in fake.global_commands if c["name"] == "imagemod"]
    assert str(group["default_member_permissions"]) == "8192"

    # Permissions both ways: no Manage Messages -> refused; the moderator role qualifies.
    for user in (fake.alice, helper):
        refused = await run(fake, "imagemod blocked", {}, user)
        assert refused["content"] == NOT_MODERATOR
    helper_role = helper.roles[0]
    await run(
        fake,
        "imagemod config",
        {"moderator_role": helper_role, "log_channel": fake.channel2_id},
        fake.mod,
    )
    await audit_post(fake, "Moderator action")
    done = await run(fake, "imagemod block", {"user": fake.bob, "reason": "spam"}, helper)
    assert done["content"] == f"<@{fake.bob.id}> can no longer generate images here."

    # Blocked member and blocklisted prompt: refused privately, nothing sent.
    blocked = await fake.invoke("imagine", {"prompt": "a lemon"}, fake.bob)
    _, data = await fake.wait_for_callback(blocked)
    assert data["flags"] & EPHEMERAL
    assert data["content"] == "You're blocked from generating images on this server."
    await run(fake, "imagemod blocklist add", {"pattern": "storm"}, fake.mod)
    stormy = await fake.invoke("imagine", {"prompt": "a storm at sea"}, fake.alice)
    _, data = await fake.wait_for_callback(stormy)
    assert data["content"] == "Your prompt was blocked by a rule of this server."
    assert "storm" not in data["content"]
    blocked_post = await audit_post(fake, "Prompt blocked")
    assert field_value(blocked_post, "User") == fake.alice.mention
    assert emulator.creates() == []

    # A finished job is audited with its thumbnail; a moderator deletes its image.
    interaction = await fake.invoke("imagine", {"prompt": "a lemon tree"}, fake.alice)
    await wait_for_outcome(fake, interaction)
    row = await bot.wait_for_job(lambda r: r["delivery_state"] == "delivered")
    finished = await audit_post(fake, f"Job {row['id']}")
    assert finished["thumbnail"]["url"].startswith(emulator.base_url)
    deleted = await run(fake, "imagemod delete", {"job_id": row["id"]}, fake.mod)
    assert deleted["content"] == f"Deleted the image of job {row['id']}."
    assert interaction.original_id in fake.deleted_messages
    row = await bot.wait_for_job(lambda r: r["deleted_by"] is not None)
    assert row["deleted_by"] == fake.mod.id


async def test_reference_images_too_large_to_attach_are_named_not_lost(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """A 12 MB reference (allowed: MAX_INPUT_IMAGE_MB is 20) is over the server's 10 MiB.

    While the job runs, /imagemod job attaches what fits and says which image was too
    large to attach; once it is delivered both are kept as small copies, which the audit
    post attaches. A post refused with its files all the same goes without them.
    """
    await run(fake, "imagemod config", {"log_channel": fake.channel2_id}, fake.mod)
    big = make_png((200, 10, 10), size_bytes=12 * MIB)
    small = make_png((10, 200, 10))
    emulator.hold_tasks = True
    interaction = await fake.invoke(
        "imagine",
        {
            "prompt": "two lemons",
            "model": "gpt-image-2",
            "image": fake.upload_attachment("big.png", big, "image/png"),
            "image2": fake.upload_attachment("small.png", small, "image/png"),
        },
        fake.alice,
    )
    await bot.race(emulator.wait_for(lambda: len(emulator.tasks) == 1))
    row = await bot.wait_for_job(lambda r: r["state"] == "running")
    detail = await run(fake, "imagemod job", {"job_id": row["id"]}, fake.mod)
    assert [f.data for f in fake.message_files(detail)] == [small]
    both = "1 image (attached) · 1 image (too large to attach)"
    assert field_value(detail["embeds"][0], "Reference") == both

    emulator.hold_tasks = False
    await bot.race(wait_for_outcome(fake, interaction))
    row = await bot.wait_for_job(lambda r: r["delivery_state"] == "delivered")
    posted = await bot.race(audit_message(fake, f"Job {row['id']}"))
    kept = [f.data[8:12] for f in fake.message_files(posted)]
    assert kept == [b"WEBP", b"WEBP"]  # the small copies
    assert field_value(posted["embeds"][0], "Reference") == "2 images (attached)"

    # Refused with its file (say, no Attach Files there): posted again without it.
    fake.fail_next("POST", rf"^/channels/{fake.channel2_id}/messages$", 403, 50013)
    again = await fake.invoke(
        "imagine",
        {
            "prompt": "one lemon",
            "model": "nano-banana",
            "image": fake.upload_attachment("s.png", small, "image/png"),
        },
        fake.alice,
    )
    await bot.race(wait_for_outcome(fake, again))
    row = await bot.wait_for_job(lambda r: r["delivery_state"] == "delivered")
    posted = await bot.race(audit_message(fake, f"Job {row['id']}"))
    assert fake.message_files(posted) == []
    assert field_value(posted["embeds"][0], "Reference") == "1 image (could not be attached)"
