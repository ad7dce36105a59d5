"""What both translations share: text from content blocks, sampling fields, stop reasons."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidRequest

# Chat sampling fields a Messages or Responses body may carry as extras (or registry defaults);
# the in-process backend takes them.
SAMPLING = ("top_k", "min_p", "repeat_penalty", "seed", "presence_penalty", "frequency_penalty")


def block_text(content: object, where: str, kinds: frozenset[str], skip: frozenset[str]) -> str:
    """The text of `content`: a string, or a list of blocks whose type is in `kinds` (joined);
    blocks of a type in `skip` are left out, any other is a 400 naming where it is."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequest(f"'{where}' must be a string or a list of blocks.", param=where)
    texts = []
    for index, block in enumerate(content):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind in skip:
            continue
        if kind not in kinds or not isinstance(block.get("text"), str):
            raise InvalidRequest(
                f"'{where}.{index}': in-process models take text only, not {kind!r} blocks.",
                param=where,
            )
        texts.append(block["text"])
    return "".join(texts)


def refuse(body: dict[str, Any], *names: str) -> None:
    """A 400 for the first of `names` the body sets: the in-process backend cannot honour it."""
    for name in names:
        if body.get(name):
            raise InvalidRequest(f"{name!r} is not supported by in-process models.", param=name)


def chat_request(
    body: dict[str, Any], messages: list[dict[str, str]], max_tokens: object
) -> dict[str, Any]:
    """The in-process chat body: `messages`, `max_tokens`, the sampling fields `body` sets,
    and a stream asking for its usage trailer (the events need the token counts)."""
    chat: dict[str, Any] = {"messages": messages}
    if max_tokens is not None:
        chat["max_tokens"] = max_tokens
    for name in ("temperature", "top_p", *SAMPLING):
        if body.get(name) is not None:
            chat[name] = body[name]
    if body.get("stream") is True:
        chat["stream"] = True
        chat["stream_options"] = {"include_usage": True}
    return chat


def completion_text(completion: dict[str, Any]) -> tuple[str, str | None, dict[str, Any]]:
    """A whole chat completion's first choice: its text, finish reason and usage."""
    choice = (completion.get("choices") or [{}])[0]
    text = (choice.get("message") or {}).get("content") or ""
    return text, choice.get("finish_reason"), completion.get("usage") or {}


def chunk_parts(chunk: dict[str, Any]) -> tuple[str, str | None, dict[str, Any] | None]:
    """A chat chunk's text delta, finish reason and usage (each empty when absent)."""
    text, finish = "", None
    for choice in chunk.get("choices") or ():
        text += (choice.get("delta") or {}).get("content") or ""
        finish = choice.get("finish_reason") or finish
    return text, finish, chunk.get("usage")
