"""Per-model stream-processing settings, the `stream:` block of a registry entry."""

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.pipeline.template import template_errors

ReasoningField = Literal["reasoning_content", "reasoning"]


class RepetitionGuardConfig(BaseModel):
    """Stop a stream whose last `window` deltas end in a pattern repeated over `max_repeats` times.

    Patterns up to `window // (max_repeats + 1)` deltas long are detected; a delta is one upstream
    chunk's text, which for LocalAI is one token.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: int = Field(default=200, ge=2, le=4096)
    max_repeats: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _fits(self) -> Self:
        if self.max_period < 1:
            raise ValueError("window must be larger than max_repeats")
        return self

    @property
    def max_period(self) -> int:
        """The longest pattern (in deltas) that fits `max_repeats + 1` times in the window."""
        return self.window // (self.max_repeats + 1)


class StreamConfig(BaseModel):
    """What the gateway does to a model's output between LocalAI and the client."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reasoning: Literal["think", "harmony", "none"] = "none"
    reasoning_field: ReasoningField = "reasoning_content"
    reasoning_aliases: tuple[ReasoningField, ...] = ("reasoning",)
    think_preopened: bool = False
    repetition_guard: RepetitionGuardConfig | None = None
    max_output_chars: int | None = Field(default=None, ge=1)
    banned_phrases: tuple[str, ...] = ()
    system_prompt: str | None = None
    variables: dict[str, str] = Field(default_factory=dict)

    @field_validator("banned_phrases")
    @classmethod
    def _no_blank_phrases(cls, phrases: tuple[str, ...]) -> tuple[str, ...]:
        if any(not p.strip() for p in phrases):
            raise ValueError("banned phrases must not be blank")
        return phrases

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(set(self.reasoning_fields)) != len(self.reasoning_fields):
            raise ValueError("reasoning_aliases must not repeat a field")
        if self.think_preopened and self.reasoning != "think":
            raise ValueError("think_preopened needs reasoning: think")
        if self.system_prompt is not None:
            problems = template_errors(self.system_prompt, self.variables)
            if problems:
                raise ValueError("system_prompt: " + "; ".join(problems))
        return self

    @property
    def banned_lowered(self) -> tuple[str, ...]:
        """`banned_phrases` in lowercase, as the validators match them."""
        return tuple(phrase.lower() for phrase in self.banned_phrases)

    @property
    def reasoning_fields(self) -> tuple[str, ...]:
        """Every delta/message field that carries reasoning text, the main one first."""
        return (self.reasoning_field, *self.reasoning_aliases)
