"""Tokenize and detokenize with a model's own tokenizer, in a worker thread (LocalAI's shapes)."""

from typing import Any

from .errors import LlamaCppBadRequest
from .requests import DetokenizeBody, TokenizeBody


def tokenize(llama: Any, body: TokenizeBody) -> dict[str, Any]:
    """`{"tokens": [...]}`: the content's tokens, without a beginning-of-sequence token."""
    return {"tokens": llama.tokenize(body.content.encode(), add_bos=False, special=False)}


def detokenize(llama: Any, model_id: str, body: DetokenizeBody) -> dict[str, Any]:
    """`{"content": ...}`: the text of the tokens; an id outside the vocabulary is refused
    (llama.cpp would read past its table)."""
    size = llama.n_vocab()
    if any(token >= size for token in body.tokens):
        raise LlamaCppBadRequest(
            f"model {model_id!r} has {size} tokens; an id is out of range", param="tokens"
        )
    return {"content": llama.detokenize(body.tokens).decode("utf-8", errors="replace")}
