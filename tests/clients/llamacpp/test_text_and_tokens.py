"""Text completions and the tokenizer of the in-process backend, on the real SmolLM2-135M."""

import pytest

from clients.llamacpp import LlamaCppBackend, LlamaCppBadRequest, LlamaCppModelConfig

from .conftest import requires_smollm2

pytestmark = [pytest.mark.legacy, requires_smollm2]

PROMPT = {"prompt": "The capital of France is", "max_tokens": 6, "temperature": 0}


async def test_a_text_completion_continues_the_prompt_with_usage(
    backend: LlamaCppBackend, chat_config: LlamaCppModelConfig
) -> None:
    result = await backend.completion("smol", chat_config, PROMPT)
    assert result["object"] == "text_completion" and result["model"] == "smol"
    choice = result["choices"][0]
    assert choice["text"] and choice["finish_reason"] in ("stop", "length")
    assert result["usage"]["prompt_tokens"] > 3 and result["usage"]["completion_tokens"] > 0


async def test_a_streamed_text_completion_matches_the_whole_one(
    backend: LlamaCppBackend, chat_config: LlamaCppModelConfig
) -> None:
    whole = await backend.completion("smol", chat_config, PROMPT)
    body = {**PROMPT, "stream": True, "stream_options": {"include_usage": True}}
    chunks = [chunk async for chunk in backend.completion_stream("smol", chat_config, body)]
    text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
    assert text == whole["choices"][0]["text"]
    assert chunks[-1]["object"] == "text_completion" and chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == whole["usage"]


async def test_a_prompt_over_the_context_is_context_length_exceeded(
    backend: LlamaCppBackend, chat_config: LlamaCppModelConfig
) -> None:
    with pytest.raises(LlamaCppBadRequest) as info:
        await backend.completion("smol", chat_config, {"prompt": "word " * 1000})
    assert (info.value.code, info.value.param) == ("context_length_exceeded", "prompt")


async def test_tokenize_and_detokenize_round_trip(
    backend: LlamaCppBackend, chat_config: LlamaCppModelConfig
) -> None:
    tokens = await backend.tokenize("smol", chat_config, {"content": "Hello world"})
    assert 1 < len(tokens["tokens"]) < 5 and all(isinstance(t, int) for t in tokens["tokens"])
    text = await backend.detokenize("smol", chat_config, tokens)
    assert text == {"content": "Hello world"}


async def test_detokenize_refuses_ids_outside_the_vocabulary(
    backend: LlamaCppBackend, chat_config: LlamaCppModelConfig
) -> None:
    with pytest.raises(LlamaCppBadRequest, match="out of range"):
        await backend.detokenize("smol", chat_config, {"tokens": [10**9]})
    with pytest.raises(LlamaCppBadRequest, match="'prompt"):
        await backend.completion("smol", chat_config, {"prompt": ["a", "b"]})
