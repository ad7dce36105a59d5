"""Errors raised by the in-process llama.cpp backend.

    LlamaCppError
    ├── LlamaCppModelUnavailable   no llama_cpp, no GGUF file, or llama.cpp could not load it
    └── LlamaCppBadRequest         the request is invalid here (body, grammar, length)

The gateway translates these to OpenAI errors at its one error boundary.
"""


class LlamaCppError(Exception):
    """Base class of every error raised by `clients.llamacpp`."""


class LlamaCppModelUnavailable(LlamaCppError):
    """Raised when a model cannot be loaded: llama_cpp is missing, the GGUF is missing or broken."""


class LlamaCppBadRequest(LlamaCppError, ValueError):
    """Raised when a request is invalid for the in-process backend; the message says why and
    `code` is the OpenAI error code when one fits (e.g. `context_length_exceeded`)."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
