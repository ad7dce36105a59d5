"""Vision chat: image parts fetched by the gateway (SSRF-safe), checked, sent as data: URIs."""

from __future__ import annotations

import asyncio
import base64
import gzip
import socket
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import respx
from fastapi.testclient import TestClient

from app.main import create_app
from app.media.safe_fetch import FetchPolicy, FetchRefused, fetch_client, safe_fetch
from app.settings import Settings

from ...support.chunks import localai_chat
from .samples import GIF, JPEG, PNG, openai_error, write_media_registry

ALLOWED = "127.0.0.1:9911"
IMAGE_URL = f"http://{ALLOWED}/cat.png"


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    return write_media_registry(tmp_path)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"vision_allow_hosts": frozenset({ALLOWED}), "max_image_bytes": 4096}
    )


def chat(url: Any, model: str = "vision-model", *, kind: str = "image_url") -> dict[str, Any]:
    image = {"type": kind, "image_url": url if not isinstance(url, str) else {"url": url}}
    content = [{"type": "text", "text": "what is this?"}, image]
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": content},
        ],
    }


def sent_image(route: respx.Route) -> str:
    body = orjson.loads(route.calls.last.request.content)
    return body["messages"][1]["content"][1]["image_url"]["url"]


def data_uri(kind: str, content: bytes) -> str:
    return f"data:{kind};base64,{base64.b64encode(content).decode()}"


def test_http_image_is_fetched_and_inlined_as_a_data_uri(
    client: TestClient, localai: respx.MockRouter
) -> None:
    upstream = localai.post("/v1/chat/completions").respond(json=localai_chat())
    image = localai.get(IMAGE_URL).respond(content=PNG, headers={"content-type": "image/png"})
    response = client.post("/v1/chat/completions", json=chat(IMAGE_URL))
    assert response.status_code == 200, response.text
    assert sent_image(upstream) == data_uri("image/png", PNG)
    fetched = image.calls.last.request
    assert "authorization" not in fetched.headers, "the upstream key never leaves for other hosts"
    assert fetched.headers["host"] == ALLOWED


def test_valid_data_uris_pass_unchanged(client: TestClient, localai: respx.MockRouter) -> None:
    upstream = localai.post("/v1/chat/completions").respond(json=localai_chat())
    for kind, content in (("image/jpeg", JPEG), ("image/gif", GIF), ("image/png", PNG)):
        response = client.post("/v1/chat/completions", json=chat(data_uri(kind, content)))
        assert response.status_code == 200, response.text
        assert sent_image(upstream) == data_uri(kind, content)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9912/cat.png",  # loopback, port not on the allow-list
        "http://localhost:9911/cat.png",  # the allow-list names host:port as written
        "http://10.0.0.7/cat.png",
        "http://192.168.1.1/cat.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/cat.png",
        "http://[::ffff:127.0.0.1]/cat.png",
        "http://0.0.0.0/cat.png",
        "http://224.0.0.1/cat.png",
        "ftp://example.com/cat.png",
        "file:///etc/passwd",
        "http://user:pw@127.0.0.1:9911/cat.png",
        "cat.png",
    ],
)
def test_forbidden_urls_are_400s_naming_the_part(
    client: TestClient, localai: respx.MockRouter, url: str
) -> None:
    response = client.post("/v1/chat/completions", json=chat(url))
    assert openai_error(response, 400)["param"] == "messages[1].content[1].image_url"
    assert not localai.calls, "nothing is fetched and nothing goes upstream"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (httpx.Response(404), "HTTP 404"),
        (httpx.Response(200, content=b"<html>", headers={"content-type": "text/html"}), "image"),
        (httpx.Response(200, content=PNG, headers={"content-type": "image/jpeg"}), "image"),
        (httpx.Response(200, content=PNG + bytes(5000)), "larger than 4096"),
        (httpx.Response(302, headers={"location": "http://10.1.2.3/x.png"}), "public address"),
    ],
)
def test_unusable_fetches_are_400s_never_silent_skips(
    client: TestClient, localai: respx.MockRouter, reply: httpx.Response, reason: str
) -> None:
    upstream = localai.post("/v1/chat/completions").respond(json=localai_chat())
    localai.get(IMAGE_URL).mock(return_value=reply)
    response = client.post("/v1/chat/completions", json=chat(IMAGE_URL))
    error = openai_error(response, 400)
    assert error["param"] == "messages[1].content[1].image_url"
    assert reason in error["message"]
    assert not upstream.calls


def test_allowed_redirects_are_followed_and_rechecked(
    client: TestClient, localai: respx.MockRouter
) -> None:
    upstream = localai.post("/v1/chat/completions").respond(json=localai_chat())
    localai.get(IMAGE_URL).respond(302, headers={"location": "/real.png"})
    localai.get(f"http://{ALLOWED}/real.png").respond(
        content=PNG, headers={"content-type": "image/png"}
    )
    assert client.post("/v1/chat/completions", json=chat(IMAGE_URL)).status_code == 200
    assert sent_image(upstream) == data_uri("image/png", PNG)


@pytest.mark.parametrize(
    "url",
    [
        "data:image/png;base64,!!!notbase64",
        "data:image/png,rawbytes",
        "data:text/plain;base64," + base64.b64encode(b"hello").decode(),
        data_uri("image/jpeg", PNG),  # mislabelled
        data_uri("image/png", b"not an image at all"),
        data_uri("image/png", PNG + bytes(5000)),  # over max_image_bytes
        "data:image/png;base64,",
    ],
)
def test_bad_data_uris_are_400s(client: TestClient, localai: respx.MockRouter, url: str) -> None:
    response = client.post("/v1/chat/completions", json=chat(url))
    assert openai_error(response, 400)["param"] == "messages[1].content[1].image_url"
    assert not localai.calls


@pytest.mark.parametrize("image_url", ["http://x/y.png", {"detail": "auto"}, {"url": 5}])
def test_image_url_must_be_an_object_with_a_url(
    client: TestClient, localai: respx.MockRouter, image_url: Any
) -> None:
    body = chat(None)
    body["messages"][1]["content"][1]["image_url"] = image_url
    response = client.post("/v1/chat/completions", json=body)
    assert openai_error(response, 400)["param"] == "messages[1].content[1].image_url"


def test_image_parts_need_the_vision_capability(
    client: TestClient, localai: respx.MockRouter
) -> None:
    for kind in ("image_url", "image"):
        body = chat(data_uri("image/png", PNG), model="chat-model", kind=kind)
        response = client.post("/v1/chat/completions", json=body)
        openai_error(response, 400, "model_capability_not_supported")
    assert not localai.calls


def test_text_only_chat_is_untouched(client: TestClient, localai: respx.MockRouter) -> None:
    upstream = localai.post("/v1/chat/completions").respond(json=localai_chat())
    body = {
        "model": "chat-model",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
    }
    assert client.post("/v1/chat/completions", json=body).status_code == 200
    assert orjson.loads(upstream.calls.last.request.content)["messages"] == body["messages"]


def responses_body(url: str, model: str = "vision-model") -> dict[str, Any]:
    content = [{"type": "input_text", "text": "what is this?"}]
    content.append({"type": "input_image", "image_url": url})
    return {"model": model, "input": [{"role": "user", "content": content}]}


def messages_body(source: dict[str, Any], model: str = "vision-model") -> dict[str, Any]:
    content = [{"type": "image", "source": source}, {"type": "text", "text": "what is this?"}]
    return {"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": content}]}


LOCALAI_RESPONSE = {"id": "resp_1", "object": "response", "model": "minicpm-v-4_5", "output": []}
LOCALAI_MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "content": [{"type": "text", "text": "a cat"}],
    "model": "minicpm-v-4_5",
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 3, "output_tokens": 2},
}


def test_responses_image_urls_are_fetched_and_inlined(
    client: TestClient, localai: respx.MockRouter
) -> None:
    upstream = localai.post("/v1/responses").respond(json=LOCALAI_RESPONSE)
    localai.get(IMAGE_URL).respond(content=PNG, headers={"content-type": "image/png"})
    response = client.post("/v1/responses", json=responses_body(IMAGE_URL))
    assert response.status_code == 200, response.text
    sent = orjson.loads(upstream.calls.last.request.content)
    assert sent["input"][0]["content"][1]["image_url"] == data_uri("image/png", PNG)


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (responses_body("http://10.0.0.7/cat.png"), "input[0].content[1].image_url"),
        (responses_body(data_uri("image/jpeg", PNG)), "input[0].content[1].image_url"),
        (responses_body("cat.png"), "input[0].content[1].image_url"),
        (
            {
                "model": "vision-model",
                "input": [
                    {"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}
                ],
            },
            "input[0].content[0].file_id",
        ),
        (
            {
                "model": "vision-model",
                "input": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "input_file", "file_url": "http://169.254.169.254/secrets"}
                        ],
                    }
                ],
            },
            "input[0].content[0].file_url",
        ),
    ],
)
def test_responses_images_and_media_urls_the_gateway_cannot_check_are_400s(
    client: TestClient, localai: respx.MockRouter, body: dict[str, Any], param: str
) -> None:
    response = client.post("/v1/responses", json=body)
    assert openai_error(response, 400)["param"] == param
    assert not localai.calls, "nothing is fetched and nothing goes upstream"


def test_responses_images_need_the_vision_capability(
    client: TestClient, localai: respx.MockRouter
) -> None:
    body = responses_body(data_uri("image/png", PNG), model="chat-model")
    openai_error(client.post("/v1/responses", json=body), 400, "model_capability_not_supported")
    assert not localai.calls


def test_messages_url_images_become_base64_sources(
    client: TestClient, localai: respx.MockRouter
) -> None:
    """LocalAI reads only base64 sources (it drops a url source without a word)."""
    upstream = localai.post("/v1/messages").respond(json=LOCALAI_MESSAGE)
    localai.get(IMAGE_URL).respond(content=PNG, headers={"content-type": "image/png"})
    response = client.post("/v1/messages", json=messages_body({"type": "url", "url": IMAGE_URL}))
    assert response.status_code == 200, response.text
    sent = orjson.loads(upstream.calls.last.request.content)
    source = {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}
    assert sent["messages"][0]["content"][0]["source"] == source


def test_images_inside_tool_results_are_moved_where_localai_reads_them(
    client: TestClient, localai: respx.MockRouter
) -> None:
    """LocalAI keeps only a tool result's text; its images follow it as the message's own."""
    upstream = localai.post("/v1/messages").respond(json=LOCALAI_MESSAGE)
    localai.get(IMAGE_URL).respond(content=PNG, headers={"content-type": "image/png"})
    screenshot = {"type": "image", "source": {"type": "url", "url": IMAGE_URL}}
    result = {"type": "text", "text": "the screen:"}
    tool_result = {"type": "tool_result", "tool_use_id": "t1", "content": [result, screenshot]}
    content = [tool_result, {"type": "text", "text": "what is on it?"}]
    body = {
        "model": "vision-model",
        "max_tokens": 8,
        "messages": [{"role": "user", "content": content}],
    }
    response = client.post("/v1/messages", json=body)
    assert response.status_code == 200, response.text
    sent = orjson.loads(upstream.calls.last.request.content)["messages"][0]["content"]
    source = {"type": "base64", "media_type": "image/png", "data": base64.b64encode(PNG).decode()}
    assert [block["type"] for block in sent] == ["tool_result", "image", "text"]
    assert sent[0]["content"] == [result] and sent[1]["source"] == source


@pytest.mark.parametrize(
    "source",
    [
        {"type": "base64", "media_type": "image/jpeg", "data": base64.b64encode(PNG).decode()},
        {"type": "base64", "media_type": "image/png", "data": "!!"},
        {"type": "url", "url": "http://192.168.1.1/cat.png"},
        {"type": "file", "file_id": "file-1"},
    ],
)
def test_unusable_messages_images_are_anthropic_400s_naming_the_block(
    client: TestClient, localai: respx.MockRouter, source: dict[str, Any]
) -> None:
    response = client.post("/v1/messages", json=messages_body(source))
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["type"] == "error" and error["error"]["type"] == "invalid_request_error"
    assert "messages[0].content[0].source" in error["error"]["message"]
    assert not localai.calls


# safe_fetch on its own: name resolution is checked, then the checked address is connected to.


def fake_dns(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> None:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        family = socket.AF_INET6 if ":" in addresses[0] else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


POLICY = FetchPolicy(max_bytes=4096, timeout=5.0)


async def test_a_name_resolving_to_any_private_address_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, "93.184.216.34", "10.0.0.1")
    async with fetch_client() as http:
        with pytest.raises(FetchRefused, match="does not resolve to a public address"):
            await safe_fetch(http, "http://images.example/cat.png", POLICY)


async def test_the_checked_address_is_connected_to_with_the_name_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake_dns(monkeypatch, "93.184.216.34")
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get("https://93.184.216.34/cat.png").respond(
            content=PNG, headers={"content-type": "image/png"}
        )
        async with fetch_client() as http:
            fetched = await safe_fetch(http, "https://images.example/cat.png", POLICY)
    assert fetched.content == PNG and fetched.content_type == "image/png"
    request = route.calls.last.request
    assert request.headers["host"] == "images.example"
    assert request.extensions["sni_hostname"] == "images.example"


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::7f00:1",  # local-use NAT64 of 127.0.0.1
        "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254 (cloud metadata)
        "::127.0.0.1",  # IPv4-compatible loopback
        "::ffff:192.168.1.1",  # IPv4-mapped private
        "2001:0:4136:e378:8000:63bf:f5ff:fffe",  # Teredo with a private client 10.0.0.1
        "fec0::1",  # site-local
    ],
)
async def test_ipv6_addresses_that_carry_a_private_ipv4_or_are_site_local_are_refused(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    fake_dns(monkeypatch, address)
    async with fetch_client() as http:
        with pytest.raises(FetchRefused, match="does not resolve to a public address"):
            await safe_fetch(http, "http://images.example/cat.png", POLICY)


def test_ipv6_carrying_a_public_ipv4_is_judged_by_it() -> None:
    import ipaddress

    from app.media.safe_fetch import _public

    assert _public(ipaddress.ip_address("64:ff9b::808:808"))  # NAT64 of 8.8.8.8
    assert _public(ipaddress.ip_address("2002:808:808::"))  # 6to4 of 8.8.8.8
    assert not _public(ipaddress.ip_address("2002:a00:1::"))  # 6to4 of 10.0.0.1


async def test_an_unresolvable_name_reads_exactly_like_a_private_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_dns(*args: Any, **kwargs: Any) -> list[Any]:
        raise socket.gaierror("no such host")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    async with fetch_client() as http:
        with pytest.raises(FetchRefused) as unresolved:
            await safe_fetch(http, "http://nowhere.example/x.png", POLICY)
    fake_dns(monkeypatch, "10.0.0.1")
    async with fetch_client() as http:
        with pytest.raises(FetchRefused) as private:
            await safe_fetch(http, "http://nowhere.example/x.png", POLICY)
    assert str(unresolved.value) == str(private.value)


async def test_a_compressed_image_body_is_refused_before_it_inflates() -> None:
    policy = FetchPolicy(max_bytes=4096, timeout=5.0, allow_hosts=frozenset({ALLOWED}))
    with respx.mock() as mock:
        route = mock.get(IMAGE_URL).respond(
            content=gzip.compress(bytes(1 << 20)), headers={"content-encoding": "gzip"}
        )
        async with fetch_client() as http:
            with pytest.raises(FetchRefused, match="compressed"):
                await safe_fetch(http, IMAGE_URL, policy)
    assert route.calls.last.request.headers["accept-encoding"] == "identity"


async def test_too_many_redirects_are_refused() -> None:
    policy = FetchPolicy(max_bytes=10, timeout=5.0, allow_hosts=frozenset({ALLOWED}))
    with respx.mock() as mock:
        mock.get(IMAGE_URL).respond(302, headers={"location": IMAGE_URL})
        async with fetch_client() as http:
            with pytest.raises(FetchRefused, match="redirects"):
                await safe_fetch(http, IMAGE_URL, policy)


async def test_a_closed_fetch_client_refuses_to_fetch() -> None:
    async with fetch_client() as fetcher:
        pass
    with pytest.raises(RuntimeError, match="closed"):
        await safe_fetch(fetcher, IMAGE_URL, POLICY)


def many_images(count: int) -> dict[str, Any]:
    images = [{"type": "image_url", "image_url": {"url": IMAGE_URL}}] * count
    return {"model": "vision-model", "messages": [{"role": "user", "content": images}]}


def test_more_images_than_the_limit_is_a_400_and_nothing_is_fetched(
    client: TestClient, localai: respx.MockRouter
) -> None:
    image = localai.get(IMAGE_URL).respond(content=PNG, headers={"content-type": "image/png"})
    response = client.post("/v1/chat/completions", json=many_images(17))
    error = openai_error(response, 400, "too_many_images")
    assert "LOCALAI_GATEWAY_MAX_IMAGES_PER_REQUEST" in error["message"]
    assert not image.called


def test_images_are_fetched_a_few_at_a_time_once_admitted(
    client: TestClient, localai: respx.MockRouter
) -> None:
    running = peak = 0

    async def slow_image(request: httpx.Request) -> httpx.Response:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        running -= 1
        return httpx.Response(200, content=PNG, headers={"content-type": "image/png"})

    localai.get(IMAGE_URL).mock(side_effect=slow_image)
    localai.post("/v1/chat/completions").respond(json=localai_chat())
    assert client.post("/v1/chat/completions", json=many_images(16)).status_code == 200
    assert peak == 4


def test_a_request_that_is_not_admitted_fetches_nothing(
    settings: Settings, localai: respx.MockRouter
) -> None:
    image = localai.get(IMAGE_URL).respond(content=PNG, headers={"content-type": "image/png"})
    full = settings.model_copy(update={"max_concurrency": 1, "max_queue": 0})
    with TestClient(create_app(full)) as test_client:
        gateway = test_client.app.live.gateway  # type: ignore[attr-defined]
        gateway.dispatcher.admission._slots._value = 0  # another request holds the one slot
        response = test_client.post("/v1/chat/completions", json=many_images(2))
    openai_error(response, 429, "overloaded")
    assert not image.called, "no image is fetched for a request that was not admitted"
