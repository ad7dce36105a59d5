"""POST /v1/messages (Anthropic Messages) as LocalAI v4.9 answers it
(core/http/endpoints/anthropic/messages.go, core/schema/anthropic.go).

Quirks kept: `message_start` goes out before inference with zero usage; the stream has no
[DONE] and a failure is an `error` event with no `message_stop`; `stop_reason` is `end_turn`
even when `max_tokens` cut the answer; errors are Anthropic-shaped, not Echo's.
"""

from __future__ import annotations

from typing import Any

from tests.support.chunks import named_event

from ._chat import FAILURE, MIDSTREAM_CHUNKS, last_user_text, message_text, words
from ._completions import SSE_HEADERS
from ._http import Reply, Request, json_reply
from ._state import State
from ._wire import new_id


class AnthropicRefusal(Exception):
    """Raised to answer with LocalAI's Anthropic error body."""

    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message

    def reply(self) -> Reply:
        body = {"type": "error", "error": {"type": self.kind, "message": self.message}}
        return json_reply(self.status, body)


async def messages(request: Request, state: State) -> Reply:
    """Answer an Anthropic Messages request, streamed or not."""
    try:
        return _answer(request, state)
    except AnthropicRefusal as refusal:
        return refusal.reply()


def _answer(request: Request, state: State) -> Reply:
    body = request.json_object()
    if not body.get("model"):
        raise AnthropicRefusal(400, "invalid_request_error", "model is required")
    model = state.resolve_model(body["model"])
    limit = body.get("max_tokens")
    if not isinstance(limit, int) or limit <= 0:
        message = "max_tokens is required and must be greater than 0"
        raise AnthropicRefusal(400, "invalid_request_error", message)
    turns = body.get("messages") if isinstance(body.get("messages"), list) else []
    prompt = last_user_text(turns)
    answer = words(f"mocked response to: {prompt}")[:limit]
    input_tokens = sum(len(message_text(m).split()) for m in turns if isinstance(m, dict))
    message_id = f"msg_{new_id()}"
    if body.get("stream") is True:
        return Reply(200, SSE_HEADERS, _stream(model, message_id, prompt, answer), stream=True)
    if "MOCK_ERROR" in prompt:
        raise AnthropicRefusal(500, "api_error", f"model inference failed: {FAILURE}")
    reply = {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": "".join(answer)}],
        "model": model,
        "stop_reason": "end_turn",
        "usage": {"input_tokens": input_tokens, "output_tokens": len(answer)},
    }
    return json_reply(200, reply)


def _stream(model: str, message_id: str, prompt: str, answer: list[str]) -> list[bytes]:
    start = {"id": message_id, "type": "message", "role": "assistant", "content": []}
    start |= {"model": model, "stop_reason": None, "usage": {"input_tokens": 0, "output_tokens": 0}}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    failure = {"type": "error", "error": {"type": "api_error", "message": ""}}
    failure["error"]["message"] = f"model inference failed: {FAILURE}"
    if "MOCK_ERROR_IMMEDIATE" in prompt or "MOCK_ERROR_MIDSTREAM" in prompt:
        sent = 0 if "IMMEDIATE" in prompt else MIDSTREAM_CHUNKS
        events += [_delta(piece) for piece in answer[:sent]]
        return [named_event(event) for event in [*events, failure]]
    events += [_delta(piece) for piece in answer]
    events += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"input_tokens": 0, "output_tokens": len(answer)},
        },
        {"type": "message_stop"},
    ]
    return [named_event(event) for event in events]


def _delta(text: str) -> dict[str, Any]:
    return {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": text},
    }
