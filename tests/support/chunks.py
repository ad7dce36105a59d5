"""LocalAI's chat replies and stream chunks, built in one place for every test and the fake.

Chunks are dicts shaped as LocalAI v4.9 sends them (`content` null when empty, no `usage`
but in the trailer); `sse` writes them as LocalAI's wire does (Go-style JSON).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson

_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def go_json(value: Any) -> bytes:
    """Encode like Go's `json.Marshal`: compact, raw UTF-8, HTML characters escaped,
    whole floats without a fraction (`1`, not `1.0`)."""
    text = json.dumps(_go_numbers(value), separators=(",", ":"), ensure_ascii=False)
    for char, escaped in _GO_ESCAPES.items():
        text = text.replace(char, escaped)
    return text.encode()


def _go_numbers(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _go_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_go_numbers(item) for item in value]
    return value


def sse_event(value: Any) -> bytes:
    """One LocalAI SSE event: `data: <json>` and a blank line; no `event:` or `id:` lines."""
    return b"data: " + go_json(value) + b"\n\n"


SSE_DONE = b"data: [DONE]\n\n"


def named_event(value: dict[str, Any]) -> bytes:
    """One named SSE event as LocalAI writes Responses and Messages events: `event: <type>`,
    then the data (Go JSON), then a blank line."""
    return b"event: " + value["type"].encode() + b"\ndata: " + go_json(value) + b"\n\n"


Chunk = dict[str, Any]
CHAT_MODEL = "qwen3-30b-instruct:q4_k_m"
_ID = "3b1f0d6a-0000-4000-8000-000000000000"


def chunk(
    content: str | None = None,
    finish: str | None = None,
    index: int = 0,
    *,
    role: str | None = None,
    model: str = "qwen3",
    id: str = _ID,
    created: int = 1700000000,
    **delta: Any,
) -> Chunk:
    """One `chat.completion.chunk` as LocalAI sends it: `role` first when given, `content` null
    when empty, then any other delta field (e.g. `reasoning`)."""
    fields: dict[str, Any] = {"role": role} if role is not None else {}
    fields |= {"content": content, **delta}
    return {
        "created": created,
        "object": "chat.completion.chunk",
        "id": id,
        "model": model,
        "choices": [{"index": index, "finish_reason": finish, "delta": fields}],
    }


def usage_trailer(
    usage: dict[str, int], *, model: str = "qwen3", id: str = _ID, created: int = 1700000000
) -> Chunk:
    """The `include_usage` trailer: no choices, only usage."""
    return {
        "created": created,
        "object": "chat.completion.chunk",
        "id": id,
        "model": model,
        "choices": [],
        "usage": usage,
    }


def completion_chunk(
    text: str | None = None,
    finish: str | None = None,
    *,
    model: str = "qwen3",
    id: str = _ID,
    created: int = 1700000000,
) -> dict[str, Any]:
    """One streamed `text_completion` chunk as LocalAI sends it (`text` left out when empty)."""
    choice: dict[str, Any] = {"index": 0, "finish_reason": finish}
    if text:
        choice["text"] = text
    return {
        "created": created,
        "object": "text_completion",
        "id": id,
        "model": model,
        "choices": [choice],
    }


def stream(pieces: Iterable[str], finish: str | None = "stop", **fields: Any) -> list[Chunk]:
    """Role chunk, one chunk per piece of content, then the finish chunk (unless None)."""
    chunks = [chunk(role="assistant", **fields)]
    chunks += [chunk(piece, **fields) for piece in pieces]
    if finish is not None:
        chunks.append(chunk(finish=finish, **fields))
    return chunks


def sse(chunks: Iterable[Chunk], *, error: dict[str, Any] | None = None) -> bytes:
    """An SSE body of `chunks` (then an error event if given), ended by `[DONE]`."""
    events = [sse_event(item) for item in chunks]
    if error is not None:
        events.append(sse_event({"error": error}))
    return b"".join(events) + SSE_DONE


def localai_stream(model: str, words: list[str], *, error: dict[str, Any] | None = None) -> bytes:
    """A LocalAI SSE body: role chunk, one chunk per word, and the final chunk or an error."""
    chunks = stream(words, None if error else "stop", model=model)
    return sse(chunks, error=error)


def localai_chat(model: str = CHAT_MODEL, content: str = "hi") -> dict[str, Any]:
    """A non-streaming LocalAI chat reply (bare uuid id, model echoed)."""
    return {
        "created": 1,
        "object": "chat.completion",
        "id": _ID,
        "model": model,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": content},
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }


def sse_payloads(text: str) -> list[Any]:
    """Parse a client-side SSE body into payloads ([DONE] kept as the string)."""
    out: list[Any] = []
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            data = block[6:]
            out.append(data if data == "[DONE]" else orjson.loads(data))
    return out
