"""The raw-bytes model rewrite: only real `model` keys change, whatever the body holds."""

from __future__ import annotations

import orjson
import pytest

from app.relay.bodies import rewrite_model

MEMBER = b'"model":"internal-id"'


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"model":"x","a":1}', b'{"model":"internal-id","a":1}'),
        (b'{"a":1, "model" :  "x"}', b'{"a":1, "model":"internal-id"}'),
        (b'{"model":"with \\"quotes\\" and \\\\"}', b'{"model":"internal-id"}'),
        (b'[{"model":"a"},{"model":"b"}]', b'[{"model":"internal-id"},{"model":"internal-id"}]'),
        (b'{"content":"say \\"model\\": \\"x\\""}', b'{"content":"say \\"model\\": \\"x\\""}'),
        (b'{"content":"model","n":"model"}', b'{"content":"model","n":"model"}'),
        (b'{"modelx":"a","model":3}', b'{"modelx":"a","model":3}'),
        (b'{"\\"model":"a"}', b'{"\\"model":"a"}'),  # the key is `"model`, quote included
    ],
)
def test_rewrite_model_touches_only_model_keys(body: bytes, expected: bytes) -> None:
    assert rewrite_model(body, MEMBER) == expected


def test_rewritten_body_stays_valid_json() -> None:
    body = orjson.dumps({"model": 'a"b\\c', "choices": [{"text": '"model": "y"'}]})
    rewritten = orjson.loads(rewrite_model(body, b'"model":' + orjson.dumps("id\\with")))
    assert rewritten == {"model": "id\\with", "choices": [{"text": '"model": "y"'}]}
