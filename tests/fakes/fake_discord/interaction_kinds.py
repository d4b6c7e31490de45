"""Component presses, select choices, modal submits and message context-menu commands."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from tests.fakes.fake_discord.records import FakeInteraction, FakeUser
from tests.fakes.fake_discord.state import FakeState

INTERACTION_MESSAGE_COMPONENT = 3
INTERACTION_MODAL_SUBMIT = 5
COMMAND_MESSAGE = 3
BUTTON = 2
STRING_SELECT = 3
TEXT_INPUT = 4
USER_SELECT = 5
LABEL = 18


def iter_components(components: Any) -> Iterator[dict[str, Any]]:
    """Every component of a tree, depth first (rows, containers, sections, labels)."""
    for component in components or []:
        if not isinstance(component, dict):
            continue
        yield component
        yield from iter_components(component.get("components"))
        for key in ("accessory", "component"):
            if isinstance(component.get(key), dict):
                yield from iter_components([component[key]])


class InteractionKinds(FakeState):
    """Builders (and gateway senders) of the interactions that are not slash commands."""

    def _message_for(self, message: dict[str, Any] | FakeInteraction) -> dict[str, Any]:
        if isinstance(message, FakeInteraction):
            original = message.original
            if original is None:
                raise ValueError(f"interaction {message.id} has no @original message")
            return original
        return message

    def component_payload(
        self,
        message: dict[str, Any] | FakeInteraction,
        *,
        label: str | None = None,
        custom_id: str | None = None,
        values: list[str] | None = None,
        user: FakeUser | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        """Build (and register) the MESSAGE_COMPONENT (type 3) interaction of a press.

        ``message`` is a message object (channel message, ``@original``, followup) or a
        :class:`FakeInteraction` (its ``@original``). The component is found by
        ``label`` or ``custom_id`` anywhere in the tree (Components V2 containers,
        sections, accessories too). ``values`` chooses options of a select menu. Takes
        the keyword arguments of :meth:`interaction_payload` (``locale``, ...).
        """
        shown = self._message_for(message)
        found = [
            c
            for c in iter_components(shown.get("components"))
            if "custom_id" in c
            and (custom_id is None or c["custom_id"] == custom_id)
            and (label is None or c.get("label") == label)
        ]
        if (label is None and custom_id is None) or not found:
            raise ValueError(f"no component with label={label!r} custom_id={custom_id!r}")
        component = found[0]
        if component.get("disabled"):
            raise ValueError(f"component {component['custom_id']!r} is disabled")
        data: dict[str, Any] = {
            "custom_id": component["custom_id"],
            "component_type": component["type"],
        }
        if component["type"] != BUTTON:
            chosen = list(values or [])
            if component["type"] == STRING_SELECT:
                known = {o["value"] for o in component.get("options", [])}
                if not set(chosen) <= known:
                    raise ValueError(f"{sorted(set(chosen) - known)} are not options")
            data["values"] = chosen
            if component["type"] == USER_SELECT:
                users = [self.users[int(v)] for v in chosen]
                data["resolved"] = {
                    "users": {str(u.id): u.payload() for u in users},
                    "members": {str(u.id): self.member_payload(u, with_user=False) for u in users},
                }
        channel_id = int(shown["channel_id"])
        return self._interaction_envelope(
            INTERACTION_MESSAGE_COMPONENT,
            data,
            name=component["custom_id"],
            user=user or self.alice,
            channel_id=channel_id,
            in_guild=channel_id in self.channels,
            message=shown,
            **kw,
        )

    def modal_submit_payload(
        self,
        shown: FakeInteraction,
        values: dict[str, str],
        *,
        user: FakeUser | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        """Build (and register) the MODAL_SUBMIT (type 5) interaction of a modal.

        ``shown`` is the interaction the bot answered with a modal (callback type 9);
        ``values`` maps text inputs' custom_ids to what the member typed (inputs left
        out are sent empty). Rows come back as action rows, labels (type 18) as labels.
        """
        modal = shown.modal
        if modal is None:
            raise ValueError(f"interaction {shown.id} was not answered with a modal")
        inputs = {
            c["custom_id"]
            for c in iter_components(modal.get("components"))
            if c.get("type") == TEXT_INPUT
        }
        unknown = set(values) - inputs
        if unknown:
            raise ValueError(f"the modal has no text inputs {sorted(unknown)}")
        rows: list[dict[str, Any]] = []
        for row in modal.get("components", []):
            if row.get("type") == LABEL:
                inner = row["component"]
                rows.append({"type": LABEL, "component": _submitted(inner, values)})
            elif row.get("type") == 1:
                rows.append(
                    {"type": 1, "components": [_submitted(c, values) for c in row["components"]]}
                )
        data = {"custom_id": modal["custom_id"], "components": rows}
        message = shown.payload.get("message")
        return self._interaction_envelope(
            INTERACTION_MODAL_SUBMIT,
            data,
            name=modal["custom_id"],
            user=user or shown.user,
            channel_id=shown.channel_id,
            in_guild=shown.guild_id is not None,
            message=message,
            **kw,
        )

    def message_command_payload(
        self,
        name: str,
        message: dict[str, Any] | FakeInteraction,
        *,
        user: FakeUser | None = None,
        **kw: Any,
    ) -> dict[str, Any]:
        """Build (and register) a message context-menu command (``data.type`` 3).

        ``data.target_id`` is the message and ``data.resolved.messages`` holds it (with
        its attachments). The command must have been synced (``type: 3``).
        """
        target = self._message_for(message)
        channel_id = int(target["channel_id"])
        guild = self.guild_of_channel(channel_id)
        cmd, cmd_guild = self._find_command(name, COMMAND_MESSAGE, guild.id if guild else None)
        if cmd is None:
            raise ValueError(f"no message command {name!r} was synced")
        data: dict[str, Any] = {
            "id": cmd["id"],
            "name": name,
            "type": COMMAND_MESSAGE,
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: copy.deepcopy(target)}},
        }
        if cmd_guild is not None:
            data["guild_id"] = str(cmd_guild)
        return self._interaction_envelope(
            2,
            data,
            name=name,
            user=user or self.alice,
            channel_id=channel_id,
            in_guild=guild is not None,
            **kw,
        )

    async def _send_interaction(self, payload: dict[str, Any], timeout: float) -> FakeInteraction:
        await self.dispatch("INTERACTION_CREATE", payload, timeout=timeout)
        return self.interactions[int(payload["id"])]

    async def press(
        self,
        message: dict[str, Any] | FakeInteraction,
        label: str | None = None,
        *,
        custom_id: str | None = None,
        user: FakeUser | None = None,
        timeout: float = 10.0,
        **kw: Any,
    ) -> FakeInteraction:
        """Press a button (by label or custom_id) on a message, over the gateway."""
        payload = self.component_payload(message, label=label, custom_id=custom_id, user=user, **kw)
        return await self._send_interaction(payload, timeout)

    async def choose(
        self,
        message: dict[str, Any] | FakeInteraction,
        custom_id: str,
        values: list[str],
        *,
        user: FakeUser | None = None,
        timeout: float = 10.0,
        **kw: Any,
    ) -> FakeInteraction:
        """Choose ``values`` in a select menu of a message, over the gateway."""
        payload = self.component_payload(
            message, custom_id=custom_id, values=values, user=user, **kw
        )
        return await self._send_interaction(payload, timeout)

    async def submit_modal(
        self,
        shown: FakeInteraction,
        values: dict[str, str],
        *,
        user: FakeUser | None = None,
        timeout: float = 10.0,
        **kw: Any,
    ) -> FakeInteraction:
        """Submit the modal the bot answered ``shown`` with, over the gateway."""
        payload = self.modal_submit_payload(shown, values, user=user, **kw)
        return await self._send_interaction(payload, timeout)

    async def invoke_message_command(
        self,
        name: str,
        message: dict[str, Any] | FakeInteraction,
        *,
        user: FakeUser | None = None,
        timeout: float = 10.0,
        **kw: Any,
    ) -> FakeInteraction:
        """Run a message context-menu command on ``message``, over the gateway."""
        payload = self.message_command_payload(name, message, user=user, **kw)
        return await self._send_interaction(payload, timeout)


def _submitted(text_input: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """A text input as a modal submit carries it: type, id, custom_id, value."""
    submitted = {
        "type": text_input["type"],
        "custom_id": text_input["custom_id"],
        "value": values.get(text_input["custom_id"], text_input.get("value") or ""),
    }
    if "id" in text_input:
        submitted["id"] = text_input["id"]
    return submitted
