"""`build_chain`: when there is no chain at all, request switches, closing."""

import pytest

from app.pipeline import (
    RepetitionGuardConfig,
    RequestOptionError,
    RequestOptions,
    StreamConfig,
    build_chain,
)
from tests.app.pipeline._chunks import chunk, stream


@pytest.mark.parametrize(
    "config",
    [None, StreamConfig(), StreamConfig(system_prompt="Be brief.", reasoning_aliases=())],
)
def test_nothing_to_do_means_no_chain(config: StreamConfig | None) -> None:
    assert build_chain(config, RequestOptions()) is None


def test_no_config_ignores_request_switches() -> None:
    assert build_chain(None, RequestOptions(include_reasoning=False)) is None


@pytest.mark.parametrize(
    ("config", "stages"),
    [
        (StreamConfig(reasoning="think"), ["ReasoningStage"]),
        (
            StreamConfig(max_output_chars=5, banned_phrases=("x",)),
            ["GuardStage", "BannedPhraseStage"],
        ),
        (
            StreamConfig(reasoning="harmony", repetition_guard=RepetitionGuardConfig()),
            ["GuardStage", "ReasoningStage"],
        ),
    ],
)
def test_stages_follow_the_config(config: StreamConfig, stages: list[str]) -> None:
    chain = build_chain(config, RequestOptions())
    assert chain is not None
    assert [type(stage).__name__ for stage in chain.stages] == stages


def test_include_reasoning_false_alone_builds_a_chain() -> None:
    chain = build_chain(StreamConfig(), RequestOptions(include_reasoning=False))
    assert chain is not None and [type(s).__name__ for s in chain.stages] == ["ReasoningStage"]


@pytest.mark.parametrize(
    "request_body",
    [{"include_reasoning": "no"}, {"stream_options": []}, {"stream_options": {"include_usage": 1}}],
)
def test_malformed_switches_are_refused(request_body: dict[str, object]) -> None:
    with pytest.raises(RequestOptionError):
        RequestOptions.from_request(request_body)


def test_include_usage_is_read_from_stream_options() -> None:
    def wants_usage(body: dict[str, object]) -> bool:
        return RequestOptions.from_request(body).include_usage

    assert wants_usage({"stream_options": {"include_usage": True}}) is True
    assert wants_usage({"stream_options": {"include_usage": False}}) is False
    assert wants_usage({"stream_options": None}) is False
    assert wants_usage({}) is False


async def test_closing_the_output_early_closes_every_stage() -> None:
    closed: list[str] = []

    async def upstream():  # type: ignore[no-untyped-def]
        try:
            for item in stream(["a"] * 10):
                yield item
        finally:
            closed.append("upstream")

    chain = build_chain(StreamConfig(reasoning="think", max_output_chars=100), RequestOptions())
    assert chain is not None
    source = upstream()
    output = chain.run(source)
    assert (await anext(output))["choices"][0]["delta"]["role"] == "assistant"
    await output.aclose()
    assert closed == []  # the caller owns the upstream
    await source.aclose()
    assert closed == ["upstream"]


async def test_upstream_errors_propagate_unchanged() -> None:
    class Cut(Exception):
        pass

    async def upstream():  # type: ignore[no-untyped-def]
        yield chunk("<think>a")
        raise Cut("connection reset")

    chain = build_chain(StreamConfig(reasoning="think", max_output_chars=50), RequestOptions())
    assert chain is not None
    received = []
    with pytest.raises(Cut, match="connection reset"):
        async for item in chain.run(upstream()):
            received.append(item)
    assert len(received) == 1 and chain.interruption is None
