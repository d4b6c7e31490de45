"""Routes: interaction callbacks and interaction webhooks."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.fake_discord.components import check_modal
from tests.fakes.fake_discord.constants import (
    CALLBACK_TYPES,
    CB_AUTOCOMPLETE_RESULT,
    CB_CHANNEL_MESSAGE,
    CB_DEFERRED_CHANNEL_MESSAGE,
    CB_MODAL,
    CB_PONG,
    CB_UPDATE_MESSAGE,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    MESSAGE_CHAT_INPUT_COMMAND,
    MESSAGE_DEFAULT,
    SETTABLE_FLAGS,
)
from tests.fakes.fake_discord.errors import (
    ApiError,
    errors_under,
    form_error,
    json_response,
    no_content,
)
from tests.fakes.fake_discord.limits import check_autocomplete_choices
from tests.fakes.fake_discord.records import FakeInteraction, RecordedEdit, RecordedRequest
from tests.fakes.fake_discord.state import FakeState

if TYPE_CHECKING:
    from tests.fakes.fake_discord.rest import Route


WEBHOOK = "/webhooks/{app}/{token}"
WEBHOOK_MESSAGE = WEBHOOK + r"/messages/{mid:@original|\d+}"


class InteractionRoutes(FakeState):
    """``/interactions/{id}/{token}/callback`` and ``/webhooks/{app}/{token}``."""

    def _interaction_routes(self) -> list[Route]:
        """Interaction callbacks and webhooks."""
        return [
            ("POST", "/interactions/{iid}/{token}/callback", self._callback),
            ("POST", WEBHOOK, self._execute_webhook),
            (
                "GET",
                WEBHOOK_MESSAGE,
                self._get_webhook_message,
            ),
            (
                "PATCH",
                WEBHOOK_MESSAGE,
                self._edit_webhook_message,
            ),
            (
                "DELETE",
                WEBHOOK_MESSAGE,
                self._delete_webhook_message,
            ),
        ]

    # ------------------------------------------------------------------ interaction callback

    def _callback(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        interaction = self.interactions.get(int(m["iid"]))
        if (
            interaction is None
            or interaction.token != m["token"]
            or interaction.unknown
            or interaction.expired
        ):
            raise ApiError(404, 10062, "Unknown interaction")
        body = rec.json if isinstance(rec.json, dict) else {}
        cb_type = body.get("type")
        if cb_type not in CALLBACK_TYPES:
            raise form_error(
                "type", "BASE_TYPE_CHOICES", f"Value must be one of {sorted(CALLBACK_TYPES)}."
            )
        if interaction.callbacks:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if interaction.type == 4 and cb_type != CB_AUTOCOMPLETE_RESULT:
            raise ApiError(400, 50035, "Invalid Form Body: autocomplete needs type 8")
        if interaction.type != 4 and cb_type == CB_AUTOCOMPLETE_RESULT:
            raise ApiError(400, 50035, "Invalid Form Body: type 8 is for autocomplete only")
        data = body.get("data")
        data_dict: dict[str, Any] = data if isinstance(data, dict) else {}
        with errors_under("data"):
            message = self._callback_effect(rec, interaction, cb_type, data_dict)
        interaction.callbacks.append((cb_type, copy.deepcopy(data)))
        self._changed()
        return self._callback_answer(rec, interaction, cb_type, message)

    def _callback_effect(
        self,
        rec: RecordedRequest,
        interaction: FakeInteraction,
        cb_type: int,
        data_dict: dict[str, Any],
    ) -> dict[str, Any] | None:
        """Apply a callback (create, defer, update, choices, modal); return its message."""
        message: dict[str, Any] | None = None
        if cb_type == CB_CHANNEL_MESSAGE:
            flags = int(data_dict.get("flags") or 0) & SETTABLE_FLAGS
            message = self._create_message(
                rec,
                data_dict,
                channel_id=interaction.channel_id,
                msg_type=MESSAGE_CHAT_INPUT_COMMAND,
                flags=flags,
                interaction=interaction,
                size_limit=interaction.attachment_size_limit,
            )
            interaction.original_id = int(message["id"])
        elif cb_type == CB_DEFERRED_CHANNEL_MESSAGE:
            flags = (int(data_dict.get("flags") or 0) & FLAG_EPHEMERAL) | FLAG_LOADING
            message = self._create_message(
                rec,
                {},
                channel_id=interaction.channel_id,
                msg_type=MESSAGE_CHAT_INPUT_COMMAND,
                flags=flags,
                interaction=interaction,
            )
            interaction.original_id = int(message["id"])
        elif cb_type == CB_AUTOCOMPLETE_RESULT:
            interaction.choices = copy.deepcopy(check_autocomplete_choices(data_dict))
        elif cb_type == CB_MODAL:
            check_modal(data_dict)
            interaction.modal = copy.deepcopy(data_dict)
        elif cb_type == CB_UPDATE_MESSAGE:
            target_id = int(interaction.payload.get("message", {}).get("id", 0) or 0)
            target = self.messages.get(target_id)
            if target is not None:
                message = self._edit_message(rec, target, payload=data_dict)
        return message

    def _callback_answer(
        self,
        rec: RecordedRequest,
        interaction: FakeInteraction,
        cb_type: int,
        message: dict[str, Any] | None,
    ) -> web.Response:
        with_response = rec.query.get("with_response", "").lower() in ("1", "true")
        if not with_response or cb_type in (CB_PONG, CB_AUTOCOMPLETE_RESULT):
            return no_content()
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "response_message_loading": cb_type == CB_DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(message and message["flags"] & FLAG_EPHEMERAL),
            }
        }
        if message is not None:
            answer["interaction"]["response_message_id"] = message["id"]
            answer["resource"] = {"type": cb_type, "message": self._out(message)}
        return json_response(answer)

    # ------------------------------------------------------------------ interaction webhooks

    def _webhook_interaction(self, m: dict[str, str]) -> FakeInteraction:
        if int(m["app"]) != self.application_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        interaction = self._by_token.get(m["token"])
        if interaction is None or interaction.expired:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        if interaction.unknown:
            raise ApiError(404, 10015, "Unknown Webhook")
        return interaction

    def _webhook_message(self, interaction: FakeInteraction, mid: str) -> dict[str, Any]:
        if mid == "@original":
            message_id = interaction.original_id
        else:
            message_id = int(mid)
            if message_id != interaction.original_id and message_id not in interaction.followup_ids:
                message_id = None
        message = self.messages.get(message_id) if message_id is not None else None
        if message is None:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    def _execute_webhook(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        interaction = self._webhook_interaction(m)
        if not interaction.callbacks:
            raise ApiError(404, 10015, "Unknown Webhook")
        payload = rec.json if isinstance(rec.json, dict) else {}
        flags = int(payload.get("flags") or 0) & SETTABLE_FLAGS
        message = self._create_message(
            rec,
            payload,
            channel_id=interaction.channel_id,
            msg_type=MESSAGE_DEFAULT,
            flags=flags,
            interaction=interaction,
            size_limit=interaction.attachment_size_limit,
        )
        interaction.followup_ids.append(int(message["id"]))
        self._changed()
        if rec.query.get("wait", "").lower() in ("1", "true"):
            return json_response(self._out(message))
        return no_content()

    def _get_webhook_message(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        interaction = self._webhook_interaction(m)
        return json_response(self._out(self._webhook_message(interaction, m["mid"])))

    def _edit_webhook_message(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        interaction = self._webhook_interaction(m)
        message = self._webhook_message(interaction, m["mid"])
        self._edit_message(rec, message, size_limit=interaction.attachment_size_limit)
        edit = RecordedEdit(
            message_id=int(message["id"]),
            payload=copy.deepcopy(rec.json) if isinstance(rec.json, dict) else {},
            files=list(rec.files),
        )
        if int(message["id"]) == interaction.original_id:
            interaction.edits.append(edit)
        else:
            interaction.followup_edits.append(edit)
        self._changed()
        return json_response(self._out(message))

    def _delete_webhook_message(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        interaction = self._webhook_interaction(m)
        message = self._webhook_message(interaction, m["mid"])
        if int(message["id"]) == interaction.original_id:
            interaction.original_deleted = True
        self._delete_message(int(message["id"]))
        self._changed()
        return no_content()
