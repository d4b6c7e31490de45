"""Components, modals, message commands, attachment options and locales, through discord.py."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import yarl

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord
    import discord.gateway
    import discord.http
    from discord import app_commands
    from discord.ext import commands

from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.test_fake_discord import PNG
from tests.fakes.test_fake_discord_limits import call


class Ask(discord.ui.Modal, title="Ask"):
    prompt = discord.ui.TextInput(label="Prompt", custom_id="prompt")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"asked {self.prompt.value}")
        interaction.client.outcomes.put_nowait(("ask", self.prompt.value))  # type: ignore[attr-defined]


class AskLabelled(discord.ui.Modal, title="Ask"):
    prompt: discord.ui.Label[Any] = discord.ui.Label(
        text="Prompt", component=discord.ui.TextInput(custom_id="labelled")
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        text_input = self.prompt.component
        assert isinstance(text_input, discord.ui.TextInput)
        await interaction.response.send_message("ok")
        interaction.client.outcomes.put_nowait(("labelled", text_input.value))  # type: ignore[attr-defined]


def record(kind: str) -> Any:
    async def callback(interaction: discord.Interaction) -> None:
        data = interaction.data or {}
        await interaction.response.send_message(kind, ephemeral=True)
        interaction.client.outcomes.put_nowait((kind, data.get("values")))  # type: ignore[attr-defined]

    return callback


@app_commands.command(description="Show a panel")
async def panel(interaction: discord.Interaction) -> None:
    view = discord.ui.View(timeout=None)
    go = discord.ui.Button(label="Go", custom_id="go")
    go.callback = record("go")  # type: ignore[method-assign]
    pick = discord.ui.Select(
        custom_id="pick",
        options=[
            discord.SelectOption(label="A", value="a"),
            discord.SelectOption(label="B", value="b"),
        ],
    )
    pick.callback = record("pick")  # type: ignore[method-assign]
    view.add_item(go).add_item(pick)
    await interaction.response.send_message("panel", view=view)


@app_commands.command(description="Show a Components V2 card")
async def card(interaction: discord.Interaction) -> None:
    view = discord.ui.LayoutView(timeout=None)
    deep = discord.ui.Button(label="Deep", custom_id="deep")
    deep.callback = record("deep")  # type: ignore[method-assign]
    row: discord.ui.ActionRow[Any] = discord.ui.ActionRow()
    row.add_item(deep)
    view.add_item(discord.ui.Container(discord.ui.TextDisplay("inside"), row))
    await interaction.response.send_message(view=view)


@app_commands.command(description="Ask for a prompt")
async def ask(interaction: discord.Interaction, labelled: bool = False) -> None:
    await interaction.response.send_modal(AskLabelled() if labelled else Ask())


@app_commands.command(description="Upload an image")
async def upload(interaction: discord.Interaction, image: discord.Attachment) -> None:
    await interaction.response.send_message("thanks")
    data = await image.read()
    interaction.client.outcomes.put_nowait(("upload", (image, data, interaction.locale)))  # type: ignore[attr-defined]


async def remix(interaction: discord.Interaction, message: discord.Message) -> None:
    await interaction.response.send_message("remixing", ephemeral=True)
    interaction.client.outcomes.put_nowait(("remix", message))  # type: ignore[attr-defined]


class KindsBot(commands.Bot):
    def __init__(self) -> None:
        super().__init__(
            command_prefix="!",
            intents=discord.Intents.none() | discord.Intents(guilds=True),
            help_command=None,
            guild_ready_timeout=0.01,
        )
        self.outcomes: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        return None

    async def setup_hook(self) -> None:
        for command in (panel, card, ask, upload):
            self.tree.add_command(command)
        self.tree.add_command(app_commands.ContextMenu(name="Remix", callback=remix))
        await self.tree.sync()


@pytest.fixture
async def bot(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[KindsBot]:
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
    )
    client = KindsBot()
    runner = asyncio.create_task(client.start(fake.bot_token))
    try:
        await fake.wait_ready()
        await asyncio.wait_for(client.wait_until_ready(), 5)
        yield client
    finally:
        await client.close()
        await runner


async def outcome(bot: KindsBot) -> tuple[str, Any]:
    return await asyncio.wait_for(bot.outcomes.get(), 5)


async def test_press_buttons_and_choose_select_values(fake: FakeDiscord, bot: KindsBot) -> None:
    """A button by label, a select by custom_id: MESSAGE_COMPONENT payloads the view runs."""
    shown = await fake.invoke("panel")
    await fake.wait_for_callback(shown)
    pressed = await fake.press(shown, "Go", user=fake.bob)
    assert await outcome(bot) == ("go", None)
    payload = pressed.payload
    assert payload["type"] == 3 and payload["data"] == {"custom_id": "go", "component_type": 2}
    assert payload["message"]["id"] == str(shown.original_id)
    assert payload["member"]["user"]["id"] == str(fake.bob.id)

    chosen = await fake.choose(shown, "pick", ["b"])
    assert await outcome(bot) == ("pick", ["b"])
    assert chosen.payload["data"]["component_type"] == 3
    with pytest.raises(ValueError, match="not options"):
        fake.component_payload(shown, custom_id="pick", values=["zzz"])
    with pytest.raises(ValueError, match="no component"):
        fake.component_payload(shown, label="Missing")


async def test_press_a_button_nested_in_a_v2_container(fake: FakeDiscord, bot: KindsBot) -> None:
    """Components V2: the button sits in a container's action row."""
    shown = await fake.invoke("card")
    await fake.wait_for_callback(shown)
    assert shown.original is not None and shown.original["flags"] & (1 << 15)
    await fake.press(shown, custom_id="deep")
    assert await outcome(bot) == ("deep", None)


@pytest.mark.parametrize(("labelled", "custom_id"), [(False, "prompt"), (True, "labelled")])
async def test_submit_a_modal(
    fake: FakeDiscord, bot: KindsBot, labelled: bool, custom_id: str
) -> None:
    """Callback type 9 shows a modal; submit_modal answers it (action rows or labels)."""
    shown = await fake.invoke("ask", {"labelled": labelled})
    assert (await fake.wait_for_callback(shown))[0] == 9
    submitted = await fake.submit_modal(shown, {custom_id: "sour lemons"})
    assert await outcome(bot) == ("labelled" if labelled else "ask", "sour lemons")
    data = submitted.payload["data"]
    assert submitted.payload["type"] == 5 and data["custom_id"] == shown.modal["custom_id"]  # type: ignore[index]
    row = data["components"][0]
    text_input = row["component"] if labelled else row["components"][0]
    assert row["type"] == (18 if labelled else 1)
    assert (text_input["type"], text_input["custom_id"], text_input["value"]) == (
        4,
        custom_id,
        "sour lemons",
    )
    with pytest.raises(ValueError, match="no text inputs"):
        fake.modal_submit_payload(shown, {"nope": "x"})


async def test_message_command_resolves_the_target(fake: FakeDiscord, bot: KindsBot) -> None:
    """Context-menu commands are synced; the target message (with attachments) is resolved."""
    [remix_cmd] = [c for c in fake.global_commands if c["type"] == 3]
    assert remix_cmd["name"] == "Remix" and remix_cmd["description"] == ""
    photo = fake.upload_attachment("lemon.png", PNG)
    target = fake.add_member_message(fake.bob, "look", attachments=[photo])
    interaction = await fake.invoke_message_command("Remix", target, user=fake.alice)
    kind, message = await outcome(bot)
    assert kind == "remix" and message.id == int(target["id"])
    assert message.author.id == fake.bob.id and message.attachments[0].filename == "lemon.png"
    data = interaction.payload["data"]
    assert (data["type"], data["target_id"], data["id"]) == (3, target["id"], remix_cmd["id"])
    assert data["resolved"]["messages"][target["id"]]["attachments"] == [photo]


async def test_attachment_option_serves_signed_bytes(fake: FakeDiscord, bot: KindsBot) -> None:
    """Attachment options resolve to Discord's attachment object on the fake's signed CDN."""
    image = fake.upload_attachment("lemon.png", PNG)
    fake.users[fake.alice.id].locale = "zh-CN"
    interaction = await fake.invoke("upload", {"image": image}, user=fake.alice)
    kind, (attachment, data, locale) = await outcome(bot)
    assert kind == "upload" and data == PNG and str(locale) == "zh-CN"
    resolved = interaction.payload["data"]["resolved"]["attachments"][image["id"]]
    assert {k: resolved[k] for k in ("filename", "size", "content_type", "width", "height")} == {
        "filename": "lemon.png",
        "size": len(PNG),
        "content_type": "image/png",
        "width": 2,
        "height": 3,
    }
    url = urlsplit(resolved["url"])
    assert url.netloc == f"127.0.0.1:{fake.port}" and set(parse_qs(url.query)) == {"ex", "is", "hm"}
    assert resolved["proxy_url"] and attachment.url == resolved["url"]
    async with (
        aiohttp.ClientSession() as session,
        session.get(resolved["url"].split("?")[0]) as unsigned,
    ):
        assert unsigned.status == 404
    assert fake.cdn_fetches == [(int(image["id"]), True), (int(image["id"]), False)]


async def test_interaction_payload_fields(fake: FakeDiscord) -> None:
    """Locale (member's, overridable), guild_locale, permissions and context as Discord sends."""
    guild = fake.add_guild("Zitronen", channels=["allgemein"], members=[fake.bob], locale="de")
    payload = fake.interaction_payload(
        "hello", {"name": "x"}, user=fake.bob, channel_id=guild.channel_ids[0]
    )
    assert (payload["locale"], payload["guild_locale"], payload["guild_id"]) == (
        "en-US",
        "de",
        str(guild.id),
    )
    assert payload["entitlements"] == [] and payload["context"] == 0
    assert payload["authorizing_integration_owners"] == {"0": str(guild.id)}
    assert int(payload["app_permissions"]) == fake.app_permissions(guild.channel_ids[0])
    assert payload["attachment_size_limit"] == fake.upload_limit
    other = fake.interaction_payload("hello", {"name": "x"}, locale="zh-CN")
    assert (other["locale"], other["guild_id"]) == ("zh-CN", str(fake.guild_id))
    dm = fake.interaction_payload("hello", {"name": "x"}, in_guild=False)
    assert dm["context"] == 1 and "guild_id" not in dm and dm["user"]["id"] == str(fake.alice.id)


async def test_enforce_nonce_returns_the_existing_message(fake: FakeDiscord) -> None:
    """The same nonce with enforce_nonce gives back the first message, not a second one."""
    path = f"/channels/{fake.channel_id}/messages"
    body = {"content": "once", "nonce": "n-1", "enforce_nonce": True}
    status, first = await call(fake, "POST", path, body)
    status2, again = await call(fake, "POST", path, body)
    assert (status, status2) == (200, 200) and again["id"] == first["id"]
    assert [m["content"] for m in fake.channel_messages(fake.channel_id)] == ["once"]
    _, other_channel = await call(fake, "POST", f"/channels/{fake.channel2_id}/messages", body)
    assert other_channel["id"] != first["id"]
    _, unenforced = await call(fake, "POST", path, {"content": "twice", "nonce": "n-1"})
    assert unenforced["id"] != first["id"] and len(fake.channel_messages(fake.channel_id)) == 2


async def test_message_components_in_a_followup_and_a_channel_message(fake: FakeDiscord) -> None:
    """Any message object works: a channel message's buttons are found too."""
    path = f"/channels/{fake.channel_id}/messages"
    row = {"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "x:1", "label": "Again"}]}
    _, message = await call(fake, "POST", path, {"content": "hi", "components": [row]})
    payload = fake.component_payload(message, label="Again", user=fake.mod, locale="fr")
    assert payload["data"]["custom_id"] == "x:1" and payload["locale"] == "fr"
    assert fake.get_interaction(payload["id"]).type == 3
