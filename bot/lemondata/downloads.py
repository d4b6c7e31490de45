"""Downloads of result images, within bounds.

Only http(s) URLs from addresses the :class:`~bot.lemondata.urls.AddressPolicy` allows,
checked again at every redirect; no API key is sent. The connection goes to the very
address that was checked (the host is not resolved a second time, which could answer
otherwise: DNS rebinding), with the host name kept for the Host header and for TLS.
The body is streamed and kept only up to ``max_bytes`` (what Discord can take as an
attachment): a larger image is not an error, it is returned without bytes so that it
can be shown by its link. The bytes must really be an image (PNG, JPEG, WebP or GIF).

The cap counts what arrives and what it decodes to: ``Accept-Encoding: identity`` is
asked for, and a body sent compressed anyway (gzip or deflate) is inflated a step of
:data:`DECODE_STEP` bytes at a time and stopped at the cap, so that a small compressed
body cannot inflate to many times the cap in memory (a "gzip bomb"). Other encodings
are refused.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncGenerator, Callable, Iterator
from contextlib import aclosing
from dataclasses import dataclass

import httpx

from bot.lemondata.errors import (
    MalformedResponseError,
    NotFoundError,
    TransportError,
    error_from_response,
)
from bot.lemondata.images import image_type
from bot.lemondata.urls import Address, AddressPolicy, UnsafeURLError

DOWNLOAD_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
MAX_REDIRECTS = 5
GONE_STATUSES = (403, 404, 410)
NOT_AN_IMAGE = "not_an_image"  # the code of the error raised when the bytes are no image
# The most bytes one step of inflating a compressed body produces: memory stays within
# the cap plus this much, whatever the compression ratio.
DECODE_STEP = 64 * 1024
DOWNLOAD_HEADERS = {"Accept-Encoding": "identity"}
ERROR_BODY_LIMIT = 64 * 1024  # what is read of an error answer (for its message)


@dataclass(frozen=True)
class Download:
    """A downloaded image: its bytes and type, or no bytes when it exceeded the cap."""

    data: bytes | None
    content_type: str


async def download(
    http: httpx.AsyncClient, policy: AddressPolicy, url: str, max_bytes: int
) -> Download:
    """Fetch one image (one attempt); raise NotFoundError when the link is gone."""
    for _ in range(MAX_REDIRECTS + 1):
        try:
            target, addresses = await policy.pin(url)
        except UnsafeURLError as exc:
            raise MalformedResponseError(f"the image link was not fetched: {exc}") from None
        try:
            response = await _send(http, target, addresses)
            try:
                if response.is_redirect and "location" in response.headers:
                    url = str(target.join(response.headers["location"]))
                    continue
                return await _read(response, max_bytes)
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            raise TransportError(
                f"image download failed ({type(exc).__name__})", sent=True
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise MalformedResponseError(
                f"the image link could not be fetched ({type(exc).__name__})"
            ) from None
    raise MalformedResponseError("the image link redirects too often")


async def _send(
    http: httpx.AsyncClient, target: httpx.URL, addresses: list[Address]
) -> httpx.Response:
    """Send the GET to the first checked address that connects (none: by name, the gateway).

    The URL names the address, so nothing resolves the host again; the Host header and
    TLS (SNI and certificate verification) keep the host name. The connection is not
    kept for reuse: a pooled connection is found by address, and another host on the
    same address must not inherit a TLS session verified for this one.
    """
    if not addresses:
        request = http.build_request(
            "GET", target, headers=DOWNLOAD_HEADERS, timeout=DOWNLOAD_TIMEOUT
        )
        return await http.send(request, stream=True)
    headers = {**DOWNLOAD_HEADERS, "Host": target.netloc.decode("ascii"), "Connection": "close"}
    extensions = (
        {"sni_hostname": target.raw_host.decode("ascii")} if target.scheme == "https" else {}
    )
    failure: httpx.ConnectError | None = None
    for address in addresses:
        request = http.build_request(
            "GET",
            target.copy_with(host=str(address)),
            headers=headers,
            timeout=DOWNLOAD_TIMEOUT,
            extensions=extensions,
        )
        try:
            return await http.send(request, stream=True)
        except httpx.ConnectError as exc:  # that address is unreachable: try the next
            failure = exc
    assert failure is not None
    raise failure


async def _read(response: httpx.Response, max_bytes: int) -> Download:
    if response.status_code in GONE_STATUSES:
        raise NotFoundError(
            "the image link expired before it could be downloaded", status=response.status_code
        )
    if response.status_code != 200:
        raise error_from_response(await _bounded_error(response))
    decode = _decoder(response.headers.get("content-encoding", ""))
    body = bytearray()
    received = 0
    kind: str | None = None
    async with aclosing(_raw(response)) as chunks:
        async for chunk in chunks:
            received += len(chunk)
            for piece in decode(chunk):
                body += piece
                if kind is None and len(body) >= 12:
                    kind = image_type(bytes(body[:12]))
                    if kind is None:
                        raise MalformedResponseError(
                            "the image link did not serve an image", code=NOT_AN_IMAGE
                        )
                if len(body) > max_bytes:
                    return Download(None, kind or "image/png")  # too large to attach: link it
            if received > max_bytes:
                return Download(None, kind or "image/png")
    kind = kind or image_type(bytes(body))
    if kind is None:
        raise MalformedResponseError("the image link did not serve an image", code=NOT_AN_IMAGE)
    return Download(bytes(body), kind)


async def _bounded_error(response: httpx.Response) -> httpx.Response:
    """Return an error answer with at most ERROR_BODY_LIMIT bytes of its body, decoded."""
    body = bytearray()
    try:
        decode = _decoder(response.headers.get("content-encoding", ""))
        async with aclosing(_raw(response)) as chunks:
            async for chunk in chunks:
                for piece in decode(chunk):
                    body += piece[: ERROR_BODY_LIMIT - len(body)]
                    if len(body) >= ERROR_BODY_LIMIT:
                        break
                if len(body) >= ERROR_BODY_LIMIT:
                    break
    except MalformedResponseError:
        pass  # its status still says what went wrong
    unsent = ("content-encoding", "content-length", "transfer-encoding")
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in unsent]
    return httpx.Response(
        response.status_code, headers=headers, content=bytes(body), request=response.request
    )


async def _raw(response: httpx.Response) -> AsyncGenerator[bytes]:
    """Yield the body as it arrives, still encoded (a response read already: at once)."""
    if response.is_stream_consumed:  # built with its content (httpx.MockTransport)
        yield response.content
        return
    async for chunk in response.aiter_raw():
        yield chunk


Decoder = Callable[[bytes], Iterator[bytes]]


def _identity(chunk: bytes) -> Iterator[bytes]:
    yield chunk


def _decoder(content_encoding: str) -> Decoder:
    """Return how to undo ``Content-Encoding``, at most DECODE_STEP bytes at a time."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        return _identity
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise MalformedResponseError(
            f"the image link sent an unsupported encoding ({encoding[:20]})"
        )
    inflater: zlib._Decompress | None = None

    def inflate(chunk: bytes) -> Iterator[bytes]:
        nonlocal inflater
        if inflater is None:
            inflater = zlib.decompressobj(_window_bits(encoding, chunk))
        data = chunk
        while True:
            try:
                out = inflater.decompress(data, DECODE_STEP)
            except zlib.error:
                raise MalformedResponseError("the image link sent a corrupt body") from None
            if out:
                yield out
            data = inflater.unconsumed_tail
            if not data and len(out) < DECODE_STEP:
                return

    return inflate


def _window_bits(encoding: str, first: bytes) -> int:
    if encoding != "deflate":
        return 16 + zlib.MAX_WBITS  # a gzip header
    # "deflate" is meant zlib-wrapped, but some servers send the raw stream.
    wrapped = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
    return zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS
