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


def loads(content: bytes, model: str) -> Any:
    """The parsed JSON of a reply or event."""
    try:
        return orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise UpstreamProtocolError(
            f"model {model!r}: the upstream answer is not JSON", model=model
        ) from exc


async def chat_chunks(events: EventStream, model: str) -> AsyncGenerator[ChatChunk]:
    """The typed chunks of a chat stream's events; closing it closes the event iterator."""
    async with contextlib.aclosing(aiter(events)) as batches:
        async for batch in batches:
            for data in batch:
                yield shaped(ChatChunk.from_dict, loads(data, model), model)
