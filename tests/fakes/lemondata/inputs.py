"""Where input images may come from: the gateway fetches only public http(s) URLs."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from urllib.parse import SplitResult, parse_qs, urlsplit

from tests.fakes.lemondata.contract import (
    FILES_PREFIX,
    ImageRef,
    RequestPlan,
    RequestRejectedError,
)
from tests.fakes.lemondata.images import decode_data_url, sniff_image
from tests.fakes.lemondata.records import (
    HostedImage,
    InputImage,
    StoredFile,
    UploadedFile,
    UploadPart,
)

HOSTED_PREFIX = "/hosted/"
REDIRECT_PATH = "/redirect"
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


class InputSources:
    """The emulator's half that turns a request's input images into bytes (a mixin).

    It reads the emulator's state and knobs declared below.
    """

    files: dict[str, StoredFile]
    uploaded_files: dict[str, UploadedFile]
    hosted: dict[str, HostedImage]
    remote_images: dict[str, bytes]
    allow_own_host_urls: bool
    _base_url: str | None
    _other_base_url: str | None
    _served_parts: Callable[[StoredFile], list[bytes]]

    def _resolve_inputs(
        self, plan: RequestPlan, uploads: Mapping[str, UploadPart]
    ) -> list[InputImage]:
        """Fetch or look up every input image of ``plan``; refuse what is not an image."""
        resolved = []
        for ref in plan.inputs:
            name = ref.value
            if ref.source == "upload":
                part = uploads[ref.param]
                data, name = part.data, part.filename or ""
            elif ref.source == "file_id":
                data = self._uploaded_bytes(ref, plan.model)
            else:
                data = self._fetch(ref.value, ref.param)
            content_type = sniff_image(data)
            if content_type is None:
                raise not_an_image(ref.param)
            resolved.append(InputImage(ref.role, ref.source, name, ref.param, content_type, data))
        return resolved

    def _uploaded_bytes(self, ref: ImageRef, model: str) -> bytes:
        stored = self.uploaded_files.get(ref.value)
        if stored is None:
            raise RequestRejectedError(
                f"{ref.param}: no such file {ref.value!r}", param=ref.param, code="file_not_found"
            )
        if stored.model != model:
            raise RequestRejectedError(
                f"{ref.param}: file {ref.value!r} is bound to model {stored.model}, not {model}",
                param=ref.param,
                code="file_model_mismatch",
            )
        return stored.data

    def _fetch(self, url: str, param: str, hops: int = 0) -> bytes:
        """Return the bytes the gateway would download from ``url`` (redirects re-checked)."""
        decoded = decode_data_url(url)
        if decoded is not None:
            return decoded[1]
        parts = split_http_url(param, url)
        host = parts.hostname or ""
        if self._is_own_host(host, parts.port):
            if not self.allow_own_host_urls:
                raise url_refused(param, url, "private addresses are not fetched")
            return self._fetch_own(url, parts.path, parts.query, param, hops)
        if is_private_host(host):
            raise url_refused(param, url, "private addresses are not fetched")
        data = self.remote_images.get(url)
        if data is None:
            raise url_refused(param, url, "the download failed (not in remote_images)")
        return data

    def _is_own_host(self, host: str, port: int | None) -> bool:
        if self._base_url is None:
            return False
        own_ports = {
            int(url.rsplit(":", 1)[1]) for url in (self._base_url, self._other_base_url) if url
        }
        return host in ("127.0.0.1", "localhost") and port in own_ports

    def _fetch_own(self, url: str, path: str, query: str, param: str, hops: int) -> bytes:
        if path.startswith(FILES_PREFIX):
            stored = self.files.get(path.removeprefix(FILES_PREFIX).removesuffix(".png"))
            if stored is not None and not stored.expired:
                return b"".join(self._served_parts(stored))
        elif path.startswith(HOSTED_PREFIX):
            hosted = self.hosted.get(path.removeprefix(HOSTED_PREFIX))
            if hosted is not None:
                return hosted.data
        elif path == REDIRECT_PATH and (targets := parse_qs(query).get("to")):
            if hops >= MAX_REDIRECTS:
                raise url_refused(param, url, "too many redirects")
            return self._fetch(targets[0], param, hops + 1)
        raise url_refused(param, url, "the download failed (HTTP 404)")
