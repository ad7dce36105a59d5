"""Per-model system prompt templates: `{{name}}` placeholders filled from registry and request.

A template may only name variables declared in the registry entry's `variables` map (checked
when the config loads); request `metadata` may override those values, never add new names.
"""

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from app.pipeline.options import RequestOptionError

if TYPE_CHECKING:  # config.py validates templates with this module
    from app.pipeline.config import StreamConfig

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_SYSTEM_ROLES = frozenset({"system", "developer"})


def template_errors(template: str, variables: Mapping[str, str]) -> list[str]:
    """Problems with a template: undeclared variables and malformed `{{...}}` placeholders."""
    problems = [
        f"undeclared variable {name!r}"
        for name in dict.fromkeys(PLACEHOLDER.findall(template))
        if name not in variables
    ]
    leftover = PLACEHOLDER.sub("", template)
    if "{{" in leftover or "}}" in leftover:
        problems.append("malformed placeholder (expected {{name}})")
    return problems


def render(template: str, variables: Mapping[str, str], metadata: Mapping[str, Any]) -> str:
    """Fill every placeholder in one pass; values are inserted verbatim (never re-expanded)."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in metadata:
            return variables[name]
        given = metadata[name]
        if not isinstance(given, str):
            raise RequestOptionError(
                f"metadata.{name} must be a string, got {type(given).__name__}"
            )
        return given

    return PLACEHOLDER.sub(value, template)


def apply_system_template(
    body: dict[str, Any], config: "StreamConfig | None", metadata: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Return `body` with the model's rendered system prompt prepended, unless it already has one.

    The input body is not modified. Raises `RequestOptionError` for a non-string metadata value
    that the template uses.
    """
    messages = body.get("messages")
    if config is None or config.system_prompt is None or not isinstance(messages, list):
        return body
    if any(isinstance(m, dict) and m.get("role") in _SYSTEM_ROLES for m in messages):
        return body
    if metadata is not None and not isinstance(metadata, Mapping):
        raise RequestOptionError("metadata must be an object of strings")
    text = render(config.system_prompt, config.variables, metadata or {})
    return {**body, "messages": [{"role": "system", "content": text}, *messages]}
