"""The per-request switches the stream chain reads from the client's request body."""

from dataclasses import dataclass
from typing import Any


class RequestOptionError(ValueError):
    """Raised when a request field the pipeline reads has the wrong type (answer 400)."""


@dataclass(frozen=True, slots=True)
class RequestOptions:
    """`include_reasoning` (default True) and `stream_options.include_usage` (default False)."""

    include_reasoning: bool = True
    include_usage: bool = False

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> "RequestOptions":
        """Read the switches, refusing values that are present but not booleans."""
        include_reasoning = request.get("include_reasoning", True)
        if not isinstance(include_reasoning, bool):
            raise RequestOptionError("include_reasoning must be a boolean")
        stream_options = request.get("stream_options")
        if stream_options is None:
            stream_options = {}
        elif not isinstance(stream_options, dict):
            raise RequestOptionError("stream_options must be an object")
        include_usage = stream_options.get("include_usage", False)
        if not isinstance(include_usage, bool):
            raise RequestOptionError("stream_options.include_usage must be a boolean")
        return cls(include_reasoning=include_reasoning, include_usage=include_usage)
