"""Anthropic Messages to and from chat: the body, the whole message, and the event stream.

Text turns, `system`, `max_tokens`, `temperature`, `top_p`, `top_k`, `stop_sequences` and
streaming translate; images, documents and tool blocks are refused (the in-process backend has
no tools), `thinking` blocks sent back in assistant turns are left out.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from ..errors import InvalidRequest
from .chat import block_text, chat_request, chunk_parts, completion_text, refuse

_TEXT = frozenset({"text"})
_UNSENT = frozenset({"thinking", "redacted_thinking"})
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}

Event = dict[str, Any]


def chat_body(body: dict[str, Any]) -> dict[str, Any]:
    """The in-process chat body of a Messages body (checked by `MessagesRequest.parse`)."""
    refuse(body, "tools", "tool_choice")
    messages = []
    if body.get("system"):
        messages.append(
            {"role": "system", "content": block_text(body["system"], "system", _TEXT, _UNSENT)}
        )
    for index, turn in enumerate(body["messages"]):
        role = turn.get("role") if isinstance(turn, dict) else None
        if role not in ("user", "assistant"):
            where = f"messages.{index}.role"
            raise InvalidRequest(f"'{where}' must be 'user' or 'assistant'.", param=where)
        where = f"messages.{index}.content"
        messages.append(
            {"role": role, "content": block_text(turn.get("content"), where, _TEXT, _UNSENT)}
        )
    chat = chat_request(body, messages, body.get("max_tokens"))
    if body.get("stop_sequences"):
        chat["stop"] = body["stop_sequences"]
    return chat


def message(completion: dict[str, Any], model: str) -> dict[str, Any]:
    """The Anthropic `message` of a whole in-process chat completion."""
    text, finish, usage = completion_text(completion)
    return {
        "id": new_id(),
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": text}],
        "model": model,
        "stop_reason": STOP_REASONS.get(finish or "stop", "end_turn"),
        "stop_sequence": None,
        "usage": _usage(usage),
    }


def new_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def _usage(usage: dict[str, Any]) -> dict[str, int]:
    return {
        "input_tokens": usage.get("prompt_tokens") or 0,
        "output_tokens": usage.get("completion_tokens") or 0,
    }


def text_of(body: dict[str, Any]) -> str:
    """The text `count_tokens` counts, one part per line: the system prompt, every turn's
    blocks (text as it is, other blocks as JSON) and the tools (as JSON)."""
    turns = [turn for turn in body.get("messages") or () if isinstance(turn, dict)]
    parts = [_countable(body.get("system"))]
    parts += [_countable(turn.get("content")) for turn in turns]
    parts += [orjson.dumps(tool).decode() for tool in body.get("tools") or ()]
    return "\n".join(part for part in parts if part)


def _countable(content: object) -> str:
    if isinstance(content, str):
        return content
    blocks = (
        [block for block in content if isinstance(block, dict)] if isinstance(content, list) else []
    )
    return "\n".join(
        str(block.get("text") or "")
        if block.get("type") == "text"
        else orjson.dumps(block).decode()
        for block in blocks
    )


class MessageEvents:
    """The Anthropic event stream of one in-process chat stream, made chunk by chunk:
    `message_start` and a text block at the first chunk, a `content_block_delta` per text
    delta, then (`close`) the block's end, `message_delta` with the stop reason and usage, and
    `message_stop`."""

    def __init__(self, model: str) -> None:
        self.model = model
        self.started = False
        self.stop_reason = "end_turn"
        self.usage: dict[str, Any] = {}

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        """The events one chat chunk makes."""
        events = self._start()
        text, finish, usage = chunk_parts(chunk)
        if text:
            delta = {"type": "text_delta", "text": text}
            events.append({"type": "content_block_delta", "index": 0, "delta": delta})
        if finish is not None:
            self.stop_reason = STOP_REASONS.get(finish, "end_turn")
        if usage:
            self.usage = usage
        return events

    def close(self) -> list[Event]:
        """The events that end the stream, once the chat stream ended."""
        delta = {"stop_reason": self.stop_reason, "stop_sequence": None}
        return [
            *self._start(),
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": delta, "usage": _usage(self.usage)},
            {"type": "message_stop"},
        ]

    def _start(self) -> list[Event]:
        if self.started:
            return []
        self.started = True
        message: dict[str, Any] = {
            "id": new_id(),
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": self.model,
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        block = {"type": "text", "text": ""}
        return [
            {"type": "message_start", "message": message},
            {"type": "content_block_start", "index": 0, "content_block": block},
        ]
