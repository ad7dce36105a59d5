"""POST /v1/completions as LocalAI v4.9 answers it (core/http/endpoints/openai/completion.go).

Quirks kept: a whole answer's `usage` counts 0 prompt and completion tokens (LocalAI only adds
up timings); `finish_reason` is `stop` even when `max_tokens` cut the answer (only chat says
`length`); a stream needs exactly one prompt; its usage trailer says `chat.completion.chunk`;
a failure after the headers is a text chunk "Internal error: ..." with no [DONE].
"""

from __future__ import annotations

from typing import Any

from tests.support.chunks import SSE_DONE, completion_chunk, sse_event

from ._chat import FAILURE, MIDSTREAM_CHUNKS, words
from ._http import Refusal, Reply, Request, json_reply
from ._state import State
from ._wire import new_id, now

SSE_HEADERS = [
    ("content-type", "text/event-stream"),
    ("cache-control", "no-cache"),
    ("connection", "keep-alive"),
]


def prompts(body: dict[str, Any]) -> list[str]:
    """The prompt strings: `prompt` as a string or a list of strings."""
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and all(isinstance(p, str) for p in prompt):
        return list(prompt)
    raise Refusal.echo(400, "prompt is required")


def pieces(prompt: str, body: dict[str, Any]) -> list[str]:
    """The answer's one-word pieces, at most `max_tokens` of them."""
    answer = words(f"mocked completion of: {prompt}")
    limit = body.get("max_tokens")
    return answer[:limit] if isinstance(limit, int) and limit > 0 else answer


async def completions(request: Request, state: State) -> Reply:
    """Complete each prompt, streamed (one prompt only) or not."""
    body = request.json_object()
    model = state.resolve_model(body.get("model"))
    texts = prompts(body)
    if "MOCK_ERROR" in texts[0] and not body.get("stream"):
        raise Refusal(500, f"rpc error: code = Unknown desc = {FAILURE}")
    if not body.get("stream"):
        choices = []
        for index, prompt in enumerate(texts):
            text = "".join(pieces(prompt, body))
            choices.append({"index": index, "finish_reason": "stop", "text": text})
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        made = {"created": now(), "object": "text_completion", "id": new_id(), "model": model}
        return json_reply(200, {**made, "choices": choices, "usage": usage})
    if len(texts) != 1:
        raise Refusal.echo(400, "streaming completions require exactly one prompt string")
    correlation = request.headers.get("x-correlation-id") or new_id()
    return Reply(200, SSE_HEADERS, _stream(model, correlation, texts[0], body), stream=True)


def _stream(model: str, id: str, prompt: str, body: dict[str, Any]) -> list[bytes]:
    made = {"model": model, "id": id, "created": now()}
    answer = pieces(prompt, body)
    if "MOCK_ERROR_IMMEDIATE" in prompt:
        return [sse_event(completion_chunk(f"Internal error: {FAILURE}", "stop", **made))]
    if "MOCK_ERROR_MIDSTREAM" in prompt:
        events = [sse_event(completion_chunk(p, **made)) for p in answer[:MIDSTREAM_CHUNKS]]
        return [*events, sse_event(completion_chunk(f"Internal error: {FAILURE}", "stop", **made))]
    events = [sse_event(completion_chunk(p, **made)) for p in answer]
    events.append(sse_event(completion_chunk(None, "stop", **made)))
    options = body.get("stream_options") or {}
    if isinstance(options, dict) and options.get("include_usage") is True:
        prompt_tokens = len(prompt.split())
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": len(answer),
            "total_tokens": prompt_tokens + len(answer),
        }
        trailer = {"id": id, "created": made["created"], "model": model}
        trailer |= {"object": "chat.completion.chunk", "choices": [], "usage": usage}
        events.append(sse_event(trailer))
    return [*events, SSE_DONE]
