"""Fault injection against real processes: two fake LocalAI replicas behind a real gateway."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import orjson
import pytest
from openai import OpenAI

from tests.support.servers import FakeLocalAI, free_port

from .conftest import gateway_process

pytestmark = pytest.mark.integration

LOCALAI_NAME = "qwen3-30b-instruct:q4_k_m"
HELLO = [{"role": "user", "content": "one two three four five six"}]
ANSWER = "mocked response to: one two three four five six"
CHAT = "/v1/chat/completions"
SETTINGS = {
    "LOCALAI_GATEWAY_HEALTH_INTERVAL": "0.3",
    "LOCALAI_GATEWAY_HEALTH_TIMEOUT": "0.5",
    # Breakers stay closed here so tests do not leak state; one test opens them on purpose.
    "LOCALAI_GATEWAY_BREAKER_FAILURES": "1000",
    "LOCALAI_GATEWAY_BREAKER_MIN_CALLS": "1000",
    "LOCALAI_GATEWAY_CONNECT_TIMEOUT": "1",
    "LOCALAI_GATEWAY_RETRY_BACKOFF": "0.05",
    "LOCALAI_GATEWAY_MAX_QUEUE": "0",
    "LOCALAI_GATEWAY_KEEPALIVE_INTERVAL": "0",
    "LOCALAI_GATEWAY_DRAIN_TIMEOUT": "20",
}


def registry(a: str, b: str) -> str:
    timeout = "{first_token: 1, idle: 1, total: 20}"
    dead = f"http://127.0.0.1:{free_port()}"
    return f"""
models:
  pair:
    localai_model: {LOCALAI_NAME}
    capabilities: [chat]
    upstreams: [{{url: "{a}", name: a}}, {{url: "{b}", name: b}}]
    timeout: {timeout}
  single:
    localai_model: {LOCALAI_NAME}
    capabilities: [chat]
    upstreams: [{b}]
    timeout: {timeout}
  slowstart:
    localai_model: {LOCALAI_NAME}
    capabilities: [chat]
    upstreams: [{b}]
    timeout: {{first_token: 10, idle: 5, total: 20}}
  narrow:
    localai_model: {LOCALAI_NAME}
    capabilities: [chat]
    upstreams: [{b}]
    max_concurrency: 1
    timeout: {{first_token: 5, idle: 30, total: 60}}
  dead:
    localai_model: {LOCALAI_NAME}
    capabilities: [chat]
    upstreams: [{dead}]
    fallback: single
  dead-alone:
    localai_model: {LOCALAI_NAME}
    capabilities: [chat]
    upstreams: [{dead}]
"""


@pytest.fixture(scope="module")
def replicas() -> Iterator[tuple[FakeLocalAI, FakeLocalAI]]:
    with FakeLocalAI() as a, FakeLocalAI() as b:
        yield a, b


@pytest.fixture(scope="module")
def gateway(
    replicas: tuple[FakeLocalAI, FakeLocalAI], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    a, b = replicas
    with gateway_process(registry(a.url, b.url), tmp_path_factory.mktemp("gw"), SETTINGS) as (
        url,
        _,
    ):
        yield url


@pytest.fixture
def fakes(
    replicas: tuple[FakeLocalAI, FakeLocalAI], gateway: str
) -> tuple[FakeLocalAI, FakeLocalAI]:
    """Both replicas up with fresh state, and the gateway seeing them healthy again."""
    for fake in replicas:
        if not fake.alive:
            fake.restart()
        fake.clear()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        upstreams = httpx.get(gateway + "/readyz").json()["upstreams"]
        if all(
            upstreams[name]["healthy"] and "open" not in upstreams[name]["breakers"].values()
            for name in ("a", "b")
        ):
            break
        time.sleep(0.1)
    return replicas


@pytest.fixture
def sdk(gateway: str) -> OpenAI:
    return OpenAI(base_url=f"{gateway}/v1", api_key="k", max_retries=0, timeout=30)


def stream_events(gateway: str, model: str) -> tuple[list[object], list[str]]:
    """Raw SSE: the parsed data events and the comment lines, in order."""
    events: list[object] = []
    comments: list[str] = []
    body = {"model": model, "messages": HELLO, "stream": True}
    with httpx.stream("POST", gateway + CHAT, json=body, timeout=30) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith(":"):
                comments.append(line)
            elif line.startswith("data: "):
                data = line[6:]
                events.append(data if data == "[DONE]" else orjson.loads(data))
    return events, comments


def content_of(events: list[object]) -> str:
    return "".join(
        (chunk["choices"][0]["delta"].get("content") or "")  # type: ignore[index]
        for chunk in events
        if isinstance(chunk, dict) and chunk.get("choices")
    )


def stream_text(sdk: OpenAI, model: str) -> str:
    chunks = sdk.chat.completions.create(model=model, messages=HELLO, stream=True)
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def test_refused_connections_move_to_the_other_replica(
    sdk: OpenAI, fakes: tuple[FakeLocalAI, FakeLocalAI]
) -> None:
    a, b = fakes
    a.kill()
    for _ in range(4):
        assert (
            sdk.chat.completions.create(model="pair", messages=HELLO).choices[0].message.content
            == ANSWER
        )
        assert stream_text(sdk, "pair") == ANSWER
    assert len(b.requests(CHAT)) == 8


def test_503_with_retry_after_is_answered_by_the_other_replica(
    sdk: OpenAI, fakes: tuple[FakeLocalAI, FakeLocalAI]
) -> None:
    a, b = fakes
    a.set_faults({"status": 503, "retry_after": 30, "times": None})
    started = time.monotonic()
    for _ in range(6):
        assert (
            sdk.chat.completions.create(model="pair", messages=HELLO).choices[0].message.content
            == ANSWER
        )
    assert time.monotonic() - started < 10, "Retry-After is not waited when another replica is up"
    assert len(b.requests(CHAT)) == 6


def test_single_replica_503_is_retried_then_relayed_with_retry_after(
    gateway: str, fakes: tuple[FakeLocalAI, FakeLocalAI]
) -> None:
    _, b = fakes
    b.set_faults({"status": 503, "retry_after": 1, "times": None})
    response = httpx.post(gateway + CHAT, json={"model": "single", "messages": HELLO}, timeout=30)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}
    assert len(b.requests(CHAT)) == 3, "the default attempt budget"


def test_400_is_not_retried(gateway: str, fakes: tuple[FakeLocalAI, FakeLocalAI]) -> None:
    a, b = fakes
    for fake in fakes:
        fake.set_faults({"status": 400, "times": None})
    response = httpx.post(gateway + CHAT, json={"model": "pair", "messages": HELLO}, timeout=30)
    assert response.status_code == 400
    assert len(a.requests(CHAT)) + len(b.requests(CHAT)) == 1


def test_stall_before_the_first_byte_is_retried_elsewhere(
    sdk: OpenAI, fakes: tuple[FakeLocalAI, FakeLocalAI]
) -> None:
    a, _ = fakes
    a.set_faults({"stall_before_headers": 8, "times": None})
    for _ in range(3):
        assert stream_text(sdk, "pair") == ANSWER


def test_stall_mid_stream_ends_with_an_error_and_no_duplicate(
    gateway: str, fakes: tuple[FakeLocalAI, FakeLocalAI]
) -> None:
    for fake in fakes:
        fake.set_faults({"stall_after_events": 3, "times": None})
    events, _ = stream_events(gateway, "pair")
    assert events[-1] == "[DONE]"
    assert events[-2]["error"]["code"] == "timeout"  # type: ignore[index]
    assert content_of(events) == "mocked response"
    assert sum(len(fake.requests(CHAT)) for fake in fakes) == 1, "no retry after the first byte"


def test_cut_stream_ends_with_an_error_and_no_duplicate(
    gateway: str, fakes: tuple[FakeLocalAI, FakeLocalAI]
) -> None:
    for fake in fakes:
        fake.set_faults({"cut_after_events": 3, "times": None})
    events, _ = stream_events(gateway, "pair")
    assert events[-1] == "[DONE]"
    assert "error" in events[-2]  # type: ignore[operator]
    assert content_of(events) == "mocked response"
    assert sum(len(fake.requests(CHAT)) for fake in fakes) == 1


def test_malformed_json_is_retried_elsewhere_or_502(
    gateway: str, fakes: tuple[FakeLocalAI, FakeLocalAI]
) -> None:
    _, b = fakes
    b.set_faults({"malformed_json": True, "times": None})
    body = {"model": "single", "messages": HELLO}
    response = httpx.post(gateway + CHAT, json=body, timeout=30)
    assert response.status_code == 502
    assert response.json()["error"]["type"] == "api_error"
    assert len(b.requests(CHAT)) == 3, "retried, then refused"
    for _ in range(3):  # on "pair" a malformed answer from B is retried on A
        response = httpx.post(gateway + CHAT, json={**body, "model": "pair"}, timeout=30)
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == ANSWER


def test_client_disconnect_closes_upstream_and_frees_the_slot(
    sdk: OpenAI, fakes: tuple[FakeLocalAI, FakeLocalAI]
) -> None:
    _, b = fakes
    b.set_faults({"stall_after_events": 2})
    stream = sdk.chat.completions.create(model="narrow", messages=HELLO, stream=True)
    next(iter(stream))
    stream.close()
    deadline = time.monotonic() + 5
    while b.stats()["disconnected"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b.stats()["disconnected"] == 1
    # The one slot of "narrow" is free again.
    time.sleep(0.2)
    assert (
        sdk.chat.completions.create(model="narrow", messages=HELLO).choices[0].message.content
        == ANSWER
    )


def test_concurrency_limit_answers_429_with_retry_after(
    gateway: str, fakes: tuple[FakeLocalAI, FakeLocalAI]
) -> None:
    _, b = fakes
    b.set_faults({"stall_after_events": 2, "stall_seconds": 3})
    body = {"model": "narrow", "messages": HELLO, "stream": True}
    with httpx.stream("POST", gateway + CHAT, json=body, timeout=30) as held:
        assert held.status_code == 200
        lines = held.iter_lines()  # keep the iterator: dropping it closes the stream
        next(lines)
        response = httpx.post(
            gateway + CHAT, json={"model": "narrow", "messages": HELLO}, timeout=30
        )
        assert response.status_code == 429
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"]["code"] == "overloaded"


def test_breaker_opens_fails_fast_and_recovers(
    fakes: tuple[FakeLocalAI, FakeLocalAI], tmp_path: Path
) -> None:
    a, b = fakes
    b.set_faults({"status": 502, "times": None})
    settings = {
        **SETTINGS,
        "LOCALAI_GATEWAY_BREAKER_FAILURES": "2",
        "LOCALAI_GATEWAY_BREAKER_COOLDOWN": "1",
    }
    body = {"model": "single", "messages": HELLO}
    with gateway_process(registry(a.url, b.url), tmp_path, settings) as (url, _):
        first = httpx.post(url + CHAT, json=body, timeout=30)
        assert first.status_code == 503, "the breaker opened during the retries"
        assert len(b.requests(CHAT)) == 2
        ready = httpx.get(url + "/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "degraded"
        assert "single" in ready.json()["models_without_upstream"]
        assert ready.json()["upstreams"]["b"]["breakers"]["single"] == "open"
        second = httpx.post(url + CHAT, json=body, timeout=30)
        assert second.status_code == 503 and second.headers["retry-after"] == "1"
        assert len(b.requests(CHAT)) == 2, "an open breaker is not called"
        b.clear_faults()
        time.sleep(1.1)
        third = httpx.post(url + CHAT, json=body, timeout=30)
        assert third.status_code == 200, "the half-open trial succeeds and closes it"
        assert httpx.get(url + "/readyz").json()["upstreams"]["b"]["breakers"]["single"] == "closed"


def test_a_model_down_by_probes_alone_is_still_tried(gateway: str, fakes: object) -> None:
    started = time.monotonic()
    response = httpx.post(
        gateway + CHAT, json={"model": "dead-alone", "messages": HELLO}, timeout=30
    )
    assert response.status_code == 502, "tried (panic), and nothing listens there"
    assert response.json()["error"]["code"] == "upstream_unavailable"
    assert time.monotonic() - started < 2


def test_fallback_model_answers_when_replicas_are_down(
    gateway: str, fakes: tuple[FakeLocalAI, FakeLocalAI]
) -> None:
    response = httpx.post(gateway + CHAT, json={"model": "dead", "messages": HELLO}, timeout=30)
    assert response.status_code == 200
    assert response.headers["x-gateway-fallback"] == "single"
    assert response.json()["model"] == "single"
    assert response.json()["choices"][0]["message"]["content"] == ANSWER


def test_readyz_stays_ready_while_a_model_is_down_by_probes_alone(
    gateway: str, fakes: object
) -> None:
    response = httpx.get(gateway + "/readyz")
    assert response.status_code == 200, "its requests are still tried (panic)"
    body = response.json()
    assert body["status"] == "ready" and body["models_without_upstream"] == []
    dead = [name for name, state in body["upstreams"].items() if not state["healthy"]]
    assert len(dead) == 1 and dead[0] not in ("a", "b")


def test_keepalive_comments_while_the_first_token_is_slow(
    fakes: tuple[FakeLocalAI, FakeLocalAI], tmp_path: Path
) -> None:
    a, b = fakes
    b.set_faults({"stall_before_first_event": 1.5})
    settings = {**SETTINGS, "LOCALAI_GATEWAY_KEEPALIVE_INTERVAL": "0.3"}
    with gateway_process(registry(a.url, b.url), tmp_path, settings) as (url, _):
        events, comments = stream_events(url, "slowstart")
    assert len(comments) >= 3
    assert set(comments) == {": keep-alive"}
    assert content_of(events) == ANSWER
    assert events[-1] == "[DONE]"


def test_sigterm_lets_ten_open_streams_finish(
    fakes: tuple[FakeLocalAI, FakeLocalAI], tmp_path: Path
) -> None:
    a, b = fakes
    b.set_faults({"slow_events_ms": 150, "times": None})
    results: list[list[object]] = []
    started = threading.Barrier(11, timeout=20)

    def consume(url: str) -> None:
        events: list[object] = []
        body = {"model": "single", "messages": HELLO, "stream": True}
        with httpx.stream("POST", url + CHAT, json=body, timeout=30) as response:
            lines = response.iter_lines()
            for line in lines:
                if line.startswith("data: "):
                    events.append(line[6:])
                    break
            started.wait()
            events += [line[6:] for line in lines if line.startswith("data: ")]
        results.append(events)

    with gateway_process(registry(a.url, b.url), tmp_path, SETTINGS) as (url, process):
        threads = [threading.Thread(target=consume, args=(url,)) for _ in range(10)]
        for thread in threads:
            thread.start()
        started.wait()
        os.kill(process.pid, signal.SIGTERM)
        for thread in threads:
            thread.join(30)
        # uvicorn re-raises the signal once it has shut down cleanly.
        assert process.wait(30) in (0, -signal.SIGTERM)
    assert len(results) == 10
    for events in results:
        assert events[-1] == "[DONE]"
        text = "".join(
            orjson.loads(e)["choices"][0]["delta"].get("content") or ""
            for e in events[:-1]
            if orjson.loads(e)["choices"]
        )
        assert text == ANSWER


def test_openai_sdk_sees_the_errors(sdk: OpenAI, fakes: object) -> None:
    with pytest.raises(openai.InternalServerError) as info:
        sdk.chat.completions.create(model="dead-alone", messages=HELLO)
    assert info.value.status_code == 502
