"""Discord's limits in the fake: just under passes, just over is refused and recorded."""

from __future__ import annotations

import io
import json
from typing import Any

import aiohttp
import pytest

from tests.fakes.fake_discord import FakeDiscord

MIB = 1024 * 1024
V2 = 1 << 15


async def call(
    fake: FakeDiscord,
    method: str,
    path: str,
    body: Any = None,
    files: list[tuple[str, bytes]] | None = None,
) -> tuple[int, Any]:
    """Send one request as the bot; return ``(status, JSON body or None)``."""
    headers = {"Authorization": f"Bot {fake.bot_token}"}
    kwargs: dict[str, Any] = {}
    if files is not None:
        form = aiohttp.FormData()
        form.add_field("payload_json", json.dumps(body), content_type="application/json")
        for index, (filename, data) in enumerate(files):
            form.add_field(f"files[{index}]", io.BytesIO(data), filename=filename)
        kwargs["data"] = form
    elif body is not None:
        kwargs["json"] = body
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, fake.api_base + path, headers=headers, **kwargs) as response,
    ):
        text = await response.text()
        return response.status, json.loads(text) if text else None


def refused(fake: FakeDiscord, answer: tuple[int, Any], key: str, status: int = 400) -> None:
    """Assert Discord's error shape, the offending field, and that the test would fail."""
    code, body = answer
    assert code == status, body
    if status == 400:
        assert (body["code"], body["message"]) == (50035, "Invalid Form Body")
        assert key in json.dumps(body["errors"]), body
    else:
        assert body == {"code": 40005, "message": "Request entity too large"}
    with pytest.raises(AssertionError, match="Discord would refuse"):
        fake.check_violations()
    violations = fake.take_violations()
    assert violations and violations[0].status == status


def accepted(fake: FakeDiscord, answer: tuple[int, Any]) -> None:
    code, body = answer
    assert code in (200, 201, 204), body
    assert fake.violations == []


def embed(**kw: Any) -> dict[str, Any]:
    return {"type": "rich", **kw}


def fields(n: int, name: str = "n", value: str = "v") -> list[dict[str, Any]]:
    return [{"name": name, "value": value} for _ in range(n)]


def button(custom_id: str = "b", label: str = "go") -> dict[str, Any]:
    return {"type": 2, "style": 1, "custom_id": custom_id, "label": label}


def row(*components: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(components)}


def buttons(n: int) -> list[dict[str, Any]]:
    return [button(f"b{i}") for i in range(n)]


def select(options: int) -> dict[str, Any]:
    return {
        "type": 3,
        "custom_id": "pick",
        "options": [{"label": f"o{i}", "value": f"v{i}"} for i in range(options)],
    }


def text(content: str) -> dict[str, Any]:
    return {"type": 10, "content": content}


def gallery(n: int, url: str = "https://example.com/a.png") -> dict[str, Any]:
    return {"type": 12, "items": [{"media": {"url": url}} for _ in range(n)]}


# (id, field named in the error, payload just under the limit, payload just over it)
MESSAGE_CASES = [
    ("content", "content", {"content": "x" * 2000}, {"content": "x" * 2001}),
    (
        "embed count",
        "embeds",
        {"embeds": [embed(title="t")] * 10},
        {"embeds": [embed(title="t")] * 11},
    ),
    (
        "embed title",
        "title",
        {"embeds": [embed(title="t" * 256)]},
        {"embeds": [embed(title="t" * 257)]},
    ),
    (
        "embed description",
        "description",
        {"embeds": [embed(description="d" * 4096)]},
        {"embeds": [embed(description="d" * 4097)]},
    ),
    (
        "field count",
        "fields",
        {"embeds": [embed(fields=fields(25))]},
        {"embeds": [embed(fields=fields(26))]},
    ),
    (
        "field name",
        "name",
        {"embeds": [embed(fields=fields(1, name="n" * 256))]},
        {"embeds": [embed(fields=fields(1, name="n" * 257))]},
    ),
    (
        "field value",
        "value",
        {"embeds": [embed(fields=fields(1, value="v" * 1024))]},
        {"embeds": [embed(fields=fields(1, value="v" * 1025))]},
    ),
    (
        "empty field name",
        "name",
        {"embeds": [embed(fields=fields(1))]},
        {"embeds": [embed(fields=fields(1, name=""))]},
    ),
    (
        "footer",
        "footer",
        {"embeds": [embed(footer={"text": "f" * 2048})]},
        {"embeds": [embed(footer={"text": "f" * 2049})]},
    ),
    (
        "author",
        "author",
        {"embeds": [embed(author={"name": "a" * 256})]},
        {"embeds": [embed(author={"name": "a" * 257})]},
    ),
    (
        "embed total",
        "MAX_EMBED_SIZE_EXCEEDED",
        {"embeds": [embed(description="d" * 3000), embed(description="d" * 3000)]},
        {"embeds": [embed(description="d" * 3000), embed(description="d" * 3000, title="t")]},
    ),
    (
        "action rows",
        "components",
        {"components": [row(button(f"r{i}")) for i in range(5)]},
        {"components": [row(button(f"r{i}")) for i in range(6)]},
    ),
    (
        "row buttons",
        "components",
        {"components": [row(*buttons(5))]},
        {"components": [row(*buttons(6))]},
    ),
    (
        "custom_id",
        "custom_id",
        {"components": [row(button("c" * 100))]},
        {"components": [row(button("c" * 101))]},
    ),
    (
        "button label",
        "label",
        {"components": [row(button(label="l" * 80))]},
        {"components": [row(button(label="l" * 81))]},
    ),
    (
        "select options",
        "options",
        {"components": [row(select(25))]},
        {"components": [row(select(26))]},
    ),
    (
        "duplicate custom_id",
        "COMPONENT_CUSTOM_ID_DUPLICATED",
        {"components": [row(button("a"), button("b"))]},
        {"components": [row(button("a"), button("a"))]},
    ),
    # Components V2: the flag refuses content and embeds, counts every component.
    (
        "v2 content",
        "content",
        {"flags": V2, "components": [text("hi")]},
        {"flags": V2, "content": "hi", "components": [text("hi")]},
    ),
    (
        "v2 embeds",
        "embeds",
        {"flags": V2, "components": [text("hi")]},
        {"flags": V2, "embeds": [embed(title="t")], "components": [text("hi")]},
    ),
    (
        "v2 total components",
        "COMPONENT_MAX_TOTAL_COMPONENTS_EXCEEDED",
        {"flags": V2, "components": [{"type": 17, "components": [text("t")] * 39}]},
        {"flags": V2, "components": [{"type": 17, "components": [text("t")] * 40}]},
    ),
    (
        "v2 text total",
        "COMPONENT_MAX_TOTAL_TEXT_EXCEEDED",
        {"flags": V2, "components": [text("t" * 2000), text("t" * 2000)]},
        {"flags": V2, "components": [text("t" * 2000), text("t" * 2001)]},
    ),
    (
        "gallery items",
        "items",
        {"flags": V2, "components": [gallery(10)]},
        {"flags": V2, "components": [gallery(11)]},
    ),
    (
        "empty gallery",
        "items",
        {"flags": V2, "components": [gallery(1)]},
        {"flags": V2, "components": [gallery(0)]},
    ),
    (
        "gallery url",
        "url",
        {"flags": V2, "components": [gallery(1, "http://example.com/a.png")]},
        {"flags": V2, "components": [gallery(1, "ftp://example.com/a.png")]},
    ),
    (
        "gallery attachment",
        "UNFURLED_MEDIA_ITEM_ATTACHMENT_NOT_FOUND",
        {"flags": V2, "components": [gallery(1)]},
        {"flags": V2, "components": [gallery(1, "attachment://missing.png")]},
    ),
    (
        "v2 without the flag",
        "type",
        {"components": [row(button())]},
        {"components": [text("needs the flag")]},
    ),
    (
        "top-level thumbnail",
        "components",
        {
            "flags": V2,
            "components": [
                {
                    "type": 9,
                    "components": [text("s")],
                    "accessory": {"type": 11, "media": {"url": "https://example.com/t.png"}},
                }
            ],
        },
        {"flags": V2, "components": [{"type": 11, "media": {"url": "https://example.com/t.png"}}]},
    ),
]


@pytest.mark.parametrize(
    ("key", "under", "over"), [c[1:] for c in MESSAGE_CASES], ids=[c[0] for c in MESSAGE_CASES]
)
async def test_message_limits(fake: FakeDiscord, key: str, under: Any, over: Any) -> None:
    """A channel message just under a limit is posted; just over, it is refused."""
    path = f"/channels/{fake.channel_id}/messages"
    accepted(fake, await call(fake, "POST", path, under))
    refused(fake, await call(fake, "POST", path, over), key)
    assert len(fake.channel_messages(fake.channel_id)) == 1


async def test_interaction_message_limits_are_nested_under_data(fake: FakeDiscord) -> None:
    """A callback's message is checked too; its errors sit under ``data``."""
    payload = fake.interaction_payload("hello", {"name": "x"})
    path = f"/interactions/{payload['id']}/{payload['token']}/callback"
    status, body = await call(fake, "POST", path, {"type": 4, "data": {"content": "x" * 2001}})
    assert status == 400 and "content" in body["errors"]["data"]
    fake.take_violations()
    accepted(fake, await call(fake, "POST", path, {"type": 4, "data": {"content": "x" * 2000}}))


async def test_v2_media_may_reference_its_own_attachment(fake: FakeDiscord) -> None:
    """``attachment://name`` resolves against the files of the same message."""
    path = f"/channels/{fake.channel_id}/messages"
    body = {
        "flags": V2,
        "attachments": [{"id": 0, "filename": "a.png"}],
        "components": [
            gallery(1, "attachment://a.png"),
            {"type": 13, "file": {"url": "attachment://a.png"}},
        ],
    }
    accepted(fake, await call(fake, "POST", path, body, files=[("a.png", b"png")]))
    body["components"] = [{"type": 13, "file": {"url": "https://example.com/a.png"}}]
    refused(fake, await call(fake, "POST", path, body, files=[("a.png", b"png")]), "url")


async def test_attachment_count(fake: FakeDiscord) -> None:
    """At most 10 attachments per message."""
    path = f"/channels/{fake.channel_id}/messages"
    ten = [(f"f{i}.txt", b"x") for i in range(10)]
    accepted(fake, await call(fake, "POST", path, {}, files=ten))
    refused(
        fake, await call(fake, "POST", path, {}, files=[*ten, ("f10.txt", b"x")]), "attachments"
    )


async def test_default_upload_limits(fake: FakeDiscord) -> None:
    """10 MiB per file by default (also in the payload), 25 MiB per request."""
    assert fake.upload_limit == fake.dm_upload_limit == 10 * MIB
    assert fake.interaction_payload("hello", {"name": "x"})["attachment_size_limit"] == 10 * MIB
    path = f"/channels/{fake.channel_id}/messages"
    accepted(fake, await call(fake, "POST", path, {}, files=[("a.bin", b"x" * 10 * MIB)]))
    refused(
        fake, await call(fake, "POST", path, {}, files=[("a.bin", b"x" * (10 * MIB + 1))]), "", 413
    )
    files = [("a.bin", b"x" * 10 * MIB), ("b.bin", b"x" * 10 * MIB), ("c.bin", b"x" * 5 * MIB)]
    accepted(fake, await call(fake, "POST", path, {}, files=files))
    files[2] = ("c.bin", b"x" * (5 * MIB + 1))
    refused(fake, await call(fake, "POST", path, {}, files=files), "", 413)


async def test_upload_limit_knobs() -> None:
    """``upload_limit`` (guilds, interactions) and ``dm_upload_limit`` are separate."""
    async with FakeDiscord(upload_limit=100, dm_upload_limit=50) as fake:
        assert fake.interaction_payload("hello", {"name": "x"})["attachment_size_limit"] == 100
        dm_payload = fake.interaction_payload("hello", {"name": "x"}, in_guild=False)
        assert dm_payload["attachment_size_limit"] == 50
        guild = f"/channels/{fake.channel_id}/messages"
        accepted(fake, await call(fake, "POST", guild, {}, files=[("a", b"x" * 100)]))
        refused(fake, await call(fake, "POST", guild, {}, files=[("a", b"x" * 101)]), "", 413)
        _, channel = await call(
            fake, "POST", "/users/@me/channels", {"recipient_id": str(fake.bob.id)}
        )
        dm = f"/channels/{channel['id']}/messages"
        accepted(fake, await call(fake, "POST", dm, {}, files=[("a", b"x" * 50)]))
        refused(fake, await call(fake, "POST", dm, {}, files=[("a", b"x" * 51)]), "", 413)

        interaction = fake.interaction_payload("hello", {"name": "x"})
        callback = f"/interactions/{interaction['id']}/{interaction['token']}/callback"
        refused(
            fake,
            await call(fake, "POST", callback, {"type": 4, "data": {}}, files=[("a", b"x" * 101)]),
            "",
            413,
        )


def choices(n: int, name: str = "c", value: Any = "v") -> dict[str, Any]:
    return {"choices": [{"name": name, "value": value} for _ in range(n)]}


CHOICE_CASES = [
    ("count", "choices", choices(25), choices(26)),
    ("name", "name", choices(1, name="n" * 100), choices(1, name="n" * 101)),
    ("empty name", "name", choices(1, name="n"), choices(1, name="")),
    ("string value", "value", choices(1, value="v" * 100), choices(1, value="v" * 101)),
]


@pytest.mark.parametrize(
    ("key", "under", "over"), [c[1:] for c in CHOICE_CASES], ids=[c[0] for c in CHOICE_CASES]
)
async def test_autocomplete_limits(fake: FakeDiscord, key: str, under: Any, over: Any) -> None:
    """Autocomplete results (callback type 8): 25 choices, names 1-100, values <= 100."""
    for data, ok in ((over, False), (under, True)):
        payload = fake.interaction_payload("draw", {"prompt": "s"}, type=4, focused="prompt")
        path = f"/interactions/{payload['id']}/{payload['token']}/callback"
        answer = await call(fake, "POST", path, {"type": 8, "data": data})
        if ok:
            accepted(fake, answer)
            assert fake.get_interaction(payload["id"]).choices == data["choices"]
        else:
            refused(fake, answer, key)


def text_input(**kw: Any) -> dict[str, Any]:
    return {"type": 4, "custom_id": "t", "style": 1, "label": "Prompt", **kw}


def modal(**kw: Any) -> dict[str, Any]:
    return {"custom_id": "m", "title": "Edit", "components": [row(text_input())], **kw}


MODAL_CASES = [
    ("title", "title", modal(title="t" * 45), modal(title="t" * 46)),
    (
        "component count",
        "components",
        modal(components=[row(text_input(custom_id=f"t{i}")) for i in range(5)]),
        modal(components=[row(text_input(custom_id=f"t{i}")) for i in range(6)]),
    ),
    ("no components", "components", modal(), modal(components=[])),
    (
        "custom_id",
        "custom_id",
        modal(components=[row(text_input(custom_id="c" * 100))]),
        modal(components=[row(text_input(custom_id="c" * 101))]),
    ),
    (
        "label",
        "label",
        modal(components=[row(text_input(label="l" * 45))]),
        modal(components=[row(text_input(label="l" * 46))]),
    ),
    (
        "value",
        "value",
        modal(components=[row(text_input(value="v" * 4000))]),
        modal(components=[row(text_input(value="v" * 4001))]),
    ),
    (
        "placeholder",
        "placeholder",
        modal(components=[row(text_input(placeholder="p" * 100))]),
        modal(components=[row(text_input(placeholder="p" * 101))]),
    ),
    (
        "label component",
        "label",
        modal(
            components=[
                {
                    "type": 18,
                    "label": "l" * 45,
                    "component": {"type": 4, "custom_id": "t", "style": 2},
                }
            ]
        ),
        modal(
            components=[
                {
                    "type": 18,
                    "label": "l" * 46,
                    "component": {"type": 4, "custom_id": "t", "style": 2},
                }
            ]
        ),
    ),
]


@pytest.mark.parametrize(
    ("key", "under", "over"), [c[1:] for c in MODAL_CASES], ids=[c[0] for c in MODAL_CASES]
)
async def test_modal_limits(fake: FakeDiscord, key: str, under: Any, over: Any) -> None:
    """Modals (callback type 9): title <= 45, 1-5 components, text input limits."""
    for data, ok in ((over, False), (under, True)):
        payload = fake.interaction_payload("hello", {"name": "x"})
        path = f"/interactions/{payload['id']}/{payload['token']}/callback"
        answer = await call(fake, "POST", path, {"type": 9, "data": data})
        if ok:
            accepted(fake, answer)
            assert fake.get_interaction(payload["id"]).modal == data
        else:
            refused(fake, answer, key)
            assert fake.get_interaction(payload["id"]).modal is None


def command(**kw: Any) -> dict[str, Any]:
    return {"name": "draw", "description": "Draw a lemon", "type": 1, **kw}


def option(name: str = "prompt", **kw: Any) -> dict[str, Any]:
    return {"name": name, "description": "What to draw", "type": 3, **kw}


COMMAND_CASES = [
    ("name", "name", command(name="n" * 32), command(name="n" * 33)),
    ("uppercase name", "name", command(name="draw"), command(name="Draw")),
    ("description", "description", command(description="d" * 100), command(description="d" * 101)),
    ("empty description", "description", command(description="d"), command(description="")),
    (
        "options",
        "options",
        command(options=[option(f"o{i}") for i in range(25)]),
        command(options=[option(f"o{i}") for i in range(26)]),
    ),
    (
        "choices",
        "choices",
        command(options=[option(**choices(25))]),
        command(options=[option(**choices(26))]),
    ),
    (
        "choice name",
        "name",
        command(options=[option(**choices(1, name="c" * 100))]),
        command(options=[option(**choices(1, name="c" * 101))]),
    ),
    (
        "localized name",
        "name_localizations",
        command(name_localizations={"zh-CN": "画"}),
        command(name_localizations={"zh-CN": "画" * 33}),
    ),
    (
        "localized description",
        "description_localizations",
        command(description_localizations={"zh-CN": "画" * 100}),
        command(description_localizations={"zh-CN": "画" * 101}),
    ),
]


@pytest.mark.parametrize(
    ("key", "under", "over"), [c[1:] for c in COMMAND_CASES], ids=[c[0] for c in COMMAND_CASES]
)
async def test_command_sync_limits(fake: FakeDiscord, key: str, under: Any, over: Any) -> None:
    """Command sync (bulk PUT and single POST) checks names, descriptions, options, choices."""
    path = f"/applications/{fake.application_id}/commands"
    refused(fake, await call(fake, "PUT", path, [over]), key)
    refused(fake, await call(fake, "POST", path, over), key)
    assert fake.global_commands == []
    accepted(fake, await call(fake, "PUT", path, [under]))


async def test_command_localizations_are_stored_and_returned(fake: FakeDiscord) -> None:
    """``name_localizations``/``description_localizations`` come back from every route."""
    path = f"/applications/{fake.application_id}/commands"
    localized = command(
        name_localizations={"zh-CN": "画"},
        description_localizations={"zh-CN": "画一个柠檬"},
        options=[
            option(
                name_localizations={"zh-CN": "提示"}, description_localizations={"zh-CN": "画什么"}
            )
        ],
    )
    status, [stored] = await call(fake, "PUT", path, [localized])
    assert status == 200
    for got in (stored, (await call(fake, "GET", path))[1][0], fake.global_commands[0]):
        assert got["name_localizations"] == {"zh-CN": "画"}
        assert got["description_localizations"] == {"zh-CN": "画一个柠檬"}
        assert got["options"][0]["name_localizations"] == {"zh-CN": "提示"}
    assert fake.violations == []
