"""The OpenAI request bodies the in-process backend serves, checked strictly.

A field the backend cannot honour is refused with `LlamaCppBadRequest` rather than ignored.
"""

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import LlamaCppBadRequest

_Body = TypeVar("_Body", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextPart(_Strict):
    type: Literal["text"]
    text: str


class Message(_Strict):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]
    name: str | None = None

    def as_llama(self) -> dict[str, str]:
        """The message as llama-cpp-python takes it: text content, `developer` read as system."""
        text = (
            self.content
            if isinstance(self.content, str)
            else "".join(part.text for part in self.content)
        )
        return {"role": "system" if self.role == "developer" else self.role, "content": text}


class JsonSchemaFormat(_Strict):
    name: str
    schema_: Annotated[dict[str, Any], Field(alias="schema")] = Field(default_factory=dict)
    description: str | None = None
    strict: bool | None = None


class ResponseFormat(_Strict):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> "ResponseFormat":
        if (self.type == "json_schema") != (self.json_schema is not None):
            raise ValueError("'json_schema' is required with, and only with, type 'json_schema'")
        return self


class StreamOptions(_Strict):
    include_usage: bool = False


Probability = Annotated[float, Field(ge=0, le=1)]
Penalty = Annotated[float, Field(ge=-2, le=2)]


class _Sampling(_Strict):
    """The generation fields chat and text completions share; those left out keep
    llama-cpp-python's defaults."""

    model: str | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Probability | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None
    min_p: Probability | None = None
    presence_penalty: Penalty | None = None
    frequency_penalty: Penalty | None = None
    repeat_penalty: Annotated[float, Field(gt=0)] | None = None
    seed: int | None = None
    stop: str | Annotated[list[str], Field(max_length=16)] | None = None
    n: Literal[1] | None = None
    user: str | None = None
    grammar: str | None = None

    def sampling(self) -> dict[str, Any]:
        """Keyword arguments for llama-cpp-python's completion calls, only those the client set."""
        names = (
            "temperature",
            "top_p",
            "top_k",
            "min_p",
            "presence_penalty",
            "frequency_penalty",
            "repeat_penalty",
            "seed",
            "stop",
        )
        options = {name: getattr(self, name) for name in names if getattr(self, name) is not None}
        if self.max_tokens is not None:
            options["max_tokens"] = self.max_tokens
        return options

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


class ChatBody(_Sampling):
    """A `/v1/chat/completions` body."""

    messages: Annotated[list[Message], Field(min_length=1)]
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None
    response_format: ResponseFormat | None = None

    def sampling(self) -> dict[str, Any]:
        """As for completions; `max_completion_tokens` wins over `max_tokens`."""
        options = super().sampling()
        if self.max_completion_tokens is not None:
            options["max_tokens"] = self.max_completion_tokens
        return options


class CompletionBody(_Sampling):
    """A `/v1/completions` body: one prompt, continued as it is (no chat template)."""

    prompt: str | Annotated[list[str], Field(min_length=1, max_length=1)]

    @property
    def text(self) -> str:
        return self.prompt if isinstance(self.prompt, str) else self.prompt[0]


class TokenizeBody(_Strict):
    """LocalAI's `/v1/tokenize` body."""

    model: str | None = None
    content: str


class DetokenizeBody(_Strict):
    """LocalAI's `/v1/detokenize` body."""

    model: str | None = None
    tokens: list[Annotated[int, Field(ge=0)]]


class EmbeddingsBody(_Strict):
    """A `/v1/embeddings` body: text input only (token arrays are refused)."""

    model: str | None = None
    input: str | Annotated[list[str], Field(min_length=1, max_length=2048)]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: Annotated[int, Field(ge=1)] | None = None
    user: str | None = None

    @property
    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


def parse_body(model: type[_Body], body: dict[str, Any]) -> _Body:
    """Validate a request body; raise `LlamaCppBadRequest` naming the first bad field."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        if first["type"] == "extra_forbidden":
            message = f"{where!r} is not supported by in-process models"
        else:
            message = f"{where!r}: {first['msg']}"
        param = str(first["loc"][0]) if first["loc"] else None
        raise LlamaCppBadRequest(message, param=param) from exc
