"""Shared builders for app tests: LocalAI-shaped bodies and SSE streams."""

from __future__ import annotations

from typing import Any

import orjson


def localai_chat(model: str = "qwen3-30b-instruct:q4_k_m", content: str = "hi") -> dict[str, Any]:
    """A non-streaming LocalAI chat reply (bare uuid id, model echoed)."""
    return {
        "created": 1,
        "object": "chat.completion",
        "id": "3b1f0d6a-0000-4000-8000-000000000000",
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


def localai_stream(model: str, words: list[str], *, error: dict[str, Any] | None = None) -> bytes:
    """A LocalAI SSE body: role chunk with null content, words, final chunk, [DONE]."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {
            "created": 1,
            "object": "chat.completion.chunk",
            "id": "u",
            "model": model,
            "choices": [{"index": 0, "finish_reason": finish, "delta": delta}],
        }
        return b"data: " + orjson.dumps(body) + b"\n\n"

    events = [chunk({"role": "assistant", "content": None})]
    events += [chunk({"content": word}) for word in words]
    if error is not None:
        events.append(b"data: " + orjson.dumps({"error": error}) + b"\n\n")
    else:
        events.append(chunk({"content": None}, "stop"))
    events.append(b"data: [DONE]\n\n")
    return b"".join(events)


def sse_payloads(text: str) -> list[Any]:
    """Parse a client-side SSE body into payloads ([DONE] kept as the string)."""
    out: list[Any] = []
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            data = block[6:]
            out.append(data if data == "[DONE]" else orjson.loads(data))
    return out
