"""Token usage, in one place: what the upstream reported, completion tokens counted when it did
not, and the one way both reach the request record.

Counting works on the raw event bytes, so both stream relays count alike without a parse:
LocalAI streams one token per event, so the events that carry text approximate the
completion tokens (low when an upstream batches several tokens into one event).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..observability.record import RequestRecord

# A delta member with text: `"content":"x..."` (not `""` and not null), or reasoning.
_TEXT_MEMBER = re.compile(rb'"(?:content|reasoning_content|reasoning)"\s*:\s*"(?!")')
# Token counts in OpenAI's names, or in Anthropic's and Open Responses' (input/output).
_USAGE_MEMBER = re.compile(rb'"(prompt|completion|input|output)_tokens"\s*:\s*(\d+)')
_OPENAI_NAME = {
    b"prompt": "prompt",
    b"input": "prompt",
    b"completion": "completion",
    b"output": "completion",
}


class CompletionCount:
    """The number of upstream stream events that carried text."""

    __slots__ = ("events",)

    def __init__(self) -> None:
        self.events = 0

    def add(self, batch: list[bytes]) -> None:
        """Count the text-carrying events of one batch."""
        search = _TEXT_MEMBER.search
        self.events += sum(1 for data in batch if search(data) is not None)

    def fill(self, trailer: dict[str, Any]) -> dict[str, Any]:
        """The usage trailer with `completion_tokens` counted here when the upstream gave none."""
        usage = trailer.get("usage")
        reported = usage.get("completion_tokens") if isinstance(usage, dict) else None
        if isinstance(usage, dict) and not reported and self.events > 0:
            prompt = usage.get("prompt_tokens")
            total = (prompt if isinstance(prompt, int) else 0) + self.events
            usage = {**usage, "completion_tokens": self.events, "total_tokens": total}
            return {**trailer, "usage": usage}
        return trailer

    def settle(self, record: RequestRecord | None) -> None:
        """At the end of a stream, however it ended: the completion tokens relayed, counted here
        when no trailer reported them (a client that leaves is still charged for them)."""
        if record is not None and record.tokens_out is None and self.events:
            record.tokens_out = self.events


def record_usage(record: RequestRecord | None, usage: Mapping[str, Any] | None) -> None:
    """Copy a `usage` object's token counts into the request record."""
    if record is None or not isinstance(usage, Mapping):
        return
    prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
    record.tokens_in = prompt if isinstance(prompt, int) else record.tokens_in
    record.tokens_out = completion if isinstance(completion, int) else record.tokens_out


def record_reply_usage(record: RequestRecord | None, content: bytes) -> None:
    """Copy a whole reply's token counts into the request record (a scan, not a parse); the
    last count of each kind wins."""
    if record is None:
        return
    found = {_OPENAI_NAME[name]: int(value) for name, value in _USAGE_MEMBER.findall(content)}
    record_usage(record, {f"{name}_tokens": value for name, value in found.items()})


def record_event_usage(record: RequestRecord | None, events: bytes) -> None:
    """Copy the token counts some streamed events carry (Anthropic's `message_start` and
    `message_delta`, Open Responses' `response.completed`) into the request record."""
    if record is not None and b'_tokens"' in events:
        record_reply_usage(record, events)
