"""Table tests of the family rules, the ratio translation and the model catalog."""

from __future__ import annotations

import asyncio
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.catalog import (
    CONSERVATIVE,
    RATIOS,
    RESOLUTIONS,
    ImagineOptions,
    ModelCatalog,
    build_request,
    cost_units,
    dalle_size,
    edit_options,
    family_of,
    gpt_image_size,
    is_valid_gpt_size,
    validate,
)
from bot.catalog.geometry import GPT_MAX_EDGE, GPT_MAX_PIXELS, GPT_MIN_PIXELS
from bot.errors import InvalidRequest
from bot.lemondata import GatewayError, ModelInfo


def listed(model: str) -> bool:
    return model != "not-listed-model"


def opts(model: str, **kw) -> ImagineOptions:
    return ImagineOptions(prompt=kw.pop("prompt", "a cat"), model=model, **kw)


@pytest.mark.parametrize(
    ("width", "height", "valid"),
    [
        (1024, 1024, True),
        (3840, 2160, True),  # longest edge and pixel ceiling at once
        (2160, 3840, True),
        (3856, 2160, False),  # edge over 3840
        (1008, 3024, True),  # ratio exactly 3:1
        (1008, 3040, False),  # ratio over 3:1
        (1024, 640, True),  # exactly 655,360 pixels
        (1008, 640, False),  # below the pixel floor
        (2880, 2880, True),  # exactly 8,294,400 pixels
        (2896, 2880, False),  # above the pixel ceiling
        (1025, 1024, False),  # not a multiple of 16
        (1024, 1000, False),
        (0, 1024, False),
    ],
)
def test_gpt_size_contract_edges(width, height, valid):
    """The size contract is enforced at its exact edges."""
    assert is_valid_gpt_size(width, height) is valid


@pytest.mark.parametrize(
    ("ratio", "resolution", "size"),
    [
        ("1:1", None, (1024, 1024)),
        ("16:9", None, (1360, 768)),
        ("9:16", None, (768, 1360)),
        ("3:2", None, (1248, 832)),
        ("21:9", None, (1568, 672)),
        ("1:1", "2k", (2048, 2048)),
        ("1:1", "4k", (2880, 2880)),
        ("16:9", "4k", (3840, 2160)),
        ("9:16", "4k", (2160, 3840)),
        ("21:9", "4k", (3840, 1648)),  # clamped by the 3840 edge
    ],
)
def test_gpt_image_size_table(ratio, resolution, size):
    """Each ratio and resolution maps to the expected valid size."""
    assert gpt_image_size(ratio, resolution) == size
    assert is_valid_gpt_size(*size)


@given(st.sampled_from(RATIOS), st.sampled_from((None, *RESOLUTIONS)))
def test_gpt_image_size_always_valid_and_close(ratio, resolution):
    """Every offered ratio yields a contract-valid size within 1% of its shape."""
    width, height = gpt_image_size(ratio, resolution)
    assert is_valid_gpt_size(width, height)
    assert width % 16 == 0 and height % 16 == 0
    assert max(width, height) <= GPT_MAX_EDGE
    assert GPT_MIN_PIXELS <= width * height <= GPT_MAX_PIXELS
    w, h = (int(x) for x in ratio.split(":"))
    assert abs(math.log((width / height) / (w / h))) < 0.01


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("1:1", (1024, 1024)),
        ("16:9", (1792, 1024)),
        ("4:3", (1792, 1024)),
        ("9:16", (1024, 1792)),
        ("2:3", (1024, 1792)),
    ],
)
def test_dalle_sizes(ratio, size):
    """DALL-E 3 gets the closest of its three sizes."""
    assert dalle_size(ratio) == size


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            opts("gemini-2.5-flash-image", ratio="16:9"),
            {"aspect_ratio": "16:9"},
        ),
        (
            opts("gemini-3-pro-image-preview", ratio="9:16", resolution="4k"),
            {"aspect_ratio": "9:16", "resolution": "4k"},
        ),
        (opts("nano-banana-pro"), {"aspect_ratio": "1:1"}),
        (
            opts("gpt-image-2", ratio="16:9", quality="high"),
            {"size": "1360x768", "quality": "high", "async": True},
        ),
        (opts("gpt-image-2", resolution="2k"), {"size": "2048x2048", "async": True}),
        (
            opts("dall-e-3", ratio="9:16", quality="hd", style="natural"),
            {"size": "1024x1792", "quality": "hd", "style": "natural"},
        ),
        (opts("gemini-2.0-flash-preview-image-generation"), {}),
        (opts("flux-pro", ratio="3:2", count=2), {"aspect_ratio": "3:2", "async": True, "n": 2}),
        (opts("midjourney", ratio="4:3"), {"aspect_ratio": "4:3"}),  # no family: conservative
        (opts("midjourney"), {}),  # no family and no ratio chosen: no shape is sent
    ],
)
def test_build_request_per_family(options, expected):
    """Each family's body carries exactly the fields its contract takes."""
    body = build_request(validate(options, listed), "discord:1:2")
    base = {"model": options.model, "prompt": "a cat", "n": 1, "user": "discord:1:2"}
    assert body == base | expected


def test_unknown_model_gets_conservative_request():
    """A listed model without a family rule gets prompt, model, n, user and aspect_ratio."""
    assert family_of("some-new-model") is CONSERVATIVE
    body = build_request(validate(opts("some-new-model", ratio="2:3"), listed), "u")
    assert set(body) == {"model", "prompt", "n", "user", "aspect_ratio"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (opts("gemini-2.5-flash-image", prompt="   "), "prompt is empty"),
        (opts("gemini-2.5-flash-image", prompt="x" * 5000), "5,000 characters"),
        (opts("not-listed-model"), "not an available image model"),
        (opts("gemini-2.5-flash-image", resolution="2k"), "no resolution choice"),
        (opts("nano-banana", resolution="4k"), "no resolution choice"),
        (opts("dall-e-3", resolution="2k"), "no resolution choice"),
        (opts("dall-e-3", count=2), "at most 1 image"),
        (opts("gemini-3-pro-image-preview", count=5), "at most 4 images"),
        (opts("gpt-image-2", quality="hd"), "`auto`, `low`, `medium` or `high`"),
        (opts("dall-e-3", quality="high"), "`standard` or `hd`"),
        (opts("gemini-2.5-flash-image", quality="hd"), "no quality choice"),
        (opts("gpt-image-2", style="vivid"), "only `dall-e-3` takes a style"),
        (opts("gemini-2.0-flash-preview-image-generation", ratio="16:9"), "takes only a prompt"),
        (opts("gemini-2.5-flash-image", ratio="5:1"), "Ratio must be one of"),
        (opts("gemini-2.5-flash-image", resolution="8k"), "Resolution must be"),
    ],
)
def test_invalid_combinations_are_refused(options, message):
    """Invalid combinations raise InvalidRequest with a short reason."""
    with pytest.raises(InvalidRequest) as caught:
        validate(options, listed)
    assert message in caught.value.message
    assert len(caught.value.message) < 200


def test_validate_normalises():
    """Prompts are stripped and enumerated values lower-cased."""
    result = validate(opts("gpt-image-2", prompt="  a cat  ", quality="HIGH"), listed)
    assert result.prompt == "a cat"
    assert result.quality == "high"


@pytest.mark.parametrize(
    ("options", "units"),
    [
        (opts("gemini-2.5-flash-image"), 1),
        (opts("gemini-2.5-flash-image", count=3), 3),
        (opts("gemini-3-pro-image-preview"), 2),
        (opts("gemini-3-pro-image-preview", resolution="4k", count=2), 8),
        (opts("gpt-image-2", resolution="2k"), 2),
    ],
)
def test_cost_units(options, units):
    """Pro and 4k requests weigh more."""
    assert cost_units(options) == units


async def test_catalog_caches_and_refreshes(time_machine, background):
    """The catalog fetches once, serves from cache, and refetches when stale."""
    time_machine.move_to(0, tick=False)
    calls = 0

    async def fetch():
        nonlocal calls
        calls += 1
        return [ModelInfo("gpt-image-2"), ModelInfo(f"model-{calls}")]

    catalog = ModelCatalog(fetch=fetch, spawn=background.spawn, max_age=60)
    assert catalog.names() == []  # first read starts a fetch, does not wait
    assert await catalog.ensure_loaded(1.0)
    assert catalog.names() == ["gpt-image-2", "model-1"]
    assert catalog.is_listed("model-1") and not catalog.is_listed("model-2")
    time_machine.shift(61)
    catalog.names()
    await catalog.ensure_loaded(1.0)
    await asyncio.gather(*(t for t in [catalog._refreshing] if t))
    assert calls == 2 and catalog.is_listed("model-2")
    assert catalog.suggest("GPT") == ["gpt-image-2"]


async def test_catalog_keeps_old_list_when_gateway_fails(background):
    """A failed refresh keeps serving the previous list."""
    answers: list = [[ModelInfo("a")], GatewayError("down", status=503)]

    async def fetch():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    catalog = ModelCatalog(fetch=fetch, spawn=background.spawn, max_age=60)
    await catalog.refresh()
    await catalog.refresh()
    assert catalog.names() == ["a"]


async def test_catalog_never_waits_on_a_hung_gateway(time_machine, background):
    """A hung model-list fetch costs at most the bounded wait, and never once loaded."""
    time_machine.move_to(0, tick=False)
    release = asyncio.Event()
    refreshing = asyncio.Event()
    calls = 0

    async def fetch():
        nonlocal calls
        calls += 1
        if calls > 1:
            refreshing.set()
            await release.wait()  # the gateway stops answering
        return [ModelInfo("nano-banana")]

    catalog = ModelCatalog(fetch=fetch, spawn=background.spawn, max_age=60)
    assert await catalog.ensure_loaded(1.0)
    time_machine.shift(120)  # stale: the next read starts a refresh that hangs
    assert catalog.suggest("") == ["nano-banana"]  # served from cache at once
    await refreshing.wait()  # the refresh is now hanging on the gateway
    assert catalog.suggest("nano") == ["nano-banana"]
    assert await catalog.ensure_loaded(0.01)  # loaded: no wait on the hung refresh
    release.set()


async def test_first_load_wait_is_bounded(background):
    """Before any list exists, a hung gateway is waited on only for the given bound."""
    never = asyncio.Event()

    async def fetch():
        await never.wait()
        return []

    catalog = ModelCatalog(fetch=fetch, spawn=background.spawn)
    assert not await catalog.ensure_loaded(0.01)
    assert catalog.names() == []
    never.set()


async def test_a_refused_key_is_asked_again_now_and_then_and_clears(time_machine, background):
    """A job's 401 sets key_refused; reads ask the gateway again after max_age; it clears."""
    time_machine.move_to(0, tick=False)
    calls = 0

    async def fetch():
        nonlocal calls
        calls += 1
        return [ModelInfo("nano-banana")]

    catalog = ModelCatalog(fetch=fetch, spawn=background.spawn, max_age=60)
    await catalog.refresh()
    catalog.key_rejected()  # say a create was answered 401
    assert catalog.key_refused and catalog.is_listed("nano-banana")
    time_machine.shift(30)
    assert catalog.key_refused and catalog._refreshing is None  # not asked again yet
    time_machine.shift(31)
    assert catalog.key_refused  # this read starts one re-check in the background
    await asyncio.gather(*(t for t in [catalog._refreshing] if t))
    assert calls == 2 and not catalog.key_refused
    catalog.key_rejected()
    catalog.key_accepted()  # a request with the key succeeded (say a poll)
    assert not catalog.key_refused


@pytest.mark.parametrize(
    ("model", "takes", "expected"),
    [
        ("gpt-image-2", True, ("gpt-image-2", "2k", "high", None)),
        ("dall-e-3", False, ("fallback-model", None, None, "dall-e-3")),
    ],
)
def test_an_edit_keeps_the_model_that_takes_an_image_else_falls_back(model, takes, expected):
    """A text-only model's result is edited by the fallback, without its own options."""
    source = {"model": model, "resolution": "2k", "quality": "high", "ratio": "1:1"}
    options = edit_options(
        model, source, "brighter", "16:9", takes_images=lambda m: takes, fallback="fallback-model"
    )
    assert (options.model, options.resolution, options.quality, options.replaced_model) == (
        expected
    )
    assert (options.prompt, options.ratio) == ("brighter", "16:9")
