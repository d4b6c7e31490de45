"""The formats of the images the emulator makes: PNG, JPEG or WebP as asked, padded by format."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.fakes.lemondata import (
    EDITS_PATH,
    GENERATIONS_PATH,
    LemonDataEmulator,
    image_parts,
    make_image,
    make_png,
    sniff_image,
)
from tests.fakes.wire import poll

MIB = 1024 * 1024
PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
EXTENSION = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}


def opened(data: bytes, output_format: str) -> Image.Image:
    """Decode ``data`` with Pillow, checking it is a whole 64x64 image of that format."""
    assert sniff_image(data) == MIME[output_format]
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == PILLOW_FORMATS[output_format]
    assert image.size == (64, 64)
    return image


def near(pixel: Any, rgb: tuple[int, int, int]) -> bool:
    """Whether a decoded pixel is ``rgb`` (JPEG and lossy WebP move colours a little)."""
    return all(abs(a - b) <= 8 for a, b in zip(pixel[:3], rgb, strict=True))


async def create(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    payload = {"model": "gpt-image-2", "prompt": "a lemon", **body}
    response = await api.post(GENERATIONS_PATH, json=payload)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def download(api: httpx.AsyncClient, url: str, output_format: str) -> bytes:
    response = await api.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == MIME[output_format]
    return response.content


# --------------------------------------------------------------------------- served


@pytest.mark.parametrize("output_format", ["png", "jpeg", "webp"])
async def test_inline_urls_serve_the_format_asked(lemondata, api, output_format):
    """URL answers download as real images of output_format, with its type and extension."""
    answer = await create(api, output_format=output_format, n=2)
    urls = [item["url"] for item in answer["data"]]
    for url in urls:
        assert url.endswith(EXTENSION[output_format])
        stored = lemondata.files[url.rsplit("/", 1)[-1].split(".")[0]]
        assert stored.output_format == output_format
        image = opened(await download(api, url, output_format), output_format)
        assert near(image.convert("RGB").getpixel((32, 32)), stored.rgb)
    assert lemondata.generation(urls[0]).output_format == output_format
    assert len(lemondata.downloads(lemondata.generation(urls[0]).file_ids[0])) == 1


@pytest.mark.parametrize("output_format", ["png", "jpeg", "webp"])
async def test_b64_json_is_the_format_asked(lemondata, api, output_format):
    """b64_json answers carry the asked format's bytes."""
    answer = await create(api, output_format=output_format, response_format="b64_json")
    opened(base64.b64decode(answer["data"][0]["b64_json"]), output_format)
    assert lemondata.files == {}


@pytest.mark.parametrize(
    ("model", "output_format"), [("gpt-image-2", "jpeg"), ("flux-pro", "webp")]
)
async def test_tasks_make_their_images_in_the_format_asked(lemondata, api, model, output_format):
    """A task records its format; its completed images are in it."""
    task_id = (await create(api, model=model, output_format=output_format, **{"async": True}))[
        "task_id"
    ]
    assert lemondata.tasks[task_id].output_format == output_format
    await poll(api, task_id)
    done = await poll(api, task_id)
    assert done["status"] == "completed"
    opened(await download(api, done["data"][0]["url"], output_format), output_format)


async def test_flux_edits_come_back_in_the_format_asked(lemondata, api):
    """FLUX edits (always tasks) make WebP when asked."""
    image = lemondata.host(make_png((3, 3, 3)))
    response = await api.post(
        EDITS_PATH,
        json={"model": "flux-pro", "prompt": "a", "image_url": image, "output_format": "webp"},
    )
    assert response.status_code == 200, response.text
    task_id = response.json()["task_id"]
    lemondata.complete_task(task_id)
    url = (await poll(api, task_id))["data"][0]["url"]
    opened(await download(api, url, "webp"), "webp")


async def test_default_is_png_and_formats_expire_alike(lemondata, api):
    """No output_format: PNG at .png; expire_file takes a .jpg URL as well."""
    png_url = (await create(api))["data"][0]["url"]
    assert png_url.endswith(".png")
    opened(await download(api, png_url, "png"), "png")
    jpeg_url = (await create(api, output_format="jpeg"))["data"][0]["url"]
    lemondata.expire_file(jpeg_url)
    assert (await api.get(jpeg_url)).status_code == 404
    assert (await api.get(png_url)).status_code == 200


async def test_serve_non_image_keeps_the_format_label(lemondata, api):
    """serve_non_image answers HTML under the image's own content type."""
    url = (await create(api, output_format="webp"))["data"][0]["url"]
    lemondata.serve_non_image = True
    response = await api.get(url)
    assert response.headers["content-type"] == "image/webp"
    assert sniff_image(response.content) is None


# --------------------------------------------------------------------------- sizes


async def test_sizes_by_format_win_over_file_size_bytes(lemondata, api):
    """file_size_bytes_by_format pads each format to its size; file_size_bytes the rest."""
    lemondata.file_size_bytes = 5000
    lemondata.file_size_bytes_by_format = {"jpeg": 3 * MIB, "webp": 2 * MIB}
    sizes = {}
    for output_format in ("png", "jpeg", "webp"):
        url = (await create(api, output_format=output_format))["data"][0]["url"]
        data = await download(api, url, output_format)
        opened(data, output_format)
        sizes[output_format] = len(data)
    assert sizes == {"png": 5000, "jpeg": 3 * MIB, "webp": 2 * MIB}
    b64 = (await create(api, output_format="jpeg", response_format="b64_json"))["data"][0]
    assert len(opened(base64.b64decode(b64["b64_json"]), "jpeg").tobytes()) == 64 * 64 * 3
    assert len(base64.b64decode(b64["b64_json"])) == 3 * MIB


async def test_by_format_alone_leaves_other_formats_unpadded(lemondata, api):
    """Without file_size_bytes, a format missing from the dict is served as made."""
    lemondata.file_size_bytes_by_format = {"png": 100_000}
    png = await download(api, (await create(api))["data"][0]["url"], "png")
    jpeg_url = (await create(api, output_format="jpeg"))["data"][0]["url"]
    jpeg = await download(api, jpeg_url, "jpeg")
    assert len(png) == 100_000
    assert len(jpeg) < 2000


@pytest.mark.parametrize("output_format", ["jpeg", "webp"])
@pytest.mark.parametrize("size", [900, 4098, 70_000, 65_537 * 2 + 2, 8 * MIB + 2])
def test_padding_is_exact_and_valid(output_format, size):
    """JPEG COM segments and WebP JUNK chunks reach the size exactly; Pillow still decodes."""
    data = make_image((200, 40, 10), output_format, size_bytes=size)
    assert len(data) == size
    image = opened(data, output_format)
    assert near(image.convert("RGB").getpixel((5, 60)), (200, 40, 10))


def test_odd_webp_sizes_round_up_to_even():
    """RIFF chunks are even-sized: an odd WebP target gains one byte."""
    assert len(make_image((1, 2, 3), "webp", size_bytes=5001)) == 5002
    assert len(make_image((1, 2, 3), "jpeg", size_bytes=5001)) == 5001


@pytest.mark.parametrize("output_format", ["jpeg", "webp"])
def test_large_padding_is_shared_between_images(output_format):
    """Past 64 KiB one padding part serves every image of that size (built once)."""
    size = 8 * MIB
    first = image_parts((1, 2, 3), output_format, size_bytes=size)
    second = image_parts((4, 5, 6), output_format, size_bytes=size)
    (shared,) = (part for part in first if len(part) > MIB)
    assert any(part is shared for part in second)
    assert b"".join(first) != b"".join(second)


async def test_large_jpeg_is_served_whole(lemondata: LemonDataEmulator, api):
    """An 8 MiB JPEG arrives whole and decodes."""
    lemondata.file_size_bytes_by_format = {"jpeg": 8 * MIB + 1}
    url = (await create(api, output_format="jpeg"))["data"][0]["url"]
    data = await download(api, url, "jpeg")
    assert len(data) == 8 * MIB + 1
    opened(data, "jpeg")


@pytest.mark.parametrize("remainder", [1, 2, 3])
def test_jpeg_padding_splits_remainders_too_small_for_a_segment(remainder):
    """A shared padding of full COM segments plus 1-3 bytes still comes out exact."""
    size = 4096 + 65_537 + remainder  # the shared part: one full segment and a remainder
    data = make_image((9, 90, 200), "jpeg", size_bytes=size)
    assert len(data) == size
    opened(data, "jpeg")
