"""Request bodies: what the in-process backend accepts, and how it refuses the rest."""

import pytest

from clients.llamacpp import LlamaCppBadRequest
from clients.llamacpp.requests import ChatBody, EmbeddingsBody, parse_body

HELLO = [{"role": "user", "content": "hi"}]


def test_sampling_passes_only_what_the_client_set() -> None:
    body = parse_body(ChatBody, {"messages": HELLO, "temperature": 0, "stop": ["\n"]})
    assert body.sampling() == {"temperature": 0, "stop": ["\n"]}


def test_max_completion_tokens_wins_over_max_tokens() -> None:
    body = parse_body(ChatBody, {"messages": HELLO, "max_tokens": 9, "max_completion_tokens": 3})
    assert body.sampling() == {"max_tokens": 3}


def test_messages_become_llama_messages() -> None:
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    body = parse_body(
        ChatBody,
        {
            "messages": [
                {"role": "developer", "content": "be brief"},
                {"role": "user", "content": parts},
            ]
        },
    )
    assert [m.as_llama() for m in body.messages] == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "ab"},
    ]


def test_include_usage() -> None:
    assert not parse_body(ChatBody, {"messages": HELLO}).include_usage
    with_usage = {"messages": HELLO, "stream_options": {"include_usage": True}}
    assert parse_body(ChatBody, with_usage).include_usage


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({"messages": HELLO, "tools": []}, "tools", "'tools' is not supported"),
        ({"messages": HELLO, "n": 2}, "n", "'n'"),
        ({"messages": []}, "messages", "at least 1 item"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages", "'messages.0.role'"),
        ({"messages": HELLO, "temperature": 3}, "temperature", "less than or equal to 2"),
        (
            {"messages": HELLO, "response_format": {"type": "json_schema"}},
            "response_format",
            "'json_schema' is required",
        ),
    ],
)
def test_chat_refusals(body: dict[str, object], param: str, message: str) -> None:
    with pytest.raises(LlamaCppBadRequest, match=message) as caught:
        parse_body(ChatBody, body)
    assert caught.value.param == param


def test_embeddings_body() -> None:
    assert parse_body(EmbeddingsBody, {"input": "a"}).texts == ["a"]
    assert parse_body(EmbeddingsBody, {"input": ["a", "b"]}).texts == ["a", "b"]
    for bad in ({"input": [1, 2]}, {"input": []}, {"input": "a", "encoding_format": "int8"}):
        with pytest.raises(LlamaCppBadRequest):
            parse_body(EmbeddingsBody, bad)
