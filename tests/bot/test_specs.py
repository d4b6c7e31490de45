"""What each model takes (issue 21): the gateway's description first, the family table after.

Unit tests of :mod:`bot.catalog.specs`, of :func:`bot.catalog.validate` with the new
options, of the catalog's description fetches, and of the parser of the detail route.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.catalog import (
    Geometry,
    ImagineOptions,
    ModelCatalog,
    build_request,
    rerolled,
    spec_of,
    validate,
)
from bot.catalog.specs import disagreements
from bot.errors import InvalidRequest
from bot.i18n import CHINESE, ENGLISH
from bot.lemondata import ModelDescription, ModelInfo, parse_description

MIDJOURNEY = ModelDescription(
    "midjourney",
    parameters=frozenset({"prompt", "n", "aspect_ratio", "negative_prompt", "seed"}),
    aspect_ratios=("1:1", "2:3", "3:2"),
    output_formats=("png",),
    prompt_max_characters=2000,
)
DESCRIPTIONS = {"midjourney": MIDJOURNEY}
LISTED = ("gpt-image-2", "dall-e-3", "flux-pro", "nano-banana", "midjourney")


def spec(model: str):
    return spec_of(model, DESCRIPTIONS.get(model))


def takers(option: str, value: str | None) -> list[str]:
    found = []
    for model in LISTED:
        s = spec(model)
        values = {"background": s.backgrounds, "output_format": s.output_formats}
        if s.takes(option) and (value is None or value in values.get(option, (value,))):
            found.append(model)
    return found


def check(model: str, **kw) -> ImagineOptions:
    options = ImagineOptions(prompt=kw.pop("prompt", "a lemon"), model=model, **kw)
    return validate(options, lambda m: m in LISTED, spec=spec, takers=takers)


def refusal(model: str, lang: str = ENGLISH, **kw) -> str:
    with pytest.raises(InvalidRequest) as caught:
        check(model, **kw)
    return caught.value.text.render(lang)


def test_the_family_table_is_the_fallback():
    gpt = spec_of("gpt-image-2")
    assert gpt.backgrounds == ("auto", "opaque") and gpt.takes("moderation")
    assert not gpt.takes("seed") and not gpt.described
    flux = spec_of("flux-pro")
    assert flux.backgrounds == ("auto", "opaque", "transparent")
    assert {"seed", "negative_prompt", "compression"} <= flux.options
    assert spec_of("dall-e-3").options == {"quality", "style"}
    unknown = spec_of("midjourney")  # no description yet: the conservative rule
    assert unknown.options == frozenset() and unknown.geometry is Geometry.ASPECT_RATIO


def test_the_gateway_description_wins():
    mj = spec("midjourney")
    assert mj.described and mj.ratios == ("1:1", "2:3", "3:2")
    assert mj.options == {"negative_prompt", "seed"} and mj.prompt_max == 2000
    # A family model the gateway says takes no aspect_ratio: no shape is sent.
    flat = spec_of("nano-banana", ModelDescription("nano-banana", parameters=frozenset({"n"})))
    assert flat.geometry is Geometry.NONE and flat.options == frozenset()
    # compression travels as the field the model takes.
    only_alias = ModelDescription(
        "gpt-image-2", parameters=frozenset({"output_format", "compression"})
    )
    assert spec_of("gpt-image-2", only_alias).fields["compression"] == "compression"
    assert spec_of("gpt-image-2").fields["compression"] == "output_compression"


def test_an_unknown_model_takes_what_its_description_lists():
    ok = check("midjourney", ratio="2:3", seed=7, negative_prompt="rain")
    body = build_request(ok, "u", spec=spec("midjourney"))
    assert body["aspect_ratio"] == "2:3" and body["seed"] == 7
    assert body["negative_prompt"] == "rain"
    said = refusal("midjourney", ratio="16:9")
    assert said == "`midjourney` takes `1:1`, `2:3` or `3:2`; try one of those."
    assert "2:3" in refusal("midjourney", CHINESE, ratio="16:9")
    assert "2,001" in refusal("midjourney", prompt="x" * 2001)


def test_a_refused_option_names_the_models_that_take_it():
    said = refusal("gpt-image-2", background="transparent")
    assert said.startswith(
        "`gpt-image-2` takes `background` `auto` or `opaque`, not `transparent`."
    )
    assert "`flux-pro`" in said and "`dall-e-3`" not in said
    seed = refusal("dall-e-3", seed=1)
    assert seed.startswith("`dall-e-3` doesn't take `seed`.")
    assert all(f"`{m}`" in seed for m in ("flux-pro", "nano-banana", "midjourney"))
    assert "`negative_prompt`" in refusal("gpt-image-2", negative_prompt="blur")


@pytest.mark.parametrize(
    ("kw", "said"),
    [
        ({"compression": 50}, "for JPEG and WebP only"),
        ({"compression": 50, "output_format": "png"}, "for JPEG and WebP only"),
        ({"background": "transparent", "output_format": "jpeg"}, "needs PNG or WebP output"),
    ],
)
def test_output_options_that_do_not_go_together_are_refused(kw, said):
    assert said in refusal("flux-pro", **kw)


def test_output_options_reach_the_request_under_the_models_fields():
    ok = check(
        "flux-pro",
        background="TRANSPARENT",
        output_format="webp",
        compression=40,
        negative_prompt="  blur  ",
        seed=42,
    )
    body = build_request(ok, "u", spec=spec("flux-pro"))
    assert {k: body[k] for k in ("background", "output_format", "output_compression")} == {
        "background": "transparent",
        "output_format": "webp",
        "output_compression": 40,
    }
    assert (body["negative_prompt"], body["seed"]) == ("blur", 42)
    gpt = check("gpt-image-2", output_format="jpeg", compression=80)
    strict = build_request(gpt.__class__(**{**gpt.__dict__, "moderation": "low"}), "u")
    assert strict["moderation"] == "low" and strict["output_compression"] == 80
    assert "moderation" not in build_request(ImagineOptions("x", "dall-e-3", moderation="low"), "u")


def test_a_format_the_bot_picked_is_not_the_members_choice():
    picked = ImagineOptions("a", "dall-e-3", output_format="png", format_picked=True)
    assert validate(picked, lambda m: True).output_format == "png"  # not refused
    again = rerolled(
        ImagineOptions("a", "flux-pro", seed=3, output_format="webp", format_picked=True)
    )
    assert (again.seed, again.output_format, again.format_picked) == (None, None, False)
    kept = rerolled(ImagineOptions("a", "flux-pro", seed=3, output_format="jpeg"))
    assert (kept.seed, kept.output_format) == (None, "jpeg")


def test_the_detail_route_is_parsed():
    body = {
        "id": "midjourney",
        "lemondata": {
            "request_format_summary": {
                "supported_parameters": ["prompt", "aspect_ratio", "seed"],
                "aspect_ratios": ["1:1", "2:3"],
                "resolutions": [],
                "output_formats": ["png"],
                "service_limits": {"prompt_max_characters": 1500, "online_rpm": 60},
            }
        },
    }
    got = parse_description("midjourney", body)
    assert got.parameters == {"prompt", "aspect_ratio", "seed"}
    assert got.aspect_ratios == ("1:1", "2:3") and got.prompt_max_characters == 1500
    assert parse_description("x", {"id": "x", "tokenlab": {}}).parameters is None


async def test_descriptions_wait_for_spare_requests_and_disagreements_are_logged_once(
    background, caplog
):
    """No description is fetched while the budget has nothing to spare; then each once."""
    room = asyncio.Event()
    asked: list[str] = []

    async def fetch():
        return [ModelInfo("nano-banana"), ModelInfo("midjourney")]

    async def describe(model: str) -> ModelDescription:
        asked.append(model)
        if model == "nano-banana":  # the gateway says it takes a seed only
            return ModelDescription(model, parameters=frozenset({"aspect_ratio", "seed"}))
        return MIDJOURNEY

    catalog = ModelCatalog(
        fetch=fetch,
        spawn=background.spawn,
        describe=describe,
        spare=room.is_set,
        describe_gap=0.001,
    )
    caplog.set_level(logging.INFO, logger="bot.catalog.models")
    await catalog.refresh()
    for _ in range(20):  # the describer looks again every gap: it finds no room
        await asyncio.sleep(0.001)
    assert asked == [] and not catalog.spec("midjourney").described
    room.set()
    assert catalog._describing is not None
    await catalog._describing
    assert asked == ["nano-banana", "midjourney"]
    assert catalog.spec("midjourney").ratios == ("1:1", "2:3", "3:2")
    assert catalog.takers("seed") == ["nano-banana", "midjourney"]
    assert not catalog.spec("nano-banana").takes("negative_prompt")
    await catalog.refresh()  # fresh descriptions are not asked again
    await catalog._describing
    assert asked == ["nano-banana", "midjourney"]
    differs = [r for r in caplog.records if "differs from its family table" in r.getMessage()]
    assert len(differs) == 1 and "nano-banana" in differs[0].getMessage()


def test_the_same_ratios_in_another_order_are_no_disagreement():
    ratios = ("21:9", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "1:1", "5:4")
    said = disagreements(
        "nano-banana",
        ModelDescription(
            "nano-banana",
            parameters=frozenset({"aspect_ratio", "seed", "negative_prompt"}),
            aspect_ratios=ratios,
        ),
    )
    assert said == {}
    fewer = ModelDescription(
        "nano-banana", parameters=frozenset({"aspect_ratio"}), aspect_ratios=("1:1",)
    )
    assert disagreements("nano-banana", fewer) == {
        "options": ([], ["negative_prompt", "seed"]),
        "ratios": ["1:1"],
    }
