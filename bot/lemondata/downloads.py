"""Downloads of result images, within bounds.

Only http(s) URLs from addresses the :class:`~bot.lemondata.urls.AddressPolicy` allows,
checked again at every redirect; no API key is sent. The body is streamed and kept only
up to ``max_bytes`` (what Discord can take as an attachment): a larger image is not an
error, it is returned without bytes so that it can be shown by its link. The bytes must
really be an image (PNG, JPEG, WebP or GIF).
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from bot.lemondata.errors import (
    MalformedResponseError,
    NotFoundError,
    TransportError,
    error_from_response,
)
from bot.lemondata.images import image_type
from bot.lemondata.urls import AddressPolicy, UnsafeURLError

DOWNLOAD_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
MAX_REDIRECTS = 5
GONE_STATUSES = (403, 404, 410)
NOT_AN_IMAGE = "not_an_image"  # the code of the error raised when the bytes are no image


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
            target = await policy.check(url)
        except UnsafeURLError as exc:
            raise MalformedResponseError(f"the image link was not fetched: {exc}") from None
        try:
            async with http.stream("GET", target, timeout=DOWNLOAD_TIMEOUT) as response:
                if response.is_redirect and "location" in response.headers:
                    url = str(target.join(response.headers["location"]))
                    continue
                return await _read(response, max_bytes)
        except httpx.TransportError as exc:
            raise TransportError(
                f"image download failed ({type(exc).__name__})", sent=True
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise MalformedResponseError(
                f"the image link could not be fetched ({type(exc).__name__})"
            ) from None
    raise MalformedResponseError("the image link redirects too often")


async def _read(response: httpx.Response, max_bytes: int) -> Download:
    if response.status_code in GONE_STATUSES:
        raise NotFoundError(
            "the image link expired before it could be downloaded", status=response.status_code
        )
    if response.status_code != 200:
        await response.aread()
        raise error_from_response(response)
    body = bytearray()
    kind: str | None = None
    async for chunk in response.aiter_bytes():
        body += chunk
        if kind is None and len(body) >= 12:
            kind = image_type(bytes(body[:12]))
            if kind is None:
                raise MalformedResponseError(
                    "the image link did not serve an image", code=NOT_AN_IMAGE
                )
        if len(body) > max_bytes:
            return Download(None, kind or "image/png")  # too large to attach: link it
    kind = kind or image_type(bytes(body))
    if kind is None:
        raise MalformedResponseError("the image link did not serve an image", code=NOT_AN_IMAGE)
    return Download(bytes(body), kind)
