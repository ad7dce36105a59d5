"""Request record, X-Request-ID, Prometheus metrics, the JSON access log and optional tracing."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import respx
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.errors import scrub
from app.observability import RequestRecord, upstream_headers
from app.observability.record import request_id_from
from app.settings import Settings
from tests.support.chunks import localai_chat, localai_stream

SECRET_PROMPT = "my very secret prompt 4711"
CHAT = {"model": "chat-model", "messages": [{"role": "user", "content": SECRET_PROMPT}]}
ACCESS_FIELDS = {
    "request_id", "key", "model", "upstream", "status", "latency_ms", "tokens_in", "tokens_out",
    "retries",
}  # fmt: skip


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, parsed by prometheus-client's own parser."""
    reply = client.get("/metrics")
    assert reply.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(reply.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        orjson.loads(record.getMessage())
        for record in caplog.records
        if record.name == "localai_gateway.access"
    ]


def test_request_counter_and_latency_move(client: TestClient, localai: respx.MockRouter) -> None:
    localai.post("/v1/chat/completions").respond(json=localai_chat())
    labels = {"model": "chat-model", "endpoint": "/v1/chat/completions"}
    before = scrape(client)
    assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
    assert client.post("/v1/chat/completions", json={"model": "nope", "messages": []}).status_code
    after = scrape(client)
    requests = "localai_gateway_requests_total"
    assert (
        value(after, requests, **labels, status="200")
        - value(before, requests, **labels, status="200")
        == 1
    )
    unknown = {"model": "", "endpoint": "/v1/chat/completions", "status": "404"}
    assert value(after, requests, **unknown) - value(before, requests, **unknown) == 1
    count = "localai_gateway_request_duration_seconds_count"
    assert value(after, count, **labels) - value(before, count, **labels) == 1


def test_unmatched_paths_share_one_label(client: TestClient) -> None:
    before = scrape(client)
    client.get("/no/such/path/123")
    after = scrape(client)
    labels = {"model": "", "endpoint": "unmatched", "status": "404"}
    name = "localai_gateway_requests_total"
    assert value(after, name, **labels) - value(before, name, **labels) == 1
    assert not any("/no/such" in str(key) for key in after)


def test_stream_observes_ttft_and_inflight_returns_to_zero(
    client: TestClient, localai: respx.MockRouter
) -> None:
    stream = localai_stream("qwen3-30b-instruct:q4_k_m", ["a", "b"])
    localai.post("/v1/chat/completions").respond(
        content=stream, headers={"content-type": "text/event-stream"}
    )
    before = scrape(client)
    reply = client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert reply.status_code == 200 and "[DONE]" in reply.text
    after = scrape(client)
    ttft = "localai_gateway_time_to_first_token_seconds_count"
    assert value(after, ttft, model="chat-model") - value(before, ttft, model="chat-model") == 1
    assert value(after, "localai_gateway_inflight_streams", model="chat-model") == 0


def test_every_metric_is_exposed_with_help(client: TestClient) -> None:
    text = client.get("/metrics").text
    for name in (
        "localai_gateway_requests_total",
        "localai_gateway_request_duration_seconds",
        "localai_gateway_time_to_first_token_seconds",
        "localai_gateway_tokens_total",
        "localai_gateway_upstream_retries_total",
        "localai_gateway_breaker_state",
        "localai_gateway_queue_depth",
        "localai_gateway_inflight_streams",
        "localai_gateway_rate_limited_total",
    ):
        assert f"# HELP {name} " in text, name


def test_record_fills_tokens_and_retries_metrics() -> None:
    from prometheus_client import CollectorRegistry

    from app.observability import Metrics

    metrics = Metrics(CollectorRegistry())
    record = RequestRecord("id", "POST", "/v1/chat/completions", started=10.0)
    record.model, record.endpoint, record.status = "m", "/v1/chat/completions", 200
    record.tokens_in, record.tokens_out, record.retries = 7, 3, 2
    metrics.observe(record, finished=10.5)
    registry = metrics.registry
    assert (
        registry.get_sample_value("localai_gateway_tokens_total", {"model": "m", "direction": "in"})
        == 7
    )
    assert (
        registry.get_sample_value(
            "localai_gateway_tokens_total", {"model": "m", "direction": "out"}
        )
        == 3
    )
    assert registry.get_sample_value("localai_gateway_upstream_retries_total", {"model": "m"}) == 2
    assert registry.get_sample_value(
        "localai_gateway_request_duration_seconds_sum",
        {"model": "m", "endpoint": "/v1/chat/completions"},
    ) == pytest.approx(0.5)


def test_access_line_is_json_without_prompt_or_output(
    client: TestClient, localai: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    localai.post("/v1/chat/completions").respond(json=localai_chat(content="secret answer 0815"))
    caplog.set_level(logging.INFO, logger="localai_gateway.access")
    reply = client.post("/v1/chat/completions", json=CHAT, headers={"x-request-id": "req-42"})
    assert reply.headers["x-request-id"] == "req-42"
    (line,) = access_lines(caplog)
    assert line.keys() >= ACCESS_FIELDS
    assert line["request_id"] == "req-42"
    assert line["model"] == "chat-model" and line["status"] == 200
    assert line["key"] is None and line["latency_ms"] > 0
    assert SECRET_PROMPT not in caplog.text and "secret answer 0815" not in caplog.text


def test_request_id_is_generated_when_absent_or_unsafe(client: TestClient) -> None:
    plain = client.get("/healthz").headers["x-request-id"]
    unsafe = client.get("/healthz", headers={"x-request-id": 'a b"<script>'}).headers
    assert len(plain) == 32 and unsafe["x-request-id"] != 'a b"<script>'
    assert client.get("/healthz").headers["x-request-id"] != plain


def test_request_id_parsing() -> None:
    assert request_id_from({"headers": [(b"x-request-id", b"abc-123")]}) == "abc-123"
    assert request_id_from({"headers": [(b"x-request-id", b"x" * 129)]}) != "x" * 129
    assert len(request_id_from({"headers": []})) == 32


def test_upstream_headers_carry_the_request_id() -> None:
    record = RequestRecord("req-7", "POST", "/v1/chat/completions")
    assert upstream_headers(record) == {"x-correlation-id": "req-7"}


@pytest.mark.parametrize(
    ("raw", "leak"),
    [
        ("dial tcp 10.0.0.5:8080: connect: connection refused", "10.0.0.5"),
        ('Post "http://localai-0.localai.svc:8080/v1/chat": EOF', "localai-0"),
        ("backend at localhost:50051 crashed", "localhost:50051"),
        ("grpc [fd00::1]:9000 unavailable", "fd00::1"),
        ("loading from models.internal failed", "models.internal"),
        ("bad header Authorization: Bearer abc.def.ghi", "abc.def"),
        ("api_key=hunter2 rejected", "hunter2"),
        ("the key sk-live-0123456789 is invalid", "sk-live"),
        ("dial tcp: lookup localai-0 on 10.96.0.10:53: no such host", "localai-0"),
        ("failed to reach gpu-3.corp.example.com", "corp.example"),
        ("could not load model /models/Qwen3-30B.gguf: out of memory", "/models"),
        ("open /root/.cache/huggingface/hub: permission denied", ".cache"),
    ],
)
def test_scrub_removes_addresses_and_secrets(raw: str, leak: str) -> None:
    assert leak not in scrub(raw)


def test_scrub_keeps_ordinary_text() -> None:
    for message in (
        "model qwen3:8b failed after 1.5 seconds at step 1:23",
        "request (5000 tokens) exceeds the available context size (2048 tokens), try again",
        "rpc error: code = Internal desc = Failed to parse grammar",
    ):
        assert scrub(message) == message


def test_an_image_id_never_reaches_the_access_log(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="localai_gateway.access"):
        client.get("/v1/images/files/c2VjcmV0.c2lnbmF0dXJl")
    (line,) = access_lines(caplog)
    assert line["path"] == "/v1/images/files/{image_id}"
    assert "c2VjcmV0" not in orjson.dumps(line).decode()


def test_upstream_error_fields_are_scrubbed(client: TestClient, localai: respx.MockRouter) -> None:
    error = {"error": {"message": "dial tcp 10.1.2.3:8080: refused", "code": "http://10.1.2.3"}}
    localai.post("/v1/chat/completions").respond(500, json=error)
    reply = client.post("/v1/chat/completions", json=CHAT)
    assert reply.status_code == 500
    assert "10.1.2.3" not in reply.text


class FakeSpan:
    def __init__(self) -> None:
        self.attributes: dict[str, Any] = {}

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        self.attributes.update(attributes)


class FakeTracer:
    def __init__(self) -> None:
        self.spans: list[tuple[str, FakeSpan]] = []

    @contextlib.contextmanager
    def start_as_current_span(self, name: str, **options: Any) -> Iterator[FakeSpan]:
        span = FakeSpan()
        self.spans.append((name, span))
        yield span


def test_tracing_wraps_each_request_in_a_span(
    settings: Settings, localai: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import main

    localai.post("/v1/chat/completions").respond(json=localai_chat())
    tracer = FakeTracer()
    monkeypatch.setattr(main, "configured_tracer", lambda settings: tracer)
    app = main.create_app(settings)
    with TestClient(app) as client:
        client.post("/v1/chat/completions", json=CHAT)
    ((name, span),) = tracer.spans
    assert name == "POST /v1/chat/completions"
    assert span.attributes["gen_ai.request.model"] == "chat-model"
    assert span.attributes["http.response.status_code"] == 200
    assert SECRET_PROMPT not in str(span.attributes)


def test_tracing_is_off_by_default_and_on_when_asked(settings: Settings) -> None:
    from app.observability import configured_tracer

    assert configured_tracer(settings) is None
    assert configured_tracer(settings.model_copy(update={"otel": True})) is not None


def test_proxy_fills_the_record_for_logs_and_passes_the_request_id_upstream(
    client: TestClient, localai: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="localai_gateway.access")
    route = localai.post("/v1/chat/completions").respond(json=localai_chat())
    body = {"model": "chat-model", "messages": [{"role": "user", "content": "hi"}]}
    response = client.post("/v1/chat/completions", json=body, headers={"x-request-id": "req-42"})
    assert response.status_code == 200
    assert route.calls.last.request.headers["x-correlation-id"] == "req-42"
    (line,) = access_lines(caplog)
    assert line["request_id"] == "req-42"
    assert line["upstream"] == "localai"  # the registry's name for it, never its URL
    assert (line["tokens_in"], line["tokens_out"]) == (3, 1)
    assert line["retries"] == 0


def test_streamed_usage_reaches_the_record_even_when_the_client_did_not_ask(
    client: TestClient, localai: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="localai_gateway.access")
    trailer = {"id": "u", "object": "chat.completion.chunk", "choices": [], "model": "m"}
    usage = {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}
    stream = localai_stream("m", ["a", "b"]).replace(
        b"data: [DONE]", b"data: " + orjson.dumps({**trailer, "usage": usage}) + b"\n\ndata: [DONE]"
    )
    localai.post("/v1/chat/completions").respond(
        content=stream, headers={"content-type": "text/event-stream"}
    )
    body = {"model": "chat-model", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    assert "usage" not in client.post("/v1/chat/completions", json=body).text
    (line,) = access_lines(caplog)
    assert (line["tokens_in"], line["tokens_out"]) == (7, 2)
