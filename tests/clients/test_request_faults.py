"""Upstream errors that blame the request: recognised in LocalAI's words, answered as 400s."""

from __future__ import annotations

import orjson
import pytest

from clients import UpstreamStatusError, UpstreamStreamError, normalize_error
from clients._normalize import normalize_stream_error

OVERFLOW = (
    "rpc error: code = Internal desc = request (5000 tokens) exceeds the available context "
    "size (2048 tokens), try increasing it"
)


@pytest.mark.parametrize(
    ("message", "code"),
    [
        (OVERFLOW, "context_length_exceeded"),
        (
            "the request exceeds the available context size, try increasing it",
            "context_length_exceeded",
        ),
        ("Requested tokens (590) exceed context window of 512", "context_length_exceeded"),
        (
            "input is too large to process. increase the physical batch size",
            "context_length_exceeded",
        ),
        ("This model's maximum context length is 4096 tokens.", "context_length_exceeded"),
        ("rpc error: code = Internal desc = Failed to parse grammar", "invalid_grammar"),
        ("rpc error: code = InvalidArgument desc = Input content cannot be empty", "invalid_value"),
        ("rpc error: code = Unavailable desc = connection refused", None),
        ("could not load model: out of memory", None),
    ],
)
def test_request_faults_are_recognised_by_message(message: str, code: str | None) -> None:
    body = orjson.dumps({"error": {"code": 500, "message": message, "type": ""}})
    error = normalize_error(500, body)
    assert error["code"] == code
    exc = UpstreamStatusError(500, error, model="m")
    assert exc.request_fault is (code is not None)
    assert exc.status == (400 if code else 500) and exc.upstream_status == 500
    assert exc.retryable is False


def test_llama_cpp_servers_own_type_is_recognised_too() -> None:
    body = b'{"error":{"code":400,"message":"too big","type":"exceed_context_size_error"}}'
    exc = UpstreamStatusError(400, normalize_error(400, body))
    assert exc.error["code"] == "context_length_exceeded" and exc.status == 400


def test_a_first_event_error_that_blames_the_request_is_not_retryable() -> None:
    payload = orjson.dumps({"error": {"message": OVERFLOW, "type": "server_error"}})
    exc = UpstreamStreamError(normalize_stream_error(payload), model="m")
    assert exc.request_fault and not exc.retryable
    other = UpstreamStreamError(normalize_stream_error(b'{"error":{"message":"boom"}}'))
    assert not other.request_fault and other.retryable


def test_a_503_stays_retryable() -> None:
    exc = UpstreamStatusError(503, normalize_error(503, b""))
    assert exc.retryable and not exc.request_fault and exc.status == 503
