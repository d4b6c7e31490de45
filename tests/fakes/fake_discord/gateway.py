"""The websocket gateway: HELLO, IDENTIFY (with sharding), RESUME, heartbeats, dispatch."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.fake_discord.constants import snowflake
from tests.fakes.fake_discord.state import FakeState


@dataclass
class Session:
    id: str
    seq: int = 0
    shard: list[int] | None = None

    @property
    def shard_id(self) -> int:
        return self.shard[0] if self.shard else 0

    @property
    def shard_count(self) -> int:
        return self.shard[1] if self.shard else 1


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    query: dict[str, str]
    number: int  # 1, 2, ... in the order connections were opened
    peer: str  # the client's "host:port"
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    session: Session | None = None
    bot: str | None = None  # label of the token that identified
    ready: bool = False


@dataclass(frozen=True)
class ShardIdentify:
    """One IDENTIFY: which connection, shard, token (label) and session."""

    connection: int
    shard: tuple[int, int] | None
    bot: str
    session_id: str
    peer: str

    @property
    def shard_id(self) -> int:
        """The shard id (0 for an unsharded client)."""
        return self.shard[0] if self.shard else 0


class Gateway(FakeState):
    """The gateway websocket of the fake; one connection per shard."""

    # ------------------------------------------------------------------ observation

    @property
    def identified_shards(self) -> list[int]:
        """Shard ids with a ready (identified or resumed) connection, sorted."""
        return sorted(self._ready)

    def shard_of(self, guild: Any, shard_count: int | None = None) -> int:
        """The shard a guild's events go to: ``(guild_id >> 22) % shard_count``.

        ``shard_count`` defaults to that of the identified connections, else to the
        recommended :attr:`recommended_shards`.
        """
        guild_id = guild if isinstance(guild, int) else guild.id
        return (guild_id >> 22) % (shard_count or self._shard_count())

    def guild_id_for_shard(self, shard_id: int, shard_count: int) -> int:
        """A fresh snowflake-like guild id that lands on ``shard_id`` of ``shard_count``."""
        base = snowflake()
        while (base >> 22) % shard_count != shard_id:
            base += 1 << 22
        return base

    def _shard_count(self) -> int:
        for conn in self._ready.values():
            if conn.session is not None:
                return conn.session.shard_count
        return self.recommended_shards

    def _guilds_of_shard(self, session: Session) -> list[int]:
        return [gid for gid in self.guilds if (gid >> 22) % session.shard_count == session.shard_id]

    # ------------------------------------------------------------------ websocket

    async def _gateway_handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        self.connections += 1
        peer = request.transport.get_extra_info("peername") if request.transport else None
        conn = Connection(
            ws=ws,
            query=dict(request.query),
            number=self.connections,
            peer=f"{peer[0]}:{peer[1]}" if peer else "?",
        )
        self._open.add(conn)
        self._changed()
        try:
            await self._send(
                conn,
                {
                    "op": 10,
                    "s": None,
                    "t": None,
                    "d": {
                        "heartbeat_interval": self.heartbeat_interval_ms,
                        "_trace": ["fake-gateway"],
                    },
                },
            )
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_gateway_message(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.BINARY:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
        finally:
            self._open.discard(conn)
            self._forget(conn)
            self._changed()
        return ws

    def _forget(self, conn: Connection) -> None:
        for shard_id, ready in list(self._ready.items()):
            if ready is conn:
                del self._ready[shard_id]

    async def _send(self, conn: Connection, message: dict[str, Any]) -> None:
        async with conn.lock:
            await conn.ws.send_str(json.dumps(message))

    async def _send_dispatch(self, conn: Connection, event: str, data: dict[str, Any]) -> None:
        assert conn.session is not None
        conn.session.seq += 1
        await self._send(conn, {"op": 0, "s": conn.session.seq, "t": event, "d": data})
        self.gateway_events.append((event, data))
        self._changed()

    async def _on_gateway_message(self, conn: Connection, message: dict[str, Any]) -> None:
        op = message.get("op")
        data = message.get("d")
        if op == 1:
            self.heartbeats += 1
            await self._send(conn, {"op": 11, "s": None, "t": None, "d": None})
            return
        self.gateway_received.append(
            {"op": op, "d": {k: v for k, v in data.items() if k != "token"}}
            if isinstance(data, dict)
            else {"op": op, "d": data}
        )
        if op == 2:
            await self._identify(conn, data or {})
        elif op == 6:
            await self._resume(conn, data or {})
        elif op == 8:
            await self._request_members(conn, data or {})
        self._changed()

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> None:
        bot = self.bot_tokens.get(str(data.get("token")))
        if bot is None:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = data.get("shard")
        if shard is not None and not (
            isinstance(shard, list)
            and len(shard) == 2
            and all(isinstance(n, int) for n in shard)
            and 0 <= shard[0] < shard[1]
        ):
            await conn.ws.close(code=4010, message=b"Invalid shard.")
            return
        self.identify_count += 1
        self.identify_payloads.append(
            {
                k: copy.deepcopy(data.get(k))
                for k in (
                    "intents",
                    "properties",
                    "shard",
                    "presence",
                    "large_threshold",
                    "compress",
                )
                if k in data
            }
        )
        session = Session(id=uuid.uuid4().hex, shard=shard)
        self._sessions[session.id] = session
        conn.session = session
        conn.bot = bot
        self.shard_identifies.append(
            ShardIdentify(
                connection=conn.number,
                shard=(shard[0], shard[1]) if shard else None,
                bot=bot,
                session_id=session.id,
                peer=conn.peer,
            )
        )
        guild_ids = self._guilds_of_shard(session)
        ready: dict[str, Any] = {
            "v": 10,
            "user": self._ready_user_payload(),
            "user_settings": {},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guilds": [{"id": str(gid), "unavailable": True} for gid in guild_ids],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "_trace": ["fake-gateway"],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        await self._send_dispatch(conn, "READY", ready)
        for gid in guild_ids:
            await self._send_dispatch(conn, "GUILD_CREATE", self.guild_payload(gid))
        conn.ready = True
        self._ready[session.shard_id] = conn

    async def _resume(self, conn: Connection, data: dict[str, Any]) -> None:
        session = self._sessions.get(str(data.get("session_id")))
        bot = self.bot_tokens.get(str(data.get("token")))
        if bot is None:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if session is None or not self.allow_resume:
            await self._send(conn, {"op": 9, "s": None, "t": None, "d": False})
            return
        self.resume_count += 1
        conn.session = session
        conn.bot = bot
        await self._send_dispatch(conn, "RESUMED", {"_trace": ["fake-gateway"]})
        conn.ready = True
        self._ready[session.shard_id] = conn

    async def _request_members(self, conn: Connection, data: dict[str, Any]) -> None:
        if conn.session is None:
            return
        guild = self.guilds.get(int(data.get("guild_id") or self.guild_id))
        if guild is None:
            return
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [
                self.member_payload(self.users[uid], guild=guild)
                for uid in guild.member_ids
                if uid in self.users
            ],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self._send_dispatch(conn, "GUILD_MEMBERS_CHUNK", chunk)

    # ------------------------------------------------------------------ dispatch

    async def dispatch(
        self,
        event: str,
        data: dict[str, Any],
        *,
        timeout: float = 10.0,
        guild_id: int | None = None,
    ) -> None:
        """Send a dispatch (op 0) to the connection of the guild's shard.

        The guild comes from ``guild_id`` or ``data["guild_id"]``; without one (DMs)
        the event goes to shard 0. Waits for that shard to be ready.
        """
        gid = guild_id or (int(data["guild_id"]) if data.get("guild_id") else None)

        def connection() -> Connection | None:
            if not self._ready:
                return None
            shard_id = self.shard_of(gid) if gid is not None else 0
            return self._ready.get(shard_id)

        conn = await self.wait_for(connection, timeout, what="the shard's connected client")
        await self._send_dispatch(conn, event, data)

    async def drop_gateway(self, code: int = 4000, *, shard_id: int | None = None) -> None:
        """Close the ready gateway websocket(s) (every shard's, or one); clients RESUME."""
        dropped = [conn for sid, conn in self._ready.items() if shard_id is None or sid == shard_id]
        for conn in dropped:
            self._forget(conn)
        self._changed()
        for conn in dropped:
            await conn.ws.close(code=code, message=b"fake drop")
