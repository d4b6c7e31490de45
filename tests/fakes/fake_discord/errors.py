"""Error answers of the fake API, in Discord's JSON shape."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from typing import Any

from aiohttp import web


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    # Built by hand: web.json_response appends "; charset=utf-8", and discord.py only
    # parses a body whose Content-Type is exactly "application/json".
    all_headers = {"Content-Type": "application/json"}
    if headers:
        all_headers.update(headers)
    return web.Response(status=status, body=json.dumps(data).encode(), headers=all_headers)


def no_content() -> web.Response:
    return web.Response(status=204)


class ApiError(Exception):
    """An error answer of the fake API: ``{"message": ..., "code": ...}`` with a status.

    ``violation`` marks an answer caused by a request that broke Discord's rules (a
    limit, the OpenAPI spec): the fake records it and fails the test at teardown.
    """

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        violation: str | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers
        self.extra = extra
        # "limit" or "spec": the bot sent what Discord refuses; the test must fail.
        self.violation = violation

    def response(self) -> web.Response:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        if self.extra:
            body.update(self.extra)
        return json_response(body, self.status, self.headers)


def form_error(field_name: str, code: str, message: str) -> ApiError:
    return ApiError(
        400,
        50035,
        "Invalid Form Body",
        errors={field_name: {"_errors": [{"code": code, "message": message}]}},
    )


@contextlib.contextmanager
def errors_under(key: str) -> Iterator[None]:
    """Nest the form errors raised inside under ``key`` (a callback's ``data``)."""
    try:
        yield
    except ApiError as error:
        if error.code == 50035 and error.errors is not None:
            error.errors = {key: error.errors}
        raise
