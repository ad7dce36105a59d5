"""Banned phrases and the character budget, streamed (interrupt) and non-streamed (violation)."""

from app.pipeline import RequestOptions, StreamConfig, build_chain, check_output
from tests.app.pipeline._chunks import run, seen, stream

BANNED = StreamConfig(banned_phrases=("idiot", "secret plan"), reasoning_aliases=())
ROLE = ({"content": None, "role": "assistant"}, None)


async def test_phrase_in_one_chunk_interrupts_with_content_filter() -> None:
    chain = build_chain(BANNED, RequestOptions())
    out = await run(chain, stream(["You", " IDIOT", " go"]))
    assert seen(out) == [ROLE, ({"content": "You"}, None), ({}, "content_filter")]
    assert chain is not None and chain.interruption is not None
    assert chain.interruption.detail == "banned phrase 'idiot'"


async def test_phrase_split_across_chunks_is_caught() -> None:
    out = await run(
        build_chain(BANNED, RequestOptions()), stream(["the sec", "ret", " p", "lan is"])
    )
    sent = [({"content": t}, None) for t in ["the sec", "ret", " p"]]
    assert seen(out) == [ROLE, *sent, ({}, "content_filter")]


async def test_phrase_in_reasoning_is_caught() -> None:
    config = StreamConfig(reasoning="think", banned_phrases=("secret plan",))
    out = await run(
        build_chain(config, RequestOptions()), stream(["<think>my secret", " plan</think>"])
    )
    assert seen(out)[-1] == ({}, "content_filter")


async def test_dropped_reasoning_is_not_checked() -> None:
    config = StreamConfig(reasoning="think", banned_phrases=("secret",))
    out = await run(
        build_chain(config, RequestOptions(include_reasoning=False)), stream(["<think>secret"])
    )
    assert seen(out)[-1] == ({"content": None}, "stop")


async def test_clean_text_passes() -> None:
    out = await run(
        build_chain(BANNED, RequestOptions()), stream(["secret", "s", " plan", " fine"])
    )
    assert seen(out)[-1] == ({"content": None}, "stop")
    assert len(out) == 6


def test_check_output_reports_the_first_violation() -> None:
    assert check_output("what an Idiot", BANNED) == "output contains banned phrase 'idiot'"
    assert check_output("all good", BANNED) is None
    assert check_output("x" * 11, StreamConfig(max_output_chars=10)) == (
        "output exceeds 10 characters"
    )
    assert check_output("x" * 10, StreamConfig(max_output_chars=10)) is None
    assert check_output("idiot", None) is None
