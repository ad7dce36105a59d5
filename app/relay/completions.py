"""Text completions (`/v1/completions`): the body read once, a whole answer or a stream relayed.

Streams always ask LocalAI for the usage trailer (so the request record gets the tokens); the
client sees it only if it asked, named `text_completion` (LocalAI says `chat.completion.chunk`).
LocalAI's failure text chunk ("Internal error: ...", no [DONE]) becomes an error event, then
`[DONE]` (`clients.COMPLETION_EVENTS`).
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from ..errors import InvalidRequest
from ..observability.record import RequestRecord
from ..pipeline import RequestOptions
from ..registry import ModelTarget
from ..state import Gateway
from ..upstream import endpoints
from ..upstream.open_stream import OpenStream
from ..upstream.payloads import JsonPayload, with_model_defaults
from .bodies import require_field, rewrite_model
from .replies import relay_json, send_counted
from .stream import ChunkShape, relay_stream, stream_reply
from .structured import check_client_grammar

# A choice LocalAI wrote without `text` (omitempty): `index` and `finish_reason` only, in its
# order (other backends write `text` first).
_TEXTLESS = re.compile(rb'\{"index":\d+,"finish_reason":(?:null|"[a-z_]*")(?=[},])(?!,"text")')


def tidy_completion(data: bytes, member: bytes) -> bytes:
    """Completion events or a whole completion with the model rewritten and every choice's
    `text` present (LocalAI leaves an empty one out, e.g. in a stream's final chunk; OpenAI's
    clients expect it)."""
    data = rewrite_model(data, member)
    return _TEXTLESS.sub(lambda found: found.group(0) + b',"text":""', data)


COMPLETION_CHUNKS = ChunkShape("text_completion", tidy_completion)


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """A client's completions body and what the gateway read from it."""

    body: dict[str, Any]
    stream: bool
    include_usage: bool

    @classmethod
    def parse(cls, body: dict[str, Any]) -> CompletionRequest:
        """Read a completions body; raise `InvalidRequest` (400) naming the first bad field."""
        prompt = require_field(body, "prompt", (str, list))
        if isinstance(prompt, list) and not all(isinstance(item, str) for item in prompt):
            raise InvalidRequest("'prompt' must be a string or a list of strings.", param="prompt")
        check_client_grammar(body)
        options = RequestOptions.from_request(body)
        return cls(body, body.get("stream") is True, options.include_usage)

    def payload(self) -> JsonPayload:
        """The upstream bodies of this request, one per model that may serve it."""
        return JsonPayload(self.body, self._upstream_body)

    def _upstream_body(
        self, body: dict[str, Any], target: ModelTarget, in_process: bool
    ) -> dict[str, Any]:
        if self.stream:
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        return with_model_defaults(body, target)


async def complete_text(
    gateway: Gateway, target: ModelTarget, request: CompletionRequest, record: RequestRecord | None
) -> Response:
    """Relay a whole completion, with the model renamed back to the internal id."""
    payload = request.payload()
    served = await send_counted(gateway, target, endpoints.COMPLETIONS, payload, record=record)
    return relay_json(served, target, tidy_completion(served.reply.content, served.target.member))


async def stream_text(
    gateway: Gateway, target: ModelTarget, request: CompletionRequest, record: RequestRecord | None
) -> Response:
    """Relay the upstream stream once its first event arrived (see `stream_reply`)."""

    def relay(stream: OpenStream) -> AsyncGenerator[bytes]:
        include_usage = request.include_usage
        return relay_stream(
            stream, None, include_usage=include_usage, record=record, shape=COMPLETION_CHUNKS
        )

    payload = request.payload()
    return await stream_reply(gateway, target, endpoints.COMPLETIONS, payload, relay, record=record)
