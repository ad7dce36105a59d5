"""The grammar that constrains a chat answer: the body's `grammar`, or one for `response_format`.

Every grammar is checked twice before generation: by `grammar.validate_gbnf` here, and by
llama.cpp's own parser in `check_native` (an invalid grammar crashes llama.cpp at sampling time).
"""

import json
from typing import Any

from .errors import LlamaCppBadRequest
from .requests import ChatBody, CompletionBody


def grammar_for(body: ChatBody | CompletionBody) -> str | None:
    """The validated GBNF text for a body, or None when the answer is unconstrained."""
    text = _requested_grammar(body)
    if text is not None:
        _validate(text)
    return text


def _requested_grammar(body: ChatBody | CompletionBody) -> str | None:
    fmt = body.response_format if isinstance(body, ChatBody) else None
    constrained_format = fmt is not None and fmt.type != "text"
    if body.grammar is not None and constrained_format:
        raise LlamaCppBadRequest(
            "give either 'grammar' or a JSON 'response_format', not both", param="grammar"
        )
    if body.grammar is not None or fmt is None or fmt.type == "text":
        return body.grammar
    import grammar  # imported on first use: the grammar package is optional for plain chat

    if fmt.json_schema is None:
        return str(grammar.JSON_OBJECT_GBNF)
    # Key order is kept: the grammar asks for properties in the order the schema lists them.
    schema = json.dumps(fmt.json_schema.schema_, separators=(",", ":"))
    try:
        return str(grammar.schema_to_gbnf_cached(schema, fmt.json_schema.strict is True))
    except ValueError as exc:
        raise LlamaCppBadRequest(
            f"response_format.json_schema cannot be enforced: {exc}", param="response_format"
        ) from exc


def _validate(text: str) -> None:
    from grammar import GrammarSyntaxError, validate_gbnf

    try:
        validate_gbnf(text)
    except GrammarSyntaxError as exc:
        raise LlamaCppBadRequest(f"invalid grammar: {exc}", param="grammar") from exc


def check_native(llama_cpp: Any, llama: Any, text: str) -> None:
    """Let llama.cpp parse the grammar once without sampling; raise `LlamaCppBadRequest` if not.

    Call it in the worker thread holding the model's lock.
    """
    vocab = llama_cpp.llama_model_get_vocab(llama.model)
    sampler = llama_cpp.llama_sampler_init_grammar(vocab, text.encode(), b"root")
    if not sampler:
        raise LlamaCppBadRequest("invalid grammar: llama.cpp cannot parse it", param="grammar")
    llama_cpp.llama_sampler_free(sampler)
