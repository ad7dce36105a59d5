"""The Open Responses routes as LocalAI v4.9 answers them
(core/http/endpoints/openresponses/responses.go, core/schema/openresponses.go).

POST /v1/responses (streamed or not; `store` defaults to true), GET /v1/responses/{id} and
POST /v1/responses/{id}/cancel. Stored responses live in this process only, as in LocalAI
(each replica has its own store). `background: true` answers `queued` and stores the
completed response at once. Output is text only (no tools).
"""

from __future__ import annotations

from typing import Any

from tests.support.chunks import SSE_DONE, named_event

from ._chat import FAILURE, MIDSTREAM_CHUNKS, message_text, words
from ._completions import SSE_HEADERS
from ._http import Reply, Request, json_reply
from ._state import State
from ._wire import new_id, now


class ResponsesRefusal(Exception):
    """Raised to answer with LocalAI's Open Responses error body."""

    def __init__(self, status: int, kind: str, message: str, param: str = "") -> None:
        super().__init__(message)
        self.status, self.kind, self.message, self.param = status, kind, message, param

    def reply(self) -> Reply:
        error = {"type": self.kind, "message": self.message}
        if self.param:
            error["param"] = self.param
        return json_reply(self.status, {"error": error})


def input_text(value: Any) -> str:
    """The text of the last user turn of `input` (a string or a list of items)."""
    if isinstance(value, str):
        return value
    for item in reversed(value if isinstance(value, list) else []):
        if isinstance(item, dict) and item.get("role") == "user":
            content = item.get("content")
            if isinstance(content, list):
                return " ".join(
                    p.get("text", "")
                    for p in content
                    if isinstance(p, dict) and p.get("type") in ("input_text", "text")
                )
            return message_text(item)
    return ""


def resource(
    body: dict[str, Any], response_id: str, status: str, output: list[Any], usage: Any
) -> dict[str, Any]:
    """LocalAI's `buildORResponse`: every field, in its order, with its defaults."""
    tools = body.get("tools") or []
    completed = now() if status == "completed" else None
    return {
        "id": response_id,
        "object": "response",
        "created_at": now(),
        "completed_at": completed,
        "status": status,
        "model": body.get("model"),
        "output": output,
        "error": None,
        "incomplete_details": None,
        "previous_response_id": body.get("previous_response_id") or None,
        "instructions": body.get("instructions") or None,
        "tools": tools,
        "tool_choice": body.get("tool_choice") or ("auto" if tools else "none"),
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "max_tool_calls": body.get("max_tool_calls"),
        "temperature": body.get("temperature", 1.0),
        "top_p": body.get("top_p", 1.0),
        "presence_penalty": body.get("presence_penalty", 0.0),
        "frequency_penalty": body.get("frequency_penalty", 0.0),
        "top_logprobs": body.get("top_logprobs") or 0,
        "max_output_tokens": body.get("max_output_tokens"),
        "text": {"format": {"type": "text"}},
        "truncation": body.get("truncation") or "auto",
        "reasoning": None,
        "usage": usage,
        "metadata": body.get("metadata") or {},
        "store": body.get("store", True) is not False,
        "background": body.get("background") is True,
        "service_tier": body.get("service_tier") or "default",
        "safety_identifier": None,
        "prompt_cache_key": None,
    }


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, status: str, text: str | None) -> dict[str, Any]:
    """A message output item; LocalAI always writes `arguments` and `summary`."""
    content = [] if text is None else [text_part(text)]
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": content,
        "arguments": "",
        "summary": [],
    }


def usage(prompt: str, answer: list[str]) -> dict[str, Any]:
    tokens = len(prompt.split())
    return {
        "input_tokens": tokens,
        "output_tokens": len(answer),
        "total_tokens": tokens + len(answer),
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    }


async def create(request: Request, state: State) -> Reply:
    """POST /v1/responses."""
    try:
        return _create(request, state)
    except ResponsesRefusal as refusal:
        return refusal.reply()


def _create(request: Request, state: State) -> Reply:
    body = request.json_object()
    body["model"] = state.resolve_model(body.get("model"))
    previous = body.get("previous_response_id")
    if previous and previous not in state.responses:
        message = f"previous response not found: {previous}"
        raise ResponsesRefusal(404, "not_found", message, "previous_response_id")
    prompt = input_text(body.get("input"))
    answer = words(f"mocked response to: {prompt}")
    limit = body.get("max_output_tokens")
    if isinstance(limit, int) and 0 < limit < len(answer):
        answer = answer[:limit]
    response_id = f"resp_{new_id()}"
    store = body.get("store", True) is not False
    item = message_item(f"msg_{new_id()}", "completed", "".join(answer))
    done = resource(body, response_id, "completed", [item], usage(prompt, answer))
    if body.get("background") is True:
        state.responses[response_id] = done
        return json_reply(200, resource(body, response_id, "queued", [], None))
    if body.get("stream") is True:
        events = _stream(body, response_id, prompt, answer, item["id"], done)
    elif "MOCK_ERROR" in prompt:
        raise ResponsesRefusal(500, "model_error", f"model inference failed: {FAILURE}")
    else:
        events = []
    if store and not (body.get("stream") and "MOCK_ERROR" in prompt):
        state.responses[response_id] = done
    if events:
        return Reply(200, SSE_HEADERS, events, stream=True)
    return json_reply(200, done)


def _stream(
    body: dict[str, Any],
    response_id: str,
    prompt: str,
    answer: list[str],
    item_id: str,
    done: dict[str, Any],
) -> list[bytes]:
    created = resource(body, response_id, "in_progress", [], None)
    where = {"output_index": 0, "content_index": 0, "item_id": item_id}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": created},
        {"type": "response.in_progress", "response": created},
        {"type": "response.output_item.added", "output_index": 0},
        {"type": "response.content_part.added", **where, "part": text_part("")},
    ]
    events[2]["item"] = message_item(item_id, "in_progress", None)
    failing = "MOCK_ERROR_IMMEDIATE" in prompt or "MOCK_ERROR_MIDSTREAM" in prompt
    sent = answer[: 0 if "IMMEDIATE" in prompt else MIDSTREAM_CHUNKS] if failing else answer
    for piece in sent:
        delta = {"type": "response.output_text.delta", "output_index": 0, "content_index": 0}
        events.append({**delta, "item_id": item_id, "delta": piece, "logprobs": []})
    if failing:
        error = {"type": "model_error", "message": f"model inference failed: {FAILURE}"}
        events.append({"type": "error", "error": error})
        events.append({"type": "response.failed", "response": {**created, "status": "failed"}})
        return [*(named_event(_numbered(e, n)) for n, e in enumerate(events)), SSE_DONE]
    text = "".join(answer)
    events += [
        {"type": "response.output_text.done", **where, "text": text, "logprobs": []},
        {"type": "response.content_part.done", **where, "part": text_part(text)},
        {"type": "response.output_item.done", "output_index": 0, "item": done["output"][0]},
        {"type": "response.completed", "response": done},
    ]
    return [*(named_event(_numbered(e, n)) for n, e in enumerate(events)), SSE_DONE]


def _numbered(event: dict[str, Any], number: int) -> dict[str, Any]:
    """The event with `sequence_number` second, as Go writes `ORStreamEvent`."""
    kind, rest = event["type"], {k: v for k, v in event.items() if k != "type"}
    return {"type": kind, "sequence_number": number, **rest}


async def stored(request: Request, state: State) -> Reply:
    """GET /v1/responses/{id}: the stored response, or LocalAI's 404."""
    response_id = request.route.removeprefix("/v1/responses/")
    found = state.responses.get(response_id)
    if found is None:
        return _not_found(response_id)
    return json_reply(200, found)


async def cancel(request: Request, state: State) -> Reply:
    """POST /v1/responses/{id}/cancel: a finished response is returned as it is."""
    response_id = request.route.removeprefix("/v1/responses/").removesuffix("/cancel")
    found = state.responses.get(response_id)
    if found is None:
        return _not_found(response_id)
    return json_reply(200, found)


def _not_found(response_id: str) -> Reply:
    return ResponsesRefusal(404, "not_found", f"response not found: {response_id}", "id").reply()
