"""LocalAI error bodies in every form become OpenAI error objects."""

from __future__ import annotations

import orjson
import pytest

from clients import normalize_error


@pytest.mark.parametrize(
    ("status", "body", "message", "kind", "code"),
    [
        (
            400,
            {"error": {"code": 400, "message": "code=400, message=failed parsing: x", "type": ""}},
            "failed parsing: x",
            "invalid_request_error",
            None,
        ),
        (
            404,
            {
                "error": {
                    "code": 404,
                    "message": 'model "m" not found',
                    "type": "invalid_request_error",
                }
            },
            'model "m" not found',
            "invalid_request_error",
            None,
        ),
        (
            422,
            "top_n - should be greater than or equal to 1",
            "top_n - should be greater than or equal to 1",
            "invalid_request_error",
            None,
        ),
        (
            503,
            {"error": {"message": "loading", "type": "model_loading", "code": "model_loading"}},
            "loading",
            "model_loading",
            "model_loading",
        ),
        (500, {"error": {"code": 500, "message": "boom", "type": ""}}, "boom", "api_error", None),
    ],
)
def test_localai_error_forms(
    status: int, body: object, message: str, kind: str, code: str | None
) -> None:
    error = normalize_error(status, orjson.dumps(body))
    assert error == {"message": message, "type": kind, "param": None, "code": code}


@pytest.mark.parametrize("raw", [b"", b"<html>bad gateway</html>", b"null"])
def test_empty_or_non_json_bodies_get_a_status_message(raw: bytes) -> None:
    error = normalize_error(502, raw)
    assert error["message"] == "upstream answered 502"
    assert error["type"] == "api_error"
