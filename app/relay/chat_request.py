"""A chat completion request, read once: stream switches, structured output and grammar.

`ChatRequest.parse` checks everything a client can get wrong before any upstream is called,
and hashes the conversation's leading messages once when the model routes by prefix;
`payload()` then builds each serving model's upstream body from it, with the same rules for
LocalAI and for the in-process llama.cpp backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InvalidRequest
from ..media.image_parts import ImageParts, chat_images
from ..pipeline import RequestOptions, apply_system_template
from ..registry import ModelTarget
from ..upstream.payloads import JsonPayload, with_model_defaults
from ..upstream.routing import prefix_key
from .bodies import check_tools, request_needs, require_field
from .structured import (
    AnswerContract,
    answer_contract,
    check_client_grammar,
    constrain,
    grammar_for,
)


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A client's chat body and what the gateway read from it."""

    body: dict[str, Any]
    stream: bool
    options: RequestOptions
    contract: AnswerContract | None  # what the answer must be, for a JSON response_format
    images: ImageParts
    routing_key: int | None  # the conversation's, for a model routed by prefix

    @classmethod
    def parse(cls, body: dict[str, Any], target: ModelTarget) -> ChatRequest:
        """Read a chat body for `target`; raise `InvalidRequest` (400) naming the first bad
        field, or a schema the grammar compiler cannot enforce when `target` would need it."""
        require_field(body, "messages", list)
        check_tools(body, target)
        check_client_grammar(body)
        contract = answer_contract(body)
        if contract is not None:
            if body.get("grammar") is not None:
                raise InvalidRequest(
                    "Give either 'grammar' or a JSON 'response_format', not both.",
                    param="grammar",
                )
            if target.takes_grammar or target.legacy_mode != "off":
                grammar_for(contract)
        key = prefix_key(body["messages"]) if target.routing.policy == "prefix" else None
        stream = body.get("stream") is True
        options = RequestOptions.from_request(body)
        return cls(body, stream, options, contract, chat_images(body), key)

    def payload(self) -> JsonPayload:
        """The upstream bodies of this request, one per model that may serve it."""
        needs = request_needs(self.body, self.images)
        return JsonPayload(self.body, self._upstream_body, self.routing_key, needs)

    def _upstream_body(
        self, body: dict[str, Any], target: ModelTarget, in_process: bool
    ) -> dict[str, Any]:
        """System template and grammar applied, gateway-only fields removed, usage asked
        for streams, the model's defaults and LocalAI name set."""
        body = apply_system_template(body, target.stream, body.get("metadata"))
        body.pop("include_reasoning", None)
        constrain(body, self.contract, takes_grammar=in_process or target.takes_grammar)
        if self.stream:
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        return with_model_defaults(body, target)
