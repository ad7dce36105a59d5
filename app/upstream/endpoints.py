"""The upstream endpoints the gateway calls: each one a capability and an HTTP method and path.

Every upstream call names one of these values; the dispatcher checks the capability, the
client sends the method and path, and the in-process backend finds its handler by the value
itself (never by comparing paths).
"""

from __future__ import annotations

from dataclasses import dataclass

from clients import (
    COMPLETION_EVENTS,
    MESSAGES_EVENTS,
    OPENAI_EVENTS,
    RESPONSES_EVENTS,
    StreamDialect,
)

from ..registry import Capability


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One upstream route: what a model must be able to do for it, where it lives, and the
    dialect of its event stream (when it streams)."""

    capability: Capability
    path: str
    method: str = "POST"
    events: StreamDialect = OPENAI_EVENTS

    def at(self, name: str) -> Endpoint:
        """The same endpoint for one resource below its path (e.g. one generated file)."""
        return Endpoint(self.capability, self.path + name, self.method, self.events)


CHAT = Endpoint(Capability.CHAT, "/v1/chat/completions")
EMBEDDINGS = Endpoint(Capability.EMBEDDINGS, "/v1/embeddings")
IMAGES = Endpoint(Capability.IMAGES, "/v1/images/generations")
IMAGE_TO_IMAGE = Endpoint(Capability.IMAGE_EDIT, "/v1/images/generations")
INPAINTING = Endpoint(Capability.IMAGE_EDIT, "/v1/images/inpainting")
GENERATED_IMAGE = Endpoint(Capability.IMAGES, "/generated-images/", "GET")
TRANSCRIPTION = Endpoint(Capability.AUDIO_TRANSCRIPTION, "/v1/audio/transcriptions")
SPEECH = Endpoint(Capability.SPEECH, "/v1/audio/speech")
RERANK = Endpoint(Capability.RERANK, "/v1/rerank")
COMPLETIONS = Endpoint(Capability.CHAT, "/v1/completions", events=COMPLETION_EVENTS)
RESPONSES = Endpoint(Capability.CHAT, "/v1/responses", events=RESPONSES_EVENTS)
STORED_RESPONSE = Endpoint(Capability.CHAT, "/v1/responses/", "GET")  # .at(id)
CANCEL_RESPONSE = Endpoint(Capability.CHAT, "/v1/responses/")  # .at(f"{id}/cancel")
MESSAGES = Endpoint(Capability.CHAT, "/v1/messages", events=MESSAGES_EVENTS)
TOKENIZE = Endpoint(Capability.CHAT, "/v1/tokenize")
DETOKENIZE = Endpoint(Capability.CHAT, "/v1/detokenize")
