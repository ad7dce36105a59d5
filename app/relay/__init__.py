"""Requests in, replies out: request bodies, chat, embeddings, rerank, SSE, stream relays,
usage and structured output."""
