"""POST /v1/embeddings and /v1/rerank: deterministic vectors and scores from the text."""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Any

from ._chat import message_text
from ._http import Refusal, Reply, Request, json_reply
from ._state import State
from ._wire import new_id, now

EMBEDDING_DIMS = 8
_TOP_N_ERROR = "top_n - should be greater than or equal to 1"


def embed(text: str) -> list[float]:
    """A fixed vector in [-1, 1) per text: same text, same vector; different texts differ."""
    digest = hashlib.sha256(text.encode()).digest()
    return [round(b / 128 - 1, 6) for b in digest[:EMBEDDING_DIMS]]


async def embeddings(request: Request, state: State) -> Reply:
    """Embed `input` (string, [string] or [[int]]) or the LocalAI `messages` extension."""
    body = request.json_object()
    model = state.resolve_model(body.get("model"))
    if "input" in body and "messages" in body:
        raise Refusal.echo(400, "input and messages are mutually exclusive")
    texts = _embedding_texts(body)
    base64_output = body.get("encoding_format") == "base64"
    data = [
        {"embedding": _encode(embed(text), base64_output), "index": i, "object": "embedding"}
        for i, text in enumerate(texts)
    ]
    # LocalAI sends no `usage` for embeddings.
    return json_reply(
        200, {"created": now(), "object": "list", "id": new_id(), "model": model, "data": data}
    )


def _embedding_texts(body: dict[str, Any]) -> list[str]:
    """The texts LocalAI would embed; a flat [int] token list is not handled, as in LocalAI."""
    if "messages" in body:
        messages = body["messages"] if isinstance(body["messages"], list) else []
        return ["\n".join(message_text(m) for m in messages if isinstance(m, dict))]
    value = body.get("input")
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        if all(isinstance(item, str) for item in value):
            return list(value)
        if all(isinstance(item, list) for item in value):
            return [" ".join(map(str, tokens)) for tokens in value]
    return []


def _encode(vector: list[float], as_base64: bool) -> Any:
    if not as_base64:
        return vector
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


async def rerank(request: Request, state: State) -> Reply:
    """Rank documents by shared words with the query, in the LocalAI/Jina shape."""
    body = request.json_object()
    model = state.resolve_model(body.get("model"))
    query, documents = body.get("query"), body.get("documents")
    if not isinstance(query, str) or not isinstance(documents, list):
        raise Refusal.echo(400, "query and documents are required")
    top_n = body.get("top_n")
    if top_n is not None and (not isinstance(top_n, int) or top_n < 1):
        # Jina's endpoint answers a bare JSON string, not an error object.
        return json_reply(422, _TOP_N_ERROR)
    scored = [(relevance(query, str(doc)), i, str(doc)) for i, doc in enumerate(documents)]
    scored.sort(key=lambda item: (-item[0], item[1]))
    results = [
        {"index": i, "document": {"text": doc}, "relevance_score": score}
        for score, i, doc in scored[: top_n or len(scored)]
    ]
    tokens = len(query.split()) + sum(len(doc.split()) for _, _, doc in scored)
    usage = {"total_tokens": tokens, "prompt_tokens": tokens}
    return json_reply(200, {"model": model, "usage": usage, "results": results})


def relevance(query: str, document: str) -> float:
    """Share of the query's words found in the document, in [0, 1]."""
    wanted = set(query.lower().split())
    found = wanted & set(document.lower().split())
    return round(len(found) / len(wanted), 6) if wanted else 0.0
