"""One error body and one Retry-After for every error the gateway sends."""

from __future__ import annotations

import orjson
import pytest

from app.errors import (
    MAX_RETRY_AFTER,
    ErrorFields,
    InvalidRequest,
    error_body,
    error_fields,
    retry_after,
)
from clients import UpstreamStatusError, UpstreamTimeout, UpstreamUnavailable


@pytest.mark.parametrize(
    ("seconds", "header"),
    [
        (0, "1"),
        (0.01, "1"),
        (1, "1"),
        (1.2, "2"),
        (-5, "1"),
        (float("nan"), "1"),
        (float("inf"), str(MAX_RETRY_AFTER)),
        (1e300, str(MAX_RETRY_AFTER)),
        ("garbage", "1"),
        (None, "1"),
        ("7", "7"),
    ],
)
def test_retry_after_is_an_integer_from_one_to_the_cap(seconds: object, header: str) -> None:
    assert retry_after(seconds) == {"retry-after": header}


def test_retry_after_takes_a_smaller_cap() -> None:
    assert retry_after(500, cap=12) == {"retry-after": "12"}


def test_every_error_has_the_same_four_members() -> None:
    errors = [
        InvalidRequest("bad", param="x"),
        UpstreamStatusError(
            503, {"message": "at http://10.0.0.1:8080", "type": "t", "param": None, "code": 5}
        ),
        UpstreamTimeout("slow"),
        UpstreamUnavailable("gone"),
    ]
    for exc in errors:
        body = orjson.loads(error_body(error_fields(exc)))
        assert set(body["error"]) == {"message", "type", "param", "code"}
    assert "10.0.0.1" not in error_body(error_fields(errors[1])).decode()
    assert orjson.loads(error_body(ErrorFields("m", "t"))) == {
        "error": {"message": "m", "type": "t", "param": None, "code": None}
    }
