"""Where input images may come from: the gateway fetches only public http(s) URLs."""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlsplit

from tests.fakes.lemondata.contract import RequestRejectedError

MAX_REDIRECTS = 5
PRIVATE_HOST_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


def url_refused(param: str, url: str, reason: str) -> RequestRejectedError:
    """Return the 400 for an input URL the gateway will not (or could not) fetch."""
    return RequestRejectedError(
        f"{param}: cannot use image URL {url[:200]!r}: {reason}",
        param=param,
        code="invalid_image_url",
    )


def not_an_image(param: str, detail: str = "") -> RequestRejectedError:
    """Return the 400 for input bytes that are not a PNG, JPEG, WebP or GIF image."""
    return RequestRejectedError(
        f"{param}: the input is not a valid image (PNG, JPEG, WebP or GIF){detail}",
        param=param,
        code="invalid_image",
    )


def split_http_url(param: str, url: str) -> SplitResult:
    """Return the parts of an ``http(s)`` URL with a host, or raise the gateway's 400."""
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises on a malformed port
    except ValueError:
        raise url_refused(param, url, "malformed URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise url_refused(param, url, "only public http(s) URLs are fetched")
    if not parts.hostname:
        raise url_refused(param, url, "the URL has no host")
    return parts


def is_private_host(host: str) -> bool:
    """Return True for hosts the gateway refuses: non-global addresses and local names."""
    name = host.strip("[]").lower().rstrip(".")
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return name == "localhost" or "." not in name or name.endswith(PRIVATE_HOST_SUFFIXES)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global
