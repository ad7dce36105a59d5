"""Harmony channel routing over streams: exact client-visible chunks, markers split anywhere."""

from app.pipeline import RequestOptions, StreamConfig, build_chain
from app.pipeline.reasoning import HEADER_LIMIT
from tests.app.pipeline._chunks import joined, run, seen, stream

HARMONY = StreamConfig(reasoning="harmony", reasoning_aliases=())
ROLE = ({"content": None, "role": "assistant"}, None)
STOP = ({"content": None}, "stop")
GPT_OSS = (
    "<|channel|>analysis<|message|>User greets. Reply.<|end|>"
    "<|start|>assistant<|channel|>final<|message|>Hello 👋!<|return|>"
)


def r(text: str) -> tuple[dict[str, str | None], None]:
    return {"content": None, "reasoning_content": text}, None


def c(text: str) -> tuple[dict[str, str | None], None]:
    return {"content": text}, None


async def test_recorded_gpt_oss_stream() -> None:
    pieces = [
        "<|channel|>", "analysis", "<|message|>", "User", " greets", "<|end|>", "<|start|>",
        "assistant", "<|channel|>", "final", "<|message|>", "Hi", " there", "<|return|>",
    ]  # fmt: skip
    out = await run(build_chain(HARMONY, RequestOptions()), stream(pieces))
    assert seen(out) == [ROLE, r("User"), r(" greets"), c("Hi"), c(" there"), STOP]


async def test_markers_fed_one_character_at_a_time() -> None:
    out = await run(build_chain(HARMONY, RequestOptions()), stream(GPT_OSS))
    assert joined(out, "content") == "Hello 👋!"
    assert joined(out, "reasoning_content") == "User greets. Reply."
    assert all(
        delta.get("content") or delta.get("reasoning_content") or delta.get("role") or finish
        for delta, finish in seen(out)
    )


async def test_every_split_point_gives_the_same_text() -> None:
    for i in range(len(GPT_OSS) + 1):
        out = await run(build_chain(HARMONY, RequestOptions()), stream([GPT_OSS[:i], GPT_OSS[i:]]))
        assert joined(out, "content") == "Hello 👋!", i
        assert joined(out, "reasoning_content") == "User greets. Reply.", i


async def test_commentary_and_tool_call_headers_are_reasoning() -> None:
    text = (
        "<|start|>assistant<|channel|>commentary to=functions.get_weather "
        '<|constrain|>json<|message|>{"city":"Paris"}<|call|>'
    )
    out = await run(build_chain(HARMONY, RequestOptions()), stream([text]))
    assert seen(out) == [ROLE, r('{"city":"Paris"}'), STOP]


async def test_text_without_markers_is_content() -> None:
    out = await run(build_chain(HARMONY, RequestOptions()), stream(["plain", " 中文 <b>"]))
    assert seen(out) == [ROLE, c("plain"), c(" 中文 <b>"), STOP]


async def test_text_after_a_message_end_is_content() -> None:
    text = "<|channel|>analysis<|message|>a<|end|>stray"
    out = await run(build_chain(HARMONY, RequestOptions()), stream([text]))
    assert seen(out) == [ROLE, ({"content": "stray", "reasoning_content": "a"}, None), STOP]


async def test_unicode_next_to_split_markers() -> None:
    pieces = [
        "<|chan",
        "nel|>analysis<|mess",
        "age|>🤔思考<|e",
        "nd|><|channel|>final<|message|>",
        "答😀",
    ]
    out = await run(build_chain(HARMONY, RequestOptions()), stream(pieces))
    assert seen(out) == [ROLE, r("🤔思考"), c("答😀"), STOP]


async def test_header_cut_by_the_end_of_stream_is_not_shown() -> None:
    out = await run(
        build_chain(HARMONY, RequestOptions()), stream(["Hi", "<|start|>assistant<|chan"])
    )
    assert seen(out) == [ROLE, c("Hi"), STOP]


async def test_overlong_header_is_sent_as_content() -> None:
    body = "x" * HEADER_LIMIT
    out = await run(build_chain(HARMONY, RequestOptions()), stream(["<|channel|>", body, "y"]))
    assert seen(out) == [ROLE, c("<|channel|>" + body), c("y"), STOP]


async def test_unknown_channel_is_reasoning() -> None:
    out = await run(
        build_chain(HARMONY, RequestOptions()), stream(["<|channel|>scratch<|message|>z"])
    )
    assert seen(out) == [ROLE, r("z"), STOP]
