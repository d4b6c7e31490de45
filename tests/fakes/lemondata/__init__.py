"""LemonData emulator: a real HTTP server on 127.0.0.1 that speaks the image API contract.

The contract is ``/work/shared/docs/lemondata-images-api.md`` plus the OpenAPI subset
``lemondata-images-schemas.json``. Tests talk to the emulator over real HTTP, either
in-process or from a bot subprocess pointed at :attr:`LemonDataEmulator.base_url`::

    async with LemonDataEmulator() as lemondata:
        client = LemonDataClient(http, base_url=lemondata.base_url, api_key=lemondata.api_key)
        ...
        await lemondata.wait_for(lambda: len(lemondata.creates()) == 1)

Routes
    Under ``/v1`` every route needs ``Authorization: Bearer <api_key>``:

    ``GET /v1/models[?recommended_for=image][&view=compact][&category=][&provider=]``
        Items carry the extension block as ``tokenlab`` (``lemondata`` for flux-pro and
        midjourney: both names appear): ``category``, ``capabilities``,
        ``supported_operations``, ``request_endpoint``, ``pricing`` (``unit``,
        ``currency``, prices as decimal strings; gpt-image-2 ``per_1m_tokens`` with a
        ``min_price``-``max_price`` range, the rest ``per_request``), and with
        ``recommended_for=image`` ``agent_preferences.image`` (``rank`` and
        ``preferred_rank``, ``success_rate_24h``, ``sample_count_24h``, ``status``).
        ``view=compact`` answers ``CompactModelsResponse``.
    ``GET /v1/models/{model}``  adds ``request_format_summary`` (aspect ratios,
        resolutions, sizes, ``service_limits.prompt_max_characters`` / ``online_rpm``,
        per-operation endpoints, ``supported_parameters``, ``output_formats``,
        ``recommended_request_summary``, ``operation_constraints``); creates and edits
        are held to it (see "Image options" below).
    ``GET /v1/models/{model}/pricing``  ``ModelPricingResponse``.
    ``GET /v1/pricing[?provider=][&tag=]``  ``PricingResponse`` (``object: pricing``,
        ``updated_at``: ``pricing_updated_at``, ``currency: USD``): a ``PricingEntry`` per
        listed model with a price, in ``models`` order, priced as the list prices it
        (overrides included). Per-request models: ``is_lock_price`` true and
        ``lock_price_per_request`` (the list's ``per_request``); token-billed gpt-image-2:
        ``is_lock_price`` false, ``input_per_1m_tokens`` / ``output_per_1m_tokens`` (the
        list's ``input_per_1m`` / ``output_per_1m``) and a ``pricing_summary`` of its
        ``text_input_per_1m``, ``image_input_per_1m``, ``cached_input_per_1m``,
        ``image_output_per_1m`` (:data:`GPT_IMAGE_TOKEN_PRICES`), ``min_price`` and
        ``max_price``. ``provider`` keeps one owner's models; ``tag`` those with it
        among their capabilities or operations (every model has ``image``). Waits for
        ``models_gate`` like the model routes.
    ``POST /v1/images/generations``  JSON, or ``multipart/form-data`` with the upload in
        ``image`` (only ``ImageGenerationMultipartRequest`` fields: others answer 400;
        ``image_urls`` / ``reference_image_urls`` comma-separated). Image input:
        ``operation``, ``image_url``, ``image_urls`` / ``reference_image_urls`` (1-16,
        at most 16 inputs in all), ``mask_url``; ``negative_prompt`` and ``seed`` where
        the model takes them.
    ``POST /v1/images/edits``  JSON ``images: [{image_url} | {file_id}]`` (1-16),
        ``image_url`` / ``image_urls``, ``mask: {image_url} | {file_id}``; or multipart
        ``image`` (repeatable) / ``image[]`` and ``mask`` parts. ``async: true`` gives a
        task; FLUX edits are always tasks; ``input_fidelity`` is dropped for gpt-image-2.
        Token-billed models (gpt-image-2) add ``usage`` to inline answers and completed
        task bodies; see "Usage" below.
    ``POST /v1/files``  multipart ``file``, ``purpose`` (``vision`` / ``user_data``),
        ``model`` (default gpt-image-2: the ``file_id`` works in edits for that model only);
        ``GET`` / ``DELETE /v1/files/{file_id}``.
    ``GET /v1/tasks/{id}`` (and its alias ``GET /v1/images/{id}``)

    Unauthenticated: ``GET /files/{id}.png`` (``.jpg``, ``.webp``: the CDN serving
    generated images in the format they were made in, with its Content-Type; a create
    or edit with ``output_format`` jpeg or webp makes real JPEG / WebP bytes, as URLs,
    task results and ``b64_json`` alike; PNG otherwise),
    ``GET /hosted/{id}`` (bytes put there by :meth:`~LemonDataEmulator.host`),
    ``GET /redirect?to=URL`` (302 to ``URL``; :meth:`~LemonDataEmulator.redirect_url`).

    A model refuses an operation it lacks (:meth:`~LemonDataEmulator.supported_operations`:
    DALL-E 3 and gemini-2.0-flash-preview-image-generation are text only, Gemini families
    take image-to-image, GPT Image and FLUX edit) with 400 ``unsupported_operation``
    carrying ``supported_operations``. Every input image is fetched the way the gateway
    does: uploads, ``file_id``s and ``data:`` URLs are read; ``http(s)`` URLs must be
    public (private addresses and local names answer 400 ``invalid_image_url``; so do
    downloads that fail), redirects are re-checked; URLs on the emulator itself resolve to
    its files while ``allow_own_host_urls`` holds; public URLs serve ``remote_images``.
    Bytes that are not PNG, JPEG, WebP or GIF (by magic number) answer 400 ``invalid_image``.

Image options (``options``)
    A create or edit (JSON or multipart) is held to the ``request_format_summary`` its
    model's detail route answers, a test's override included (the entry of
    ``operation_constraints`` for its operation wins over the top-level lists; the
    constraints follow overridden lists unless overridden themselves). A field outside
    the model's ``supported_parameters`` and outside :data:`ALWAYS_ACCEPTED` (model,
    prompt, n, response_format, user, operation, the image inputs, stream,
    input_fidelity, expand_prompt; and ``async: false``) answers 400
    ``invalid_request_error`` on that ``param`` with ``supported_parameters``. Per model
    (every one also takes prompt, n, response_format, user; output PNG only unless said):

    ``gpt-image-2``  size, quality, async, background (auto, opaque: transparent is
        refused with a ``hint``), output_format, output_compression, compression,
        moderation, partial_images; png, jpeg, webp.
    ``dall-e-3``  size, quality, style; n at most 1.
    ``flux-*``  aspect_ratio, async, seed, negative_prompt, background (transparent
        too), output_format, output_compression, compression; png, jpeg, webp.
    Gemini / Nano Banana  aspect_ratio (and resolution for the Pro families); with
        image-to-image also the image inputs, negative_prompt and seed.
        ``gemini-2.0-flash-preview-image-generation``: nothing more.
    ``midjourney*``  aspect_ratio (1:1, 2:3, 3:2 only), negative_prompt, seed; n at
        most 4; ``recommended_request_summary`` ``{"aspect_ratio": "1:1"}``; inline.
    Any other model  aspect_ratio.

    Then: ``n`` over the model's most (``ModelOverride.max_n``) answers 400 on ``n``;
    ``aspect_ratio`` / ``resolution`` outside the model's non-empty lists answer
    ``allowed_aspect_ratios`` / ``allowed_resolutions`` and a ``recommended_request``
    (``{"model", "aspect_ratio"}``: the recommended ratio if allowed, else the first);
    ``output_format`` outside ``output_formats``; ``output_compression`` /
    ``compression`` without output_format jpeg or webp; ``background: transparent``
    without png or webp (png is the default); ``seed`` not a (64-bit) integer;
    ``negative_prompt`` not a string of at most 2000 characters; ``moderation`` other
    than auto or low; a prompt over ``service_limits.prompt_max_characters``.

Usage (``billing``)
    Answers of token-billed models (pricing unit ``per_1m_tokens``: gpt-image-2) carry
    OpenAI's images ``usage``: inline creates and edits in the JSON answer, tasks in
    every body once ``completed`` (never while running nor failed)::

        {"input_tokens": T + I, "input_tokens_details":
            {"text_tokens": T, "image_tokens": I, "cached_tokens": 0},
         "output_tokens": O, "total_tokens": T + I + O}

    T = ceil(len(prompt) / 4); I = 1000 per input image (uploads, URLs, ``data:`` URLs,
    ``file_id``s; the mask is not counted); O = per-image tokens x the images actually
    returned (``short_images`` lowers it): 272 low, 1056 medium (and ``auto`` or no
    ``quality``), 4160 high at 1024x1024, times width x height / 1024², rounded up
    (``size`` ``auto`` or none: 1024x1024). E.g. "a lemon" (T 2), 1536x1024, high, n 2:
    O = 2 x 6240. Its dollars: ((T - C) x text + I x image input + C x cached + O x
    image output) / 1M at the model's token prices (:func:`usage_cost`;
    :meth:`~LemonDataEmulator.reported_cost`). Per-request and unpriced models carry
    no ``usage``. Each :class:`Generation` and :class:`EmulatedTask` keeps the
    ``usage`` it reported (None: none).

Knobs (plain attributes; change them at any time)
    ``models``               list of model ids that exist and are listed (default
                             :data:`DEFAULT_MODELS`); a create, edit or upload for any
                             other model is rejected with 400 ``model_not_found`` (the
                             model routes: 404) carrying ``did_you_mean`` (the closest
                             listed id by :mod:`difflib`, when one is close) and
                             ``suggestions`` (the close ids, else the first listed).
    ``blocked_words``        set of substrings (case-insensitive) that make a prompt fail
                             the content policy (default ``{"forbidden"}``).
    ``force_task_models``    models whose creates answer with a task although ``async`` was
                             not asked for.
    ``polls_to_complete``    a task completes on this poll (default 2: the first poll
                             answers ``processing``, the second ``completed``).
    ``complete_after_seconds``  instead, tasks complete when polled at or after this many
                             seconds (on ``clock``) after their create; per model:
                             ``complete_after_seconds_by_model``; per create:
                             ``task_duration`` (task -> seconds, or None to fall back),
                             which wins. Each task keeps ``started_at`` / ``complete_at``.
    ``report_progress``      task bodies carry ``progress`` (0-100, growing with polls or
                             with time; 100 when completed); default False: no ``progress``,
                             as the contract says it is sent only when real.
    ``hold_tasks``           when True no task finishes by polling; finish them with
                             :meth:`~LemonDataEmulator.complete_task` /
                             :meth:`~LemonDataEmulator.fail_task`.
    ``fail_task_models``     model -> error (a string or an ``{"code", "message"}`` object):
                             tasks of that model end ``failed`` with that ``error``.
    ``task_status_override`` a status (e.g. ``"in_progress"``, ``"queued"``) that running
                             tasks answer instead of ``pending``/``processing``.
    ``file_size_bytes``      pad every served image (URL or ``b64_json``) to this size: PNG
                             with ``tEXt`` chunks, JPEG with ``COM`` segments, WebP with a
                             ``JUNK`` chunk (odd WebP sizes gain a byte: RIFF is even);
                             8 MiB and more is cheap (a shared padding part, written
                             unjoined). Each stays valid: Pillow opens it.
    ``file_size_bytes_by_format``  output format (``"png"``, ``"jpeg"``, ``"webp"``) ->
                             size; wins over ``file_size_bytes`` for that format, e.g.
                             ``{"jpeg": 9 * 1024 * 1024}`` makes only JPEGs big.
    ``short_images``         answer this many images fewer than ``n`` (inline creates and
                             completed tasks; never fewer than none).
    ``b64_line_breaks``      ``b64_json`` in MIME style: 76-character lines joined by CRLF.
    ``result_redirect_to``   result URLs become ``/redirect?to=<this>`` (``{file_url}``,
                             ``{file_id}``, ``{base_url}``, ``{other_base_url}`` filled in),
                             e.g. ``"http://10.0.0.1/{file_id}.png"``: a private redirect.
    ``trickle_bytes_per_second``  the CDN sends images at this rate (50 ms chunks).
    ``serve_non_image``      the CDN answers HTML labelled as the image's type
                             (``image/png`` unless it was made as JPEG or WebP).
    ``poll_url_override``    create and task answers carry this ``poll_url`` (``{task_id}``,
                             ``{port}``, ``{base_url}``, ``{other_base_url}`` filled in;
                             other braces left alone), e.g. ``"http://[::1"`` or
                             ``"HTTP://127.0.0.1:{port}/v1/tasks/{task_id}"``; the task stays
                             pollable at ``/v1/tasks/{id}``.
    ``create_without_status``  task creates answer ``task_id`` and ``poll_url`` but no
                             ``status``.
    ``refuse_key``           every ``/v1`` route answers 401 ``invalid_api_key``, even to
                             the right key (the CDN routes still answer).
    ``gate``                 an :class:`asyncio.Event`; synchronous creates and edits
                             wait for it before answering (``gated`` counts those waiting).
    ``rate_limit``           requests per window per API key (default None: no limit).
                             Past it ``/v1`` answers 429 with ``Retry-After`` (seconds until
                             the window resets, to the millisecond) and an ``ApiError``
                             (``code: rate_limit_exceeded``, ``retryable``, ``retry_after``).
                             Windows are fixed: one opens with a key's first request after
                             the last ended; refused requests do not count. The CDN routes
                             and 401s are never counted.
    ``rate_window``          the window in seconds (default 60).
    ``send_rate_headers``    with a ``rate_limit``, every authenticated ``/v1`` answer (and
                             every 429) carries ``X-RateLimit-Limit``, ``-Remaining`` and
                             ``-Reset`` (a Unix time, rounded up: the OpenAPI's meaning)
                             (default True).
    ``clock``                the monotonic clock (default :func:`time.monotonic`): rate
                             windows, request times and task deadlines; a benchmark may
                             drive it. ``wall_clock`` (default :func:`time.time`) gives
                             ``X-RateLimit-Reset``.
    ``record_requests``      record each request (default True); False keeps nothing in
                             ``requests`` (nor in the filters) for benchmarks, while
                             ``request_count``, ``rate_log`` and all state still count.
    ``model_overrides``      model -> :class:`ModelOverride`: replace its
                             ``supported_operations`` / ``capabilities``, merge into its
                             ``pricing``, ``agent_preferences``, ``request_format_summary``,
                             rename (``extension_key``) or drop (``omit_extension``) its
                             extension block; ``max_n``: the most images per request.
                             Operations and format also drive validation. Prices move
                             together: ``{"pricing": {"per_request": "0.080"}}`` changes
                             the list, compact view, both pricing routes and
                             ``/v1/pricing``; gpt-image-2's ``input_per_1m`` /
                             ``output_per_1m`` are its text-input / image-output token
                             prices; ``token_prices`` (e.g. ``{"image_input_per_1m":
                             "10.00"}``) merges into its detailed prices.
                             ``{"pricing": None}`` makes a model unpriced: no ``pricing``
                             (nor ``pricing_unit``) in the list, compact view or detail
                             (which the list schemas require: a price the gateway does
                             not know), ``pricing`` null on its pricing route, left out
                             of ``/v1/pricing``, and no ``usage``.
    ``pricing_updated_at``   ``/v1/pricing``'s ``updated_at`` (default
                             :data:`PRICING_UPDATED_AT`).
    ``report_usage``         token-billed answers carry ``usage`` (default True).
    ``usage_override``       None (default: the formulas above); a dict: the ``usage``
                             of every token-billed answer while set (sent as given, a
                             copy recorded); a callable ``(generation, images returned)``
                             -> a dict, or None for no ``usage`` in that answer.
                             ``report_usage`` False wins over it.
    ``models_gate``          an :class:`asyncio.Event`; the model routes wait for it
                             (``models_gated`` counts those waiting): a slow model list.
    ``allow_own_host_urls``  inputs may name URLs on the emulator's own host (default True;
                             False makes them private addresses like any 127.0.0.1).
    ``remote_images``        public URL -> bytes: the internet as the gateway sees it.

Fault injection
    :meth:`~LemonDataEmulator.fail_next` queues error answers (status, ``Retry-After``,
    JSON or raw text body); :meth:`~LemonDataEmulator.drop_next_connection` closes the
    connection instead of answering. Faults apply, first queued first, to requests whose
    path starts with their ``path_prefix``, before authentication and validation;
    :meth:`~LemonDataEmulator.clear_faults` forgets them.

Observation
    ``requests`` records every request (faulted ones too) as a :class:`RecordedRequest`
    (multipart bodies also as ``form`` and ``files``: the exact bytes that arrived; its
    ``authorization`` header and the ``origin`` it came in on). The emulator listens on
    two origins: ``base_url`` and ``other_base_url`` (a "foreign" host, same routes);
    :meth:`~LemonDataEmulator.foreign_requests` lists what reached the second one;
    :meth:`~LemonDataEmulator.creates` (bodies), :meth:`~LemonDataEmulator.create_requests`,
    :meth:`~LemonDataEmulator.edits`, :meth:`~LemonDataEmulator.uploads`,
    :meth:`~LemonDataEmulator.polls` and :meth:`~LemonDataEmulator.downloads` filter it
    (through an index: a filter costs what it returns; so keep ``requests`` append-only
    and forget it with :meth:`~LemonDataEmulator.clear_requests`). ``request_count``
    counts every request, recorded or not.
    ``generations`` lists every accepted create and edit (:class:`Generation`: operation,
    forwarded ``params``, ``inputs`` as :class:`InputImage` with their bytes);
    :meth:`~LemonDataEmulator.generation` / :meth:`~LemonDataEmulator.input_images` find
    one by task id or result image URL; its ``output_format`` is what its images are
    made in (also on each :class:`EmulatedTask` and :class:`StoredFile`), its ``usage``
    what was reported (:meth:`~LemonDataEmulator.reported_cost`: in dollars). ``tasks``,
    ``files`` (generated images),
    ``uploaded_files`` (``POST /v1/files``) and ``hosted`` expose state;
    ``rate_limited_count`` counts the 429s the rate limit served; ``rate_log`` holds a
    :class:`RateEvent` (clock time, path, admitted) per counted request, and
    :meth:`~LemonDataEmulator.admitted_at` their times: enough to prove that a client
    sent nothing beyond its budget. :meth:`~LemonDataEmulator.reset_rate_limit` starts
    the windows afresh. :meth:`~LemonDataEmulator.wait_for` waits, without sleeping,
    until a predicate holds (it is re-checked after every request and every state change).

The emulator is single-loop: use it from the event loop that started it.

Modules: ``contract`` (constants, errors, request validation), ``forms`` (multipart
parsing), ``inputs`` (the URL policy; input images to bytes), ``images`` (image bytes:
PNG, JPEG and WebP served, inputs sniffed), ``catalog`` (the model list), ``options``
(per-model image options and their rules), ``ratelimit`` (the rate limiter),
``billing`` (``/v1/pricing`` and token usage), ``records`` (recorded requests,
generations, tasks, files), ``tasks`` (how tasks run),
``server`` (:class:`LemonDataEmulator`) and ``schemas`` (:func:`schema_errors`: an
answer checked against the gateway's OpenAPI schemas, a copy of which,
``lemondata-images-schemas.json``, sits beside it); this package re-exports their names.
"""

from __future__ import annotations

from tests.fakes.lemondata.billing import (
    CHARS_PER_TEXT_TOKEN,
    DEFAULT_QUALITY,
    IMAGE_INPUT_TOKENS,
    OUTPUT_TOKENS_AT_1024,
    PRICING_PATH,
    PRICING_UPDATED_AT,
    REFERENCE_PIXELS,
    TOKENS_PER_MILLION,
    Billing,
    UsageOverride,
    generation_usage,
    image_usage,
    output_tokens_per_image,
    pricing_list,
    text_tokens,
    usage_cost,
)
from tests.fakes.lemondata.catalog import (
    ASPECT_RATIOS,
    CAPABILITY_BY_OPERATION,
    CURRENCY,
    DEFAULT_ONLINE_RPM,
    DOCUMENTED_INPUTS,
    ENDPOINT_BY_OPERATION,
    EXTENSION_KEYS,
    GPT_IMAGE_SIZES,
    GPT_IMAGE_TOKEN_PRICES,
    LEMONDATA_EXTENSION_MODELS,
    UNIT_PER_1M_TOKENS,
    UNIT_PER_REQUEST,
    ModelOverride,
    compact_item,
    default_pricing,
    format_summary,
    is_token_billed,
    list_item,
    max_images,
    model_detail,
    operations,
    owner,
    pricing,
    pricing_detail,
    pricing_entry,
    token_prices,
)
from tests.fakes.lemondata.contract import (
    CONTENT_POLICY_MESSAGE,
    DALLE3_MODEL,
    DALLE3_SIZES,
    DALLE_QUALITIES,
    DEFAULT_API_KEY,
    DEFAULT_MODELS,
    DEFAULT_TASK_ERROR,
    DROPPED_FOR_GPT_IMAGE,
    EDITS_PATH,
    FILE_EXTENSIONS,
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
    IMAGE_EDIT,
    IMAGE_SIDE,
    IMAGE_TO_IMAGE,
    MAX_INPUT_IMAGES,
    MAX_N,
    MAX_PROMPT_CHARS,
    MAX_SUGGESTIONS,
    MIN_N,
    MODEL_CREATED,
    OPERATIONS,
    PNG_SIGNATURE,
    QUALITIES,
    RESOLUTIONS,
    RESPONSE_FORMATS,
    STYLES,
    TASK_PATH_PREFIXES,
    TERMINAL_TASK_STATUSES,
    TEXT_TO_IMAGE,
    UPLOAD_PURPOSES,
    UPLOADS_PATH,
    ImageRef,
    OperationsOf,
    RequestPlan,
    RequestRejectedError,
    always_async,
    default_error_body,
    default_operations,
    error_body,
    file_key,
    forwarded_params,
    gpt_image_size_error,
    invalid_param,
    unknown_model,
    unsupported_operation,
    validate_edit_request,
    validate_generation_request,
)
from tests.fakes.lemondata.forms import (
    EDIT_FILE_FIELDS,
    EDIT_IMAGE_FIELDS,
    FORM_BOOL_FIELDS,
    FORM_INT_FIELDS,
    FORM_LIST_FIELDS,
    GENERATION_FILE_FIELDS,
    GENERATION_FORM_FIELDS,
    MultipartError,
    edit_form,
    form_fields,
    generation_form,
    is_multipart,
    parse_multipart,
)
from tests.fakes.lemondata.images import (
    GIF_SIGNATURES,
    IMAGE_CONTENT_TYPES,
    JPEG_QUALITY,
    JPEG_SIGNATURE,
    MIME_LINE_CHARS,
    NOT_AN_IMAGE,
    WEBP_MAGIC,
    WEBP_QUALITY,
    b64_encode,
    decode_data_url,
    image_parts,
    jpeg_parts,
    make_image,
    make_png,
    png_parts,
    sniff_image,
    webp_parts,
)
from tests.fakes.lemondata.inputs import (
    HOSTED_PREFIX,
    MAX_REDIRECTS,
    PRIVATE_HOST_SUFFIXES,
    REDIRECT_PATH,
    InputSources,
    is_private_host,
    not_an_image,
    split_http_url,
    url_refused,
)
from tests.fakes.lemondata.options import (
    ALWAYS_ACCEPTED,
    BACKGROUNDS,
    COMMON_PARAMETERS,
    COMPRESSED_FORMATS,
    COMPRESSION_PARAMS,
    DALLE3_PARAMETERS,
    DEFAULT_OUTPUT_FORMAT,
    FLUX_PARAMETERS,
    GPT_IMAGE_BACKGROUNDS,
    GPT_IMAGE_PARAMETERS,
    IMAGE_INPUT_PARAMETERS,
    MAX_NEGATIVE_PROMPT_CHARS,
    MIDJOURNEY_ASPECT_RATIOS,
    MIDJOURNEY_MAX_N,
    MIDJOURNEY_PARAMETERS,
    MIDJOURNEY_PREFIX,
    MIDJOURNEY_RECOMMENDED,
    OUTPUT_FORMATS,
    REFERENCE_IMAGE_PARAMETERS,
    SEED_MAX,
    SEED_MIN,
    TRANSPARENT_FORMATS,
    OptionRules,
    backgrounds,
    check_options,
    default_max_n,
    is_flux,
    is_midjourney,
    output_formats,
    recommended_summary,
)
from tests.fakes.lemondata.ratelimit import (
    RATE_LIMIT_MESSAGE,
    RateDecision,
    RateEvent,
    RateLimiter,
)
from tests.fakes.lemondata.records import (
    EmulatedTask,
    Generation,
    HostedImage,
    InputImage,
    RecordedRequest,
    RequestIndex,
    StoredFile,
    UploadedFile,
    UploadPart,
    request_kind,
)
from tests.fakes.lemondata.schemas import (
    SCHEMAS_FILE,
    schema_errors,
)
from tests.fakes.lemondata.server import (
    MAX_BODY_BYTES,
    MODEL_CATEGORIES,
    MODEL_VIEWS,
    RECOMMENDATION_CATEGORIES,
    TRICKLE_TICK_SECONDS,
    LemonDataEmulator,
)
from tests.fakes.lemondata.tasks import (
    TaskEngine,
)

__all__ = [
    "ALWAYS_ACCEPTED",
    "ASPECT_RATIOS",
    "BACKGROUNDS",
    "CAPABILITY_BY_OPERATION",
    "CHARS_PER_TEXT_TOKEN",
    "COMMON_PARAMETERS",
    "COMPRESSED_FORMATS",
    "COMPRESSION_PARAMS",
    "CONTENT_POLICY_MESSAGE",
    "CURRENCY",
    "DALLE3_MODEL",
    "DALLE3_PARAMETERS",
    "DALLE3_SIZES",
    "DALLE_QUALITIES",
    "DEFAULT_API_KEY",
    "DEFAULT_MODELS",
    "DEFAULT_ONLINE_RPM",
    "DEFAULT_OUTPUT_FORMAT",
    "DEFAULT_QUALITY",
    "DEFAULT_TASK_ERROR",
    "DOCUMENTED_INPUTS",
    "DROPPED_FOR_GPT_IMAGE",
    "EDITS_PATH",
    "EDIT_FILE_FIELDS",
    "EDIT_IMAGE_FIELDS",
    "ENDPOINT_BY_OPERATION",
    "EXTENSION_KEYS",
    "FILES_PREFIX",
    "FILE_EXTENSIONS",
    "FLUX_PARAMETERS",
    "FORM_BOOL_FIELDS",
    "FORM_INT_FIELDS",
    "FORM_LIST_FIELDS",
    "GEMINI_FLASH_MODELS",
    "GEMINI_PROMPT_ONLY_MODELS",
    "GENERATIONS_PATH",
    "GENERATION_FILE_FIELDS",
    "GENERATION_FORM_FIELDS",
    "GIF_SIGNATURES",
    "GPT_IMAGE_BACKGROUNDS",
    "GPT_IMAGE_ENUMS",
    "GPT_IMAGE_INT_RANGES",
    "GPT_IMAGE_MAX_EDGE",
    "GPT_IMAGE_MAX_PIXELS",
    "GPT_IMAGE_MAX_RATIO",
    "GPT_IMAGE_MIN_PIXELS",
    "GPT_IMAGE_MODEL",
    "GPT_IMAGE_PARAMETERS",
    "GPT_IMAGE_QUALITIES",
    "GPT_IMAGE_SIZES",
    "GPT_IMAGE_SIZE_STEP",
    "GPT_IMAGE_TOKEN_PRICES",
    "HOSTED_PREFIX",
    "IMAGE_CONTENT_TYPES",
    "IMAGE_EDIT",
    "IMAGE_INPUT_PARAMETERS",
    "IMAGE_INPUT_TOKENS",
    "IMAGE_SIDE",
    "IMAGE_TO_IMAGE",
    "JPEG_QUALITY",
    "JPEG_SIGNATURE",
    "LEMONDATA_EXTENSION_MODELS",
    "MAX_BODY_BYTES",
    "MAX_INPUT_IMAGES",
    "MAX_N",
    "MAX_NEGATIVE_PROMPT_CHARS",
    "MAX_PROMPT_CHARS",
    "MAX_REDIRECTS",
    "MAX_SUGGESTIONS",
    "MIDJOURNEY_ASPECT_RATIOS",
    "MIDJOURNEY_MAX_N",
    "MIDJOURNEY_PARAMETERS",
    "MIDJOURNEY_PREFIX",
    "MIDJOURNEY_RECOMMENDED",
    "MIME_LINE_CHARS",
    "MIN_N",
    "MODEL_CATEGORIES",
    "MODEL_CREATED",
    "MODEL_VIEWS",
    "NOT_AN_IMAGE",
    "OPERATIONS",
    "OUTPUT_FORMATS",
    "OUTPUT_TOKENS_AT_1024",
    "PNG_SIGNATURE",
    "PRICING_PATH",
    "PRICING_UPDATED_AT",
    "PRIVATE_HOST_SUFFIXES",
    "QUALITIES",
    "RATE_LIMIT_MESSAGE",
    "RECOMMENDATION_CATEGORIES",
    "REDIRECT_PATH",
    "REFERENCE_IMAGE_PARAMETERS",
    "REFERENCE_PIXELS",
    "RESOLUTIONS",
    "RESPONSE_FORMATS",
    "SCHEMAS_FILE",
    "SEED_MAX",
    "SEED_MIN",
    "STYLES",
    "TASK_PATH_PREFIXES",
    "TERMINAL_TASK_STATUSES",
    "TEXT_TO_IMAGE",
    "TOKENS_PER_MILLION",
    "TRANSPARENT_FORMATS",
    "TRICKLE_TICK_SECONDS",
    "UNIT_PER_1M_TOKENS",
    "UNIT_PER_REQUEST",
    "UPLOADS_PATH",
    "UPLOAD_PURPOSES",
    "WEBP_MAGIC",
    "WEBP_QUALITY",
    "Billing",
    "EmulatedTask",
    "Generation",
    "HostedImage",
    "ImageRef",
    "InputImage",
    "InputSources",
    "LemonDataEmulator",
    "ModelOverride",
    "MultipartError",
    "OperationsOf",
    "OptionRules",
    "RateDecision",
    "RateEvent",
    "RateLimiter",
    "RecordedRequest",
    "RequestIndex",
    "RequestPlan",
    "RequestRejectedError",
    "StoredFile",
    "TaskEngine",
    "UploadPart",
    "UploadedFile",
    "UsageOverride",
    "always_async",
    "b64_encode",
    "backgrounds",
    "check_options",
    "compact_item",
    "decode_data_url",
    "default_error_body",
    "default_max_n",
    "default_operations",
    "default_pricing",
    "edit_form",
    "error_body",
    "file_key",
    "form_fields",
    "format_summary",
    "forwarded_params",
    "generation_form",
    "generation_usage",
    "gpt_image_size_error",
    "image_parts",
    "image_usage",
    "invalid_param",
    "is_flux",
    "is_midjourney",
    "is_multipart",
    "is_private_host",
    "is_token_billed",
    "jpeg_parts",
    "list_item",
    "make_image",
    "make_png",
    "max_images",
    "model_detail",
    "not_an_image",
    "operations",
    "output_formats",
    "output_tokens_per_image",
    "owner",
    "parse_multipart",
    "png_parts",
    "pricing",
    "pricing_detail",
    "pricing_entry",
    "pricing_list",
    "recommended_summary",
    "request_kind",
    "schema_errors",
    "sniff_image",
    "split_http_url",
    "text_tokens",
    "token_prices",
    "unknown_model",
    "unsupported_operation",
    "url_refused",
    "usage_cost",
    "validate_edit_request",
    "validate_generation_request",
    "webp_parts",
]
