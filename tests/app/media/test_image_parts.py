"""Where each API keeps its images: the parts found, named, and put back in the API's shape."""

from __future__ import annotations

from typing import Any

import pytest

from app.errors import InvalidRequest
from app.media.image_parts import chat_images, messages_images, responses_images


def test_chat_parts_are_named_and_put_back_as_data_uris() -> None:
    body = {
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://a"}}]},
            {"role": "user", "content": "plain"},
            {"role": "user", "content": [{"type": "image", "image_url": {"url": "http://b"}}]},
        ]
    }
    images = chat_images(body)
    assert images.field == "messages"
    assert [(p.param, p.url) for p in images.parts] == [
        ("messages[1].content[0].image_url", "http://a"),
        ("messages[3].content[0].image_url", "http://b"),
    ]
    images.parts[0].put("image/png", "AAAA")
    assert body["messages"][1]["content"][0]["image_url"] == {"url": "data:image/png;base64,AAAA"}
    assert chat_images({"messages": "nope"}).parts == []


def test_responses_parts_are_named_and_put_back_as_data_uris() -> None:
    image = {"type": "input_image", "image_url": "http://a", "detail": "low"}
    body = {"input": [{"role": "user", "content": [{"type": "input_text", "text": "?"}, image]}]}
    images = responses_images(body)
    assert images.field == "input"
    assert [(p.param, p.url) for p in images.parts] == [
        ("input[0].content[1].image_url", "http://a")
    ]
    images.parts[0].put("image/gif", "R0lG")
    assert image == {
        "type": "input_image",
        "image_url": "data:image/gif;base64,R0lG",
        "detail": "low",
    }
    assert responses_images({"input": "just text"}).parts == []


@pytest.mark.parametrize(
    ("part", "param"),
    [
        ({"type": "input_video", "video_url": "http://a/v.mp4"}, "input[0].content[0].video_url"),
        ({"type": "input_audio", "audio_url": "https://a/a.wav"}, "input[0].content[0].audio_url"),
        ({"type": "input_file", "file_url": "file:///etc/passwd"}, "input[0].content[0].file_url"),
        (
            {"type": "input_image", "image_url": {"url": "http://a"}},
            "input[0].content[0].image_url",
        ),
    ],
)
def test_responses_urls_localai_would_fetch_are_refused(part: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        responses_images({"input": [{"role": "user", "content": [part]}]})
    assert info.value.param == param


def test_responses_inline_files_pass() -> None:
    part = {"type": "input_file", "file_url": "data:application/pdf;base64,JVBE"}
    assert responses_images({"input": [{"role": "user", "content": [part]}]}).parts == []


def test_messages_sources_are_read_and_put_back_as_base64_sources() -> None:
    url_block = {"type": "image", "source": {"type": "url", "url": "http://a/c.png"}}
    inline = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "QQ"},
    }
    body = {"messages": [{"role": "user", "content": [url_block, {"type": "text", "text": "?"}]}]}
    body["messages"].append({"role": "user", "content": [inline]})
    images = messages_images(body)
    assert [(p.param, p.url) for p in images.parts] == [
        ("messages[0].content[0].source", "http://a/c.png"),
        ("messages[1].content[0].source", "data:image/png;base64,QQ"),
    ]
    images.parts[0].put("image/png", "QUJD")
    assert url_block["source"] == {"type": "base64", "media_type": "image/png", "data": "QUJD"}


@pytest.mark.parametrize(
    "source",
    [None, {"type": "base64", "data": "QQ"}, {"type": "url"}, {"type": "file", "file_id": "f"}],
)
def test_malformed_messages_sources_are_refused(source: Any) -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "image", "source": source}]}]}
    with pytest.raises(InvalidRequest) as info:
        messages_images(body)
    assert info.value.param == "messages[0].content[0].source"
