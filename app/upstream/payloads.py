"""Upstream request bodies, made for each model that may serve a request.

A request may be served by the model it names or by a fallback, and each one has its own
LocalAI model name and defaults; a payload builds its body once per model, on first use. A
payload also says which capabilities beyond its endpoint's it uses (tools, vision): a fallback
model without them does not take it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx
import orjson

from ..registry import Capability, ModelTarget

JSON = "application/json"

NO_NEEDS: frozenset[Capability] = frozenset()
FilePart = tuple[str, bytes, str]
"""One multipart file: (filename, content, content type)."""


class Payload(Protocol):
    """The body of an upstream request, per serving model, its content type, and the
    conversation it continues."""

    @property
    def content_type(self) -> str | None:
        """The body's media type (None: no body)."""
        ...

    @property
    def routing_key(self) -> int | None:
        """The conversation's key (`routing.prefix_key`), for models routed by prefix; None
        when the call carries none."""
        ...

    @property
    def needs(self) -> frozenset[Capability]:
        """Capabilities the request uses beyond its endpoint's (a model must have them)."""
        ...

    def content(self, target: ModelTarget) -> bytes | None:
        """The bytes to send to `target`'s upstream (None: no body)."""
        ...


def with_model_defaults(
    body: dict[str, Any], target: ModelTarget, in_process: bool = False
) -> dict[str, Any]:
    """Apply the model's defaults to a copy of `body` and name the LocalAI model."""
    body = {**target.defaults, **body}
    body["model"] = target.localai_model
    return body


def with_model_name(
    body: dict[str, Any], target: ModelTarget, in_process: bool = False
) -> dict[str, Any]:
    """A copy of `body` naming the LocalAI model, without its defaults (for calls that do not
    generate, e.g. tokenize)."""
    return {**body, "model": target.localai_model}


Build = Callable[[dict[str, Any], ModelTarget, bool], dict[str, Any]]
"""Makes one model's upstream body from a copy of the client's: (body, target, in_process)."""


class JsonPayload:
    """A JSON body, built by `build` for each model, and for LocalAI or the in-process backend."""

    __slots__ = ("_body", "_build", "_made", "needs", "routing_key")
    content_type = JSON

    def __init__(
        self,
        body: Mapping[str, Any],
        build: Build = with_model_defaults,
        routing_key: int | None = None,
        needs: frozenset[Capability] = NO_NEEDS,
    ) -> None:
        self._body = body
        self._build = build
        self.routing_key = routing_key
        self.needs = needs
        self._made: dict[tuple[str, bool], tuple[dict[str, Any], bytes | None]] = {}

    def json(self, target: ModelTarget) -> dict[str, Any]:
        """The in-process backend's body for `target` (a dict; do not change it)."""
        made = self._made.get((target.id, True))
        if made is None:
            body = self._build(dict(self._body), target, True)
            made = self._made[target.id, True] = (body, None)
        return made[0]

    def content(self, target: ModelTarget) -> bytes:
        """The body for `target`'s LocalAI, serialised."""
        made = self._made.get((target.id, False))
        if made is None:
            body = self._build(dict(self._body), target, False)
            made = self._made[target.id, False] = (body, orjson.dumps(body))
        assert made[1] is not None
        return made[1]


class FormPayload:
    """A multipart form: text fields (with `model` set per target) and files."""

    __slots__ = ("_fields", "_files", "_made", "content_type")
    routing_key = None
    needs = NO_NEEDS

    def __init__(
        self, fields: Mapping[str, str | list[str]], files: Mapping[str, FilePart]
    ) -> None:
        self._fields = fields
        self._files = files
        self._made: dict[str, bytes] = {}
        # One boundary for every model's encoding, so the content type is the payload's own.
        self.content_type = f"multipart/form-data; boundary={secrets.token_hex(16)}"

    def content(self, target: ModelTarget) -> bytes:
        """The encoded form for `target`."""
        made = self._made.get(target.id)
        if made is None:
            fields = {"model": target.localai_model, **self._fields}
            form = httpx.Request(  # httpx encodes the form, with the boundary given here
                "POST",
                "http://form",
                data=fields,
                files=dict(self._files),
                headers={"content-type": self.content_type},
            )
            made = self._made[target.id] = form.read()
        return made


class NoPayload:
    """No body (a GET)."""

    __slots__ = ()
    content_type = None
    routing_key = None
    needs = NO_NEEDS

    def content(self, target: ModelTarget) -> None:
        """Nothing to send."""
        return None


NO_PAYLOAD = NoPayload()
