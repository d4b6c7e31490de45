"""The LemonData emulator's image inputs: reference images, multipart, edits and /v1/files."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.fakes.lemondata import (
    EDITS_PATH,
    GENERATIONS_PATH,
    UPLOADS_PATH,
    MultipartError,
    is_private_host,
    make_png,
    parse_multipart,
    sniff_image,
)

NO_TLS: dict[str, Any] = {"verify": False}
RED = make_png((255, 0, 0))
GREEN = make_png((0, 255, 0))
BLUE = make_png((0, 0, 255))
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256))
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + bytes(32)
GIF = b"GIF89a" + bytes(16)
HTML = b"<html>definitely not an image</html>"
# Every byte value, CRLFs and a fake boundary: the parser must keep them all.
AWKWARD_PNG = make_png((1, 2, 3)) + b"\r\n--boundary\r\n\r\n" + bytes(range(256)) + b"\r\n"


def error_of(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    return error


async def generate(api: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await api.post(
        GENERATIONS_PATH, json={"model": "nano-banana-pro", "prompt": "a lemon", **body}
    )


async def edit(api: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await api.post(EDITS_PATH, json={"model": "gpt-image-2", "prompt": "a lemon", **body})


async def upload(
    api: httpx.AsyncClient, data: bytes = RED, *, filename: str = "red.png", **fields: str
) -> httpx.Response:
    form = {"purpose": "vision", **fields}
    return await api.post(UPLOADS_PATH, data=form, files={"file": (filename, data, "image/png")})


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (RED, "image/png"),
        (JPEG, "image/jpeg"),
        (WEBP, "image/webp"),
        (GIF, "image/gif"),
        (b"GIF88a" + bytes(10), None),
        (b"RIFF\x00\x00\x00\x00WAVE", None),
        (HTML, None),
        (b"", None),
    ],
    ids=["png", "jpeg", "webp", "gif", "bad-gif", "riff-wave", "html", "empty"],
)
def test_sniff_image_by_magic_number(data, expected):
    """Only PNG, JPEG, WebP and GIF magic numbers count as images."""
    assert sniff_image(data) == expected


@pytest.mark.parametrize(
    ("host", "private"),
    [
        ("10.1.2.3", True),
        ("192.168.0.1", True),
        ("172.16.5.4", True),
        ("127.0.0.1", True),
        ("169.254.169.254", True),
        ("0.0.0.0", True),
        ("[::1]", True),
        ("[fd00::1]", True),
        ("[::ffff:10.0.0.1]", True),
        ("localhost", True),
        ("printer.local", True),
        ("metadata.internal", True),
        ("intranet", True),
        ("8.8.8.8", False),
        ("[2606:4700::1111]", False),
        ("cdn.example.com", False),
    ],
)
def test_private_hosts(host, private):
    """Non-global addresses and local names are private; public ones are not."""
    assert is_private_host(host) is private


def test_multipart_parser_keeps_exact_bytes_and_rejects_garbage():
    """The parser returns each part's bytes exactly, and refuses a body without parts."""
    request = httpx.Request(
        "POST",
        "http://x/",
        data={"model": "gpt-image-2", "prompt": "é ü"},
        files=[("image", ('a b".png', AWKWARD_PNG, "image/png")), ("image", ("c.png", RED))],
    )
    body = request.read()
    parts = parse_multipart(body, request.headers["Content-Type"])
    assert [(p.field, p.filename) for p in parts] == [
        ("model", None),
        ("prompt", None),
        ("image", "a b%22.png"),  # httpx escapes the quote, as browsers do; kept as sent
        ("image", "c.png"),
    ]
    assert parts[1].data.decode() == "é ü"
    assert parts[2].data == AWKWARD_PNG
    assert parts[2].content_type == "image/png"
    assert parts[3].data == RED
    with pytest.raises(MultipartError):
        parse_multipart(b"no parts here", "multipart/form-data; boundary=xyz")
    with pytest.raises(MultipartError):
        parse_multipart(body, "multipart/form-data")


# --------------------------------------------------------------------------- generations: JSON


async def test_reference_image_url_is_fetched_and_recorded(lemondata, api):
    """image-to-image with an emulator-hosted image_url: the create knows the exact bytes."""
    url = lemondata.host(AWKWARD_PNG)
    response = await generate(api, operation="image-to-image", image_url=url, seed=7)
    assert response.status_code == 200, response.text
    result_url = response.json()["data"][0]["url"]
    generation = lemondata.generation(result_url)
    assert generation.operation == "image-to-image"
    assert generation.route == GENERATIONS_PATH
    assert generation.input_bytes == [AWKWARD_PNG]
    (image,) = lemondata.input_images(result_url)
    assert (image.source, image.ref, image.param, image.content_type) == (
        "url",
        url,
        "image_url",
        "image/png",
    )


async def test_image_urls_and_reference_urls_keep_order_and_infer_the_operation(lemondata, api):
    """Without operation, inputs make an image-to-image create for Gemini families."""
    urls = [lemondata.host(data) for data in (RED, JPEG, WEBP)]
    response = await generate(
        api,
        model="gemini-2.5-flash-image",
        image_urls=urls[:2],
        reference_image_urls=urls[2:],
        mask_url=lemondata.host(GIF),
        negative_prompt="no pears",
    )
    assert response.status_code == 200, response.text
    generation = lemondata.generations[-1]
    assert generation.operation == "image-to-image"
    assert generation.input_bytes == [RED, JPEG, WEBP]
    assert generation.mask_bytes == GIF
    assert [i.param for i in generation.inputs] == [
        "image_urls[0]",
        "image_urls[1]",
        "reference_image_urls[0]",
        "mask_url",
    ]


async def test_data_url_input_is_decoded(lemondata, api):
    """A data: URL is an accepted input; its decoded bytes are what arrived."""
    data_url = "data:image/png;base64," + base64.b64encode(BLUE).decode()
    response = await generate(api, image_url=data_url)
    assert response.status_code == 200, response.text
    assert lemondata.generations[-1].input_bytes == [BLUE]


INVALID_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    ("operation-unknown", {"operation": "inpaint"}, "operation"),
    ("image-url-not-string", {"image_url": 5}, "image_url"),
    ("image-url-empty", {"image_url": " "}, "image_url"),
    ("image-urls-not-list", {"image_urls": "http://x"}, "image_urls"),
    ("image-urls-empty", {"image_urls": []}, "image_urls"),
    ("image-urls-17", {"image_urls": ["https://cdn.example.com/a.png"] * 17}, "image_urls"),
    (
        "reference-17",
        {"reference_image_urls": ["https://a.example/a.png"] * 17},
        "reference_image_urls",
    ),
    ("image-urls-item", {"image_urls": ["https://a.example/a.png", 3]}, "image_urls[1]"),
    ("mask-not-string", {"mask_url": ["x"]}, "mask_url"),
    ("negative-not-string", {"negative_prompt": 3}, "negative_prompt"),
    ("seed-string", {"seed": "7"}, "seed"),
    ("seed-bool", {"seed": True}, "seed"),
    ("expand-not-bool", {"expand_prompt": "yes"}, "expand_prompt"),
    ("stream-true", {"stream": True}, "stream"),
    ("t2i-with-image", {"operation": "text-to-image", "image_url": "data:,x"}, "operation"),
    ("i2i-without-image", {"operation": "image-to-image"}, "image_url"),
]


@pytest.mark.parametrize(
    ("override", "param"),
    [(body, param) for _, body, param in INVALID_INPUTS],
    ids=[case_id for case_id, _, _ in INVALID_INPUTS],
)
async def test_invalid_image_inputs_are_rejected_with_param(lemondata, api, override, param):
    """Image-input fields are validated like the rest of the create contract."""
    error = error_of(await generate(api, **override))
    assert error["param"] == param
    assert error["message"].startswith(f"{param}: ")
    assert lemondata.generations == []


async def test_16_reference_images_are_accepted_but_17_in_total_are_not(lemondata, api):
    """Each list takes 1-16 URLs and the inputs together at most 16."""
    url = lemondata.host(RED)
    assert (await generate(api, image_urls=[url] * 16)).status_code == 200
    error = error_of(await generate(api, image_url=url, image_urls=[url] * 16))
    assert error["param"] == "image_url"
    assert "at most 16" in error["message"]


@pytest.mark.parametrize(
    ("model", "body", "supported"),
    [
        ("gpt-image-2", {"operation": "image-to-image"}, ["text-to-image", "image-edit"]),
        ("dall-e-3", {}, ["text-to-image"]),
        ("gemini-2.0-flash-preview-image-generation", {}, ["text-to-image"]),
        ("nano-banana", {"operation": "image-edit"}, ["text-to-image", "image-to-image"]),
    ],
)
async def test_operation_the_model_lacks_lists_supported_operations(
    lemondata, api, model, body, supported
):
    """An image input the model cannot take answers 400 with its supported_operations."""
    error = error_of(await generate(api, model=model, image_url=lemondata.host(RED), **body))
    assert error["code"] == "unsupported_operation"
    assert error["supported_operations"] == supported
    assert error["model"] == model
    assert error["param"] == ("operation" if body else "image_url")


# --------------------------------------------------------------------------- URL policy

REFUSED_URLS = [
    "http://10.0.0.7/cat.png",
    "https://192.168.1.20/cat.png",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]:8080/cat.png",
    "http://localhost/cat.png",
    "http://fileserver.internal/cat.png",
    "ftp://cdn.example.com/cat.png",
    "file:///etc/passwd",
    "cdn.example.com/cat.png",
    "http://[::1/cat.png",
    "http://cdn.example.com:99999/cat.png",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
async def test_non_public_urls_are_refused(lemondata, api, url):
    """Only public http(s) URLs are fetched: private, local and odd URLs answer 400."""
    error = error_of(await generate(api, image_url=url))
    assert error["code"] == "invalid_image_url"
    assert error["param"] == "image_url"


async def test_public_urls_come_from_remote_images(lemondata, api):
    """A public URL serves what remote_images holds for it; an unknown one fails."""
    lemondata.remote_images["https://cdn.example.com/cat.jpg"] = JPEG
    ok = await generate(api, image_url="https://cdn.example.com/cat.jpg")
    assert ok.status_code == 200, ok.text
    assert lemondata.generations[-1].inputs[0].content_type == "image/jpeg"
    missing = error_of(await generate(api, image_url="https://cdn.example.com/dog.jpg"))
    assert missing["code"] == "invalid_image_url"


async def test_own_host_urls_need_the_knob(lemondata, api):
    """allow_own_host_urls=False makes the emulator's own 127.0.0.1 URLs private too."""
    url = lemondata.host(RED)
    assert (await generate(api, image_url=url)).status_code == 200
    lemondata.allow_own_host_urls = False
    error = error_of(await generate(api, image_url=url))
    assert error["code"] == "invalid_image_url"
    assert "private" in error["message"]


async def test_redirects_are_rechecked(lemondata, api):
    """A redirect to a hosted image is followed; one to a private address is refused."""
    good = lemondata.redirect_url(lemondata.host(GREEN))
    assert (await generate(api, image_url=good)).status_code == 200
    assert lemondata.generations[-1].input_bytes == [GREEN]
    bad = lemondata.redirect_url("http://10.0.0.1/cat.png")
    error = error_of(await generate(api, image_url=bad))
    assert error["code"] == "invalid_image_url"
    assert "10.0.0.1" in error["message"]
    loop = lemondata.redirect_url(lemondata.redirect_url(lemondata.redirect_url(good)))
    loop = lemondata.redirect_url(lemondata.redirect_url(lemondata.redirect_url(loop)))
    assert "too many redirects" in error_of(await generate(api, image_url=loop))["message"]


async def test_non_image_and_expired_inputs_are_refused(lemondata, api):
    """Hosted HTML answers invalid_image; an expired generated image cannot be fetched."""
    error = error_of(await generate(api, image_url=lemondata.host(HTML, "image/png")))
    assert (error["code"], error["param"]) == ("invalid_image", "image_url")
    first = (await generate(api)).json()["data"][0]["url"]
    assert (await generate(api, image_url=first)).status_code == 200  # a result as input
    lemondata.expire_file(first)
    assert error_of(await generate(api, image_url=first))["code"] == "invalid_image_url"


async def test_emulator_routes_for_hosting_and_redirecting(lemondata):
    """/hosted serves the bytes without a key; /redirect answers 302 to its target."""
    url = lemondata.host(HTML, "text/html")
    async with httpx.AsyncClient(**NO_TLS) as anonymous:
        hosted = await anonymous.get(url)
        redirect = await anonymous.get(lemondata.redirect_url("http://10.9.9.9/x.png"))
    assert (hosted.status_code, hosted.content) == (200, HTML)
    assert hosted.headers["content-type"] == "text/html"
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "http://10.9.9.9/x.png"


# --------------------------------------------------------------------------- generations: multipart


async def test_multipart_create_records_the_exact_upload(lemondata, api):
    """The image part arrives byte for byte; fields are coerced; image_urls split on commas."""
    urls = f"{lemondata.host(GREEN)}, {lemondata.host(BLUE)}"
    response = await api.post(
        GENERATIONS_PATH,
        data={
            "model": "nano-banana-pro",
            "prompt": "a lemon",
            "n": "2",
            "image_urls": urls,
            "seed": "-3",
            "async": "false",
            "aspect_ratio": "16:9",
        },
        files={"image": ("in put.png", AWKWARD_PNG, "image/png")},
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == 2
    (recorded,) = lemondata.create_requests()
    assert recorded.json is None
    assert recorded.files == [("image", "in put.png", "image/png", AWKWARD_PNG)]
    assert lemondata.creates() == [recorded.form]
    assert recorded.form is not None and recorded.form["n"] == "2"
    generation = lemondata.generations[-1]
    assert generation.params["n"] == 2
    assert generation.params["seed"] == -3
    assert generation.params["async"] is False
    assert generation.input_bytes == [GREEN, BLUE, AWKWARD_PNG]
    assert generation.inputs[-1].source == "upload"
    assert generation.inputs[-1].ref == "in put.png"


INVALID_FORMS: list[tuple[str, dict[str, str], dict[str, Any], str, str]] = [
    ("unknown-field", {"image_url": "https://a.example/x.png"}, {}, "image_url", "Unrecognized"),
    ("mask-file", {}, {"mask": ("m.png", RED)}, "mask", "Unrecognized"),
    ("image-text", {}, {"image": (None, b"not a file")}, "image", "file part"),
    ("model-file", {}, {"model": ("m.txt", b"gpt-image-2")}, "model", "text field"),
    ("n-word", {"n": "two"}, {}, "n", "integer"),
    ("async-word", {"async": "maybe"}, {}, "async", "boolean"),
    ("prompt-missing", {"prompt": ""}, {}, "prompt", "empty"),
    ("not-an-image", {}, {"image": ("x.png", HTML, "image/png")}, "image", "not a valid image"),
]


@pytest.mark.parametrize(
    ("fields", "files", "param", "words"),
    [case[1:] for case in INVALID_FORMS],
    ids=[case[0] for case in INVALID_FORMS],
)
async def test_invalid_multipart_creates(lemondata, api, fields, files, param, words):
    """additionalProperties false: unknown fields, wrong part kinds and bad values answer 400."""
    files = files or {"image": ("a.png", RED, "image/png")}
    data = {"model": "nano-banana-pro", "prompt": "a lemon", **fields}
    data = {key: value for key, value in data.items() if key not in files}
    error = error_of(await api.post(GENERATIONS_PATH, data=data, files=files))
    assert error["param"] == param
    assert words in error["message"]
    assert lemondata.generations == []


async def test_repeated_multipart_field_is_rejected(api):
    """The create form takes one value per field."""
    response = await api.post(
        GENERATIONS_PATH,
        data={"model": "nano-banana-pro", "prompt": "a lemon"},
        files=[("image", ("a.png", RED)), ("image", ("b.png", GREEN))],
    )
    assert error_of(response)["param"] == "image"


async def test_malformed_multipart_body(lemondata, api):
    """A multipart Content-Type over a body without parts answers 400."""
    response = await api.post(
        GENERATIONS_PATH,
        content=b"garbage",
        headers={"Content-Type": "multipart/form-data; boundary=zzz"},
    )
    assert "multipart/form-data" in error_of(response)["message"]
    assert lemondata.create_requests()[0].form is None


# --------------------------------------------------------------------------- edits


async def test_json_edit_with_images_urls_and_file_ids(lemondata, api):
    """images[] mixes image_url and file_id items; inputs keep request order."""
    file_id = (await upload(api, JPEG, filename="photo.jpg")).json()["id"]
    response = await edit(
        api,
        images=[{"image_url": lemondata.host(RED)}, {"file_id": file_id}],
        mask={"image_url": lemondata.host(GIF)},
        input_fidelity="high",
        size="1024x1024",
        response_format="b64_json",
    )
    assert response.status_code == 200, response.text
    (item,) = response.json()["data"]
    assert sniff_image(base64.b64decode(item["b64_json"])) == "image/png"
    generation = lemondata.generations[-1]
    assert (generation.route, generation.operation) == (EDITS_PATH, "image-edit")
    assert generation.input_bytes == [RED, JPEG]
    assert generation.mask_bytes == GIF
    assert [i.source for i in generation.inputs] == ["url", "file_id", "url"]
    assert generation.inputs[1].ref == file_id
    assert "input_fidelity" not in generation.params  # dropped for gpt-image-2
    assert generation.params["size"] == "1024x1024"
    assert lemondata.edits()[0].json["input_fidelity"] == "high"  # but it was sent


async def test_edit_with_image_url_and_image_urls(lemondata, api):
    """The TokenLab-compatible image_url / image_urls shapes work too."""
    response = await edit(
        api, image_url=lemondata.host(RED), image_urls=[lemondata.host(GREEN)], n=2
    )
    assert response.status_code == 200, response.text
    urls = [item["url"] for item in response.json()["data"]]
    assert len(urls) == 2
    assert lemondata.generation(urls[1]).input_bytes == [RED, GREEN]


async def test_multipart_edit_with_repeated_images_and_mask_as_a_task(lemondata, api):
    """image (repeated) and image[] parts plus a mask; async gives a task polled as usual."""
    response = await api.post(
        EDITS_PATH,
        data={
            "model": "gpt-image-2",
            "prompt": "a lemon",
            "async": "true",
            "input_fidelity": "low",
        },
        files=[
            ("image", ("one.png", AWKWARD_PNG, "image/png")),
            ("image", ("two.jpg", JPEG, "image/jpeg")),
            ("image[]", ("three.webp", WEBP, "image/webp")),
            ("mask", ("mask.png", RED, "image/png")),
        ],
    )
    assert response.status_code == 200, response.text
    task_id = response.json()["task_id"]
    assert response.json()["status"] == "pending"
    assert [f.data for f in lemondata.edits()[0].files] == [AWKWARD_PNG, JPEG, WEBP, RED]
    task = lemondata.tasks[task_id]
    assert task.operation == "image-edit"
    assert [i.data for i in task.inputs] == [AWKWARD_PNG, JPEG, WEBP, RED]
    assert [i.param for i in lemondata.input_images(task_id)] == [
        "image[0]",
        "image[1]",
        "image[][0]",
        "mask",
    ]
    assert lemondata.generation(task_id).mask_bytes == RED
    assert "input_fidelity" not in lemondata.generation(task_id).params
    for _ in range(2):
        body = (await api.get(f"/v1/tasks/{task_id}")).json()
    assert body["status"] == "completed"
    assert lemondata.generation(body["data"][0]["url"]).task_id == task_id


async def test_flux_edits_are_always_tasks_and_keep_input_fidelity(lemondata, api):
    """FLUX/BFL edits answer a task without async; input_fidelity is forwarded for them."""
    response = await edit(
        api, model="flux-pro", image_url=lemondata.host(RED), input_fidelity="high"
    )
    assert response.status_code == 200, response.text
    task_id = response.json()["task_id"]
    assert lemondata.tasks[task_id].requested_async is False
    assert lemondata.generation(task_id).params["input_fidelity"] == "high"


@pytest.mark.parametrize("model", ["dall-e-3", "gemini-2.0-flash-preview-image-generation"])
async def test_models_that_cannot_edit_are_refused(lemondata, api, model):
    """An edit for a text-only model answers 400 with supported_operations."""
    error = error_of(await edit(api, model=model, image_url=lemondata.host(RED)))
    assert error["code"] == "unsupported_operation"
    assert error["supported_operations"] == ["text-to-image"]
    assert lemondata.generations == []


INVALID_EDITS: list[tuple[str, dict[str, Any], str]] = [
    ("no-image", {}, "image"),
    ("images-not-list", {"images": {"image_url": "x"}}, "images"),
    ("images-empty", {"images": []}, "images"),
    ("images-17", {"images": [{"file_id": "file-x"}] * 17}, "images"),
    ("item-both", {"images": [{"image_url": "data:,x", "file_id": "f"}]}, "images[0]"),
    ("item-neither", {"images": [{}]}, "images[0]"),
    ("item-extra", {"images": [{"file_id": "f", "detail": "high"}]}, "images[0].detail"),
    ("item-not-object", {"images": ["https://a.example/x.png"]}, "images[0]"),
    ("file-unknown", {"images": [{"file_id": "file-nope"}]}, "images[0].file_id"),
    ("mask-string", {"image_url": "data:,x", "mask": "data:,y"}, "mask"),
    ("size", {"image_url": "data:,x", "size": "1000x1000"}, "size"),
    ("aspect", {"image_url": "data:,x", "aspect_ratio": "1:1"}, "aspect_ratio"),
    ("stream", {"image_url": "data:,x", "stream": True}, "stream"),
    ("image-url-type", {"image_url": 3}, "image_url"),
]


@pytest.mark.parametrize(
    ("override", "param"),
    [(body, param) for _, body, param in INVALID_EDITS],
    ids=[case_id for case_id, _, _ in INVALID_EDITS],
)
async def test_invalid_edits_are_rejected_with_param(lemondata, api, override, param):
    """Edit requests are validated like creates, plus the images/mask shapes."""
    error = error_of(await edit(api, **override))
    assert error["param"] == param
    assert lemondata.generations == []


async def test_edit_inputs_must_be_images(lemondata, api):
    """A data: URL or an upload that is not an image answers invalid_image."""
    error = error_of(await edit(api, image_url="data:image/png;base64,aGVsbG8="))
    assert (error["code"], error["param"]) == ("invalid_image", "image_url")
    response = await api.post(
        EDITS_PATH,
        data={"model": "gpt-image-2", "prompt": "a lemon"},
        files=[("image", ("a.png", RED)), ("image[]", ("b.png", HTML))],
    )
    assert (error_of(response)["code"], error_of(response)["param"]) == (
        "invalid_image",
        "image[][0]",
    )


async def test_edit_file_must_be_bound_to_the_same_model(lemondata, api):
    """A file uploaded for flux-pro cannot be used in a gpt-image-2 edit."""
    file_id = (await upload(api, model="flux-pro")).json()["id"]
    error = error_of(await edit(api, images=[{"file_id": file_id}]))
    assert (error["code"], error["param"]) == ("file_model_mismatch", "images[0].file_id")
    assert (await edit(api, model="flux-pro", images=[{"file_id": file_id}])).status_code == 200


async def test_edit_prompt_goes_through_the_content_policy(lemondata, api):
    """A blocked word refuses an edit as it does a create."""
    error = error_of(await edit(api, prompt="a forbidden lemon", image_url=lemondata.host(RED)))
    assert error["code"] == "content_policy_violation"


# --------------------------------------------------------------------------- /v1/files


async def test_upload_returns_a_file_object_and_keeps_the_bytes(lemondata, api):
    """POST /v1/files stores the exact bytes; GET returns the object; DELETE removes it."""
    response = await upload(api, AWKWARD_PNG, filename="cat.png", purpose="user_data")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) >= {"id", "object", "bytes", "created_at", "filename", "purpose"}
    assert body["id"].startswith("file-")
    assert (body["object"], body["bytes"], body["filename"], body["purpose"]) == (
        "file",
        len(AWKWARD_PNG),
        "cat.png",
        "user_data",
    )
    assert isinstance(body["created_at"], int)
    stored = lemondata.uploaded_files[body["id"]]
    assert (stored.data, stored.model, stored.content_type) == (
        AWKWARD_PNG,
        "gpt-image-2",
        "image/png",
    )
    assert lemondata.uploads()[0].files[0].data == AWKWARD_PNG
    assert (await api.get(f"{UPLOADS_PATH}/{body['id']}")).json() == body
    deleted = await api.delete(f"{UPLOADS_PATH}/{body['id']}")
    assert deleted.json() == {"id": body["id"], "object": "file", "deleted": True}
    gone = await api.get(f"{UPLOADS_PATH}/{body['id']}")
    assert error_of(gone, 404)["code"] == "file_not_found"


@pytest.mark.parametrize(
    ("data", "fields", "param"),
    [
        (HTML, {}, "file"),
        (RED, {"purpose": "batch"}, "purpose"),
        (RED, {"purpose": "fine-tune"}, "purpose"),
        (RED, {"model": "dall-e-2"}, "model"),
    ],
    ids=["not-an-image", "batch", "unknown-purpose", "unknown-model"],
)
async def test_invalid_uploads(lemondata, api, data, fields, param):
    """Non-image bytes, non-image purposes and unknown models answer 400."""
    assert error_of(await upload(api, data, **fields))["param"] == param
    assert lemondata.uploaded_files == {}


async def test_upload_needs_a_file_part_and_a_purpose(lemondata, api):
    """A JSON body, a form without file, or one without purpose are refused."""
    assert error_of(await api.post(UPLOADS_PATH, json={"file": "x"}))["param"] == "file"
    no_file = await api.post(UPLOADS_PATH, data={"purpose": "vision"}, files={"x": ("a", RED)})
    assert error_of(no_file)["param"] == "file"
    no_purpose = await api.post(UPLOADS_PATH, files={"file": ("a.png", RED)})
    assert error_of(no_purpose)["param"] == "purpose"
