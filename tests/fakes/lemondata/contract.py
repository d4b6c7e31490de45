"""The image API contract the emulator enforces: constants, errors and request validation."""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_API_KEY = "sk-test-emulator"
DEFAULT_MODELS: list[str] = [
    "gpt-image-2",
    "dall-e-3",
    "gemini-3-pro-image-preview",
    "nano-banana-pro",
    "gemini-2.5-flash-image",
    "gemini-3.1-flash-image-preview",
    "nano-banana",
    "gemini-2.0-flash-preview-image-generation",
    "flux-pro",
    "midjourney",
]

GPT_IMAGE_MODEL = "gpt-image-2"
DALLE3_MODEL = "dall-e-3"
GEMINI_FLASH_MODELS = frozenset(
    {"gemini-2.5-flash-image", "gemini-3.1-flash-image-preview", "nano-banana", "nano-banana-edit"}
)
GEMINI_PROMPT_ONLY_MODELS = frozenset({"gemini-2.0-flash-preview-image-generation"})
DALLE3_SIZES = ("1024x1024", "1792x1024", "1024x1792")
QUALITIES = ("standard", "hd", "auto", "low", "medium", "high")
DALLE_QUALITIES = ("standard", "hd")
GPT_IMAGE_QUALITIES = ("auto", "low", "medium", "high")
STYLES = ("vivid", "natural")
RESPONSE_FORMATS = ("url", "b64_json")
RESOLUTIONS = ("1k", "2k", "4k")
GPT_IMAGE_ENUMS: dict[str, tuple[str, ...]] = {
    "background": ("transparent", "opaque", "auto"),
    "output_format": ("png", "jpeg", "webp"),
    "moderation": ("auto", "low"),
}
GPT_IMAGE_INT_RANGES: dict[str, tuple[int, int]] = {
    "output_compression": (0, 100),
    "compression": (0, 100),
    "partial_images": (0, 3),
}
MAX_PROMPT_CHARS = 4000
MIN_N, MAX_N = 1, 10
MAX_SUGGESTIONS = 3
GPT_IMAGE_SIZE_STEP = 16
GPT_IMAGE_MAX_EDGE = 3840
GPT_IMAGE_MAX_RATIO = 3
GPT_IMAGE_MIN_PIXELS = 655_360
GPT_IMAGE_MAX_PIXELS = 8_294_400
CONTENT_POLICY_MESSAGE = "Your request was rejected as a result of our safety system."
TERMINAL_TASK_STATUSES = frozenset({"completed", "failed"})
DEFAULT_TASK_ERROR: dict[str, str] = {
    "code": "generation_failed",
    "message": "The upstream provider failed to generate the image.",
}
MODEL_CREATED = 1_700_000_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE_SIDE = 64
GENERATIONS_PATH = "/v1/images/generations"
TASK_PATH_PREFIXES = ("/v1/tasks/", "/v1/images/")
FILES_PREFIX = "/files/"
# The extension of a generated image's URL, by output format.
FILE_EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
_URL_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
EDITS_PATH = "/v1/images/edits"
UPLOADS_PATH = "/v1/files"

TEXT_TO_IMAGE = "text-to-image"
IMAGE_TO_IMAGE = "image-to-image"
IMAGE_EDIT = "image-edit"
OPERATIONS = (TEXT_TO_IMAGE, IMAGE_TO_IMAGE, IMAGE_EDIT)
MAX_INPUT_IMAGES = 16
UPLOAD_PURPOSES = ("vision", "user_data")
# Fields the gateway removes from a gpt-image-2 request before forwarding it.
DROPPED_FOR_GPT_IMAGE = ("input_fidelity",)

_SIZE_RE = re.compile(r"^(\d+)x(\d+)$")

_FAULT_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request"),
    401: ("invalid_api_key", "Invalid API key provided"),
    402: ("insufficient_balance", "Insufficient balance. Please top up your account."),
    403: ("unauthorized", "This API key is not allowed to use this resource"),
    404: ("not_found_error", "Not found"),
    408: ("timeout_error", "The request timed out"),
    429: ("rate_limit_exceeded", "Rate limit exceeded. Please slow down."),
    500: ("server_error", "An internal error occurred"),
    502: ("upstream_error", "The upstream provider returned an invalid response"),
    503: ("upstream_error", "The upstream provider is temporarily unavailable"),
    504: ("upstream_error", "The upstream provider timed out"),
}


def file_key(ref: str) -> str:
    """Return the file id in an image URL, ``<id>.<ext>`` or id (any image extension)."""
    name = ref.rsplit("/", 1)[-1]
    for extension in _URL_EXTENSIONS:
        if name.endswith(extension):
            return name.removesuffix(extension)
    return name


# --------------------------------------------------------------------------- errors


class RequestRejectedError(Exception):
    """A request that the contract rejects; carries the error the emulator answers.

    ``extra`` adds ``ApiError`` hints (``supported_operations``, ``retryable``, ...).
    """

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        type_: str = "invalid_request_error",
        code: str | None = None,
        status: int = 400,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.type = type_
        self.code = code
        self.status = status
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        """Return the JSON error body for this rejection."""
        return error_body(
            self.message, self.type, code=self.code, param=self.param, extra=self.extra
        )


def error_body(
    message: str,
    type_: str,
    *,
    code: str | None = None,
    param: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build a contract error body (``ApiError``, plus ``validation_errors`` with a param)."""
    error: dict[str, Any] = {"message": message, "type": type_}
    if code is not None:
        error["code"] = code
    if param is not None:
        error["param"] = param
    error.update(extra or {})
    body: dict[str, Any] = {"error": error}
    if param is not None:
        body["validation_errors"] = [{"field": param, "message": message}]
    return body


def default_error_body(status: int) -> dict[str, Any]:
    """Return the contract's error body for an HTTP status (what a fault answers)."""
    type_, message = _FAULT_DEFAULTS.get(
        status,
        ("server_error", "An internal error occurred")
        if status >= 500
        else ("invalid_request_error", f"HTTP {status}"),
    )
    return error_body(message, type_)


def invalid_param(param: str, detail: str, *, code: str | None = None) -> RequestRejectedError:
    """Return the 400 ``invalid_request_error`` for one parameter (``"param: detail"``)."""
    return RequestRejectedError(f"{param}: {detail}", param=param, code=code)


def unsupported_operation(
    model: str, operation: str, supported: Sequence[str], *, param: str
) -> RequestRejectedError:
    """Return the 400 for an operation the model does not offer, listing those it does."""
    return RequestRejectedError(
        f"{param}: model {model} does not support {operation}; "
        f"supported operations: {', '.join(supported)}",
        param=param,
        code="unsupported_operation",
        extra={"model": model, "supported_operations": list(supported)},
    )


def unknown_model(
    model: str, models: Collection[str], *, status: int = 400
) -> RequestRejectedError:
    """Return the ``model_not_found`` error for ``model``, with ``did_you_mean`` hints.

    ``did_you_mean`` is the closest listed id (by :mod:`difflib`), when one is close;
    ``suggestions`` lists the close ids, or without any the first listed models.
    """
    listed = list(models)
    close = difflib.get_close_matches(model, listed, n=MAX_SUGGESTIONS, cutoff=0.5)
    extra: dict[str, Any] = {
        "suggestions": [{"id": m} for m in (close or listed[:MAX_SUGGESTIONS])],
    }
    if close:
        extra["did_you_mean"] = close[0]
    return RequestRejectedError(
        f"The model `{model}` does not exist or you do not have access to it.",
        param="model",
        type_="model_not_found",
        status=status,
        extra=extra,
    )


# --------------------------------------------------------------------------- models


def default_operations(model: str) -> tuple[str, ...]:
    """Return the operations a model offers unless a test overrides them.

    GPT Image and FLUX edit; Gemini / Nano Banana take reference images
    (image-to-image); DALL-E 3, ``gemini-2.0-flash-preview-image-generation`` and
    unknown families are text-to-image only.
    """
    if model == GPT_IMAGE_MODEL or model.startswith("flux"):
        return (TEXT_TO_IMAGE, IMAGE_EDIT)
    if model == DALLE3_MODEL or model in GEMINI_PROMPT_ONLY_MODELS:
        return (TEXT_TO_IMAGE,)
    if model.startswith(("gemini", "nano-banana")):
        return (TEXT_TO_IMAGE, IMAGE_TO_IMAGE)
    return (TEXT_TO_IMAGE,)


def always_async(model: str) -> bool:
    """Return True for models whose edits are always tasks (official FLUX/BFL)."""
    return model.startswith("flux")


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class ImageRef:
    """An input image named by a request, before the emulator resolves it to bytes.

    ``source`` is ``url``, ``file_id`` or ``upload`` (``value`` is then the filename).
    """

    role: str
    source: str
    value: str
    param: str


@dataclass(frozen=True)
class RequestPlan:
    """What a valid create or edit asks for."""

    model: str
    prompt: str
    n: int
    operation: str
    inputs: tuple[ImageRef, ...]

    @property
    def images(self) -> tuple[ImageRef, ...]:
        """Return the input images, without the mask."""
        return tuple(ref for ref in self.inputs if ref.role == "image")


def gpt_image_size_error(size: str) -> str | None:
    """Return why ``size`` breaks the gpt-image-2 size contract, or None when it is valid."""
    if size == "auto":
        return None
    match = _SIZE_RE.match(size)
    if match is None:
        return "size must be 'auto' or WIDTHxHEIGHT"
    width, height = int(match.group(1)), int(match.group(2))
    if width <= 0 or height <= 0:
        return "width and height must be positive"
    if width % GPT_IMAGE_SIZE_STEP or height % GPT_IMAGE_SIZE_STEP:
        return f"width and height must both be multiples of {GPT_IMAGE_SIZE_STEP}"
    long_edge, short_edge = max(width, height), min(width, height)
    if long_edge > GPT_IMAGE_MAX_EDGE:
        return f"the longest edge must be at most {GPT_IMAGE_MAX_EDGE}px"
    if long_edge > GPT_IMAGE_MAX_RATIO * short_edge:
        return f"long edge / short edge must be at most {GPT_IMAGE_MAX_RATIO}:1"
    pixels = width * height
    if not GPT_IMAGE_MIN_PIXELS <= pixels <= GPT_IMAGE_MAX_PIXELS:
        return (
            f"total pixels must be between {GPT_IMAGE_MIN_PIXELS:,} and "
            f"{GPT_IMAGE_MAX_PIXELS:,} (got {pixels:,})"
        )
    return None


def _reject(param: str, detail: str) -> RequestRejectedError:
    return invalid_param(param, detail)


def _check_int(body: Mapping[str, Any], key: str, low: int | None, high: int | None) -> None:
    if key not in body:
        return
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _reject(key, "Expected integer")
    if low is not None and high is not None and not low <= value <= high:
        raise _reject(key, f"Number must be between {low} and {high}")


def _check_enum(body: Mapping[str, Any], key: str, allowed: Collection[str]) -> None:
    if key in body and body[key] not in allowed:
        raise _reject(key, f"Expected one of {', '.join(allowed)}")


def _check_bool(body: Mapping[str, Any], key: str) -> None:
    if key in body and not isinstance(body[key], bool):
        raise _reject(key, "Expected boolean")


def _check_str(body: Mapping[str, Any], key: str) -> None:
    if key in body and not isinstance(body[key], str):
        raise _reject(key, "Expected string")


def _check_model_and_prompt(body: Any, models: Collection[str]) -> tuple[str, str]:
    if not isinstance(body, Mapping):
        raise RequestRejectedError("Request body must be a JSON object")
    model = body.get("model")
    if model is None or model == "":
        raise _reject("model", "Model is required")
    if not isinstance(model, str):
        raise _reject("model", "Expected string")
    prompt = body.get("prompt")
    if prompt is None:
        raise _reject("prompt", "Prompt is required")
    if not isinstance(prompt, str):
        raise _reject("prompt", "Expected string")
    if not prompt.strip():
        raise _reject("prompt", "Prompt must not be empty")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise _reject("prompt", f"String must contain at most {MAX_PROMPT_CHARS} character(s)")
    if model not in models:
        raise unknown_model(model, models)
    return model, prompt


def _check_params(body: Mapping[str, Any], model: str) -> None:
    """Check the types and values of the output parameters shared by creates and edits.

    Which parameters a model takes, its aspect ratios, resolutions, output formats and
    most images per request are :mod:`~tests.fakes.lemondata.options`' rules.
    """
    is_gpt_image = model == GPT_IMAGE_MODEL
    is_dalle3 = model == DALLE3_MODEL

    _check_int(body, "n", MIN_N, MAX_N)

    _check_enum(body, "quality", QUALITIES)
    if "quality" in body:
        if is_dalle3 and body["quality"] not in DALLE_QUALITIES:
            raise _reject("quality", f"dall-e-3 accepts {', '.join(DALLE_QUALITIES)}")
        if is_gpt_image and body["quality"] not in GPT_IMAGE_QUALITIES:
            raise _reject("quality", f"gpt-image-2 accepts {', '.join(GPT_IMAGE_QUALITIES)}")

    _check_enum(body, "style", STYLES)
    _check_enum(body, "response_format", RESPONSE_FORMATS)
    _check_bool(body, "async")

    if "size" in body:
        size = body["size"]
        if not isinstance(size, str):
            raise _reject("size", "Expected string")
        if is_gpt_image and (reason := gpt_image_size_error(size)) is not None:
            raise _reject("size", f"invalid gpt-image-2 size {size!r}: {reason}")
        if is_dalle3 and size not in DALLE3_SIZES:
            raise _reject("size", f"dall-e-3 accepts {', '.join(DALLE3_SIZES)}")

    for key, allowed in GPT_IMAGE_ENUMS.items():
        _check_enum(body, key, allowed)
    for key, (low, high) in GPT_IMAGE_INT_RANGES.items():
        _check_int(body, key, low, high)
    _check_str(body, "user")
    _check_bool(body, "stream")
    if body.get("stream") is True:
        raise _reject("stream", "streaming is not supported on this route")


def _url(body: Mapping[str, Any], key: str, role: str = "image") -> list[ImageRef]:
    if key not in body:
        return []
    value = body[key]
    if not isinstance(value, str) or not value.strip():
        raise _reject(key, "Expected a URL string")
    return [ImageRef(role, "url", value, key)]


def _url_list(body: Mapping[str, Any], key: str) -> list[ImageRef]:
    if key not in body:
        return []
    value = body[key]
    if not isinstance(value, list):
        raise _reject(key, "Expected an array of URLs")
    if not 1 <= len(value) <= MAX_INPUT_IMAGES:
        raise _reject(key, f"Array must contain between 1 and {MAX_INPUT_IMAGES} item(s)")
    refs = []
    for index, url in enumerate(value):
        if not isinstance(url, str) or not url.strip():
            raise _reject(f"{key}[{index}]", "Expected a URL string")
        refs.append(ImageRef("image", "url", url, f"{key}[{index}]"))
    return refs


def _reference(value: Any, param: str, role: str) -> ImageRef:
    """Check one ``{image_url} | {file_id}`` object of an edit (an ``images`` item, a mask)."""
    if not isinstance(value, Mapping):
        raise _reject(param, "Expected an object with image_url or file_id")
    keys = set(value)
    if keys - {"image_url", "file_id"}:
        unknown = sorted(keys - {"image_url", "file_id"})[0]
        raise _reject(f"{param}.{unknown}", "Unrecognized key")
    if len(keys) != 1:
        raise _reject(param, "Provide exactly one of image_url or file_id")
    (key,) = keys
    item = value[key]
    if not isinstance(item, str) or not item.strip():
        raise _reject(f"{param}.{key}", "Expected string")
    return ImageRef(role, "url" if key == "image_url" else "file_id", item, f"{param}.{key}")


def _check_input_count(refs: Sequence[ImageRef], param: str) -> None:
    if len(refs) > MAX_INPUT_IMAGES:
        raise _reject(param, f"at most {MAX_INPUT_IMAGES} input images are accepted")


OperationsOf = Callable[[str], Sequence[str]]


def validate_generation_request(
    body: Any,
    models: Collection[str],
    *,
    operations: OperationsOf = default_operations,
    uploads: Sequence[ImageRef] = (),
) -> RequestPlan:
    """Raise :class:`RequestRejectedError` when ``body`` breaks the create contract.

    ``operations`` gives each model's supported operations; ``uploads`` are the image
    parts of a multipart create. Returns what the request asks for (its input images
    not yet resolved). The content policy is not checked here (it depends on the
    emulator's word list).
    """
    model, prompt = _check_model_and_prompt(body, models)
    _check_params(body, model)
    _check_enum(body, "operation", OPERATIONS)
    _check_bool(body, "expand_prompt")
    refs = [
        *_url(body, "image_url"),
        *_url_list(body, "image_urls"),
        *_url_list(body, "reference_image_urls"),
        *uploads,
    ]
    _check_input_count(refs, refs[0].param if refs else "image_urls")
    mask = _url(body, "mask_url", role="mask")
    supported = operations(model)
    operation = body.get("operation")
    if operation is not None:
        param = "operation"
    elif refs:
        param = refs[0].param
        operation = next((op for op in (IMAGE_TO_IMAGE, IMAGE_EDIT) if op in supported), None)
        operation = operation or IMAGE_TO_IMAGE
    else:
        param, operation = "operation", TEXT_TO_IMAGE
    if operation not in supported:
        raise unsupported_operation(model, operation, supported, param=param)
    if operation == TEXT_TO_IMAGE and refs:
        raise _reject("operation", "text-to-image takes no input image")
    if operation != TEXT_TO_IMAGE and not refs:
        raise _reject(
            "image_url",
            f"{operation} needs an input image (image_url, image_urls or reference_image_urls)",
        )
    return RequestPlan(model, prompt, body.get("n", 1), operation, (*refs, *mask))


def validate_edit_request(
    body: Any,
    models: Collection[str],
    *,
    operations: OperationsOf = default_operations,
    uploads: Sequence[ImageRef] = (),
    mask_upload: ImageRef | None = None,
) -> RequestPlan:
    """Raise :class:`RequestRejectedError` when ``body`` breaks the edit contract.

    JSON edits name their images with ``image_url``, ``image_urls`` or ``images``
    (``{image_url}`` / ``{file_id}`` items) and an optional ``mask`` object; multipart
    edits pass their ``image`` / ``image[]`` parts as ``uploads`` and ``mask`` as
    ``mask_upload``. A model without ``image-edit`` is refused with its
    ``supported_operations``.
    """
    model, prompt = _check_model_and_prompt(body, models)
    supported = operations(model)
    if IMAGE_EDIT not in supported:
        raise unsupported_operation(model, IMAGE_EDIT, supported, param="model")
    _check_params(body, model)
    refs = [*_url(body, "image_url"), *_url_list(body, "image_urls")]
    if "images" in body:
        images = body["images"]
        if not isinstance(images, list):
            raise _reject("images", "Expected an array")
        if not 1 <= len(images) <= MAX_INPUT_IMAGES:
            raise _reject("images", f"Array must contain between 1 and {MAX_INPUT_IMAGES} item(s)")
        refs += [_reference(item, f"images[{i}]", "image") for i, item in enumerate(images)]
    refs += uploads
    if not refs:
        raise _reject(
            "image",
            "Provide image_url, image_urls or images (JSON), or image / image[] file parts",
        )
    _check_input_count(refs, refs[0].param)
    mask: list[ImageRef] = []
    if "mask" in body:
        mask.append(_reference(body["mask"], "mask", "mask"))
    if mask_upload is not None:
        mask.append(mask_upload)
    return RequestPlan(model, prompt, body.get("n", 1), IMAGE_EDIT, (*refs, *mask))


def forwarded_params(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """Return a request's fields as the gateway forwards them upstream."""
    params = dict(body)
    if model == GPT_IMAGE_MODEL:
        for key in DROPPED_FOR_GPT_IMAGE:
            params.pop(key, None)
    return params
