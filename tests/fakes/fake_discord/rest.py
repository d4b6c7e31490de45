"""REST plumbing: recording requests, fault injection, route table."""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Callable, Mapping

from aiohttp import BodyPartReader, web

from tests.fakes.fake_discord.constants import API_PREFIX
from tests.fakes.fake_discord.errors import ApiError, json_response
from tests.fakes.fake_discord.records import RecordedRequest, UploadedFile, Violation
from tests.fakes.fake_discord.spec import discord_spec
from tests.fakes.fake_discord.state import FakeState

Handler = Callable[[RecordedRequest, dict[str, str]], web.Response]
Route = tuple[str, str, Handler]

SNOWFLAKE_PATTERN = r"\d+"
TOKEN_PATTERN = r"[^/]+"
CDN_CHUNK = 64 * 1024


def compile_route(template: str) -> re.Pattern[str]:
    """Compile a route template: ``{name}`` matches a snowflake, ``{name:regex}`` the regex.

    ``{token}`` matches one path segment.
    """

    def group(match: re.Match[str]) -> str:
        name, _, pattern = match.group(1).partition(":")
        if not pattern:
            pattern = TOKEN_PATTERN if name == "token" else SNOWFLAKE_PATTERN
        return f"(?P<{name}>{pattern})"

    return re.compile(re.sub(r"\{(\w+(?::[^}]+)?)\}", group, template))


class Rest(FakeState):
    """Record every REST request and route it to a handler."""

    # ------------------------------------------------------------------ REST plumbing

    async def _attachment_handler(self, request: web.Request) -> web.Response:
        upload = (
            self._attachments.get(int(request.match_info["attachment_id"]))
            if request.match_info["attachment_id"].isdigit()
            else None
        )
        if upload is None:
            return web.Response(status=404, text="not found")
        aid = int(request.match_info["attachment_id"])
        signed = self._cdn_link_valid(aid, upload.filename, request.query)
        self.cdn_fetches.append((aid, signed))
        self._changed()
        if self.cdn_gate is not None:  # a slow CDN: the answer waits for the test
            await self.cdn_gate.wait()
        if not signed:  # as Discord's CDN answers an unsigned or expired link
            return web.Response(status=404, text="This content is no longer available.")
        # Streamed in chunks, as a CDN does: a client that stops reading part-way (a
        # size cap) is seen, and recorded as an incomplete transfer.
        response = web.StreamResponse(headers={"Content-Type": self._guess_type(upload)})
        response.content_length = len(upload.data)
        complete = False
        try:
            await response.prepare(request)
            for start in range(0, len(upload.data), CDN_CHUNK):
                await response.write(upload.data[start : start + CDN_CHUNK])
            await response.write_eof()
            complete = True
        except (ConnectionError, RuntimeError):  # the client went away before the end
            pass
        finally:
            self.cdn_transfers.append((aid, complete))
            self._changed()
        return response

    def _cdn_link_valid(self, aid: int, filename: str, query: Mapping[str, str]) -> bool:
        ex, is_ = query.get("ex", ""), query.get("is", "")
        try:
            unexpired = int(ex, 16) > time.time()
        except ValueError:
            return False
        expected = self._cdn_signature(aid, filename, ex, is_)
        return unexpired and hmac.compare_digest(query.get("hm", ""), expected)

    async def _outside_api_handler(self, request: web.Request) -> web.Response:
        rec = await self._record(request, request.path)
        rec.status = 404
        self.unhandled.append(rec)
        self._changed()
        return json_response({"message": "404: Not Found", "code": 0}, 404)

    async def _record(self, request: web.Request, path: str) -> RecordedRequest:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        authorization = request.headers.get("Authorization", "")
        bot = self.bot_tokens.get(authorization.removeprefix("Bot ")) if authorization else None
        peer = request.transport.get_extra_info("peername") if request.transport else None
        rec = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=headers,
            authorized=bot is not None,
            bot=bot,
            peer=f"{peer[0]}:{peer[1]}" if peer else None,
        )
        content_type = request.content_type
        if content_type.startswith("multipart/"):
            rec.multipart = True
            reader = await request.multipart()
            indexed: list[tuple[int, UploadedFile]] = []
            position = 0
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):  # nested multipart: not Discord's
                    continue
                raw = await part.read(decode=False)
                part_name = part.name or ""
                filename = part.filename
                if part_name == "payload_json":
                    rec.json = json.loads(raw.decode() or "null")
                elif filename is not None or part_name.startswith("file"):
                    match = re.fullmatch(r"files\[(\d+)\]", part_name)
                    index = int(match.group(1)) if match else position
                    ctype = part.headers.get("Content-Type")
                    indexed.append((index, UploadedFile(filename or part_name, bytes(raw), ctype)))
                    position += 1
            indexed.sort(key=lambda item: item[0])
            rec.files = [f for _i, f in indexed]
            rec.file_indexes = [i for i, _f in indexed]
        else:
            body = await request.read()
            if body:
                try:
                    rec.json = json.loads(body)
                except ValueError:
                    rec.json = body.decode(errors="replace")
        self.requests.append(rec)
        return rec

    async def _rest_handler(self, request: web.Request) -> web.StreamResponse:
        # The OAuth routes (oauth.py) hand bot-token requests of their paths over here.
        path = "/" + request.match_info.get("tail", request.path.removeprefix(API_PREFIX + "/"))
        rec = await self._record(request, path)
        stall = next((s for s in self._stalls if s.matches(rec.method, rec.path)), None)
        if stall is not None:
            self._stalls.remove(stall)
            stall.seen.set()
            self._changed()
            if not stall.applied:
                await stall.release.wait()
        try:
            response = self._respond(rec)
        except ApiError as error:
            response = error.response()
            if error.violation is not None:
                self._record_violation(rec, error)
        rec.status = response.status
        self._changed()
        if stall is not None and stall.drop:
            if request.transport is not None:
                request.transport.close()  # applied, but the answer never leaves
            return response
        if stall is not None and stall.applied:
            await stall.release.wait()
        return response

    def _record_violation(self, rec: RecordedRequest, error: ApiError) -> None:
        violation = Violation(
            kind=error.violation or "limit",
            method=rec.method,
            path=rec.path,
            payload=rec.json,
            status=error.status,
            errors=error.errors if error.errors is not None else error.message,
        )
        target = self.spec_violations if violation.kind == "spec" else self.limit_violations
        target.append(violation)

    def _respond(self, rec: RecordedRequest) -> web.Response:
        if self.validate_spec and rec.json is not None and not isinstance(rec.json, str):
            discord_spec().check(rec.method, rec.path, rec.json)
        for fault in self._faults:
            if fault.remaining > 0 and fault.matches(rec.method, rec.path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                raise fault.make()
        for method, pattern, handler in self._routes:
            if method != rec.method:
                continue
            match = pattern.fullmatch(rec.path)
            if match is None:
                continue
            needs_auth = not rec.path.startswith(("/webhooks/", "/interactions/"))
            if needs_auth and not rec.authorized:
                raise ApiError(401, 0, "401: Unauthorized")
            return handler(rec, match.groupdict())
        self.unhandled.append(rec)
        return json_response({"message": "404: Not Found", "code": 0}, 404)

    def _build_routes(self) -> None:
        routes = [
            *self._user_routes(),
            *self._guild_routes(),
            *self._message_routes(),
            *self._interaction_routes(),
        ]
        self._routes = [(m, compile_route(p), h) for m, p, h in routes]
