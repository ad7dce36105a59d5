"""Open Responses (`/v1/responses`): the body read once, a whole response or its events relayed
(native for LocalAI, translated from chat in-process: `app.translate.responses`), and stored
responses fetched or cancelled on the replica that keeps them (`response_ids`).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from clients import UpstreamStatusError

from ..errors import InvalidRequest, RouteNotFound
from ..media.image_parts import ImageParts, responses_images
from ..observability.record import RequestRecord
from ..registry import ModelTarget, Registry
from ..state import Gateway
from ..upstream import endpoints
from ..upstream.dispatch import Prepare, Served
from ..upstream.endpoints import Endpoint
from ..upstream.open_stream import LOCALAI, OpenStream
from ..upstream.payloads import NO_PAYLOAD, JsonPayload
from ..upstream.routing import prefix_key
from .bodies import check_tools, request_needs, require_field
from .events import RESPONSES_FORMAT, relay_events
from .replies import relay_json, send_counted
from .response_ids import ResponseRef, ResponseRewrite, parse_id
from .stream import stream_reply

PREVIOUS = "previous_response_id"
# A chat default's name for the output limit, and the one Open Responses uses.
_LIMITS = {"max_tokens": "max_output_tokens", "max_completion_tokens": "max_output_tokens"}


def _conversation_key(body: dict[str, Any]) -> int | None:
    """The prefix routing key of a Responses body: its instructions and leading input items (a
    string input is one user message)."""
    items = body["input"]
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    return prefix_key(items, body.get("instructions"))


@dataclass(frozen=True, slots=True)
class ResponsesRequest:
    """A client's Responses body and what the gateway read from it: `previous` is where the
    response it continues lives."""

    body: dict[str, Any]
    stream: bool
    previous: ResponseRef | None
    images: ImageParts
    routing_key: int | None  # the conversation's, for a model routed by prefix

    @classmethod
    def parse(cls, body: dict[str, Any], target: ModelTarget) -> ResponsesRequest:
        """Read a Responses body for `target`; raise `InvalidRequest` (400) naming the first
        bad field."""
        require_field(body, "input", (str, list))
        check_tools(body, target)
        previous = None
        if body.get(PREVIOUS) is not None:
            previous = parse_id(require_field(body, PREVIOUS, str), PREVIOUS)
            if previous.replica is None or target.legacy_mode == "only":
                raise InvalidRequest(
                    "In-process models keep no responses: 'previous_response_id' needs a "
                    "response of a LocalAI model, continued by a LocalAI model.",
                    param=PREVIOUS,
                )
        key = _conversation_key(body) if target.routing.policy == "prefix" else None
        stream = body.get("stream") is True
        return cls(body, stream, previous, responses_images(body), key)

    def pin(self, registry: Registry, target: ModelTarget) -> int | None:
        """The replica of `target` that keeps the previous response (None: no previous one)."""
        if self.previous is None:
            return None
        model, replica = self.previous.model, self.previous.replica
        assert replica is not None  # parse refused in-process responses
        try:
            url = registry.get(model).replicas[replica].url
        except (KeyError, IndexError):
            message = f"No response has the id {self.previous.public_id!r}."
            raise InvalidRequest(message, param=PREVIOUS) from None
        for index, config in enumerate(target.replicas):
            if config.url == url:
                return index
        raise InvalidRequest(
            f"The previous response was made by model {model!r} on an upstream that model "
            f"{target.id!r} does not use; continue it with model {model!r}.",
            param=PREVIOUS,
        )

    def payload(self) -> JsonPayload:
        """The upstream bodies of this request, one per model that may serve it."""
        needs = request_needs(self.body, self.images)
        return JsonPayload(self.body, self._upstream_body, self.routing_key, needs)

    def _upstream_body(
        self, body: dict[str, Any], target: ModelTarget, in_process: bool
    ) -> dict[str, Any]:
        """The model's defaults (its output limit as `max_output_tokens`), its LocalAI name,
        LocalAI's id of the previous response, and for LocalAI, `text.format` also as the
        `text_format` it reads (OpenAI's SDKs send structured output only as the former)."""
        defaults = {_LIMITS.get(name, name): value for name, value in target.defaults.items()}
        body = {**defaults, **body, "model": target.localai_model}
        if self.previous is not None:
            body[PREVIOUS] = self.previous.upstream_id
        fmt = body["text"].get("format") if isinstance(body.get("text"), dict) else None
        if not in_process and isinstance(fmt, dict) and "text_format" not in body:
            body["text_format"] = fmt
        return body

    def rewrite(self, target: ModelTarget, backend: str, replica: int) -> ResponseRewrite:
        """The rewrite of this request's answer from `replica` of `target` (or in-process)."""
        rewrite = ResponseRewrite(target.id, target.member, replica if backend == LOCALAI else None)
        if self.previous is not None:
            rewrite.know(self.previous)
        return rewrite


async def create_response(
    gateway: Gateway,
    target: ModelTarget,
    request: ResponsesRequest,
    record: RequestRecord | None,
    prepare: Prepare | None = None,
) -> Response:
    """Relay a whole response: model and ids renamed to the gateway's."""
    pin = request.pin(gateway.registry, target)
    payload = request.payload()
    served = await send_counted(
        gateway, target, endpoints.RESPONSES, payload, record=record, pin=pin, prepare=prepare
    )
    rewrite = request.rewrite(served.target, served.backend, served.replica)
    return relay_json(served, target, rewrite(served.reply.content))


async def stream_response(
    gateway: Gateway,
    target: ModelTarget,
    request: ResponsesRequest,
    record: RequestRecord | None,
    prepare: Prepare | None = None,
) -> Response:
    """Relay the upstream event stream once its first answer event arrived."""

    def relay(stream: OpenStream) -> AsyncGenerator[bytes]:
        rewrite = request.rewrite(stream.target, stream.backend, stream.replica)
        return relay_events(stream, RESPONSES_FORMAT, rewrite, record)

    return await stream_reply(
        gateway,
        target,
        endpoints.RESPONSES,
        request.payload(),
        relay,
        record=record,
        pin=request.pin(gateway.registry, target),
        prepare=prepare,
        failure=RESPONSES_FORMAT.failure,
    )


async def retrieve_response(
    gateway: Gateway, target: ModelTarget, ref: ResponseRef, record: RequestRecord | None
) -> Response:
    """The stored response `ref` names, from the replica that keeps it."""
    served = await _stored(
        gateway, target, ref, endpoints.STORED_RESPONSE.at(ref.upstream_id), record
    )
    return _relay_stored(served, target, ref)


async def cancel_response(
    gateway: Gateway, target: ModelTarget, ref: ResponseRef, record: RequestRecord | None
) -> Response:
    """Cancel the (background) response `ref` names, on the replica that runs it."""
    endpoint = endpoints.CANCEL_RESPONSE.at(f"{ref.upstream_id}/cancel")
    return _relay_stored(await _stored(gateway, target, ref, endpoint, record), target, ref)


async def _stored(
    gateway: Gateway,
    target: ModelTarget,
    ref: ResponseRef,
    endpoint: Endpoint,
    record: RequestRecord | None,
) -> Served:
    if ref.replica is None:
        raise RouteNotFound(
            f"Response {ref.public_id!r} was answered in-process, where nothing is stored: "
            "GET and cancel work for the responses of LocalAI models."
        )
    if ref.replica >= len(target.replicas):
        raise RouteNotFound(f"No response has the id {ref.public_id!r}.")
    try:
        return await gateway.dispatcher.send(
            target, endpoint, NO_PAYLOAD, record=record, pin=ref.replica
        )
    except UpstreamStatusError as exc:
        if exc.status == 404:  # LocalAI names its own id; the client knows the gateway's
            raise RouteNotFound(f"No response has the id {ref.public_id!r}.") from exc
        raise


def _relay_stored(served: Served, target: ModelTarget, ref: ResponseRef) -> Response:
    rewrite = ResponseRewrite(target.id, target.member, ref.replica)
    return relay_json(served, target, rewrite(served.reply.content))
