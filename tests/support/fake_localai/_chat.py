"""POST /v1/chat/completions: deterministic answers, LocalAI's stream shape, magic prompts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support.chunks import SSE_DONE, chunk, sse_event, usage_trailer

from ._http import Refusal, Reply, Request, json_reply
from ._state import State
from ._wire import new_id, now, stream_error

THINK_TAGS_ANSWER = "<think>thinking</think>answer"
_THINK_TAGS_PIECE = 5  # small enough that both tags straddle chunk boundaries
MIDSTREAM_CHUNKS = 3
FAILURE = "simulated failure"


@dataclass(frozen=True)
class Answer:
    """What the fake "generates": reasoning and content pieces (one chunk each)."""

    reasoning: list[str]
    content: list[str]
    finish_reason: str
    prompt_tokens: int

    def usage(self) -> dict[str, int]:
        completion = len(self.reasoning) + len(self.content)
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }


async def chat_completions(request: Request, state: State) -> Reply:
    """Answer a chat request as LocalAI v4.9 would, streamed or not."""
    body = request.json_object()
    model = state.resolve_model(body.get("model"))
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Refusal.echo(400, "messages is required")
    prompt = last_user_text(messages)
    stream = body.get("stream") is True
    if "MOCK_ERROR" in prompt and not stream:
        raise Refusal(500, f"rpc error: code = Unknown desc = {FAILURE}")
    answer = make_answer(model, prompt, messages, body)
    if not stream:
        return json_reply(200, _completion(model, answer))
    options = body.get("stream_options") or {}
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    events = _stream_events(model, prompt, answer, include_usage)
    headers = [
        ("content-type", "text/event-stream"),
        ("cache-control", "no-cache"),
        ("connection", "keep-alive"),
    ]
    return Reply(200, headers, events, stream=True)


def last_user_text(messages: list[Any]) -> str:
    """The text of the last user message; text parts of a multimodal message joined by spaces."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return message_text(message)
    return ""


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        texts = [
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        ]
        return " ".join(texts)
    return content if isinstance(content, str) else ""


def make_answer(model: str, prompt: str, messages: list[Any], body: dict[str, Any]) -> Answer:
    """The deterministic answer; MOCK_REASONING or a reasoning model adds reasoning pieces."""
    prompt_tokens = sum(len(message_text(m).split()) for m in messages if isinstance(m, dict))
    if "MOCK_THINK_TAGS" in prompt:
        text = THINK_TAGS_ANSWER
        pieces = [text[i : i + _THINK_TAGS_PIECE] for i in range(0, len(text), _THINK_TAGS_PIECE)]
        return Answer([], pieces, "stop", prompt_tokens)
    content = words(f"mocked response to: {prompt}")
    reasoning: list[str] = []
    if "MOCK_REASONING" in prompt or any(k in model for k in ("reasoning", "thinking")):
        reasoning = words(f"thinking about: {prompt}")
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(limit, int) and 0 < limit < len(content):
        return Answer(reasoning, content[:limit], "length", prompt_tokens)
    return Answer(reasoning, content, "stop", prompt_tokens)


def words(text: str) -> list[str]:
    """Split into one-word pieces whose concatenation is `text` (spaces lead each piece)."""
    parts = text.split(" ")
    return [parts[0], *(" " + p for p in parts[1:])]


def _completion(model: str, answer: Answer) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": "".join(answer.content)}
    if answer.reasoning:
        message["reasoning"] = "".join(answer.reasoning)
    return {
        "created": now(),
        "object": "chat.completion",
        "id": new_id(),
        "model": model,
        "choices": [{"index": 0, "finish_reason": answer.finish_reason, "message": message}],
        "usage": answer.usage(),
    }


def _stream_events(model: str, prompt: str, answer: Answer, include_usage: bool) -> list[bytes]:
    """The SSE events in LocalAI's order: role, reasoning, content, finish, usage?, [DONE]."""
    if "MOCK_ERROR_IMMEDIATE" in prompt:
        return [sse_event(stream_error(FAILURE)), SSE_DONE]
    made = {"model": model, "id": new_id(), "created": now()}

    def delta(content: str | None, finish: str | None = None, **fields: Any) -> bytes:
        return sse_event(chunk(content, finish, **made, **fields))

    events = [delta(None, role="assistant")]
    events += [delta(None, reasoning=piece) for piece in answer.reasoning]
    if "MOCK_ERROR_MIDSTREAM" in prompt:
        events += [delta(piece) for piece in answer.content[:MIDSTREAM_CHUNKS]]
        return [*events, sse_event(stream_error(FAILURE)), SSE_DONE]
    events += [delta(piece) for piece in answer.content]
    events.append(delta(None, answer.finish_reason))
    if include_usage:
        events.append(sse_event(usage_trailer(answer.usage(), **made)))
    return [*events, SSE_DONE]
