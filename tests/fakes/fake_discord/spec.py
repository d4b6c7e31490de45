"""Validation of request bodies against Discord's OpenAPI spec (discord/discord-api-spec).

The spec (OpenAPI 3.1, so JSON Schema 2020-12) is loaded once per process, from
``$DISCORD_OPENAPI_SPEC`` when set, else from the copy kept in the repository,
``tests/fakes/contracts/discord-openapi.json.gz`` (discord/discord-api-spec, MIT licence;
gzipped, so that a clean clone validates without anything beside it). Every JSON body
(and the ``payload_json`` part of a multipart body) is validated against the request
schema of the operation its path and method match; a validator is built once per operation.

Deliberate departures from the spec, each because Discord accepts what the spec refuses:

- ``SnowflakeType`` also accepts a non-negative integer: Discord takes both, and
  discord.py 2.7 sends some ids as JSON numbers: ``recipient_id`` of
  ``POST /users/@me/channels``, ``attachments[].id`` (the upload index 0, 1, ...) of
  message creates and edits, ``message_reference.message_id``.
"""

from __future__ import annotations

import copy
import functools
import gzip
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.fakes.fake_discord.errors import ApiError

SPEC_ENV = "DISCORD_OPENAPI_SPEC"
VENDORED_SPEC = Path(__file__).resolve().parents[1] / "contracts" / "discord-openapi.json.gz"
SPEC_URI = "urn:discord-openapi"
MAX_REPORTED_ERRORS = 5


def find_spec() -> Path:
    """Locate the spec file (see the module docstring); raise if there is none."""
    configured = os.environ.get(SPEC_ENV)
    return Path(configured) if configured else VENDORED_SPEC


def _patch(spec: dict[str, Any]) -> dict[str, Any]:
    """Apply the departures listed in the module docstring."""
    schemas = spec["components"]["schemas"]
    schemas["SnowflakeType"] = {
        "anyOf": [schemas["SnowflakeType"], {"type": "integer", "minimum": 0}]
    }
    return spec


@dataclass(frozen=True)
class _Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    literal_segments: int
    pointer: str  # JSON pointer of the JSON request schema, or "" without a body


class DiscordSpec:
    """The parsed spec: operations by path and cached validators."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = _patch(copy.deepcopy(spec))
        resource = Resource.from_contents(self.spec, default_specification=DRAFT202012)
        self.registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
        self.operations: list[_Operation] = []
        for template, item in self.spec["paths"].items():
            regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            literal = sum(1 for s in template.split("/") if s and not s.startswith("{"))
            for method, operation in item.items():
                if method == "parameters" or not isinstance(operation, dict):
                    continue
                content = (operation.get("requestBody") or {}).get("content", {})
                pointer = ""
                if "application/json" in content:
                    pointer = "/".join(
                        _escape(part)
                        for part in (
                            "#",
                            "paths",
                            template,
                            method,
                            "requestBody",
                            "content",
                            "application/json",
                            "schema",
                        )
                    )
                self.operations.append(
                    _Operation(method.upper(), template, re.compile(regex), literal, pointer)
                )
        # The most specific template first: /users/@me before /users/{user_id}.
        self.operations.sort(key=lambda op: -op.literal_segments)

    def operation(self, method: str, path: str) -> _Operation | None:
        """The operation a request path (relative to /api/v10) and method match."""
        for op in self.operations:
            if op.method == method and op.pattern.fullmatch(path):
                return op
        return None

    @functools.cache  # noqa: B019 - one spec object per process, kept for its lifetime
    def validator(self, pointer: str) -> Draft202012Validator:
        """A validator for the schema at ``pointer`` (its $refs resolve in the spec)."""
        return Draft202012Validator({"$ref": SPEC_URI + pointer}, registry=self.registry)

    def check(self, method: str, path: str, body: Any) -> None:
        """Raise a 400/50035 spec-violation ApiError when ``body`` breaks the spec."""
        op = self.operation(method, path)
        if op is None or not op.pointer:
            return
        errors = sorted(self.validator(op.pointer).iter_errors(body), key=_depth)
        if not errors:
            return
        shaped: dict[str, Any] = {}
        for error in errors[:MAX_REPORTED_ERRORS]:
            deepest = _deepest(error)
            node = shaped
            for key in deepest.absolute_path or ["_root"]:
                node = node.setdefault(str(key), {})
            node.setdefault("_errors", []).append(
                {
                    "code": f"SPEC_{deepest.validator}".upper(),
                    "message": f"{op.method} {op.template}: {deepest.message}"[:500],
                }
            )
        raise ApiError(400, 50035, "Invalid Form Body", errors=shaped, violation="spec")


def _escape(part: str) -> str:
    return part if part == "#" else part.replace("~", "~0").replace("/", "~1")


def _depth(error: ValidationError) -> int:
    return -len(error.absolute_path)


def _deepest(error: ValidationError) -> ValidationError:
    """The most telling error inside an anyOf/oneOf: the branch that got furthest.

    A branch refused only for its discriminator (``type`` not one of its values)
    is not the one the sender meant, so it ranks last.
    """
    if not error.context:
        return error

    def rank(e: ValidationError) -> tuple[bool, int]:
        missed = e.validator in ("enum", "const") and e.path and e.path[-1] == "type"
        return (not missed, len(e.absolute_path))

    return _deepest(max(error.context, key=rank))


@functools.cache
def discord_spec() -> DiscordSpec:
    """The spec, parsed once per process."""
    path = find_spec()
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return DiscordSpec(json.loads(raw))
