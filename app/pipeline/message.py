"""The reasoning split for non-streaming `chat.completion` responses."""

from typing import Any

from app.pipeline.config import StreamConfig
from app.pipeline.options import RequestOptions
from app.pipeline.reasoning import make_splitter, put_reasoning, take_native_reasoning


def split_reasoning_message(
    response: dict[str, Any], config: StreamConfig | None, options: RequestOptions
) -> dict[str, Any]:
    """Return `response` with each `message.content` split into answer and reasoning fields.

    Same rules as the stream: a string content stays a string ("" when all of it was reasoning).
    The input is not modified; unchanged when nothing is configured.
    """
    if config is None:
        return response
    if config.reasoning == "none" and options.include_reasoning:
        return response
    fields = config.reasoning_fields if options.include_reasoning else ()
    choices = response.get("choices")
    if not isinstance(choices, list):
        return response
    return {**response, "choices": [_split_choice(c, config, fields) for c in choices]}


def _split_choice(choice: Any, config: StreamConfig, fields: tuple[str, ...]) -> Any:
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        return choice
    message = dict(message)
    native = take_native_reasoning(message)
    text = message.get("content")
    reasoning = native
    if isinstance(text, str):
        splitter = make_splitter(config)
        content, found = splitter.feed(text)
        rest_content, rest_reasoning = splitter.flush()
        message["content"] = content + rest_content
        reasoning += found + rest_reasoning
    put_reasoning(message, reasoning, fields)
    return {**choice, "message": message}
