"""Request bodies are validated against Discord's OpenAPI spec; violations fail the test."""

from __future__ import annotations

import pytest

from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_discord.spec import discord_spec
from tests.fakes.test_fake_discord_limits import call


def test_spec_is_parsed_once_and_matches_operations() -> None:
    """One parsed spec per process; literal segments win over parameters."""
    spec = discord_spec()
    assert spec is discord_spec()
    assert spec.operation("GET", "/users/@me").template == "/users/@me"  # type: ignore[union-attr]
    assert spec.operation("GET", "/users/42").template == "/users/{user_id}"  # type: ignore[union-attr]
    original = spec.operation("PATCH", "/webhooks/1/tok/messages/@original")
    assert original is not None and original.template.endswith("/messages/@original")
    assert spec.operation("PATCH", "/nowhere/1") is None


async def test_a_body_against_the_spec_is_refused_and_recorded(fake: FakeDiscord) -> None:
    """Wrong type: 400/50035 with the field's path, and a recorded spec violation."""
    path = f"/channels/{fake.channel_id}/messages"
    status, body = await call(fake, "POST", path, {"content": 5})
    assert (status, body["code"], body["message"]) == (400, 50035, "Invalid Form Body")
    [error] = body["errors"]["content"]["_errors"]
    assert error["code"] == "SPEC_TYPE" and "/channels/{channel_id}/messages" in error["message"]
    [violation] = fake.spec_violations
    assert (violation.kind, violation.method, violation.path) == ("spec", "POST", path)
    assert violation.payload == {"content": 5}
    assert fake.channel_messages(fake.channel_id) == []
    with pytest.raises(AssertionError, match="spec: POST"):
        fake.check_violations()
    assert fake.take_violations() == [violation] and fake.violations == []


async def test_nested_errors_name_the_branch_meant(fake: FakeDiscord) -> None:
    """In an anyOf (components, callbacks) the error comes from the branch that got furthest."""
    path = f"/channels/{fake.channel_id}/messages"
    button = {"type": 2, "style": 1, "custom_id": "x", "label": 7}
    status, body = await call(
        fake, "POST", path, {"components": [{"type": 1, "components": [button]}]}
    )
    assert status == 400
    assert "label" in body["errors"]["components"]["0"]["components"]["0"]
    interaction = fake.interaction_payload("hello", {"name": "x"})
    callback = f"/interactions/{interaction['id']}/{interaction['token']}/callback"
    status, body = await call(fake, "POST", callback, {"type": 4, "data": {"tts": "yes"}})
    assert status == 400 and "tts" in body["errors"]["data"]
    assert len(fake.take_violations()) == 2


async def test_multipart_payload_json_is_validated(fake: FakeDiscord) -> None:
    """The ``payload_json`` part of an upload is held to the same schema."""
    path = f"/channels/{fake.channel_id}/messages"
    bad = {"attachments": [{"id": 0, "filename": 3}]}
    status, body = await call(fake, "POST", path, bad, files=[("a.txt", b"a")])
    assert status == 400 and "filename" in body["errors"]["attachments"]["0"]
    assert [v.kind for v in fake.take_violations()] == ["spec"]
    good = {"attachments": [{"id": 0, "filename": "a.txt"}]}
    status, _ = await call(fake, "POST", path, good, files=[("a.txt", b"a")])
    assert status == 200 and fake.violations == []


async def test_integer_snowflakes_are_accepted(fake: FakeDiscord) -> None:
    """Discord (and discord.py) take ids as numbers too; the spec says strings only."""
    status, channel = await call(fake, "POST", "/users/@me/channels", {"recipient_id": fake.bob.id})
    assert status == 200 and channel["recipients"][0]["id"] == str(fake.bob.id)
    status, _ = await call(fake, "POST", "/users/@me/channels", {"recipient_id": "not-an-id"})
    assert status == 400
    assert [v.kind for v in fake.take_violations()] == ["spec"]


async def test_leaving_the_fake_fails_on_violations() -> None:
    """``async with FakeDiscord()`` raises on a clean exit when a violation was recorded."""
    with pytest.raises(AssertionError, match="Discord would refuse"):
        async with FakeDiscord() as fake:
            await call(fake, "POST", f"/channels/{fake.channel_id}/messages", {"tts": "no"})
            assert fake.spec_violations
    with pytest.raises(ZeroDivisionError):  # a failing test body is not masked
        async with FakeDiscord() as fake:
            await call(fake, "POST", f"/channels/{fake.channel_id}/messages", {"tts": "no"})
            raise ZeroDivisionError


async def test_validation_can_be_switched_off() -> None:
    """``validate_spec=False`` (for a test of something else) lets any JSON through."""
    async with FakeDiscord(validate_spec=False) as fake:
        status, _ = await call(
            fake, "POST", f"/channels/{fake.channel_id}/messages", {"content": "x", "tts": "no"}
        )
        assert status == 200 and fake.violations == []
