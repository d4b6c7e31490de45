"""``multipart/form-data``: a byte-exact parser, and form fields turned into request bodies."""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import re
from collections.abc import Sequence
from typing import Any

from tests.fakes.lemondata.contract import ImageRef, invalid_param
from tests.fakes.lemondata.records import UploadPart

# ImageGenerationMultipartRequest (additionalProperties: false).
GENERATION_FORM_FIELDS = frozenset(
    {
        "model",
        "prompt",
        "operation",
        "image",
        "image_urls",
        "reference_image_urls",
        "mask_url",
        "n",
        "quality",
        "expand_prompt",
        "negative_prompt",
        "seed",
        "response_format",
        "async",
        "background",
        "output_format",
        "output_compression",
        "compression",
        "moderation",
        "stream",
        "size",
        "aspect_ratio",
        "resolution",
        "style",
        "user",
    }
)
GENERATION_FILE_FIELDS = frozenset({"image"})
EDIT_IMAGE_FIELDS = ("image", "image[]")
EDIT_FILE_FIELDS = frozenset({*EDIT_IMAGE_FIELDS, "mask"})
FORM_INT_FIELDS = frozenset({"n", "seed", "output_compression", "compression"})
FORM_BOOL_FIELDS = frozenset({"async", "stream", "expand_prompt"})
FORM_LIST_FIELDS = frozenset({"image_urls", "reference_image_urls"})

_INT_RE = re.compile(r"^-?\d+$")
_BOOLS = {"true": True, "false": False, "1": True, "0": False}


class MultipartError(ValueError):
    """The body is not well-formed ``multipart/form-data``."""


def is_multipart(content_type: str) -> bool:
    """Return True for a ``multipart/form-data`` Content-Type header."""
    return content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"


def _header_message(raw_headers: bytes) -> email.message.Message:
    parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
    return parser.parsebytes(raw_headers + b"\r\n\r\n")


def parse_multipart(body: bytes, content_type: str) -> list[UploadPart]:
    """Split a ``multipart/form-data`` body into its parts, keeping every byte of each.

    Raises :class:`MultipartError` when the boundary or a part is malformed.
    """
    boundary = _header_message(f"Content-Type: {content_type}".encode()).get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise MultipartError("multipart/form-data without a boundary")
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 2:
        raise MultipartError("no multipart boundary in the body")
    parts: list[UploadPart] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            return parts
        head, separator, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        if not separator:
            raise MultipartError("a multipart part has no header block")
        headers = _header_message(head)
        if headers.get_content_disposition() != "form-data":
            raise MultipartError("a multipart part is not form-data")
        name = headers.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            raise MultipartError("a multipart part has no name")
        raw_filename = headers.get_param("filename", header="content-disposition")
        filename = headers.get_filename() if raw_filename is not None else None
        content_type_header = headers.get("Content-Type")
        parts.append(
            UploadPart(
                name,
                filename if filename is not None or raw_filename is None else "",
                headers.get_content_type() if content_type_header else None,
                data,
            )
        )
    raise MultipartError("the multipart body has no closing boundary")


def form_fields(parts: Sequence[UploadPart]) -> dict[str, str]:
    """Return the text fields of a form (first value of each; undecodable bytes replaced)."""
    fields: dict[str, str] = {}
    for part in parts:
        if part.filename is None and part.field not in fields:
            fields[part.field] = part.data.decode("utf-8", errors="replace")
    return fields


def _text(part: UploadPart) -> str:
    if part.filename is not None:
        raise invalid_param(part.field, "Expected a text field, got a file")
    try:
        return part.data.decode("utf-8")
    except UnicodeDecodeError:
        raise invalid_param(part.field, "Expected UTF-8 text") from None


def _coerce(field: str, text: str) -> Any:
    if field in FORM_INT_FIELDS:
        if not _INT_RE.match(text.strip()):
            raise invalid_param(field, "Expected integer")
        return int(text)
    if field in FORM_BOOL_FIELDS:
        if text.strip().lower() not in _BOOLS:
            raise invalid_param(field, "Expected boolean")
        return _BOOLS[text.strip().lower()]
    if field in FORM_LIST_FIELDS:
        return [url.strip() for url in text.split(",") if url.strip()]
    return text


def _upload_ref(part: UploadPart, role: str, param: str) -> ImageRef:
    return ImageRef(role, "upload", part.filename or "", param)


def generation_form(
    parts: Sequence[UploadPart],
) -> tuple[dict[str, Any], list[ImageRef], dict[str, UploadPart]]:
    """Turn an ``ImageGenerationMultipartRequest`` into a body, upload refs, parts by param.

    Unknown fields, repeated fields and files outside ``image`` are rejected (the schema
    has ``additionalProperties: false`` and one value per field); ``image_urls`` and
    ``reference_image_urls`` are comma-separated.
    """
    body: dict[str, Any] = {}
    uploads: list[UploadPart] = []
    seen: set[str] = set()
    for part in parts:
        if part.field not in GENERATION_FORM_FIELDS:
            raise invalid_param(
                part.field, "Unrecognized field: multipart creates accept only the listed fields"
            )
        if part.field in seen:
            raise invalid_param(part.field, "Field given more than once")
        seen.add(part.field)
        if part.field in GENERATION_FILE_FIELDS:
            if part.filename is None:
                raise invalid_param(part.field, "Expected a file part")
            uploads.append(part)
        else:
            body[part.field] = _coerce(part.field, _text(part))
    refs = [_upload_ref(part, "image", part.field) for part in uploads]
    return body, refs, {part.field: part for part in uploads}


def edit_form(
    parts: Sequence[UploadPart],
) -> tuple[dict[str, Any], list[ImageRef], ImageRef | None, dict[str, UploadPart]]:
    """Turn a multipart edit into a body, image refs, mask ref and the parts by param.

    Images come from ``image`` (repeatable) and ``image[]`` parts, the mask from one
    ``mask`` part; other fields are text (``additionalProperties: true``: unknown ones
    are kept as strings).
    """
    body: dict[str, Any] = {}
    refs: list[ImageRef] = []
    mask: ImageRef | None = None
    files: dict[str, UploadPart] = {}
    counts = dict.fromkeys(EDIT_IMAGE_FIELDS, 0)
    for part in parts:
        if part.field in EDIT_FILE_FIELDS:
            if part.filename is None:
                raise invalid_param(part.field, "Expected a file part")
            if part.field == "mask":
                if mask is not None:
                    raise invalid_param("mask", "Only one mask is accepted")
                mask = _upload_ref(part, "mask", "mask")
                files["mask"] = part
            else:
                param = f"{part.field}[{counts[part.field]}]"
                counts[part.field] += 1
                refs.append(_upload_ref(part, "image", param))
                files[param] = part
        elif part.field in body:
            raise invalid_param(part.field, "Field given more than once")
        else:
            body[part.field] = _coerce(part.field, _text(part))
    return body, refs, mask, files
