"""LocalAIClient against respx: request bodies as sent, replies parsed, LocalAI's quirks."""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import httpx
import pytest
import respx

from clients import ChatChunk, LocalAIClient, Timeouts, ToolCall, ToolCallDelta, Usage
from tests.support.chunks import chunk, localai_chat, sse, stream, usage_trailer
from tests.support.fake_localai._codecs import png

from .conftest import BASE, sent_json

MESSAGES = [{"role": "user", "content": "hello"}]
MODEL = "qwen3-30b-instruct:q4_k_m"
CHAT = "/v1/chat/completions"


def sse_response(body: bytes) -> httpx.Response:
    return httpx.Response(200, content=body, headers={"content-type": "text/event-stream"})


async def test_chat_sends_the_body_and_reads_the_first_choice(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    route = localai.post(CHAT).respond(json=localai_chat(MODEL, "hi there"))
    reply = await client.chat_completion(
        MESSAGES, MODEL, grammar='root ::= "yes"', max_tokens=7, top_k=20
    )
    assert sent_json(route) == {
        "model": MODEL,
        "messages": MESSAGES,
        "max_tokens": 7,
        "top_k": 20,
        "grammar": 'root ::= "yes"',
    }
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.headers["content-type"] == "application/json"
    assert (reply.content, reply.role, reply.finish_reason) == ("hi there", "assistant", "stop")
    assert reply.usage == Usage(prompt_tokens=3, completion_tokens=1, total_tokens=4)
    assert reply.raw == localai_chat(MODEL, "hi there")


async def test_chat_reads_reasoning_tool_calls_null_content_and_missing_usage(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    body = localai_chat(MODEL)
    del body["usage"]
    body["choices"][0]["finish_reason"] = "tool_calls"
    body["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "reasoning": "the user wants weather",  # LocalAI's name for reasoning_content
        "tool_calls": [
            {
                "index": 0,
                "id": "call-1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city":"Oslo"}'},
            }
        ],
    }
    localai.post(CHAT).respond(json=body)
    reply = await client.chat_completion(MESSAGES, MODEL)
    assert reply.content == "" and reply.usage is None
    assert reply.reasoning_content == "the user wants weather"
    assert reply.tool_calls == [ToolCall("call-1", "weather", '{"city":"Oslo"}')]
    assert reply.finish_reason == "tool_calls"


async def test_base_url_may_end_in_v1() -> None:
    with respx.mock(base_url=BASE) as router:
        route = router.get("/v1/models").respond(json={"object": "list", "data": []})
        async with LocalAIClient(f"{BASE}/v1/") as client:
            assert await client.list_models() == []
    assert route.called and "authorization" not in route.calls.last.request.headers


async def test_stream_yields_text_pieces_and_skips_null_deltas(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    route = localai.post(CHAT).mock(return_value=sse_response(sse(stream(["Hel", "lo"]))))
    pieces = await client.chat_completion(MESSAGES, MODEL, stream=True, temperature=0)
    assert [piece async for piece in pieces] == ["Hel", "lo"]
    assert sent_json(route) == {
        "model": MODEL,
        "messages": MESSAGES,
        "temperature": 0,
        "stream": True,
    }


async def test_stream_chat_gives_typed_chunks_and_asks_for_usage(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    chunks = [
        chunk(role="assistant"),
        chunk(reasoning="hmm"),
        chunk("Hi"),
        chunk(tool_calls=[{"index": 0, "id": "c1", "function": {"name": "f", "arguments": ""}}]),
        chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"a":1}'}}]),
        chunk(finish="tool_calls"),
        usage_trailer({"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}),
    ]
    route = localai.post(CHAT).mock(return_value=sse_response(sse(chunks)))
    async with client.stream_chat(MESSAGES, MODEL) as received:
        got = [item async for item in received]
    assert sent_json(route)["stream_options"] == {"include_usage": True}
    assert got[0].role == "assistant" and got[0].content == ""
    assert got[1].reasoning_content == "hmm"
    assert got[2].content == "Hi"
    assert got[3].tool_calls == [ToolCallDelta(0, "c1", "f", "")]
    assert got[4].tool_calls == [ToolCallDelta(0, None, None, '{"a":1}')]
    assert got[5].finish_reason == "tool_calls"
    assert got[6] == ChatChunk(usage=Usage(5, 4, 9), raw=chunks[6])


async def test_stream_chat_keeps_given_stream_options_and_can_be_awaited(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    route = localai.post(CHAT).mock(return_value=sse_response(sse(stream(["a"]))))
    received = await client.stream_chat(MESSAGES, MODEL, stream_options={"include_usage": False})
    assert [c.content async for c in received] == ["", "a", ""]
    assert sent_json(route)["stream_options"] == {"include_usage": False}


async def test_embeddings_come_back_in_input_order(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    data = [
        {"embedding": [0.5, 1], "index": 1, "object": "embedding"},  # Go writes 1.0 as 1
        {"embedding": [0.25, 0.75], "index": 0, "object": "embedding"},
    ]
    route = localai.post("/v1/embeddings").respond(json={"object": "list", "data": data})
    vectors = await client.create_embeddings(["a", "b"], "text-embedding-ada-002")
    assert vectors == [[0.25, 0.75], [0.5, 1.0]]
    assert all(isinstance(x, float) for x in vectors[1])
    assert sent_json(route) == {"model": "text-embedding-ada-002", "input": ["a", "b"]}


async def test_embeddings_of_one_string_and_in_base64(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    packed = base64.b64encode(struct.pack("<2f", 0.5, -2.0)).decode()
    data = [{"embedding": packed, "index": 0, "object": "embedding"}]
    route = localai.post("/v1/embeddings").respond(json={"object": "list", "data": data})
    vectors = await client.create_embeddings("a", "emb", encoding_format="base64")
    assert vectors == [[0.5, -2.0]]
    assert sent_json(route) == {"model": "emb", "input": "a", "encoding_format": "base64"}


async def test_images_as_urls_or_bytes(client: LocalAIClient, localai: respx.MockRouter) -> None:
    image = png(2, 2, (1, 2, 3))
    route = localai.post("/v1/images/generations")
    route.respond(json={"created": 1, "data": [{"url": f"{BASE}/generated-images/a.png"}]})
    assert await client.generate_image("a cat", "flux") == [f"{BASE}/generated-images/a.png"]
    assert sent_json(route) == {
        "model": "flux",
        "prompt": "a cat",
        "size": "1024x1024",
        "n": 1,
        "response_format": "url",
    }
    route.respond(json={"data": [{"b64_json": base64.b64encode(image).decode()}] * 2})
    images = await client.generate_image(
        "a cat", "flux", "256x256", 2, response_format="b64_json", step=20
    )
    assert images == [image, image]
    assert sent_json(route)["step"] == 20 and sent_json(route)["size"] == "256x256"


@pytest.mark.parametrize("as_path", [False, True])
async def test_describe_image_sends_bytes_and_files_as_data_uris(
    client: LocalAIClient, localai: respx.MockRouter, tmp_path: Path, as_path: bool
) -> None:
    image = png(2, 2, (9, 9, 9))
    path = tmp_path / "cat.png"
    path.write_bytes(image)
    route = localai.post(CHAT).respond(json=localai_chat(MODEL, "a grey square"))
    answer = await client.describe_image(path if as_path else image, "What is it?", "vision")
    assert answer == "a grey square"
    content = sent_json(route)["messages"][0]["content"]  # type: ignore[index]
    assert content == [
        {"type": "text", "text": "What is it?"},
        {
            "type": "image_url",
            "image_url": {"url": "data:image/png;base64," + base64.b64encode(image).decode()},
        },
    ]


async def test_describe_image_passes_urls_and_refuses_bytes_that_are_no_image(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    route = localai.post(CHAT).respond(json=localai_chat(MODEL, "a road"))
    assert await client.describe_image("https://example.com/a.jpg", "?", "vision") == "a road"
    part = sent_json(route)["messages"][0]["content"][1]  # type: ignore[index]
    assert part["image_url"]["url"] == "https://example.com/a.jpg"
    with pytest.raises(ValueError, match="not a PNG, JPEG, WebP or GIF"):
        await client.describe_image(b"plain text", "?", "vision")
    assert route.call_count == 1


async def test_list_models(client: LocalAIClient, localai: respx.MockRouter) -> None:
    data = [{"id": "a", "object": "model"}, {"id": "b", "object": "model"}]
    localai.get("/v1/models").respond(json={"object": "list", "data": data})
    assert await client.list_models() == data


async def test_transcription_sends_a_form_and_reads_json_or_text(
    client: LocalAIClient, localai: respx.MockRouter, tmp_path: Path
) -> None:
    route = localai.post("/v1/audio/transcriptions")
    verbose = {"text": "hi", "language": "en", "duration": 1, "segments": [{"id": 0}]}
    route.respond(json=verbose)
    audio = tmp_path / "talk.mp3"
    audio.write_bytes(b"ID3 audio")
    result = await client.create_transcription(audio, "whisper-1", language="en", diarize=False)
    assert (result.text, result.language, result.duration) == ("hi", "en", 1.0)
    assert result.segments == [{"id": 0}]
    request = route.calls.last.request
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    form = request.content
    assert b'name="model"\r\n\r\nwhisper-1' in form and b'name="language"\r\n\r\nen' in form
    assert b'name="diarize"\r\n\r\nfalse' in form
    assert b'filename="talk.mp3"' in form and b"ID3 audio" in form
    route.respond(text="WEBVTT\n\n00:00.000 --> 00:01.000\nhi\n")
    vtt = await client.create_transcription(b"RIFF", "whisper-1", response_format="vtt")
    assert vtt.text.startswith("WEBVTT") and vtt.segments == []
    assert b'filename="audio.wav"' in route.calls.last.request.content


async def test_speech_returns_the_audio_bytes(
    client: LocalAIClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/audio/speech")
    route.respond(content=b"RIFF....WAVE", headers={"content-type": "audio/wav"})
    assert await client.create_speech("Hello!", "tts-1", voice="alloy", speed=1.5) == (
        b"RIFF....WAVE"
    )
    assert sent_json(route) == {"model": "tts-1", "input": "Hello!", "speed": 1.5, "voice": "alloy"}


async def test_rerank(client: LocalAIClient, localai: respx.MockRouter) -> None:
    results = [
        {"index": 1, "document": {"text": "a cat"}, "relevance_score": 0.9},
        {"index": 0, "document": {"text": "a dog"}, "relevance_score": 0},
    ]
    route = localai.post("/v1/rerank").respond(json={"model": "r", "results": results})
    ranked = await client.rerank("cat", ["a dog", "a cat"], "r", top_n=2)
    assert [(r.index, r.relevance_score, r.document) for r in ranked] == [
        (1, 0.9, "a cat"),
        (0, 0.0, "a dog"),
    ]
    assert sent_json(route) == {
        "model": "r",
        "query": "cat",
        "documents": ["a dog", "a cat"],
        "top_n": 2,
    }


def test_timeout_caps_every_phase_and_base_url_must_be_http() -> None:
    assert LocalAIClient(BASE, timeout=30).timeouts == Timeouts(
        connect=5, first_token=30, idle=30, total=30
    )
    assert LocalAIClient(BASE, timeout=2).timeouts.connect == 2
    assert LocalAIClient(BASE, timeout=None).timeouts == Timeouts(
        connect=5, first_token=None, idle=None, total=None
    )
    phases = Timeouts(connect=1, first_token=2, idle=3, total=None)
    assert LocalAIClient(BASE, timeout=phases).timeouts is phases
    with pytest.raises(ValueError, match="http"):
        LocalAIClient("localai:8080")
