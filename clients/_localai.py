"""`LocalAIClient`: LocalAI's OpenAI-compatible API (or this gateway's) as typed async calls.

It rides on `UpstreamClient`, so it shares the gateway's error tree, phase deadlines, LocalAI
error normalisation and SSE parser; `_retry` decides what is tried again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from typing import Any, Literal, TypeVar, overload

import httpx
import orjson
import pydantic

from ._client import JSON, UpstreamClient, UpstreamReply
from ._config import Timeouts
from ._errors import UpstreamSchemaViolation
from ._media import Media, image_url, multipart, read_media
from ._options import DEFAULT_MAX_READ_BYTES, server_root, timeouts_for
from ._replies import chat_chunks, shaped, upstream_json
from ._retry import Backoff, retrying
from ._streams import AsyncStream, StreamOpener, mapped, open_stream
from ._structured import InvalidAnswer, Schema, structure_for
from ._types import (
    ChatChunk,
    ChatResponse,
    RerankResult,
    Transcription,
    embedding_vectors,
    image_bytes,
    image_urls,
    model_list,
)

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)
Messages = Sequence[Mapping[str, Any]]

CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"
IMAGES = "/v1/images/generations"
MODELS = "/v1/models"
TRANSCRIPTIONS = "/v1/audio/transcriptions"
SPEECH = "/v1/audio/speech"
RERANK = "/v1/rerank"


def _content(chunk: ChatChunk) -> str:
    return chunk.content


def _chat_body(
    messages: Messages, model: str, grammar: str | None, fields: dict[str, Any]
) -> dict[str, Any]:
    body = {"model": model, "messages": list(messages), **fields}
    if grammar is not None:
        body["grammar"] = grammar
    return body


class LocalAIClient:
    """Async client for LocalAI's OpenAI-compatible API, or this gateway's: one connection pool.

        async with LocalAIClient("http://localai:8080") as client:
            reply = await client.chat_completion([{"role": "user", "content": "Hi"}], "qwen3")

    `base_url` is the server's root (a trailing `/v1` is accepted). `timeout` caps every phase
    of a call in seconds (a `Timeouts` sets them one by one). `max_retries` retries connect
    errors and 429/502/503/504 with backoff, honouring `Retry-After`. `transport` takes any
    httpx async transport (respx, `httpx.ASGITransport`); the default is httpx's own pool.
    No body, and no stream event, may exceed `max_read_bytes`.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        timeout: float | Timeouts | None = 300,
        max_retries: int = 3,
        transport: httpx.AsyncBaseTransport | None = None,
        max_read_bytes: int | None = DEFAULT_MAX_READ_BYTES,
    ) -> None:
        self.base_url = server_root(base_url)
        self.timeouts = timeouts_for(timeout)
        self._backoff = Backoff(max_retries=max_retries)
        self._upstream = UpstreamClient(
            api_key=api_key,
            timeouts=self.timeouts,
            transport=transport or httpx.AsyncHTTPTransport(),
            max_read_bytes=max_read_bytes,
        )
        self._streams: weakref.WeakSet[AsyncStream[Any]] = weakref.WeakSet()
        self._closed = False

    async def __aenter__(self) -> LocalAIClient:
        self._check_open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the open streams, then the connection pool; further calls raise RuntimeError.
        Idempotent."""
        self._closed = True
        # Each stream closes its generators outermost first; left to the loop's shutdown they
        # would be closed in any order, and Python 3.11's contextlib fails on an inner
        # generator closed before the `async with` around it exits.
        for stream in list(self._streams):
            await stream.aclose()
        await self._upstream.aclose()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(
                "This LocalAIClient has been closed; create a new one to send requests."
            )

    def _deadline(self) -> float | None:
        """The loop time by which a call, retries and waits included, must be over."""
        total = self.timeouts.total
        return None if total is None else asyncio.get_running_loop().time() + total

    async def _send(
        self,
        method: str,
        path: str,
        body: bytes | None,
        model: str,
        content_type: str | None = JSON,
    ) -> UpstreamReply:
        self._check_open()
        deadline = self._deadline()
        request = functools.partial(
            self._upstream.request,
            self.base_url,
            method,
            path,
            body,
            content_type=content_type,
            model=model,
            deadline=deadline,
        )
        return await retrying(request, self._backoff, deadline)

    async def _post(self, path: str, payload: dict[str, Any], model: str) -> Any:
        reply = await self._send("POST", path, orjson.dumps(payload), model)
        return upstream_json(reply.content, model)

    # ------------------------------------------------------------------ chat

    @overload
    async def chat_completion(
        self,
        messages: Messages,
        model: str,
        stream: Literal[False] = False,
        grammar: str | None = None,
        **kwargs: Any,
    ) -> ChatResponse: ...

    @overload
    async def chat_completion(
        self,
        messages: Messages,
        model: str,
        stream: Literal[True],
        grammar: str | None = None,
        **kwargs: Any,
    ) -> AsyncStream[str]: ...

    async def chat_completion(
        self,
        messages: Messages,
        model: str,
        stream: bool = False,
        grammar: str | None = None,
        **kwargs: Any,
    ) -> ChatResponse | AsyncStream[str]:
        """A chat answer; with `stream=True` an `AsyncStream` of its text pieces instead.

        `grammar` (GBNF) constrains the answer; `kwargs` are further request fields
        (`max_tokens`, `temperature`, `tools`, LocalAI's `top_k`...).
        """
        body = _chat_body(messages, model, grammar, kwargs)
        if stream:
            return mapped(await self._open_chunks(body, model), _content)
        return shaped(ChatResponse.from_dict, await self._post(CHAT, body, model), model)

    def stream_chat(
        self, messages: Messages, model: str, grammar: str | None = None, **kwargs: Any
    ) -> StreamOpener[ChatChunk]:
        """Typed chunks of a streamed chat answer: `async with client.stream_chat(...) as
        chunks:`, or `await` it. Asks for the usage trailer unless `stream_options` is given."""
        body = _chat_body(messages, model, grammar, kwargs)
        body.setdefault("stream_options", {"include_usage": True})
        return StreamOpener(functools.partial(self._open_chunks, body, model))

    async def _open_chunks(self, body: dict[str, Any], model: str) -> AsyncStream[ChatChunk]:
        self._check_open()
        content = orjson.dumps({**body, "stream": True})
        deadline = self._deadline()

        @contextlib.asynccontextmanager
        async def source() -> AsyncIterator[AsyncGenerator[ChatChunk]]:
            async with self._upstream.stream(
                self.base_url, CHAT, content, model=model, deadline=deadline
            ) as events:
                yield chat_chunks(events, model)

        stream = await retrying(lambda: open_stream(source()), self._backoff, deadline)
        self._streams.add(stream)
        return stream

    @overload
    async def grammar_constrained_generation(
        self, /, messages: Messages, model: str, schema: type[ModelT], **kwargs: Any
    ) -> ModelT: ...

    @overload
    async def grammar_constrained_generation(
        self, /, messages: Messages, model: str, schema: str, **kwargs: Any
    ) -> str: ...

    @overload
    async def grammar_constrained_generation(
        self, /, messages: Messages, model: str, schema: Mapping[str, Any], **kwargs: Any
    ) -> Any: ...

    async def grammar_constrained_generation(
        self, /, messages: Messages, model: str, schema: Schema, **kwargs: Any
    ) -> Any:
        """An answer constrained by the grammar `grammar/` makes for `schema`, and checked.

        A Pydantic model class gives a validated instance, a JSON Schema dict the validated
        JSON value, GBNF text the text. An answer that does not validate is asked for once
        more with the same grammar; then `UpstreamSchemaViolation` carries it and its errors.
        """
        structure = structure_for(schema)
        for _ in range(2):
            reply = await self.chat_completion(
                messages, model, stream=False, grammar=structure.grammar, **kwargs
            )
            try:
                return structure.parse(reply.content)
            except InvalidAnswer as exc:
                invalid = exc
        raise UpstreamSchemaViolation(
            f"model {model!r}: the answer did not match the schema twice: {invalid.errors[0]}",
            model=model,
            text=reply.content,
            errors=invalid.errors,
        )

    # ------------------------------------------------------------------ other endpoints

    async def create_embeddings(
        self, /, input_text: str | Sequence[str], model: str, **kwargs: Any
    ) -> list[list[float]]:
        """One vector per input, in input order (a string is one input)."""
        count = 1 if isinstance(input_text, str) else len(input_text)
        text = input_text if isinstance(input_text, str) else list(input_text)
        raw = await self._post(EMBEDDINGS, {"model": model, "input": text, **kwargs}, model)
        return shaped(functools.partial(embedding_vectors, count=count), raw, model)

    @overload
    async def generate_image(
        self,
        /,
        prompt: str,
        model: str,
        size: str = "1024x1024",
        n: int = 1,
        *,
        response_format: Literal["url"] = "url",
        **kwargs: Any,
    ) -> list[str]: ...

    @overload
    async def generate_image(
        self,
        /,
        prompt: str,
        model: str,
        size: str = "1024x1024",
        n: int = 1,
        *,
        response_format: Literal["b64_json"],
        **kwargs: Any,
    ) -> list[bytes]: ...

    async def generate_image(
        self,
        /,
        prompt: str,
        model: str,
        size: str = "1024x1024",
        n: int = 1,
        *,
        response_format: Literal["url", "b64_json"] = "url",
        **kwargs: Any,
    ) -> list[str] | list[bytes]:
        """The URLs of `n` generated images, or with `response_format="b64_json"` their bytes."""
        payload = {"model": model, "prompt": prompt, "size": size, "n": n, **kwargs}
        payload["response_format"] = response_format
        raw = await self._post(IMAGES, payload, model)
        if response_format == "url":
            return shaped(image_urls, raw, model)
        return shaped(image_bytes, raw, model)

    async def describe_image(self, /, image: Media, prompt: str, model: str, **kwargs: Any) -> str:
        """A vision model's answer to `prompt` about `image`: bytes, a file path, or an
        http(s) URL (bytes and files go as a `data:` URI)."""
        part = {"type": "image_url", "image_url": {"url": await image_url(image)}}
        content = [{"type": "text", "text": prompt}, part]
        messages = [{"role": "user", "content": content}]
        reply = await self.chat_completion(messages, model, stream=False, **kwargs)
        return reply.content

    async def list_models(self) -> list[dict[str, Any]]:
        """The models the server offers, each a dict with at least `id`."""
        reply = await self._send("GET", MODELS, None, "", content_type=None)
        return shaped(model_list, upstream_json(reply.content, ""), "")

    async def create_transcription(
        self, /, audio: Media, model: str, **fields: str | int | float | bool | None
    ) -> Transcription:
        """The text of an audio file (bytes or a path); `fields` are form fields such as
        `language` or `response_format` (text formats come back as `text` alone)."""
        filename, data = await read_media(audio, "audio.wav")
        body, content_type = multipart({"model": model, **fields}, "file", filename, data)
        reply = await self._send("POST", TRANSCRIPTIONS, body, model, content_type)
        if not reply.content_type.startswith(JSON):
            return Transcription(text=reply.content.decode("utf-8", errors="replace"))
        return shaped(Transcription.from_dict, upstream_json(reply.content, model), model)

    async def create_speech(
        self, /, input_text: str, model: str, voice: str | None = None, **kwargs: Any
    ) -> bytes:
        """Speech audio for `input_text`, in the format the server picks (LocalAI: WAV) unless
        `response_format` says otherwise."""
        payload = {"model": model, "input": input_text, **kwargs}
        if voice is not None:
            payload["voice"] = voice
        reply = await self._send("POST", SPEECH, orjson.dumps(payload), model)
        return reply.content

    async def rerank(
        self, query: str, documents: Sequence[str], model: str, top_n: int | None = None
    ) -> list[RerankResult]:
        """`documents` ranked by relevance to `query`, best first (the `top_n` best if given)."""
        payload: dict[str, Any] = {"model": model, "query": query, "documents": list(documents)}
        if top_n is not None:
            payload["top_n"] = top_n
        raw = await self._post(RERANK, payload, model)
        return shaped(lambda r: [RerankResult.from_dict(item) for item in r["results"]], raw, model)
