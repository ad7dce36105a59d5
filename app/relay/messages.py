"""Anthropic Messages (`/v1/messages`): the body read once, a whole message or its events
relayed (native for LocalAI, translated from chat in-process: `app.translate.messages`).

LocalAI ends every answer with `stop_reason: "end_turn"`, also one that used all of
`max_tokens` (core/http/endpoints/anthropic/messages.go); the relay says `max_tokens` then,
as Anthropic does, because clients such as Claude Code continue a cut answer only when told.

Errors on these routes are Anthropic-shaped (`app.errors.ErrorResponse`); a stream that fails
after its first byte ends with an Anthropic `error` event.
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from ..errors import InvalidRequest
from ..media.image_parts import ImageParts, messages_images
from ..observability.record import RequestRecord
from ..registry import ModelTarget
from ..state import Gateway
from ..upstream import endpoints
from ..upstream.dispatch import Prepare
from ..upstream.open_stream import OpenStream
from ..upstream.payloads import JsonPayload
from ..upstream.routing import prefix_key
from .bodies import check_tools, request_needs, require_field, rewrite_model
from .events import MESSAGES_FORMAT, Rewrite, relay_events
from .replies import relay_json, send_counted
from .stream import stream_reply


@dataclass(frozen=True, slots=True)
class MessagesRequest:
    """A client's Messages body and what the gateway read from it."""

    body: dict[str, Any]
    stream: bool
    images: ImageParts
    routing_key: int | None  # the conversation's, for a model routed by prefix

    @classmethod
    def parse(cls, body: dict[str, Any], target: ModelTarget) -> MessagesRequest:
        """Read a Messages body for `target`; raise `InvalidRequest` (400) naming the first bad
        field. `max_tokens` is required, as by Anthropic, unless the model has a default."""
        require_field(body, "messages", list)
        limit = body.get("max_tokens", target.defaults.get("max_tokens"))
        if type(limit) is not int or limit < 1:
            raise InvalidRequest(
                "'max_tokens' is required and must be a positive integer.", param="max_tokens"
            )
        check_tools(body, target)
        _lift_tool_result_images(body["messages"])
        routed = target.routing.policy == "prefix"
        key = prefix_key(body["messages"], body.get("system")) if routed else None
        return cls(body, body.get("stream") is True, messages_images(body), key)

    def payload(self) -> JsonPayload:
        """The upstream bodies: the model's defaults applied and its LocalAI name set."""
        needs = request_needs(self.body, self.images)
        return JsonPayload(self.body, routing_key=self.routing_key, needs=needs)

    def rewrite(self, served: ModelTarget) -> Rewrite:
        """The rewrite of what `served` answers: its model renamed to the internal id, and a cut
        answer said so against the limit it worked to (the client's, else its default)."""
        member, limit = (
            served.member,
            self.body.get("max_tokens", served.defaults.get("max_tokens")),
        )
        if type(limit) is not int:
            return lambda data: rewrite_model(data, member)
        return lambda data: mark_cut_answer(rewrite_model(data, member), limit)


_END_TURN = b'"stop_reason":"end_turn"'
_MAX_TOKENS = b'"stop_reason":"max_tokens"'
_OUTPUT_TOKENS = re.compile(rb'"output_tokens":(\d+)')


def mark_cut_answer(data: bytes, limit: int) -> bytes:
    """`data` (a message, or a batch of events) with an `end_turn` that used all of `limit`
    tokens said as `max_tokens`. LocalAI writes usage after the stop reason, in the message
    and in its `message_delta` event; a JSON string cannot hold the unescaped marker."""
    at = data.find(_END_TURN)
    if at < 0:
        return data
    used = _OUTPUT_TOKENS.search(data, at)
    if used is None or int(used[1]) < limit:
        return data
    return data[:at] + _MAX_TOKENS + data[at + len(_END_TURN) :]


def _lift_tool_result_images(messages: list[Any]) -> None:
    """Move the image blocks inside `tool_result` blocks to just after them, in the same message:
    LocalAI keeps only the text of a tool result (core/http/endpoints/anthropic/messages.go)
    and reads images from a message's own blocks, so a tool's screenshot still reaches the model."""
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list) or not any(map(_has_nested_image, content)):
            continue
        lifted: list[Any] = []
        for block in content:
            lifted.append(block)
            if _has_nested_image(block):
                inner = block["content"]
                block["content"] = [part for part in inner if not _is_image(part)]
                lifted += [part for part in inner if _is_image(part)]
        message["content"] = lifted


def _is_image(block: object) -> bool:
    return isinstance(block, dict) and block.get("type") == "image"


def _has_nested_image(block: object) -> bool:
    """Whether `block` is a tool result with an image among its content blocks."""
    if not isinstance(block, dict) or block.get("type") != "tool_result":
        return False
    inner = block.get("content")
    return isinstance(inner, list) and any(map(_is_image, inner))


async def create_message(
    gateway: Gateway,
    target: ModelTarget,
    request: MessagesRequest,
    record: RequestRecord | None,
    prepare: Prepare | None = None,
) -> Response:
    """Relay a whole message, with the model renamed back to the internal id."""
    payload = request.payload()
    served = await send_counted(
        gateway, target, endpoints.MESSAGES, payload, record=record, prepare=prepare
    )
    return relay_json(served, target, request.rewrite(served.target)(served.reply.content))


async def stream_message(
    gateway: Gateway,
    target: ModelTarget,
    request: MessagesRequest,
    record: RequestRecord | None,
    prepare: Prepare | None = None,
) -> Response:
    """Relay the upstream event stream once its first answer event arrived."""

    def relay(stream: OpenStream) -> AsyncGenerator[bytes]:
        return relay_events(stream, MESSAGES_FORMAT, request.rewrite(stream.target), record)

    payload, failure = request.payload(), MESSAGES_FORMAT.failure
    return await stream_reply(
        gateway,
        target,
        endpoints.MESSAGES,
        payload,
        relay,
        record=record,
        prepare=prepare,
        failure=failure,
    )
