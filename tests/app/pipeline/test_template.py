"""System prompt templates: when they apply, how variables are filled, what is refused."""

import copy

import pytest
from pydantic import ValidationError

from app.pipeline import RequestOptionError, StreamConfig, apply_system_template

CONFIG = StreamConfig(
    system_prompt="You are a {{ role }} assistant for {{team}}.",
    variables={"role": "helpful", "team": "ops"},
)
USER = {"role": "user", "content": "hi"}


def test_prepends_the_rendered_prompt_without_touching_the_input() -> None:
    body = {"model": "m", "messages": [USER]}
    before = copy.deepcopy(body)
    out = apply_system_template(body, CONFIG, None)
    assert out == {
        "model": "m",
        "messages": [{"role": "system", "content": "You are a helpful assistant for ops."}, USER],
    }
    assert body == before


def test_metadata_overrides_declared_variables_only() -> None:
    metadata = {"team": "{{role}}", "unused": "x", "other": 3}
    out = apply_system_template({"messages": [USER]}, CONFIG, metadata)
    assert out["messages"][0]["content"] == "You are a helpful assistant for {{role}}."


@pytest.mark.parametrize("role", ["system", "developer"])
def test_client_system_message_wins(role: str) -> None:
    body = {"messages": [{"role": role, "content": "mine"}, USER]}
    assert apply_system_template(body, CONFIG, None) is body


def test_no_template_or_no_config_leaves_the_body() -> None:
    body = {"messages": [USER]}
    assert apply_system_template(body, StreamConfig(), None) is body
    assert apply_system_template(body, None, None) is body


def test_non_string_metadata_value_is_refused() -> None:
    with pytest.raises(RequestOptionError, match=r"metadata\.role must be a string"):
        apply_system_template({"messages": [USER]}, CONFIG, {"role": 1})
    with pytest.raises(RequestOptionError, match="metadata must be an object"):
        apply_system_template({"messages": [USER]}, CONFIG, ["role"])  # type: ignore[arg-type]


def test_undeclared_variable_fails_at_config_load() -> None:
    with pytest.raises(ValidationError, match="undeclared variable 'topic'"):
        StreamConfig(system_prompt="Help with {{topic}}", variables={"role": "x"})


@pytest.mark.parametrize("template", ["{{ two words }}", "{{role}", "oops }}"])
def test_malformed_placeholder_fails_at_config_load(template: str) -> None:
    with pytest.raises(ValidationError, match="malformed placeholder"):
        StreamConfig(system_prompt=template, variables={"role": "x"})
