"""The fake Discord against a real, in-process discord.py ``commands.Bot``."""

from __future__ import annotations

import asyncio
import io
import os
import struct
import subprocess
import sys
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yarl

with warnings.catch_warnings():
    # discord.py imports the deprecated audioop module (Python 3.11).
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord
    import discord.gateway
    import discord.http
    from discord import app_commands
    from discord.ext import commands

from tests.fakes.fake_discord import FakeDiscord, UploadedFile

SITECUSTOMIZE_DIR = Path(__file__).parent / "sitecustomize"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    + struct.pack(">II", 2, 3)
    + b"\x08\x06\x00\x00\x00fake-image-data"
)


class _Tree(app_commands.CommandTree):
    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        interaction.client.outcomes.put_nowait(("error", error))  # type: ignore[attr-defined]


@app_commands.command(description="Say hello")
async def hello(interaction: discord.Interaction, name: str) -> None:
    await interaction.response.send_message(f"hello {name}")
    interaction.client.outcomes.put_nowait(("hello", name))  # type: ignore[attr-defined]


@app_commands.command(description="Draw a lemon")
async def draw(
    interaction: discord.Interaction, prompt: str, count: app_commands.Range[int, 1, 4] = 1
) -> None:
    await interaction.response.defer(thinking=True)
    await interaction.edit_original_response(
        content=f"{prompt} x{count}", attachments=[discord.File(io.BytesIO(PNG), "lemon.png")]
    )
    original = await interaction.original_response()
    followup = await interaction.followup.send("only you", ephemeral=True, wait=True)
    assert isinstance(interaction.channel, discord.TextChannel)
    reply = await interaction.channel.send("posted", reference=original)
    dm = await interaction.user.send("your lemon is ready")
    interaction.client.outcomes.put_nowait(  # type: ignore[attr-defined]
        ("draw", (original, followup, reply, dm))
    )


@draw.autocomplete("prompt")
async def draw_prompt(
    interaction: discord.Interaction, current: str
) -> list[app_commands.Choice[str]]:
    return [
        app_commands.Choice(name=f"{current} lemon", value=f"{current}-lemon"),
        app_commands.Choice(name="lime", value="lime"),
    ]


@app_commands.command(description="Wait for the test, then edit")
async def slow(interaction: discord.Interaction) -> None:
    await interaction.response.defer()
    await interaction.client.gate.wait()  # type: ignore[attr-defined]
    try:
        await interaction.edit_original_response(content="late")
    except discord.HTTPException as exc:
        interaction.client.outcomes.put_nowait(("slow", exc))  # type: ignore[attr-defined]
    else:
        interaction.client.outcomes.put_nowait(("slow", None))  # type: ignore[attr-defined]


class LemonTestBot(commands.Bot):
    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix="!",
            intents=intents,
            help_command=None,
            tree_cls=_Tree,
            guild_ready_timeout=0.01,
        )
        self.outcomes: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.gate = asyncio.Event()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # discord.py sleeps 5 s before every non-initial IDENTIFY; not needed against the fake.
        return None

    async def setup_hook(self) -> None:
        for command in (hello, draw, slow):
            self.tree.add_command(command)
        await self.tree.sync()


async def outcome(bot: LemonTestBot) -> tuple[str, Any]:
    kind, value = await asyncio.wait_for(bot.outcomes.get(), 5)
    if kind == "error":
        raise AssertionError(f"the command failed: {value!r}") from value
    return kind, value


@pytest.fixture
def point_discord(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    # monkeypatch restores both class attributes after the test.
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
    )


@pytest.fixture
async def bot(fake: FakeDiscord, point_discord: None) -> AsyncIterator[LemonTestBot]:
    client = LemonTestBot()
    runner = asyncio.create_task(client.start(fake.bot_token))
    try:
        ready = asyncio.create_task(fake.wait_ready())
        done, _ = await asyncio.wait({runner, ready}, return_when=asyncio.FIRST_COMPLETED)
        if runner in done:
            ready.cancel()
            runner.result()
            raise AssertionError("the bot stopped before READY")
        ready.result()
        await asyncio.wait_for(client.wait_until_ready(), 5)
        yield client
    finally:
        await client.close()
        await runner


async def test_login_ready_and_command_sync(fake: FakeDiscord, bot: LemonTestBot) -> None:
    me = fake.requests_to("GET", r"^/users/@me$")
    assert me and me[0].authorized and me[0].status == 200
    assert all("Authorization" not in r.headers for r in fake.requests)
    assert fake.requests_to("GET", r"^/oauth2/applications/@me$")
    sync = fake.requests_to("PUT", rf"^/applications/{fake.application_id}/commands$")
    assert len(sync) == 1 and sync[0].status == 200

    commands_by_name = {c["name"]: c for c in fake.global_commands}
    assert set(commands_by_name) == {"hello", "draw", "slow"}
    assert all(
        int(c["id"]) and c["application_id"] == str(fake.application_id)
        for c in fake.global_commands
    )
    options = {o["name"]: o for o in commands_by_name["draw"]["options"]}
    assert options["prompt"]["type"] == 3 and options["prompt"]["autocomplete"] is True
    assert options["count"]["type"] == 4 and options["count"]["min_value"] == 1
    assert fake.command_syncs == [(None, ["hello", "draw", "slow"])]

    assert fake.identify_count == 1 and fake.connections == 1
    assert fake.identify_payloads[0]["intents"] == 1  # guilds only
    assert fake.identify_payloads[0]["properties"]["browser"] == "discord.py"
    assert "token" not in fake.identify_payloads[0]
    assert [event for event, _ in fake.gateway_events] == ["READY", "GUILD_CREATE"]

    guild = bot.get_guild(fake.guild_id)
    assert guild is not None and guild.get_channel(fake.channel_id) is not None
    assert bot.user is not None and bot.user.id == fake.bot_user.id
    assert fake.unhandled == []


async def test_invoke_reply(fake: FakeDiscord, bot: LemonTestBot) -> None:
    interaction = await fake.invoke("hello", {"name": "alice"}, user=fake.alice)
    assert await fake.wait_for_callback(interaction) == (
        4,
        {"content": "hello alice", "tts": False},
    )
    assert await outcome(bot) == ("hello", "alice")
    original = interaction.original
    assert original is not None and original["content"] == "hello alice"
    assert original["webhook_id"] == str(fake.application_id)
    assert original["interaction_metadata"]["user"]["id"] == str(fake.alice.id)
    assert not interaction.ephemeral
    assert fake.channel_messages(fake.channel_id) == [original]
    assert fake.unhandled == []


async def test_defer_edit_with_file_followup_reply_and_dm(
    fake: FakeDiscord, bot: LemonTestBot
) -> None:
    interaction = await fake.invoke("draw", {"prompt": "sour", "count": 2}, user=fake.bob)
    _, (original, followup, reply, dm) = await outcome(bot)

    assert interaction.callbacks == [(5, None)]
    [edit] = interaction.edits
    assert edit.files == [UploadedFile("lemon.png", PNG, "application/octet-stream")]
    assert edit.payload["attachments"] == [{"id": 0, "filename": "lemon.png"}]
    stored = interaction.original
    assert stored is not None and stored["content"] == "sour x2" and stored["flags"] == 0
    [attachment] = stored["attachments"]
    assert (attachment["width"], attachment["height"], attachment["content_type"]) == (
        2,
        3,
        "image/png",
    )
    assert fake.original_files(interaction) == [("lemon.png", PNG, "image/png")]
    # The attachment URL serves the bytes back, through discord.py's own session.
    assert original.id == interaction.original_id
    assert await original.attachments[0].read() == PNG

    [followup_message] = interaction.followups
    assert followup.id == int(followup_message["id"])
    assert followup_message["flags"] & 64 and followup_message["content"] == "only you"

    assert reply.reference is not None and reply.reference.message_id == original.id
    assert fake.channel_messages(fake.channel_id) == [stored, fake.messages[reply.id]]
    assert fake.messages[reply.id]["type"] == 19

    assert isinstance(dm.channel, discord.DMChannel)
    assert [m["content"] for m in fake.dms(fake.bob)] == ["your lemon is ready"]
    assert fake.unhandled == []


async def test_autocomplete(fake: FakeDiscord, bot: LemonTestBot) -> None:
    choices = await fake.autocomplete("draw", {"prompt": "sour"}, focused="prompt")
    assert choices == [
        {"name": "sour lemon", "value": "sour-lemon"},
        {"name": "lime", "value": "lime"},
    ]
    payload = fake.last_interaction.payload  # type: ignore[union-attr]
    assert payload["type"] == 4
    assert payload["data"]["options"] == [
        {"name": "prompt", "type": 3, "focused": True, "value": "sour"}
    ]


async def test_rate_limits_are_retried_transparently(fake: FakeDiscord, bot: LemonTestBot) -> None:
    channel_route = rf"^/channels/{fake.channel_id}/messages$"
    fake.rate_limit_next("POST", channel_route, retry_after=0.01)
    fake.rate_limit_next("POST", r"^/interactions/\d+/[^/]+/callback$", retry_after=0.01)

    channel = bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    message = await channel.send("through")
    assert [r.status for r in fake.requests_to("POST", channel_route)] == [429, 200]
    assert [m["content"] for m in fake.channel_messages(fake.channel_id)] == ["through"]
    assert message.id == int(fake.channel_messages(fake.channel_id)[0]["id"])

    interaction = await fake.invoke("hello", {"name": "rl"})
    assert await outcome(bot) == ("hello", "rl")
    callbacks = fake.requests_to("POST", rf"^/interactions/{interaction.id}/")
    assert [r.status for r in callbacks] == [429, 200]
    assert len(interaction.callbacks) == 1


async def test_expired_token_reaches_the_bot(fake: FakeDiscord, bot: LemonTestBot) -> None:
    interaction = await fake.invoke("slow")
    assert await fake.wait_for_callback(interaction) == (5, None)
    fake.expire_token(interaction)
    bot.gate.set()
    kind, error = await outcome(bot)
    assert kind == "slow" and isinstance(error, discord.HTTPException)
    assert (error.status, error.code) == (401, 50027)
    assert interaction.edits == []


async def test_unknown_route_is_recorded(fake: FakeDiscord, bot: LemonTestBot) -> None:
    route = discord.http.Route("GET", "/guilds/{guild_id}/bans", guild_id=fake.guild_id)
    with pytest.raises(discord.NotFound):
        await bot.http.request(route)
    assert [(r.method, r.path) for r in fake.unhandled] == [
        ("GET", f"/guilds/{fake.guild_id}/bans")
    ]


async def test_channel_faults(fake: FakeDiscord, bot: LemonTestBot) -> None:
    channel = bot.get_channel(fake.channel2_id)
    assert isinstance(channel, discord.TextChannel)
    fake.forbid_channel(fake.channel2_id)
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send("no")
    assert forbidden.value.code == 50013
    fake.delete_channel(fake.channel2_id)
    with pytest.raises(discord.NotFound) as missing:
        await channel.send("gone")
    assert missing.value.code == 10003
    fake.fail_next("POST", r"/channels/\d+/messages$", 400, 50035, message="Invalid Form Body")
    with pytest.raises(discord.HTTPException) as failed:
        await bot.get_channel(fake.channel_id).send("x")  # type: ignore[union-attr]
    assert (failed.value.status, failed.value.code) == (400, 50035)
    assert fake.channel_messages(fake.channel_id) == []


async def test_gateway_drop_resumes_then_reidentifies(fake: FakeDiscord, bot: LemonTestBot) -> None:
    await fake.drop_gateway()
    await fake.wait_for(lambda: fake.resume_count == 1 and fake.ready)
    assert fake.connections == 2 and fake.identify_count == 1
    await fake.invoke("hello", {"name": "again"})
    assert await outcome(bot) == ("hello", "again")

    fake.allow_resume = False
    ready_again = asyncio.create_task(bot.wait_for("ready", timeout=5))
    await fake.drop_gateway()
    await fake.wait_for(lambda: fake.identify_count == 2 and fake.ready)
    await ready_again
    await fake.invoke("hello", {"name": "fresh"})
    assert await outcome(bot) == ("hello", "fresh")


async def test_in_process_interaction_without_gateway(
    fake: FakeDiscord, point_discord: None
) -> None:
    async with discord.Client(intents=discord.Intents.none()) as rejected:
        with pytest.raises(discord.LoginFailure):
            await rejected.login("not-the-token")
    assert fake.requests_to("GET", "^/users/@me$")[0].status == 401

    client = discord.Client(intents=discord.Intents.none())
    async with client:
        await client.login(fake.bot_token)
        interaction = fake.build_interaction(client, "hello", {"name": "unit"}, user=fake.mod)
        assert interaction.permissions.manage_messages
        assert interaction.filesize_limit == 10 * 1024 * 1024
        stored = fake.get_interaction(interaction.id)
        assert stored.payload["data"]["options"] == [{"name": "name", "type": 3, "value": "unit"}]

        await interaction.response.send_message(
            "hi", file=discord.File(io.BytesIO(b"abc"), "a.txt"), ephemeral=True
        )
        assert stored.ephemeral and stored.callbacks[0][0] == 4
        assert fake.original_files(stored) == [("a.txt", b"abc", "text/plain")]
        message = await interaction.original_response()
        assert message.id == stored.original_id and message.flags.ephemeral

        await interaction.edit_original_response(attachments=[])
        assert stored.original is not None and stored.original["attachments"] == []

        callback_url = f"{fake.api_base}/interactions/{stored.id}/{stored.token}/callback"
        async with (
            aiohttp.ClientSession() as session,
            session.post(callback_url, json={"type": 4, "data": {"content": "x"}}) as response,
        ):
            assert response.status == 400
            assert response.headers["Content-Type"] == "application/json"
            assert (await response.json())["code"] == 40060

        fake.unknown_interaction(stored)
        with pytest.raises(discord.NotFound) as unknown:
            await interaction.followup.send("late")
        assert unknown.value.code == 10015
    assert fake.unhandled == []


def test_sitecustomize_points_a_child_process_at_the_fake() -> None:
    code = (
        "import discord, discord.http, discord.gateway;"
        "print(discord.http.Route.BASE);"
        "print(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)"
    )
    pythonpath = os.pathsep.join(
        filter(None, [str(SITECUSTOMIZE_DIR), os.environ.get("PYTHONPATH")])
    )
    env = {
        **os.environ,
        "PYTHONPATH": pythonpath,
        "LEMONBOT_FAKE_DISCORD_URL": "http://127.0.0.1:4321",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.split() == ["http://127.0.0.1:4321/api/v10", "ws://127.0.0.1:4321/gateway"]

    del env["LEMONBOT_FAKE_DISCORD_URL"]
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.split() == ["https://discord.com/api/v10", "wss://gateway.discord.gg/"]
