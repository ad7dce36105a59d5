"""`<think>` splitting over streams: exact client-visible chunks, adversarial splits."""

import copy

import pytest

from app.pipeline import RequestOptions, StreamConfig, build_chain
from tests.app.pipeline._chunks import chunk, joined, run, seen, stream

THINK = StreamConfig(reasoning="think", reasoning_aliases=())
ROLE = ({"content": None, "role": "assistant"}, None)
STOP = ({"content": None}, "stop")


def r(text: str) -> tuple[dict[str, str | None], None]:
    return {"content": None, "reasoning_content": text}, None


def c(text: str) -> tuple[dict[str, str | None], None]:
    return {"content": text}, None


async def test_recorded_qwen3_stream() -> None:
    pieces = ["<think>", "\n", "Let", " me", " see", "\n", "</think>", "\n\n", "Hello", "!"]
    out = await run(build_chain(THINK, RequestOptions()), stream(pieces))
    assert seen(out) == [
        ROLE,
        r("\n"),
        r("Let"),
        r(" me"),
        r(" see"),
        r("\n"),
        c("\n\n"),
        c("Hello"),
        c("!"),
        STOP,
    ]


async def test_tags_fed_one_character_at_a_time() -> None:
    out = await run(build_chain(THINK, RequestOptions()), stream("<think>ab</think>cd"))
    assert seen(out) == [ROLE, r("a"), r("b"), c("c"), c("d"), STOP]


@pytest.mark.parametrize("text", ["x<think>y</think>z", "<think>reason</think>answer<think>"])
async def test_every_split_point_gives_the_same_text(text: str) -> None:
    expected_content = text.split("<think>")[0] + text.split("</think>")[1].split("<think>")[0]
    expected_reasoning = text.split("<think>")[1].split("</think>")[0]
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            out = await run(
                build_chain(THINK, RequestOptions()), stream([text[:i], text[i:j], text[j:]])
            )
            assert joined(out, "content") == expected_content, (i, j)
            assert joined(out, "reasoning_content") == expected_reasoning, (i, j)


async def test_text_that_only_looks_like_a_tag_is_content() -> None:
    out = await run(build_chain(THINK, RequestOptions()), stream(["a <th", "is is", " <b>"]))
    assert seen(out) == [ROLE, c("a "), c("<this is"), c(" <b>"), STOP]


async def test_preopened_template_starts_inside_reasoning() -> None:
    config = StreamConfig(reasoning="think", think_preopened=True, reasoning_aliases=())
    out = await run(
        build_chain(config, RequestOptions()), stream(["Hmm", " ok", "</think>", "Answer"])
    )
    assert seen(out) == [ROLE, r("Hmm"), r(" ok"), c("Answer"), STOP]


async def test_missing_close_tag_leaves_the_rest_as_reasoning() -> None:
    out = await run(build_chain(THINK, RequestOptions()), stream(["<think>", "still", " going"]))
    assert seen(out) == [ROLE, r("still"), r(" going"), STOP]


async def test_partial_tag_held_at_finish_goes_into_the_finish_chunk() -> None:
    out = await run(build_chain(THINK, RequestOptions()), stream(["<think>", "abc", "</thi"]))
    assert seen(out) == [ROLE, r("abc"), ({"content": None, "reasoning_content": "</thi"}, "stop")]


async def test_partial_tag_held_when_upstream_ends_without_finish() -> None:
    out = await run(build_chain(THINK, RequestOptions()), stream(["ans", "<thi"], finish=None))
    assert seen(out) == [ROLE, c("ans"), c("<thi")]
    assert out[-1]["id"] == stream([])[0]["id"] and out[-1]["model"] == "qwen3"


async def test_tags_do_not_nest() -> None:
    out = await run(
        build_chain(THINK, RequestOptions()), stream(["<think>a<think>b</think>c</think>d"])
    )
    both = {"content": "c</think>d", "reasoning_content": "a<think>b"}
    assert seen(out) == [ROLE, (both, None), STOP]


async def test_emoji_and_cjk_next_to_split_tags() -> None:
    out = await run(
        build_chain(THINK, RequestOptions()), stream(["思考<thi", "nk>🤔推理</th", "ink>答案😀"])
    )
    assert seen(out) == [ROLE, c("思考"), r("🤔推理"), c("答案😀"), STOP]


async def test_reasoning_goes_to_field_and_alias_by_default() -> None:
    out = await run(
        build_chain(StreamConfig(reasoning="think"), RequestOptions()), stream(["<think>x"])
    )
    assert seen(out)[1] == ({"content": None, "reasoning_content": "x", "reasoning": "x"}, None)


async def test_reasoning_field_is_configurable() -> None:
    config = StreamConfig(reasoning="think", reasoning_field="reasoning", reasoning_aliases=())
    out = await run(build_chain(config, RequestOptions()), stream(["<think>x"]))
    assert seen(out)[1] == ({"content": None, "reasoning": "x"}, None)


async def test_include_reasoning_false_drops_reasoning() -> None:
    chain = build_chain(THINK, RequestOptions(include_reasoning=False))
    out = await run(chain, stream(["<think>", "secret", "</think>", "Hi"]))
    assert seen(out) == [ROLE, c("Hi"), STOP]


async def test_native_localai_reasoning_is_mapped() -> None:
    upstream = [chunk(role="assistant"), chunk(reasoning="plan"), chunk("Hi"), chunk(finish="stop")]
    out = await run(build_chain(StreamConfig(reasoning="think"), RequestOptions()), upstream)
    assert seen(out) == [
        ROLE,
        ({"content": None, "reasoning_content": "plan", "reasoning": "plan"}, None),
        c("Hi"),
        STOP,
    ]


async def test_native_reasoning_dropped_when_client_turns_it_off() -> None:
    upstream = [chunk(role="assistant"), chunk(reasoning="plan"), chunk("Hi"), chunk(finish="stop")]
    out = await run(build_chain(StreamConfig(), RequestOptions(include_reasoning=False)), upstream)
    assert seen(out) == [ROLE, c("Hi"), STOP]


async def test_usage_trailer_and_error_events_pass_unchanged() -> None:
    trailer = {
        "id": "3f2b",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "qwen3",
        "choices": [],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
    }
    error = {"error": {"message": "boom", "type": "server_error", "code": "server_error"}}
    expected = copy.deepcopy([trailer, error])
    out = await run(
        build_chain(THINK, RequestOptions()), [*stream(["<think>a</think>b"]), trailer, error]
    )
    assert out[-2:] == expected
    assert out[-2] is trailer


async def test_choices_are_split_independently() -> None:
    upstream = [chunk("<think>a", index=0), chunk("b", index=1), chunk("</think>c", index=0)]
    out = await run(build_chain(THINK, RequestOptions()), upstream)
    assert [(x["choices"][0]["index"], x["choices"][0]["delta"]) for x in out] == [
        (0, {"content": None, "reasoning_content": "a"}),
        (1, {"content": "b"}),
        (0, {"content": "c"}),
    ]
