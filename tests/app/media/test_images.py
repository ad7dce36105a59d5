"""Contract tests for /v1/images/generations, /v1/images/edits and /v1/images/files/{id}."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest
import respx
from fastapi.testclient import TestClient

from app.errors import RouteNotFound
from app.main import create_app
from app.media.links import ImageRef, sign_image, verify_image
from app.settings import Settings

from .samples import GIF, JPEG, PNG, WEBP, openai_error, write_media_registry

FILE = "/generated-images/b64123456.png"
LOCALAI_URL = "http://localai.test:8080" + FILE


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    return write_media_registry(tmp_path)


def image_reply(*items: dict[str, str]) -> dict:
    return {"id": "u", "created": 1, "data": list(items), "usage": {"total_tokens": 0}}


def gateway_path(url: str) -> str:
    assert url.startswith("http://testserver/v1/images/files/"), url
    return url.removeprefix("http://testserver")


def test_generation_url_points_at_the_gateway_and_serves_the_png(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/images/generations").respond(json=image_reply({"url": LOCALAI_URL}))
    file_route = localai.get(FILE).respond(content=PNG, headers={"content-type": "image/png"})
    body = {"model": "image-model", "prompt": "a cat", "size": "256x256", "seed": 7}
    body |= {"negative_prompt": "dogs", "n": 1}
    response = client.post("/v1/images/generations", json=body)
    assert response.status_code == 200, response.text
    assert "localai.test" not in response.text and "generated-images" not in response.text
    sent = orjson.loads(route.calls.last.request.content)
    assert sent["model"] == "flux.1-dev-ggml" and sent["response_format"] == "url"
    assert (sent["seed"], sent["negative_prompt"], sent["step"]) == (7, "dogs", 20)
    image = client.get(gateway_path(response.json()["data"][0]["url"]))
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png" and image.content == PNG
    assert file_route.calls.last.request.headers["authorization"] == "Bearer sk-upstream-secret"


def test_generation_url_uses_the_configured_public_base_url(
    settings: Settings, localai: respx.MockRouter
) -> None:
    localai.post("/v1/images/generations").respond(json=image_reply({"url": LOCALAI_URL}))
    public = settings.model_copy(update={"public_base_url": "https://ai.example.com/gw"})
    with TestClient(create_app(public)) as client:
        body = {"model": "image-model", "prompt": "x"}
        response = client.post("/v1/images/generations", json=body)
    assert response.json()["data"][0]["url"].startswith(
        "https://ai.example.com/gw/v1/images/files/"
    )


def test_b64_json_is_relayed_when_localai_gives_it(
    client: TestClient, localai: respx.MockRouter
) -> None:
    encoded = base64.b64encode(PNG).decode()
    route = localai.post("/v1/images/generations").respond(json=image_reply({"b64_json": encoded}))
    body = {"model": "image-model", "prompt": "x", "response_format": "b64_json"}
    response = client.post("/v1/images/generations", json=body)
    assert response.json()["data"] == [{"b64_json": encoded}]
    assert orjson.loads(route.calls.last.request.content)["response_format"] == "b64_json"


def test_b64_json_inlines_the_file_when_localai_only_gives_a_url(
    client: TestClient, localai: respx.MockRouter
) -> None:
    localai.post("/v1/images/generations").respond(json=image_reply({"url": LOCALAI_URL}))
    localai.get(FILE).respond(content=PNG, headers={"content-type": "image/png"})
    body = {"model": "image-model", "prompt": "x", "response_format": "b64_json"}
    response = client.post("/v1/images/generations", json=body)
    assert base64.b64decode(response.json()["data"][0]["b64_json"]) == PNG


@pytest.mark.parametrize(
    ("field", "value"),
    [("response_format", "png"), ("size", "big"), ("size", "12x"), ("n", 0), ("n", "2")],
)
def test_bad_generation_fields_are_400s_naming_the_field(
    client: TestClient, field: str, value: object
) -> None:
    body = {"model": "image-model", "prompt": "x", field: value}
    assert openai_error(client.post("/v1/images/generations", json=body), 400)["param"] == field


def test_generation_needs_prompt_and_the_images_capability(client: TestClient) -> None:
    missing = client.post("/v1/images/generations", json={"model": "image-model"})
    assert openai_error(missing, 400)["param"] == "prompt"
    wrong = client.post("/v1/images/generations", json={"model": "chat-model", "prompt": "x"})
    openai_error(wrong, 400, "model_capability_not_supported")
    unknown = client.post("/v1/images/generations", json={"model": "nope", "prompt": "x"})
    openai_error(unknown, 404, "model_not_found")


def test_upstream_failure_is_relayed_openai_shaped(
    client: TestClient, localai: respx.MockRouter
) -> None:
    localai.post("/v1/images/generations").respond(
        500, json={"error": {"code": 500, "message": "backend crashed", "type": ""}}
    )
    response = client.post("/v1/images/generations", json={"model": "image-model", "prompt": "x"})
    assert openai_error(response, 500)["message"] == "backend crashed"


@pytest.mark.parametrize(
    "item", [{"url": "http://localai.test:8080/elsewhere/x.png"}, {"revised_prompt": "x"}]
)
def test_an_unservable_upstream_image_is_a_502(
    client: TestClient, localai: respx.MockRouter, item: dict[str, str]
) -> None:
    localai.post("/v1/images/generations").respond(json=image_reply(item))
    response = client.post("/v1/images/generations", json={"model": "image-model", "prompt": "x"})
    openai_error(response, 502)


def test_a_generated_file_that_is_not_an_image_is_not_served(
    client: TestClient, localai: respx.MockRouter
) -> None:
    localai.post("/v1/images/generations").respond(json=image_reply({"url": LOCALAI_URL}))
    localai.get(FILE).respond(content=b"<html>", headers={"content-type": "text/html"})
    response = client.post("/v1/images/generations", json={"model": "image-model", "prompt": "x"})
    openai_error(client.get(gateway_path(response.json()["data"][0]["url"])), 502)


def test_a_vanished_file_is_the_upstream_404(client: TestClient, localai: respx.MockRouter) -> None:
    localai.post("/v1/images/generations").respond(json=image_reply({"url": LOCALAI_URL}))
    localai.get(FILE).respond(404, text="Not Found")
    response = client.post("/v1/images/generations", json={"model": "image-model", "prompt": "x"})
    openai_error(client.get(gateway_path(response.json()["data"][0]["url"])), 404)


@pytest.mark.parametrize("image_id", ["x", "a.b", "not base64!.x", "e30.AAAA"])
def test_ids_that_do_not_verify_are_404s(
    client: TestClient, localai: respx.MockRouter, image_id: str
) -> None:
    openai_error(client.get(f"/v1/images/files/{image_id}"), 404, "not_found")
    assert not localai.calls


def test_image_ids_are_signed_and_expire() -> None:
    ref = ImageRef(model="image-model", upstream=0, name="b64.png")
    image_id = sign_image(b"key", ref, ttl=60)
    assert verify_image(b"key", image_id) == ref
    with pytest.raises(RouteNotFound):
        verify_image(b"other key", image_id)
    mac = image_id.split(".")[1]
    forged = base64.urlsafe_b64encode(b'[9999999999,0,"image-model","other.png"]').decode()
    with pytest.raises(RouteNotFound):
        verify_image(b"key", f"{forged.rstrip('=')}.{mac}")
    with pytest.raises(RouteNotFound):
        verify_image(b"key", sign_image(b"key", ref, ttl=-1))
    assert sign_image(b"key", ref, ttl=60) != sign_image(b"key2", ref, ttl=60)


@pytest.mark.parametrize("name", ["b64.png\n", "a b.png", "../x.png", ".hidden", "a/b.png"])
def test_a_signed_id_naming_a_file_the_gateway_never_signs_is_a_404(name: str) -> None:
    image_id = sign_image(b"key", ImageRef(model="image-model", upstream=0, name=name), ttl=60)
    with pytest.raises(RouteNotFound):
        verify_image(b"key", image_id)


@pytest.mark.parametrize(
    "url", ["/generated-images/a.png\n", "/generated-images/a b.png", "/generated-images/a.png?x"]
)
def test_an_upstream_file_url_that_is_not_a_plain_file_name_is_a_502(
    client: TestClient, localai: respx.MockRouter, url: str
) -> None:
    localai.post("/v1/images/generations").respond(json=image_reply({"url": url}))
    reply = client.post("/v1/images/generations", json={"model": "image-model", "prompt": "x"})
    openai_error(reply, 502)


# /v1/images/edits


def edit_form(**fields: str) -> dict[str, str]:
    return {"model": "image-model", "prompt": "make it blue", **fields}


@pytest.mark.parametrize("image", [PNG, JPEG, WEBP])
def test_edit_without_mask_is_image_to_image_with_the_source_as_base64(
    client: TestClient, localai: respx.MockRouter, image: bytes
) -> None:
    encoded = base64.b64encode(PNG).decode()
    route = localai.post("/v1/images/generations").respond(json=image_reply({"b64_json": encoded}))
    form = edit_form(response_format="b64_json", n="1", size="256x256", seed="3")
    response = client.post("/v1/images/edits", data=form, files={"image": ("in.png", image)})
    assert response.status_code == 200, response.text
    assert response.json()["data"] == [{"b64_json": encoded}]
    sent = orjson.loads(route.calls.last.request.content)
    assert base64.b64decode(sent["file"]) == image
    assert sent["model"] == "flux.1-dev-ggml" and sent["prompt"] == "make it blue"
    assert (sent["n"], sent["seed"], sent["size"], sent["step"]) == (1, 3, "256x256", 20)


def test_edit_with_mask_goes_to_inpainting_and_returns_a_gateway_url(
    client: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/images/inpainting").respond(json=image_reply({"url": LOCALAI_URL}))
    localai.get(FILE).respond(content=PNG, headers={"content-type": "image/png"})
    files = {"image": ("in.png", PNG), "mask": ("mask.png", PNG)}
    response = client.post("/v1/images/edits", data=edit_form(step="9"), files=files)
    assert response.status_code == 200, response.text
    request = route.calls.last.request
    assert request.headers["content-type"].startswith("multipart/form-data")
    content = request.content
    for part in (b'name="model"\r\n\r\nflux.1-dev-ggml', b'name="steps"\r\n\r\n9', b'"mask.png"'):
        assert part in content
    assert content.count(PNG) == 2
    image = client.get(gateway_path(response.json()["data"][0]["url"]))
    assert image.content == PNG


def test_edit_accepts_the_sdk_array_field_name(
    client: TestClient, localai: respx.MockRouter
) -> None:
    localai.post("/v1/images/generations").respond(json=image_reply({"url": LOCALAI_URL}))
    response = client.post("/v1/images/edits", data=edit_form(), files={"image[]": ("a.png", PNG)})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("files", "param"),
    [
        ({}, "image"),
        ({"image": ("a.txt", b"hello, not an image")}, "image"),
        ({"image": ("a.gif", GIF)}, "image"),
        ({"image": ("a.png", b"")}, "image"),
        ({"image": ("a.png", PNG), "mask": ("m.txt", b"nope")}, "mask"),
        ([("image", ("a.png", PNG)), ("image", ("b.png", PNG))], "image"),
    ],
)
def test_edit_refuses_missing_or_unsupported_images(
    client: TestClient, localai: respx.MockRouter, files: object, param: str
) -> None:
    response = client.post("/v1/images/edits", data=edit_form(), files=files or {"x": ("x", b"")})
    assert openai_error(response, 400)["param"] == param
    assert not localai.calls


def test_edit_refuses_images_over_the_size_limit(
    settings: Settings, localai: respx.MockRouter
) -> None:
    small = settings.model_copy(update={"max_image_bytes": 64})
    big = PNG + bytes(100)
    with TestClient(create_app(small)) as client:
        over_part = client.post("/v1/images/edits", data=edit_form(), files={"image": ("a", big)})
        over_body = client.post(
            "/v1/images/edits", data=edit_form(), files={"image": ("a", bytes(200_000))}
        )
    assert openai_error(over_part, 400, "file_too_large")["param"] == "image"
    openai_error(over_body, 400, "file_too_large")
    assert not localai.calls


@pytest.mark.parametrize(
    ("fields", "param"),
    [({"n": "2"}, "n"), ({"size": "1024x1024"}, "size"), ({"n": "two"}, "n")],
)
def test_inpainting_refuses_what_localai_cannot_do(
    client: TestClient, fields: dict[str, str], param: str
) -> None:
    files = {"image": ("in.png", PNG), "mask": ("mask.png", PNG)}
    response = client.post("/v1/images/edits", data=edit_form(**fields), files=files)
    assert openai_error(response, 400)["param"] == param


def test_edit_needs_multipart_a_prompt_and_the_image_edit_capability(client: TestClient) -> None:
    openai_error(client.post("/v1/images/edits", json={"model": "image-model"}), 400)
    files = {"image": ("in.png", PNG)}
    no_prompt = client.post("/v1/images/edits", data={"model": "image-model"}, files=files)
    assert openai_error(no_prompt, 400)["param"] == "prompt"
    form = edit_form(model="generate-only")
    no_edit = client.post("/v1/images/edits", data=form, files=files)
    openai_error(no_edit, 400, "model_capability_not_supported")
