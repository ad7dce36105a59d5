"""The typed answers of `LocalAIClient`, read from OpenAI-shaped JSON with LocalAI's quirks.

LocalAI sends `content: null` in deltas, `reasoning` where OpenAI-style servers say
`reasoning_content`, no `usage` on chunks but the `include_usage` trailer (which has no
choices), and embeddings without `usage`. Text fields read a missing or null value as "",
other fields as None. A reply of another shape raises KeyError, TypeError or ValueError, which
the client turns into `UpstreamProtocolError`.
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one answer."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def from_dict(cls, raw: Any) -> Usage | None:
        """The usage of a reply or chunk, or None when it has none."""
        if not isinstance(raw, dict):
            return None
        prompt = int(raw.get("prompt_tokens") or 0)
        completion = int(raw.get("completion_tokens") or 0)
        return cls(prompt, completion, int(raw.get("total_tokens") or prompt + completion))


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the model asked for; `arguments` is JSON text as the model wrote it."""

    id: str
    name: str
    arguments: str
    type: str = "function"

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ToolCall:
        """Read one item of `message.tool_calls`."""
        function = raw["function"]
        return cls(
            str(raw.get("id") or ""),
            str(function["name"]),
            str(function.get("arguments") or ""),
            str(raw.get("type") or "function"),
        )


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """A piece of a streamed tool call; the pieces with the same `index` make one call."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ToolCallDelta:
        """Read one item of `delta.tool_calls`."""
        function = raw.get("function") or {}
        return cls(
            int(raw.get("index") or 0),
            raw.get("id"),
            function.get("name"),
            str(function.get("arguments") or ""),
        )


def _reasoning(holder: dict[str, Any]) -> str:
    return str(holder.get("reasoning_content") or holder.get("reasoning") or "")


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """A whole chat completion: its first choice, the usage, and the reply as received (`raw`).

    `content` is "" when the model only called tools (`tool_calls`).
    """

    content: str
    role: str
    finish_reason: str | None
    reasoning_content: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    usage: Usage | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ChatResponse:
        """Read a `chat.completion` object."""
        choice = raw["choices"][0]
        message = choice["message"]
        return cls(
            content=str(message.get("content") or ""),
            role=str(message.get("role") or "assistant"),
            finish_reason=choice.get("finish_reason"),
            reasoning_content=_reasoning(message),
            tool_calls=[ToolCall.from_dict(call) for call in message.get("tool_calls") or ()],
            usage=Usage.from_dict(raw.get("usage")),
            raw=raw,
        )


@dataclass(frozen=True, slots=True)
class ChatChunk:
    """One streamed `chat.completion.chunk`: the first choice's delta, or the usage trailer."""

    content: str = ""
    reasoning_content: str = ""
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    finish_reason: str | None = None
    role: str | None = None
    usage: Usage | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ChatChunk:
        """Read a chunk; one without choices (the usage trailer) has only `usage`."""
        usage = Usage.from_dict(raw.get("usage"))
        choices = raw.get("choices")
        if not choices:
            return cls(usage=usage, raw=raw)
        choice = choices[0]
        delta = choice.get("delta") or {}
        return cls(
            content=str(delta.get("content") or ""),
            reasoning_content=_reasoning(delta),
            tool_calls=[ToolCallDelta.from_dict(call) for call in delta.get("tool_calls") or ()],
            finish_reason=choice.get("finish_reason"),
            role=delta.get("role"),
            usage=usage,
            raw=raw,
        )


@dataclass(frozen=True, slots=True)
class Transcription:
    """A transcription: the text, with language, duration and segments when the format has them.

    Text formats (`srt`, `vtt`, `txt`, `lrc`) come as `text` alone, the body as sent.
    """

    text: str
    language: str | None = None
    duration: float | None = None
    segments: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Transcription:
        """Read a `json` or `verbose_json` transcription."""
        duration = raw.get("duration")
        return cls(
            text=str(raw["text"]),
            language=raw.get("language"),
            duration=None if duration is None else float(duration),
            segments=list(raw.get("segments") or ()),
            raw=raw,
        )


@dataclass(frozen=True, slots=True)
class RerankResult:
    """One ranked document: its position in the request, its score, and its text if returned."""

    index: int
    relevance_score: float
    document: str | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RerankResult:
        """Read one item of a rerank reply's `results`."""
        document = raw.get("document")
        text = document.get("text") if isinstance(document, dict) else document
        return cls(int(raw["index"]), float(raw["relevance_score"]), text)


def embedding_vectors(raw: dict[str, Any], count: int) -> list[list[float]]:
    """The vectors of an embeddings reply in input order, `count` of them; base64 ones decoded."""
    items = sorted(raw["data"], key=lambda item: int(item["index"]))
    if len(items) != count or [int(item["index"]) for item in items] != list(range(count)):
        raise ValueError(f"{len(items)} embeddings for {count} inputs")
    return [_vector(item["embedding"]) for item in items]


def _vector(value: Any) -> list[float]:
    if isinstance(value, str):  # encoding_format "base64": little-endian float32
        packed = base64.b64decode(value)
        return list(struct.unpack(f"<{len(packed) // 4}f", packed))
    return [float(number) for number in value]


def image_urls(raw: dict[str, Any]) -> list[str]:
    """The `url` of every generated image, in order."""
    return [str(item["url"]) for item in raw["data"]]


def image_bytes(raw: dict[str, Any]) -> list[bytes]:
    """The decoded `b64_json` of every generated image, in order."""
    return [base64.b64decode(item["b64_json"], validate=True) for item in raw["data"]]


def model_list(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The items of a `/v1/models` list; each has at least a string `id`."""
    models = list(raw["data"])
    if not all(isinstance(item, dict) and isinstance(item.get("id"), str) for item in models):
        raise ValueError("a model without an id")
    return models
