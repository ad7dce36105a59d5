"""`StreamConfig`: the registry YAML shape, defaults, and every refusal."""

import pytest
import yaml
from pydantic import ValidationError

from app.pipeline import RepetitionGuardConfig, StreamConfig

REGISTRY_STREAM_BLOCK = """
reasoning: think
think_preopened: true
reasoning_field: reasoning_content
reasoning_aliases: [reasoning]
repetition_guard: {window: 200, max_repeats: 10}
max_output_chars: 60000
banned_phrases: ["as an AI language model"]
system_prompt: "You are {{persona}}. Team: {{team}}."
variables: {persona: a careful assistant, team: platform}
"""


def test_registry_yaml_example_loads() -> None:
    config = StreamConfig.model_validate(yaml.safe_load(REGISTRY_STREAM_BLOCK))
    assert config.reasoning_fields == ("reasoning_content", "reasoning")
    assert config.repetition_guard == RepetitionGuardConfig(window=200, max_repeats=10)
    assert config.repetition_guard.max_period == 18
    assert config.banned_phrases == ("as an AI language model",)


def test_defaults_configure_nothing() -> None:
    config = StreamConfig()
    assert (config.reasoning, config.repetition_guard, config.max_output_chars) == (
        "none",
        None,
        None,
    )
    assert (config.banned_phrases, config.system_prompt, config.variables) == ((), None, {})


def test_config_is_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        StreamConfig().reasoning = "think"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reasoning": "xml"}, "reasoning"),
        ({"reasonning": "think"}, "Extra inputs are not permitted"),
        ({"think_preopened": True}, "think_preopened needs reasoning: think"),
        ({"reasoning_aliases": ["reasoning_content"]}, "must not repeat a field"),
        ({"reasoning_aliases": ["reasoning", "reasoning"]}, "must not repeat a field"),
        ({"reasoning_field": "thoughts"}, "reasoning_field"),
        ({"max_output_chars": 0}, "greater than or equal to 1"),
        ({"banned_phrases": ["ok", "  "]}, "must not be blank"),
        ({"repetition_guard": {"window": 10, "max_repeats": 10}}, "larger than max_repeats"),
        ({"repetition_guard": {"windw": 10}}, "Extra inputs are not permitted"),
    ],
)
def test_refusals(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        StreamConfig.model_validate(fields)
