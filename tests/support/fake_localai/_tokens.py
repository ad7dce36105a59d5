"""POST /v1/tokenize and /v1/detokenize (core/http/endpoints/localai/tokenize.go): one token
per character, its code point, so any text round-trips."""

from __future__ import annotations

from ._http import Refusal, Reply, Request, json_reply
from ._state import State


async def tokenize(request: Request, state: State) -> Reply:
    """`{"model", "content"}` -> `{"tokens": [...]}`."""
    body = request.json_object()
    if not body.get("model"):
        raise Refusal.echo(400, "Bad Request")
    state.resolve_model(body["model"])
    content = body.get("content")
    return json_reply(200, {"tokens": [ord(c) for c in content if isinstance(content, str)]})


async def detokenize(request: Request, state: State) -> Reply:
    """`{"model", "tokens"}` -> `{"content"}`."""
    body = request.json_object()
    if not body.get("model"):
        raise Refusal.echo(400, "Bad Request")
    state.resolve_model(body["model"])
    tokens = body.get("tokens") or []
    return json_reply(200, {"content": "".join(chr(t) for t in tokens)})
