"""Languages through discord.py's own parsing: the synced commands, replies, cards, audit posts.

A member whose Discord locale is zh-CN reads Chinese; every other member English. The
audit channel reads the server's language; a job keeps its requester's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import bot.i18n.catalog as catalog
from bot.i18n import CHINESE, ENGLISH, t

EPHEMERAL = 64
ZH = "zh-CN"
FLASH = "gemini-2.5-flash-image"


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed.get("fields", [])}


def labels(message: dict[str, Any]) -> list[str]:
    return [
        c.get("label") or c.get("placeholder")
        for row in message.get("components", [])
        for c in row.get("components", [])
    ]


def walk_options(item: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for option in item.get("options") or []:
        where = f"{path} {option['name']}"
        yield where, option
        yield from walk_options(option, where)


# ---------------------------------------------------------------------- the command sync


async def test_sync_carries_chinese_for_every_command_option_and_choice(env):
    """Every description and choice has zh-CN; names stay the English contract."""
    commands = env.fake.global_commands
    assert {c["name"] for c in commands} >= {"imagine", "quota", "imagemod", "Remix with lemonbot"}
    for command in commands:
        name = command["name"]
        if command.get("type", 1) != 1:  # the Remix message command has only a name
            assert command["name_localizations"] == {ZH: t("cmd.remix", CHINESE)}
            continue
        assert ZH not in (command.get("name_localizations") or {}), name
        assert command["description_localizations"][ZH] != command["description"], name
        for where, option in walk_options(command, name):
            assert ZH not in (option.get("name_localizations") or {}), where
            zh = option["description_localizations"][ZH]
            assert zh and zh != option["description"] and zh != "…", where
            for choice in option.get("choices") or []:
                assert choice["name_localizations"][ZH], (where, choice)
    imagine = next(c for c in commands if c["name"] == "imagine")
    assert imagine["description_localizations"][ZH] == t("cmd.imagine", CHINESE)
    ratio = next(o for o in imagine["options"] if o["name"] == "ratio")
    assert ratio["choices"][1] == {
        "name": "16:9 landscape",
        "value": "16:9",
        "name_localizations": {ZH: "16:9 横向"},
    }


async def test_a_changed_translation_is_synced_again(env, monkeypatch):
    """The sync digest covers the translations: changing one re-syncs at the next start."""
    puts = len(env.fake.requests_to("PUT", r"/applications/\d+/commands$"))
    await env.bot.sync_commands()  # nothing changed: no new sync
    assert len(env.fake.requests_to("PUT", r"/applications/\d+/commands$")) == puts

    original = catalog.messages
    real = original(CHINESE)
    changed = catalog.Messages(
        CHINESE, {**real.entries, "cmd.quota": ("查看额度（新译文）",)}, real.plural
    )
    monkeypatch.setattr(
        catalog, "messages", lambda lang: changed if lang == CHINESE else original(lang)
    )
    await env.bot.sync_commands()
    assert len(env.fake.requests_to("PUT", r"/applications/\d+/commands$")) == puts + 1
    quota = next(c for c in env.fake.global_commands if c["name"] == "quota")
    assert quota["description_localizations"][ZH] == "查看额度（新译文）"
    assert (
        quota["description"] == "Show your image quota, when it resets, and what each model costs."
    )


# ---------------------------------------------------------------------- members' language


async def test_refusal_in_the_members_language(env):
    """The same refusal is Chinese for a zh-CN member and English for an en-US one."""
    options = {"prompt": "a lemon", "model": FLASH, "resolution": "4k"}
    zh = env.send("imagine", options, user=env.fake.alice, locale=ZH)
    en = env.send("imagine", options, user=env.fake.bob, locale="en-US")
    (_, zh_data), (_, en_data) = [await env.fake.wait_for_callback(i) for i in (zh, en)]
    assert zh_data["flags"] & EPHEMERAL and en_data["flags"] & EPHEMERAL
    assert zh_data["content"] == (
        f"`{FLASH}` 不能选择分辨率：请不要填写 `resolution`，或选择 Pro 模型，"
        "例如 `gemini-3-pro-image-preview`。"
    )
    assert en_data["content"] == (
        f"`{FLASH}` has no resolution choice: leave `resolution` empty or pick a Pro model "
        "such as `gemini-3-pro-image-preview`."
    )
    assert env.lemondata.creates() == []


async def test_a_chinese_members_cards_and_buttons_are_chinese(env):
    """Progress and result cards, and the result's buttons, follow the requester's locale."""
    interaction = env.send("imagine", {"prompt": "柠檬树", "model": FLASH}, locale=ZH)
    _, data = await env.fake.wait_for_callback(interaction)
    progress = data["embeds"][0]
    assert progress["title"] == "正在生成你的图片…"
    assert set(fields(progress)) >= {"模型", "比例", "状态", "开始于"}
    job = await env.settled((await env.job_for(interaction)).id)
    assert job.locale == CHINESE
    result = interaction.original
    assert result is not None
    embed = result["embeds"][0]
    assert embed["title"] == "这是你的图片"
    assert fields(embed)["请求者"] == env.fake.alice.mention
    assert embed["footer"]["text"] == f"任务 {job.id}"
    assert labels(result) == ["重新生成", "编辑", "详情", "删除"]


async def test_details_are_in_the_pressers_language(env):
    """An English member pressing Details on a Chinese result reads English."""
    interaction = env.send("imagine", {"prompt": "a lemon", "model": FLASH}, locale=ZH)
    await env.fake.wait_for_callback(interaction)
    job = await env.settled((await env.job_for(interaction)).id)
    press = env.click(interaction, "详情", env.fake.bob)
    _, data = await env.fake.wait_for_callback(press)
    assert data["flags"] & EPHEMERAL
    assert data["embeds"][0]["title"] == f"Job {job.id} · details"
    assert "Charged" in fields(data["embeds"][0])


async def test_audit_posts_use_the_servers_language(env):
    """With a zh-CN server, the audit channel reads Chinese; the moderator's reply their own."""
    env.fake.guild().locale = ZH
    env.bot._connection.parse_guild_create(env.fake.guild_payload())
    owner = env.fake.owner
    reply = env.send("imagemod config", {"log_channel": env.fake.channel2_id}, user=owner)
    await env.fake.wait_for_callback(reply)
    await env.fake.wait_for(lambda: reply.edits, what="the config answer")
    assert reply.original is not None
    assert reply.original["content"].startswith("Done: set the audit channel to ")
    [post] = await env.fake.wait_for(
        lambda: env.fake.channel_messages(env.fake.channel2_id), what="the audit post"
    )
    assert post["embeds"][0]["title"] == "管理操作"
    assert post["embeds"][0]["description"] == (
        f"<@{owner.id}> 将审计频道设为 <#{env.fake.channel2_id}>。"
    )


# ---------------------------------------------------------------------- /help and /models


@pytest.mark.parametrize("locale", ["en-US", ZH])
async def test_help_is_private_and_in_the_members_language(env, locale):
    """/help explains making, editing and remixing, the quota and moderation, privately."""
    interaction = env.send("help", locale=locale)
    _, data = await env.fake.wait_for_callback(interaction)
    assert data["flags"] & EPHEMERAL
    [embed] = data["embeds"]
    lang = CHINESE if locale == ZH else ENGLISH
    assert embed["title"] == t("help.title", lang)
    text = "\n".join(fields(embed).values())
    for command in ("/imagine", "/models", "/quota", "/imagemod logs"):
        assert command in text
    for button in ("reroll", "edit", "details", "delete"):
        assert t(f"button.{button}", lang) in text
    assert t("cmd.remix", lang) in text


async def test_models_lists_what_each_model_accepts_costs_and_is_priced(env):
    """/models: each recommended model with its options, async, quota weight and price."""
    interaction = env.send("models")
    _, data = await env.fake.wait_for_callback(interaction)
    assert data["flags"] & EPHEMERAL
    [page] = data["embeds"]
    entries = fields(page)
    assert page["footer"]["text"] == "Page 1 of 2"
    gpt = entries["gpt-image-2 · GPT Image 2"]
    assert "resolution 1k/2k/4k" in gpt and "quality auto/low/medium/high" in gpt
    assert "up to 16 reference images (edit)" in gpt
    assert "**Runs:** as an async task" in gpt
    assert "**Quota:** 2 units per image (4k counts double)" in gpt
    assert "**Price:** billed by tokens ($0.011–$0.25 per image)" in gpt
    dalle = entries["dall-e-3 · DALL-E 3"]
    assert "style vivid/natural" in dalle and "1 image per request" in dalle
    assert "no reference image" in dalle and "**Runs:** in one request" in dalle
    assert "**Price:** ≈ $0.04 per image" in dalle
    assert "**Quota:** 1 unit per image" in dalle
    pro = entries["gemini-3-pro-image-preview · Gemini Pro image"]
    assert "**Price:** ≈ $0.134 per image, $0.134–$0.24 depending on the request" in pro
    assert "1 reference image (image-to-image)" in pro
    assert list(entries)[:2] == ["gpt-image-2 · GPT Image 2", "dall-e-3 · DALL-E 3"]

    press = env.click(interaction, "Next", env.fake.alice)
    _, turned = await env.fake.wait_for_callback(press)
    second = fields(turned["embeds"][0])
    assert "gemini-2.0-flash-preview-image-generation · Gemini 2.0 Flash (prompt only)" in second
    assert "midjourney" in second and "prompt only (no ratio)" in "\n".join(second.values())
    assert turned["embeds"][0]["footer"]["text"] == "Page 2 of 2"


async def test_models_in_chinese_and_with_prices_unknown(env):
    """Chinese /models; a model without published pricing says so."""
    env.lemondata.model_overrides["flux-pro"] = {"pricing": {"unit": "", "per_request": None}}
    await env.bot.catalog.refresh()
    interaction = env.send("models", locale=ZH)
    _, data = await env.fake.wait_for_callback(interaction)
    entries = fields(data["embeds"][0])
    gpt = entries["gpt-image-2 · GPT Image 2"]
    assert "**价格：**按 token 计费（每张 US$0.011–US$0.25）" in gpt
    assert "**额度：**每张 2 单位（4k 计双倍）" in gpt
    assert "质量 自动/低/中/高" in gpt, gpt  # the values too, not the API's English ids
    assert data["embeds"][0]["footer"]["text"] == "第 1 页，共 2 页"
    press = env.click(interaction, "下一页", env.fake.alice)
    _, turned = await env.fake.wait_for_callback(press)
    flux = fields(turned["embeds"][0])["flux-pro · FLUX"]
    assert "**价格：**网关未公布" in flux


async def test_models_answers_at_once_before_the_list_is_loaded(env, monkeypatch):
    """With no model list yet (the gateway failing), /models says so instead of waiting."""
    from bot.lemondata import GatewayError

    async def failing() -> list[Any]:
        raise GatewayError("down")

    catalog_ = env.bot.catalog
    monkeypatch.setattr(catalog_, "fetch", failing)
    monkeypatch.setattr(catalog_, "_models", [])
    monkeypatch.setattr(catalog_, "_fetched_at", None)
    interaction = env.send("models")
    _, data = await env.fake.wait_for_callback(interaction)
    assert data["flags"] & EPHEMERAL
    assert data["content"] == "The model list hasn't loaded yet. Please try again in a moment."
