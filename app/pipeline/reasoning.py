"""Split model text into answer and reasoning: `<think>` tags, harmony channels, or nothing.

A splitter is fed text pieces in order and returns `(content, reasoning)` for each piece; `flush()`
ends the text. Rules, shared by streaming and non-streaming:

- think: text between `<think>` and `</think>` is reasoning. Tags do not nest: a `<think>`
  inside reasoning and a `</think>` outside it are kept as literal text. A missing close tag leaves
  the rest as reasoning; `think_preopened` starts inside the tag (templates that pre-open it).
- harmony: a header (`<|start|>role`, `<|channel|>name`, `<|constrain|>...`) ends at `<|message|>`;
  the body goes to content on the `final` channel (or when no channel is named) and to reasoning on
  any other (`analysis`, `commentary`). `<|end|>`, `<|return|>`, `<|call|>` end a message; text
  outside any message is content. Header text is never shown, except a header longer than
  HEADER_LIMIT characters, which is not a header after all and is sent as content.
"""

import re
from typing import Any, Protocol

from app.pipeline.config import StreamConfig
from app.pipeline.markers import MarkerScanner

Split = tuple[str, str]
_NONE: Split = ("", "")

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
START, CHANNEL, MESSAGE, CONSTRAIN = "<|start|>", "<|channel|>", "<|message|>", "<|constrain|>"
MESSAGE_ENDS = frozenset({"<|end|>", "<|return|>", "<|call|>"})
HEADER_LIMIT = 256
_CHANNEL_NAME = re.compile(r"<\|channel\|>\s*([A-Za-z0-9_.-]+)")


class Splitter(Protocol):
    """Routes text pieces to `(content, reasoning)`."""

    def feed(self, text: str) -> Split: ...

    def flush(self) -> Split: ...


class PlainSplitter:
    """Everything is content (reasoning: none)."""

    __slots__ = ()

    def feed(self, text: str) -> Split:
        return text, ""

    def flush(self) -> Split:
        return _NONE


class ThinkSplitter:
    """`<think>...</think>` blocks are reasoning."""

    __slots__ = ("_inside", "_scanner")

    def __init__(self, preopened: bool = False) -> None:
        self._inside = preopened
        self._scanner = MarkerScanner((THINK_OPEN, THINK_CLOSE))

    def feed(self, text: str) -> Split:
        if not self._scanner.pending and "<" not in text:
            return ("", text) if self._inside else (text, "")
        content: list[str] = []
        reasoning: list[str] = []
        for segment in self._scanner.feed(text):
            if segment == THINK_OPEN and not self._inside:
                self._inside = True
            elif segment == THINK_CLOSE and self._inside:
                self._inside = False
            else:
                (reasoning if self._inside else content).append(segment)
        return "".join(content), "".join(reasoning)

    def flush(self) -> Split:
        rest = self._scanner.flush()
        return ("", rest) if self._inside else (rest, "")


class HarmonySplitter:
    """Harmony (gpt-oss) channels: `final` is content, every other channel is reasoning."""

    __slots__ = ("_header", "_header_len", "_reasoning", "_scanner")

    def __init__(self) -> None:
        self._reasoning = False
        self._header: list[str] | None = None  # None: in a message body
        self._header_len = 0
        self._scanner = MarkerScanner((START, CHANNEL, MESSAGE, CONSTRAIN, *MESSAGE_ENDS))

    def feed(self, text: str) -> Split:
        if self._header is None and not self._scanner.pending and "<" not in text:
            return ("", text) if self._reasoning else (text, "")
        content: list[str] = []
        reasoning: list[str] = []
        for segment in self._scanner.feed(text):
            header = self._header
            if header is not None:
                self._header_segment(header, segment, content)
            elif segment == START:
                self._open_header()
            elif segment == CHANNEL:
                self._open_header(CHANNEL)
            elif segment in MESSAGE_ENDS:
                self._reasoning = False
            else:
                (reasoning if self._reasoning else content).append(segment)
        return "".join(content), "".join(reasoning)

    def flush(self) -> Split:
        rest = self._scanner.flush()
        if self._header is not None:
            self._header = None
            return _NONE
        return ("", rest) if self._reasoning else (rest, "")

    def _open_header(self, *first: str) -> None:
        self._header = list(first)
        self._header_len = sum(map(len, first))

    def _header_segment(self, header: list[str], segment: str, content: list[str]) -> None:
        if segment == MESSAGE:
            match = _CHANNEL_NAME.search("".join(header))
            self._reasoning = match is not None and match.group(1) != "final"
            self._header = None
        elif segment == START:
            self._open_header()
        elif segment in MESSAGE_ENDS:
            self._header = None
            self._reasoning = False
        else:
            header.append(segment)
            self._header_len += len(segment)
            if self._header_len > HEADER_LIMIT:
                content.append("".join(header))
                self._header = None
                self._reasoning = False


def make_splitter(config: StreamConfig) -> Splitter:
    """A fresh splitter for one choice of one response, per `config.reasoning`."""
    if config.reasoning == "think":
        return ThinkSplitter(preopened=config.think_preopened)
    if config.reasoning == "harmony":
        return HarmonySplitter()
    return PlainSplitter()


def take_native_reasoning(target: dict[str, Any]) -> str:
    """Pop and return reasoning the upstream separated itself (`reasoning_content`, `reasoning`)."""
    first = target.pop("reasoning_content", None)
    second = target.pop("reasoning", None)
    native = first or second
    return native if isinstance(native, str) else ""


def put_reasoning(target: dict[str, Any], reasoning: str, fields: tuple[str, ...]) -> None:
    """Write `reasoning` under each of `fields` (empty when the client turned reasoning off)."""
    if reasoning:
        for field in fields:
            target[field] = reasoning
