"""Repetition guard and character budget: they stop loops, and leave normal text alone."""

import logging
import re

import pytest

from app.pipeline import (
    InterruptStream,
    RepetitionGuardConfig,
    RequestOptions,
    StreamConfig,
    build_chain,
)
from app.pipeline.guard import RepetitionDetector
from tests.app.pipeline._chunks import chunk, run, seen, stream

ROLE = ({"content": None, "role": "assistant"}, None)
PROSE = (
    "The gateway sits in front of LocalAI, and it keeps the plain relay path zero-copy. "
    "When a model needs reasoning split, the chain rewrites each delta; the rest of the time, "
    "the bytes go through as they came. Tables, lists, and code blocks are normal output:\n"
    "| a | b | c |\n|---|---|---|\n| 1 | 2 | 3 |\n- one\n- two\n- three\n"
    "    for i in range(10):\n        print(i, i, i)\n"
)


def guarded(window: int = 40, max_repeats: int = 4) -> StreamConfig:
    return StreamConfig(
        repetition_guard=RepetitionGuardConfig(window=window, max_repeats=max_repeats)
    )


def words(text: str) -> list[str]:
    """Words with their leading whitespace, roughly how a BPE tokenizer cuts prose."""
    return re.findall(r"\s*\S+|\s+", text)


async def test_two_token_loop_is_stopped_with_repetition(caplog: pytest.LogCaptureFixture) -> None:
    chain = build_chain(guarded(window=20, max_repeats=3), RequestOptions())
    with caplog.at_level(logging.WARNING, logger="app.pipeline.chain"):
        out = await run(chain, stream(["a", "b"] * 6))
    content = [({"content": t}, None) for t in "abababa"]
    assert seen(out) == [ROLE, *content, ({}, "repetition")]
    assert chain is not None and chain.interruption is not None
    assert chain.interruption.reason == "repetition"
    assert "model=qwen3 finish_reason=repetition" in caplog.text


async def test_single_token_loop_needs_more_than_max_repeats() -> None:
    assert (await run(build_chain(guarded(), RequestOptions()), stream(["\n"] * 5)))[-1]["choices"][
        0
    ] == {
        "index": 0,
        "delta": {},
        "finish_reason": "repetition",
    }
    out = await run(build_chain(guarded(), RequestOptions()), stream(["\n"] * 4 + ["done"]))
    assert seen(out)[-1] == ({"content": None}, "stop")


async def test_pattern_longer_than_the_window_allows_is_not_flagged() -> None:
    config = guarded(window=20, max_repeats=3)  # patterns up to 5 tokens
    pattern = ["a", "b", "c", "d", "e", "f"]
    out = await run(build_chain(config, RequestOptions()), stream(pattern * 10))
    assert seen(out)[-1] == ({"content": None}, "stop")
    assert len(out) == 62


async def test_normal_text_is_not_flagged_with_default_limits() -> None:
    pieces = words(PROSE) * 3 + list(PROSE)
    config = StreamConfig(repetition_guard=RepetitionGuardConfig())
    out = await run(build_chain(config, RequestOptions()), stream(pieces))
    assert len(out) == len(pieces) + 2
    assert seen(out)[-1] == ({"content": None}, "stop")


async def test_loop_in_native_reasoning_is_stopped() -> None:
    upstream = [chunk(reasoning="hmm") for _ in range(6)]
    out = await run(build_chain(guarded(), RequestOptions()), upstream)
    assert seen(out)[-1] == ({}, "repetition")
    assert len(out) == 5


async def test_budget_stops_with_length_and_drops_the_overflowing_chunk() -> None:
    config = StreamConfig(max_output_chars=10)
    out = await run(build_chain(config, RequestOptions()), stream(["hello", " world", "!"]))
    assert seen(out) == [ROLE, ({"content": "hello"}, None), ({}, "length")]


async def test_budget_counts_reasoning_the_client_does_not_see() -> None:
    config = StreamConfig(reasoning="think", max_output_chars=12)
    out = await run(
        build_chain(config, RequestOptions(include_reasoning=False)), stream(["<think>", "abcdef"])
    )
    assert seen(out) == [ROLE, ({}, "length")]


async def test_interrupt_stops_reading_the_upstream() -> None:
    pulled: list[int] = []

    async def upstream():  # type: ignore[no-untyped-def]
        for i, item in enumerate(stream(["x"] * 100)):
            pulled.append(i)
            yield item

    chain = build_chain(guarded(), RequestOptions())
    assert chain is not None
    out = [item async for item in chain.run(upstream())]
    assert out[-1]["choices"][0]["finish_reason"] == "repetition"
    assert len(pulled) == 6


async def test_interrupt_from_a_custom_stage_ends_with_its_reason() -> None:
    class Refuse:
        async def run(self, chunks):  # type: ignore[no-untyped-def]
            async for item in chunks:
                if item["choices"][0]["delta"].get("content") == "bad":
                    raise InterruptStream("policy", "said bad", item)
                yield item

    chain = build_chain(StreamConfig(reasoning="think"), RequestOptions())
    assert chain is not None
    chain.stages += (Refuse(),)
    out = await run(chain, stream(["ok", "bad", "more"]))
    assert seen(out)[-2:] == [({"content": "ok"}, None), ({}, "policy")]


def test_detector_still_works_after_trimming_its_history() -> None:
    detector = RepetitionDetector(RepetitionGuardConfig(window=20, max_repeats=3))
    assert all(detector.push(f"t{i}") is None for i in range(1000))
    results = [detector.push(token) for token in ["x", "y", "z"] * 4]
    assert results == [None] * 11 + [3]
