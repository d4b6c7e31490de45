"""Where requests may go: the gateway's routes and origin, poll URLs, result-image addresses.

The API key goes only to the origin of ``LEMONDATA_BASE_URL`` (scheme, host and port,
compared after normalising: ``HTTP://Host`` is ``http://host``). A ``poll_url`` that is
malformed or points elsewhere is never followed: the gateway's own task route is used.
Result images are fetched only over http(s), from public addresses or from the
gateway's own host; private, loopback and link-local addresses are refused unless the
gateway itself lives at such an address (local testing).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Literal, get_args
from urllib.parse import quote

import httpx

from bot.errors import GatewayError

# The gateway's routes, spelled out only here (relative to LEMONDATA_BASE_URL).
MODELS_PATH = "/v1/models"
PRICING_PATH = "/v1/pricing"
GENERATIONS_PATH = "/v1/images/generations"
EDITS_PATH = "/v1/images/edits"
TASKS_PATH = "/v1/tasks"
# What a request to the gateway is, for its request budget (bot.scheduler).
RequestKind = Literal["create", "poll", "download", "models"]
REQUEST_KINDS: tuple[RequestKind, ...] = get_args(RequestKind)

DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURLError(GatewayError):
    """A URL the bot will not fetch (not http(s), not parseable, or not a public address)."""


def parse_http_url(url: str) -> httpx.URL:
    """Return ``url`` parsed, normalised; raise UnsafeURLError unless absolute http(s)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError, TypeError):
        raise UnsafeURLError("the address cannot be parsed") from None
    if parsed.scheme not in DEFAULT_PORTS or not parsed.host:
        raise UnsafeURLError("only http and https addresses are fetched")
    return parsed


def origin_of(url: httpx.URL) -> Origin:
    """Return the (scheme, host, port) of a parsed http(s) URL, the port made explicit."""
    return url.scheme, url.host, url.port or DEFAULT_PORTS[url.scheme]


def normalise_base_url(url: str) -> str:
    """Return the gateway's base URL in canonical form, without a trailing slash."""
    return str(parse_http_url(url)).rstrip("/")


def model_path(model: str) -> str:
    """Return the gateway's route of one model, ``/v1/models/{model}``, the id escaped."""
    return f"{MODELS_PATH}/{quote(model, safe='')}"


def task_path(task_id: str) -> str:
    """Return the gateway's route of one task, ``/v1/tasks/{task_id}``, the id escaped."""
    return f"{TASKS_PATH}/{quote(task_id, safe='')}"


def task_url(base_url: str, task_id: str, poll_url: str | None) -> str:
    """Return where to poll a task: ``poll_url`` if it is on the gateway's origin.

    A relative ``poll_url`` is taken relative to the gateway. An absolute one is used
    only on the gateway's own origin. Anything else (malformed, another host, another
    scheme) falls back to ``GET /v1/tasks/{task_id}`` on the gateway.
    """
    base = parse_http_url(base_url)
    fallback = str(base).rstrip("/") + task_path(task_id)
    if not poll_url:
        return fallback
    try:
        if poll_url.startswith("/") and not poll_url.startswith("//"):
            candidate = parse_http_url(str(base).rstrip("/") + poll_url)
        else:
            candidate = parse_http_url(poll_url)
    except UnsafeURLError:
        return fallback
    return str(candidate) if origin_of(candidate) == origin_of(base) else fallback


def _kinds(address: Address) -> frozenset[str]:
    """Return which non-public ranges an address belongs to (empty when public)."""
    kinds = {
        name
        for name, flag in (
            ("loopback", address.is_loopback),
            ("link-local", address.is_link_local),
            ("private", address.is_private and not address.is_loopback),
            ("reserved", address.is_reserved or address.is_multicast or address.is_unspecified),
        )
        if flag
    }
    if not kinds and not address.is_global:
        kinds.add("private")
    return frozenset(kinds)


async def resolve(host: str, port: int) -> list[Address]:
    """Return every address ``host`` resolves to (an IP literal is itself)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeURLError(f"the host cannot be resolved ({type(exc).__name__})") from None
    return [ipaddress.ip_address(info[4][0]) for info in infos]


class AddressPolicy:
    """Which hosts result images may come from, given where the gateway lives."""

    def __init__(self, base_url: str) -> None:
        self._gateway = parse_http_url(base_url)
        self._allowed: frozenset[str] | None = None  # non-public kinds the gateway itself has

    async def _allowed_kinds(self) -> frozenset[str]:
        if self._allowed is None:
            host, port = self._gateway.host, origin_of(self._gateway)[2]
            try:
                addresses = await resolve(host, port)
            except UnsafeURLError:
                addresses = []
            self._allowed = frozenset().union(*(_kinds(a) for a in addresses))
        return self._allowed

    async def check(self, url: str) -> httpx.URL:
        """Return ``url`` parsed if an image may be fetched from it; raise UnsafeURLError."""
        return (await self.pin(url))[0]

    async def pin(self, url: str) -> tuple[httpx.URL, list[Address]]:
        """Return ``url`` parsed and the checked addresses to connect to; raise UnsafeURLError.

        The connection must go to one of these addresses, not to a second resolution of
        the host (which could answer otherwise: DNS rebinding). The gateway's own host
        is not resolved here (no addresses: connect by name).
        """
        parsed = parse_http_url(url)
        if parsed.host == self._gateway.host:
            return parsed, []
        allowed = await self._allowed_kinds()
        addresses = await resolve(parsed.host, origin_of(parsed)[2])
        for address in addresses:
            refused = _kinds(address) - allowed
            if refused:
                raise UnsafeURLError(f"{sorted(refused)[0]} addresses are not fetched")
        if not addresses:
            raise UnsafeURLError("the host has no address")
        return parsed, list(dict.fromkeys(addresses))
