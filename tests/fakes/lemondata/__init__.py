"""LemonData emulator: a real HTTP server on 127.0.0.1 that speaks the image API contract.

The contract is ``/work/shared/docs/lemondata-images-api.md`` plus the OpenAPI subset
``lemondata-images-schemas.json``. Tests talk to the emulator over real HTTP, either
in-process or from a bot subprocess pointed at :attr:`LemonDataEmulator.base_url`::

    async with LemonDataEmulator() as lemondata:
        client = LemonDataClient(http, base_url=lemondata.base_url, api_key=lemondata.api_key)
        ...
        await lemondata.wait_for(lambda: len(lemondata.creates()) == 1)

Routes
    ``GET /v1/models[?recommended_for=image]``, ``POST /v1/images/generations``,
    ``GET /v1/tasks/{id}`` (and its alias ``GET /v1/images/{id}``) need
    ``Authorization: Bearer <api_key>``. ``GET /files/{id}.png`` is an unauthenticated
    stand-in for the CDN that serves generated images.

Knobs (plain attributes; change them at any time)
    ``models``               list of model ids that exist and are listed (default
                             :data:`DEFAULT_MODELS`); a create for any other model is
                             rejected with 400 ``model_not_found``.
    ``blocked_words``        set of substrings (case-insensitive) that make a prompt fail
                             the content policy (default ``{"forbidden"}``).
    ``force_task_models``    models whose creates answer with a task although ``async`` was
                             not asked for.
    ``polls_to_complete``    a task completes on this poll (default 2: the first poll
                             answers ``processing``, the second ``completed``).
    ``hold_tasks``           when True no task finishes by polling; finish them with
                             :meth:`~LemonDataEmulator.complete_task` /
                             :meth:`~LemonDataEmulator.fail_task`.
    ``fail_task_models``     model -> error (a string or an ``{"code", "message"}`` object):
                             tasks of that model end ``failed`` with that ``error``.
    ``task_status_override`` a status (e.g. ``"in_progress"``, ``"queued"``) that running
                             tasks answer instead of ``pending``/``processing``.
    ``file_size_bytes``      pad every served PNG (with a ``tEXt`` chunk) to this size.
    ``gate``                 an :class:`asyncio.Event`; synchronous creates wait for it
                             before answering (``gated`` counts those waiting).

Fault injection
    :meth:`~LemonDataEmulator.fail_next` queues error answers (status, ``Retry-After``,
    JSON or raw text body); :meth:`~LemonDataEmulator.drop_next_connection` closes the
    connection instead of answering. Faults apply, first queued first, to requests whose
    path starts with their ``path_prefix``, before authentication and validation;
    :meth:`~LemonDataEmulator.clear_faults` forgets them.

Observation
    ``requests`` records every request (faulted ones too) as a :class:`RecordedRequest`;
    :meth:`~LemonDataEmulator.creates`, :meth:`~LemonDataEmulator.polls` and
    :meth:`~LemonDataEmulator.downloads` filter it; ``tasks`` and ``files`` expose state;
    :meth:`~LemonDataEmulator.wait_for` waits, without sleeping, until a predicate holds
    (it is re-checked after every request and every state change).

The emulator is single-loop: use it from the event loop that started it.

Modules: ``contract`` (constants, errors, request validation), ``images`` (the image
bytes served), ``catalog`` (the model list), ``records`` (recorded requests, tasks,
files) and ``server`` (:class:`LemonDataEmulator`); this package re-exports their names.
"""

from __future__ import annotations

from tests.fakes.lemondata.contract import (
    CONTENT_POLICY_MESSAGE,
    DALLE3_MODEL,
    DALLE3_SIZES,
    DALLE_QUALITIES,
    DEFAULT_API_KEY,
    DEFAULT_MODELS,
    DEFAULT_TASK_ERROR,
    FILES_PREFIX,
    GEMINI_FLASH_MODELS,
    GEMINI_PROMPT_ONLY_MODELS,
    GENERATIONS_PATH,
    GPT_IMAGE_ENUMS,
    GPT_IMAGE_INT_RANGES,
    GPT_IMAGE_MAX_EDGE,
    GPT_IMAGE_MAX_PIXELS,
    GPT_IMAGE_MAX_RATIO,
    GPT_IMAGE_MIN_PIXELS,
    GPT_IMAGE_MODEL,
    GPT_IMAGE_QUALITIES,
    GPT_IMAGE_SIZE_STEP,
    IMAGE_SIDE,
    MAX_N,
    MAX_PROMPT_CHARS,
    MIN_N,
    MODEL_CREATED,
    PNG_SIGNATURE,
    QUALITIES,
    RESOLUTIONS,
    RESPONSE_FORMATS,
    STYLES,
    TASK_PATH_PREFIXES,
    TERMINAL_TASK_STATUSES,
    RequestRejectedError,
    error_body,
    gpt_image_size_error,
    validate_generation_request,
)
from tests.fakes.lemondata.images import (
    make_png,
)
from tests.fakes.lemondata.records import (
    EmulatedTask,
    RecordedRequest,
    StoredFile,
)
from tests.fakes.lemondata.server import (
    LemonDataEmulator,
)

__all__ = [
    "CONTENT_POLICY_MESSAGE",
    "DALLE3_MODEL",
    "DALLE3_SIZES",
    "DALLE_QUALITIES",
    "DEFAULT_API_KEY",
    "DEFAULT_MODELS",
    "DEFAULT_TASK_ERROR",
    "FILES_PREFIX",
    "GEMINI_FLASH_MODELS",
    "GEMINI_PROMPT_ONLY_MODELS",
    "GENERATIONS_PATH",
    "GPT_IMAGE_ENUMS",
    "GPT_IMAGE_INT_RANGES",
    "GPT_IMAGE_MAX_EDGE",
    "GPT_IMAGE_MAX_PIXELS",
    "GPT_IMAGE_MAX_RATIO",
    "GPT_IMAGE_MIN_PIXELS",
    "GPT_IMAGE_MODEL",
    "GPT_IMAGE_QUALITIES",
    "GPT_IMAGE_SIZE_STEP",
    "IMAGE_SIDE",
    "MAX_N",
    "MAX_PROMPT_CHARS",
    "MIN_N",
    "MODEL_CREATED",
    "PNG_SIGNATURE",
    "QUALITIES",
    "RESOLUTIONS",
    "RESPONSE_FORMATS",
    "STYLES",
    "TASK_PATH_PREFIXES",
    "TERMINAL_TASK_STATUSES",
    "EmulatedTask",
    "LemonDataEmulator",
    "RecordedRequest",
    "RequestRejectedError",
    "StoredFile",
    "error_body",
    "gpt_image_size_error",
    "make_png",
    "validate_generation_request",
]
