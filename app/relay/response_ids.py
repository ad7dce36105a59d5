"""The ids of the Open Responses the gateway hands out.

LocalAI keeps a stored response in the process that made it, so a later GET, cancel or
`previous_response_id` must reach that replica. The gateway's id says where: `resp_` and the
URL-safe base64 of `[model id, replica index, LocalAI's id]` (replica `null` for an answer made
in-process, which nothing stores). The model is checked against the key like any request; the
LocalAI id inside is random, so an id cannot be guessed.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

import orjson

from ..errors import InvalidRequest, RouteNotFound
from .bodies import rewrite_model

PREFIX = "resp_"
_UPSTREAM_ID = re.compile(rb'"id"\s*:\s*"(resp_[^"\\]*)"')


@dataclass(frozen=True, slots=True)
class ResponseRef:
    """Where a response lives: model id, replica index (None: in-process) and LocalAI's id."""

    model: str
    replica: int | None
    upstream_id: str

    @property
    def public_id(self) -> str:
        """The id clients see."""
        packed = orjson.dumps([self.model, self.replica, self.upstream_id])
        return PREFIX + base64.urlsafe_b64encode(packed).rstrip(b"=").decode()


def parse_id(public_id: str, param: str | None = None) -> ResponseRef:
    """The reference in a gateway id; anything else is a 404 (a 400 naming `param` when the
    id came in a request body)."""
    ref = _decoded(public_id)
    if ref is not None:
        return ref
    message = f"No response has the id {public_id!r}."
    if param is not None:
        raise InvalidRequest(message, param=param)
    raise RouteNotFound(message)


def _decoded(public_id: str) -> ResponseRef | None:
    if not public_id.startswith(PREFIX):
        return None
    packed = public_id.removeprefix(PREFIX)
    try:
        fields = orjson.loads(base64.urlsafe_b64decode(packed + "=" * (-len(packed) % 4)))
    except (ValueError, binascii.Error):  # orjson.JSONDecodeError is a ValueError
        return None
    match fields:
        case [str(model), None | int() as replica, str(upstream_id)] if (
            replica is not True and replica is not False and upstream_id.startswith(PREFIX)
        ):
            return ResponseRef(model, replica, upstream_id)
    return None


class ResponseRewrite:
    """Rewrites a response body, or each batch of its stream: the model member to the internal
    id, and LocalAI's response ids (the response's own, learnt from the first one seen, and
    those `know` was told) to the gateway's."""

    __slots__ = ("_ids", "_learnt", "_member", "_model", "_replica")

    def __init__(self, model: str, member: bytes, replica: int | None) -> None:
        self._model = model
        self._member = member
        self._replica = replica
        self._ids: dict[bytes, bytes] = {}
        self._learnt = False

    def know(self, ref: ResponseRef) -> None:
        """Also rewrite `ref`'s LocalAI id (a request's `previous_response_id`)."""
        self._ids[_quoted(ref.upstream_id)] = _quoted(ref.public_id)

    def __call__(self, data: bytes) -> bytes:
        if not self._learnt and (found := _UPSTREAM_ID.search(data)) is not None:
            self._learnt = True
            ref = ResponseRef(self._model, self._replica, found.group(1).decode())
            self.know(ref)
        for upstream, public in self._ids.items():
            if upstream in data:
                data = data.replace(upstream, public)
        return rewrite_model(data, self._member)


def _quoted(text: str) -> bytes:
    return b'"' + text.encode() + b'"'
