"""Reading a LocalAI reply: JSON whose shape is checked, and the typed chunks of a stream.

A reply that is not JSON or not of the expected shape is an `UpstreamProtocolError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable
from typing import Any, TypeVar

import orjson

from ._client import EventStream
from ._errors import UpstreamProtocolError
from ._types import ChatChunk

T = TypeVar("T")


def shaped(parse: Callable[[Any], T], raw: Any, model: str) -> T:
    """`parse(raw)`; a reply of the wrong shape is an `UpstreamProtocolError`."""
    try:
        return parse(raw)
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise UpstreamProtocolError(
            f"model {model!r}: the upstream answer has an unexpected shape ({exc!r})", model=model
        ) from exc


def upstream_json(content: bytes, model: str, what: str = "an answer") -> Any:
    """The parsed JSON of an upstream reply or event (`what`, for the error); malformed JSON
    is an `UpstreamProtocolError`."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise UpstreamProtocolError(
            f"model {model!r}: the upstream sent {what} that is not valid JSON", model=model
        ) from exc


async def chat_chunks(events: EventStream, model: str) -> AsyncGenerator[ChatChunk]:
    """The typed chunks of a chat stream's events; closing it closes the event iterator."""
    async with contextlib.aclosing(aiter(events)) as batches:
        async for batch in batches:
            for data in batch:
                yield shaped(ChatChunk.from_dict, upstream_json(data, model, "an event"), model)
