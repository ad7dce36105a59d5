"""Whole upstream replies relayed to the client, with the headers that say who answered."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from ..observability.record import RequestRecord
from ..registry import ModelTarget
from ..state import Gateway
from ..upstream.dispatch import Prepare, Served
from ..upstream.endpoints import Endpoint
from ..upstream.payloads import Build, JsonPayload, Payload, with_model_defaults
from .bodies import rewrite_model
from .usage import record_reply_usage

JSON = "application/json"


def reply_headers(
    served: ModelTarget, asked: ModelTarget, backend: str, correlation_id: str | None
) -> dict[str, str]:
    """Response headers saying which backend (and, after a fallback, which model) answered."""
    headers = {"x-gateway-backend": backend}
    if correlation_id:
        headers["x-correlation-id"] = correlation_id
    if served is not asked:
        headers["x-gateway-fallback"] = served.id
    return headers


def relay_json(served: Served, asked: ModelTarget, content: bytes | None = None) -> Response:
    """Relay a whole reply with its content type; JSON gets `model` renamed to the internal id."""
    reply = served.reply
    if content is None:
        content = reply.content
        if reply.content_type.startswith(JSON):
            content = rewrite_model(content, served.target.member)
    headers = reply_headers(served.target, asked, served.backend, reply.correlation_id)
    return Response(content, reply.status, headers=headers, media_type=reply.content_type)


async def send_counted(
    gateway: Gateway,
    target: ModelTarget,
    endpoint: Endpoint,
    payload: Payload,
    *,
    record: RequestRecord | None,
    pin: int | None = None,
    prepare: Prepare | None = None,
) -> Served:
    """A whole reply of `endpoint` for `target`, its token counts noted in the record
    (`prepare`: see `Dispatcher.send`)."""
    served = await gateway.dispatcher.send(
        target, endpoint, payload, record=record, pin=pin, prepare=prepare
    )
    record_reply_usage(record, served.reply.content)
    return served


async def relay_body(
    gateway: Gateway,
    target: ModelTarget,
    endpoint: Endpoint,
    body: dict[str, Any],
    record: RequestRecord | None,
    build: Build = with_model_defaults,
) -> Response:
    """Send the client's JSON `body` to `endpoint` (made for each model by `build`) and relay
    the whole reply as it is, its model renamed (speech, rerank, tokenize: nothing to add or
    check)."""
    payload = JsonPayload(body, build)
    served = await gateway.dispatcher.send(target, endpoint, payload, record=record)
    return relay_json(served, target)
