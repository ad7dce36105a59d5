"""Open Responses to and from chat: the body, the whole response, and the event stream.

`instructions`, `input` (a string, or message items in any role), `max_output_tokens`,
`temperature`, `top_p`, `text.format` (JSON schema or object: the grammar) and streaming
translate; tool items, images and files are refused, reasoning items left out. Nothing is
stored in-process, so `background` is refused (and `previous_response_id`, by the request).
The resource has every field LocalAI writes; an answer cut by `max_output_tokens` is
`incomplete`, as OpenAI says.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from ..errors import InvalidRequest
from .chat import block_text, chat_request, chunk_parts, completion_text, refuse

_TEXT = frozenset({"input_text", "output_text", "text"})
_UNSENT = frozenset({"reasoning"})
_ROLES = ("user", "assistant", "system", "developer")

Event = dict[str, Any]


def chat_body(body: dict[str, Any]) -> dict[str, Any]:
    """The in-process chat body of a Responses body (checked by `ResponsesRequest.parse`)."""
    refuse(body, "tools", "tool_choice", "background")
    messages = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": str(body["instructions"])})
    items = body["input"]
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    for index, item in enumerate(items):
        if isinstance(item, dict) and item.get("type") in _UNSENT:
            continue
        role = item.get("role") if isinstance(item, dict) else None
        if role not in _ROLES or item.get("type", "message") != "message":
            kind = item.get("type") if isinstance(item, dict) else None
            message = f"'input.{index}': in-process models take message items, not {kind!r}."
            raise InvalidRequest(message, param="input")
        content = block_text(item.get("content"), f"input.{index}.content", _TEXT, frozenset())
        messages.append({"role": role, "content": content})
    chat = chat_request(body, messages, body.get("max_output_tokens"))
    response_format = _response_format((body.get("text") or {}).get("format"))
    if response_format is not None:
        chat["response_format"] = response_format
    return chat


def _response_format(fmt: Any) -> dict[str, Any] | None:
    """Chat's `response_format` for Responses' `text.format`."""
    if not isinstance(fmt, dict) or fmt.get("type") in (None, "text"):
        return None
    if fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    return {"type": fmt["type"]}


def new_id() -> str:
    """A response id like LocalAI's (the relay turns it into the gateway's)."""
    return f"resp_{uuid.uuid4()}"


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message_item(item_id: str, status: str, text: str | None) -> dict[str, Any]:
    content = [] if text is None else [text_part(text)]
    item = {"type": "message", "id": item_id, "status": status, "role": "assistant"}
    return {**item, "content": content}


def _usage(usage: dict[str, Any]) -> dict[str, Any]:
    prompt, completion = usage.get("prompt_tokens") or 0, usage.get("completion_tokens") or 0
    return {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": prompt + completion,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    }


def resource(
    body: dict[str, Any],
    ids: tuple[str, str],
    model: str,
    finish: str | None,
    answer: tuple[str, dict[str, Any]] | None,
) -> dict[str, Any]:
    """The response resource, as LocalAI builds it: in progress while `answer` (text, usage)
    is None, else completed, or incomplete when `finish` says `max_output_tokens` cut it."""
    response_id, item_id = ids
    status, incomplete, output, usage = "in_progress", None, [], None
    if answer is not None:
        status = "incomplete" if finish == "length" else "completed"
        if finish == "length":
            incomplete = {"reason": "max_output_tokens"}
        output = [_message_item(item_id, "completed", answer[0])]
        usage = _usage(answer[1])
    now = int(time.time())
    return {
        "id": response_id,
        "object": "response",
        "created_at": now,
        "completed_at": None if answer is None else now,
        "status": status,
        "model": model,
        "output": output,
        "error": None,
        "incomplete_details": incomplete,
        "previous_response_id": None,
        "instructions": body.get("instructions") or None,
        "tools": [],
        "tool_choice": "none",
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "max_tool_calls": body.get("max_tool_calls"),
        "temperature": body.get("temperature", 1.0),
        "top_p": body.get("top_p", 1.0),
        "presence_penalty": body.get("presence_penalty", 0.0),
        "frequency_penalty": body.get("frequency_penalty", 0.0),
        "top_logprobs": body.get("top_logprobs") or 0,
        "max_output_tokens": body.get("max_output_tokens"),
        "text": body.get("text") or {"format": {"type": "text"}},
        "truncation": body.get("truncation") or "auto",
        "reasoning": None,
        "usage": usage,
        "metadata": body.get("metadata") or {},
        "store": False,  # nothing is stored in-process
        "background": False,
        "service_tier": body.get("service_tier") or "default",
        "safety_identifier": None,
        "prompt_cache_key": None,
    }


def response(completion: dict[str, Any], body: dict[str, Any], model: str) -> dict[str, Any]:
    """The response resource of a whole in-process chat completion."""
    text, finish, usage = completion_text(completion)
    ids = (new_id(), f"msg_{uuid.uuid4()}")
    return resource(body, ids, model, finish, (text, usage))


class ResponseEvents:
    """The Open Responses event stream of one in-process chat stream, made chunk by chunk, in
    LocalAI's order (numbered): created, in progress, the message item and its text part at
    the first chunk, a text delta per chunk, then (`close`) the text, part and item done and
    `response.completed` (or `response.incomplete`)."""

    def __init__(self, body: dict[str, Any], model: str) -> None:
        self.body = body
        self.model = model
        self.ids = (new_id(), f"msg_{uuid.uuid4()}")
        self.sequence = 0
        self.started = False
        self.text: list[str] = []
        self.finish: str | None = None
        self.usage: dict[str, Any] = {}

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        """The events one chat chunk makes."""
        events = self._start()
        text, finish, usage = chunk_parts(chunk)
        if text:
            self.text.append(text)
            delta = {**self._where(), "delta": text, "logprobs": []}
            events.append(self._event("response.output_text.delta", delta))
        self.finish = finish or self.finish
        self.usage = usage or self.usage
        return events

    def close(self) -> list[Event]:
        """The events that end the stream, once the chat stream ended."""
        events = self._start()
        text = "".join(self.text)
        done = resource(self.body, self.ids, self.model, self.finish, (text, self.usage))
        ending = "response.incomplete" if done["status"] == "incomplete" else "response.completed"
        return [
            *events,
            self._event(
                "response.output_text.done", {**self._where(), "text": text, "logprobs": []}
            ),
            self._event("response.content_part.done", {**self._where(), "part": text_part(text)}),
            self._event(
                "response.output_item.done", {"output_index": 0, "item": done["output"][0]}
            ),
            self._event(ending, {"response": done}),
        ]

    def _start(self) -> list[Event]:
        if self.started:
            return []
        self.started = True
        created = resource(self.body, self.ids, self.model, None, None)
        item = _message_item(self.ids[1], "in_progress", None)
        return [
            self._event("response.created", {"response": created}),
            self._event("response.in_progress", {"response": created}),
            self._event("response.output_item.added", {"output_index": 0, "item": item}),
            self._event("response.content_part.added", {**self._where(), "part": text_part("")}),
        ]

    def _where(self) -> dict[str, Any]:
        return {"output_index": 0, "content_index": 0, "item_id": self.ids[1]}

    def _event(self, kind: str, fields: dict[str, Any]) -> Event:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event
