"""Issue 22 through the real bot process: a dollar budget nobody can overrun.

A moderator sets a budget with /imagemod budget; a request that could pass it is refused
privately before anything is sent, naming what is left; a job's cost is settled and
shown in Details; the audit channel hears each threshold once.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness import BotProcess, embed_text, until, wait_for_outcome
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.lemondata import LemonDataEmulator, make_png

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

EPHEMERAL = 1 << 6
DEFERRED = 5  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: the answer comes as an edit


def posts(emulator: LemonDataEmulator) -> int:
    return sum(1 for r in emulator.requests if r.method == "POST")


async def moderator(fake: FakeDiscord, bot: BotProcess, name: str, options: dict[str, Any]) -> Any:
    """Run a moderator command and wait for its answer (a deferred one: its edit)."""
    interaction = await fake.invoke(name, options, fake.mod)

    def answered() -> bool:
        kinds = [kind for kind, _ in interaction.callbacks]
        return bool(kinds) and (kinds[0] != DEFERRED or bool(interaction.edits))

    await bot.race(fake.wait_for(answered, 10, what="the command's answer"))
    return interaction


def audit_titles(fake: FakeDiscord) -> list[str]:
    return [
        e.get("title") or ""
        for m in fake.channel_messages(fake.channel2_id)
        for e in m.get("embeds") or []
    ]


async def test_a_budget_refuses_what_could_pass_it_and_settles_what_it_admits(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    await moderator(fake, bot, "imagemod config", {"log_channel": fake.channel2_id})
    # nano-banana is $0.039 an image: one fits $0.045, a second would pass it.
    await moderator(fake, bot, "imagemod budget set", {"amount": 0.045, "period": "month"})
    first = await fake.invoke("imagine", {"prompt": "a lemon", "model": "nano-banana"})
    edit = await bot.race(wait_for_outcome(fake, first, timeout=60))
    assert edit.payload["embeds"][0]["title"] == "Here is your image"
    second = await fake.invoke("imagine", {"prompt": "a lime", "model": "nano-banana"})
    kind, data = await bot.race(fake.wait_for_callback(second))
    assert kind == 4 and int(data.get("flags") or 0) & EPHEMERAL
    said = data["content"]
    assert said.startswith("This server's image budget for ")
    assert "($0.045) has $0.00 left, and this image could cost up to $0.04. It resets on" in said
    assert posts(emulator) == 1  # the refused request sent nothing
    quota = await fake.invoke("quota", {})
    _, card = await bot.race(fake.wait_for_callback(quota))
    assert "$0.00 left of $0.045 this month" in embed_text(card)
    [job] = bot.jobs()
    assert (job["cost"], job["cost_source"], job["cost_estimate"]) == (39_000, "price", 39_000)
    cost = "$0.04 (the published price per image)"
    details = await fake.press(first, "Details", user=fake.mod)  # moderators see the cost
    _, shown = await bot.race(fake.wait_for_callback(details))
    assert cost in embed_text(shown)
    mine = await fake.press(first, "Details")  # the requester: only if the server allows it
    _, shown = await bot.race(fake.wait_for_callback(mine))
    assert cost not in embed_text(shown)
    await moderator(fake, bot, "imagemod config", {"show_cost": True})
    mine = await fake.press(first, "Details")
    _, shown = await bot.race(fake.wait_for_callback(mine))
    assert cost in embed_text(shown)
    await bot.race(
        until(
            lambda: _has(fake, "Image budget: 80% reached"),
            20,
            "the 80 % alert in the audit channel",
        )
    )
    titles = audit_titles(fake)
    assert titles.count("Image budget: 50% reached") == 1
    assert titles.count("Image budget: 80% reached") == 1
    assert "Image budget: 100% reached" not in titles
    usage = await fake.invoke("imagemod usage", {}, fake.mod)
    await bot.race(fake.wait_for(lambda: usage.edits, 20, what="the usage report"))
    report = usage.edits[-1]
    assert "$0.04. Jobs settled: 1, images: 1." in embed_text(report.payload)
    assert "87% of $0.045; $0.00 left" in embed_text(report.payload)
    assert f"<@{fake.alice.id}>: $0.04" in embed_text(report.payload)
    [chart] = report.files
    assert chart.filename == "spend-chart.png" and chart.data.startswith(b"\x89PNG")
    shown = await moderator(fake, bot, "imagemod budget show", {})
    text = embed_text(shown.callbacks[0][1])
    assert "$0.04" in text and "$0.045" in text  # spent (settled, a cent up) and the budget


async def _has(fake: FakeDiscord, title: str) -> bool:
    return title in audit_titles(fake)


async def test_an_unpriced_model_is_refused_while_a_budget_is_set(
    fake: FakeDiscord, emulator: LemonDataEmulator, make_bot: Any
) -> None:
    emulator.model_overrides["nano-banana"] = {"omit_extension": True}  # no price published
    bot = make_bot()
    await bot.start()
    await moderator(fake, bot, "imagemod budget set", {"amount": 5, "period": "day"})
    refused = await fake.invoke("imagine", {"prompt": "a lemon", "model": "nano-banana"})
    _, data = await bot.race(fake.wait_for_callback(refused))
    assert "`nano-banana` has no published price" in data["content"]
    assert posts(emulator) == 0
    await moderator(
        fake, bot, "imagemod budget set", {"amount": 5, "period": "day", "allow_unpriced": True}
    )
    allowed = await fake.invoke("imagine", {"prompt": "a lemon", "model": "nano-banana"})
    await bot.race(wait_for_outcome(fake, allowed, timeout=60))
    cleared = await moderator(fake, bot, "imagemod budget clear", {})
    assert "removed" in cleared.callbacks[0][1]["content"]


async def test_a_token_billed_job_is_settled_from_the_usage_the_gateway_reports(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """gpt-image-2 with a reference image: its cost is the reported tokens at the detailed
    prices of GET /v1/pricing (image input tokens cost more than text ones)."""
    await bot.wait_for_log("image model prices refreshed")
    await moderator(fake, bot, "imagemod budget set", {"amount": 10, "period": "week"})
    attachment = fake.upload_attachment("cat.png", make_png((200, 120, 30)), "image/png")
    interaction = await fake.invoke(
        "imagine",
        {"prompt": "the same cat, in ink", "model": "gpt-image-2", "image": attachment},
    )
    await bot.race(wait_for_outcome(fake, interaction, timeout=60))
    [job] = bot.jobs()
    reported = emulator.reported_cost(job["task_id"])
    assert reported is not None and job["cost_source"] == "usage"
    # Whole token counts at whole micro-dollar prices per token million: exact.
    assert job["cost"] == reported * 1_000_000
    assert 0 < job["cost"] <= job["cost_estimate"]  # the reservation was the worst case
    usage = emulator.generation(job["task_id"]).usage
    assert usage is not None and usage["input_tokens_details"]["image_tokens"] == 1000


async def test_a_failed_job_releases_its_reservation(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """$0.05: a refused prompt's job fails and gives back its $0.039, so the next one fits."""
    await moderator(fake, bot, "imagemod budget set", {"amount": 0.05, "period": "day"})
    failed = await fake.invoke("imagine", {"prompt": "a forbidden lemon", "model": "nano-banana"})
    edit = await bot.race(wait_for_outcome(fake, failed, timeout=60))
    assert "did not count against your quota" in embed_text(edit.payload)
    made = await fake.invoke("imagine", {"prompt": "a lemon", "model": "nano-banana"})
    edit = await bot.race(wait_for_outcome(fake, made, timeout=60))
    assert edit.payload["embeds"][0]["title"] == "Here is your image"
    first, second = bot.jobs()
    assert (first["state"], first["quota_state"], first["cost"]) == ("failed", "released", 0)
    assert (second["cost"], second["cost_source"]) == (39_000, "price")
