"""Languages through the real bot process: a member's locale, the server's, the job's.

A zh-CN member reads Chinese refusals and cards, an en-US member English; the commands
are synced with zh-CN texts; a job delivered after a restart, or as a channel reply
when its interaction token has expired, still reads as its requester's language;
the audit channel reads the server's.
"""

from __future__ import annotations

import signal
from typing import Any

import pytest

from tests.e2e.harness import BotProcess, RecordedEdit, field_value
from tests.fakes.fake_discord import FakeDiscord, FakeInteraction
from tests.fakes.lemondata import LemonDataEmulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

ZH = "zh-CN"
EPHEMERAL = 1 << 6
FLASH = "gemini-2.5-flash-image"
ZH_PROGRESS = "正在生成你的图片…"
ZH_RESULT = "这是你的图片"
ZH_REFUSAL = (
    f"`{FLASH}` 不能选择分辨率：请不要填写 `resolution`，或选择 Pro 模型，"
    "例如 `gemini-3-pro-image-preview`。"
)
EN_REFUSAL = (
    f"`{FLASH}` has no resolution choice: leave `resolution` empty or pick a Pro model "
    "such as `gemini-3-pro-image-preview`."
)


def _titled(interaction: FakeInteraction, title: str) -> list[RecordedEdit]:
    return [
        e
        for e in interaction.edits
        if e.payload.get("embeds") and e.payload["embeds"][0].get("title") == title
    ]


async def _refusal(fake: FakeDiscord, locale: str) -> str:
    interaction = await fake.invoke(
        "imagine", {"prompt": "a lemon", "model": FLASH, "resolution": "2k"}, locale=locale
    )
    _, data = await fake.wait_for_callback(interaction)
    assert int(data.get("flags") or 0) & EPHEMERAL
    return str(data["content"])


async def test_a_refusal_reads_as_each_members_locale(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    assert await _refusal(fake, ZH) == ZH_REFUSAL
    assert await _refusal(fake, "en-US") == EN_REFUSAL
    assert await _refusal(fake, "fr") == EN_REFUSAL  # any other locale reads English
    assert emulator.creates() == []
    bot.assert_log_clean()


async def test_a_chinese_members_result_card_is_chinese(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    interaction = await fake.invoke(
        "imagine", {"prompt": "晨光中的柠檬树", "model": FLASH}, locale=ZH
    )
    _, data = await fake.wait_for_callback(interaction)
    assert data["embeds"][0]["title"] == ZH_PROGRESS
    assert field_value(data["embeds"][0], "模型") == f"`{FLASH}`"
    edits = await fake.wait_for(lambda: _titled(interaction, ZH_RESULT), what="the result")
    [embed] = edits[0].payload["embeds"]
    assert embed["description"] == "晨光中的柠檬树"
    assert field_value(embed, "请求者") == fake.alice.mention
    assert field_value(embed, "比例") == "1:1"
    original = interaction.original
    assert original is not None
    buttons = [c["label"] for row in original["components"] for c in row["components"]]
    assert buttons == ["重新生成", "编辑", "详情", "删除"]
    job = await bot.wait_for_job(lambda j: j["delivery_state"] == "delivered")
    assert job["locale"] == ZH
    bot.assert_log_clean()


async def test_a_job_delivered_after_a_restart_keeps_its_requesters_language(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """Killed mid-task, the bot delivers after its restart, and by channel reply, in Chinese."""
    emulator.hold_tasks = True
    first = await fake.invoke("imagine", {"prompt": "柠檬", "model": "gpt-image-2"}, locale=ZH)
    second = await fake.invoke("imagine", {"prompt": "橙子", "model": "gpt-image-2"}, locale=ZH)
    for interaction in (first, second):
        await fake.wait_for_callback(interaction)
    # Once a task is polled, its id is in the ledger: the restart polls it, never creates it.
    await bot.race(
        emulator.wait_for(
            lambda: len(emulator.tasks) == 2 and all(emulator.polls(t) for t in emulator.tasks)
        )
    )
    assert await bot.kill() == -signal.SIGKILL

    fake.expire_token(second)  # its answer can no longer be edited: a channel reply
    await bot.start()
    for task_id in list(emulator.tasks):
        emulator.complete_task(task_id)
    edits = await bot.race(fake.wait_for(lambda: _titled(first, ZH_RESULT), what="the edit"))
    assert field_value(edits[0].payload["embeds"][0], "请求者") == fake.alice.mention

    def reply() -> dict[str, Any] | None:
        return next(
            (
                m
                for m in fake.channel_messages(second.channel_id)
                if (m.get("message_reference") or {}).get("message_id") == str(second.original_id)
            ),
            None,
        )

    message = await bot.race(fake.wait_for(reply, what="the channel reply"))
    assert message["content"] == f"{fake.alice.mention} 你的图片已生成。"
    assert message["embeds"][0]["title"] == ZH_RESULT
    rows = await bot.wait_for_job(lambda j: j["delivery_state"] == "delivered")
    assert {job["delivered_via"] for job in bot.jobs()} == {"edit", "channel"}
    assert len(emulator.creates()) == 2
    assert rows["locale"] == ZH
    bot.assert_log_clean()


async def test_the_sync_carries_zh_cn_for_every_command_and_option(
    fake: FakeDiscord, bot: BotProcess
) -> None:
    def options(item: dict[str, Any]) -> list[dict[str, Any]]:
        found = []
        for option in item.get("options") or []:
            found += [option, *options(option)]
        return found

    commands = {c["name"]: c for c in fake.global_commands}
    assert set(commands) >= {"imagine", "quota", "models", "help", "imagemod"}
    for name, command in commands.items():
        if command.get("type", 1) != 1:
            assert command["name_localizations"][ZH] == "用 lemonbot 再创作"
            continue
        assert command["description_localizations"][ZH], name
        for option in options(command):
            assert option["description_localizations"][ZH], (name, option["name"])
            for choice in option.get("choices") or []:
                assert choice["name_localizations"][ZH], (name, option["name"], choice)
    imagine = {o["name"]: o for o in commands["imagine"]["options"]}
    assert imagine["prompt"]["description_localizations"][ZH] == "图片应该呈现的内容"
    assert list(imagine)[:2] == ["prompt", "model"]  # the English names are the contract
    bot.assert_log_clean()


async def test_models_names_the_recommended_models_and_what_each_accepts(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    await bot.wait_for_log("image model list refreshed")  # /models reads the cached list
    emulator_models = list(emulator.models)

    async def page(locale: str) -> dict[str, Any]:
        interaction = await fake.invoke("models", locale=locale)
        _, data = await fake.wait_for_callback(interaction)
        assert int(data.get("flags") or 0) & EPHEMERAL
        return data

    data = await page("en-US")
    [embed] = data["embeds"]
    names = [f["name"].split(" · ")[0] for f in embed["fields"]]
    assert names == emulator_models[:5]
    gpt = embed["fields"][0]["value"]
    assert "up to 16 reference images (edit)" in gpt and "as an async task" in gpt
    assert "billed by tokens" in gpt
    dalle = embed["fields"][1]["value"]
    assert "style vivid/natural" in dalle and "no reference image" in dalle
    zh = (await page(ZH))["embeds"][0]
    assert zh["title"] == "图像模型"
    assert "最多 16 张参考图片（编辑）" in zh["fields"][0]["value"]
    bot.assert_log_clean()


async def test_audit_posts_read_as_the_servers_language(fake: FakeDiscord, make_bot: Any) -> None:
    fake.guild().locale = ZH  # the guild's preferred locale, in GUILD_CREATE
    bot = make_bot()
    await bot.start()
    config = await fake.invoke(
        "imagemod config", {"log_channel": fake.channel2_id}, user=fake.owner, locale="en-US"
    )
    await fake.wait_for(lambda: config.edits, what="the config answer")
    assert config.original is not None
    assert config.original["content"].startswith("Done: set the audit channel to")
    [post] = await bot.race(
        fake.wait_for(lambda: fake.channel_messages(fake.channel2_id), what="the audit post")
    )
    assert post["embeds"][0]["title"] == "管理操作"
    bot.assert_log_clean()
