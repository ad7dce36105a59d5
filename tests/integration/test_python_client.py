"""The Python library against a real `localai-gateway serve` with the embedded SmolLM2 models:
the async and sync clients, the sync client inside a running loop, and the legacy adapter with
ENABLE_LOCALAI_MIGRATION true (through the gateway) and false (in-process)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Literal

import pydantic
import pytest

from clients import (
    LegacyPipelineAdapter,
    LocalAIClient,
    SyncLocalAIClient,
    UpstreamStatusError,
)
from tests.clients.llamacpp.conftest import requires_smollm2
from tests.support.servers import REPO_ROOT

pytestmark = [pytest.mark.integration, pytest.mark.legacy, requires_smollm2]

CHAT_MODEL = "smollm2-135m-instruct"
EMBED_MODEL = "smollm2-135m-embed"
HELLO = [{"role": "user", "content": "Say hello."}]
SHORT = {"max_tokens": 8, "temperature": 0}
ASK_JSON = [{"role": "user", "content": "Is the sky blue? Answer in JSON."}]


class Answer(pydantic.BaseModel):
    # No other keys: the grammar then allows exactly {"answer": "yes" | "no"}.
    model_config = pydantic.ConfigDict(extra="forbid")

    answer: Literal["yes", "no"]


@pytest.fixture
async def client(embedded_gateway: str) -> AsyncIterator[LocalAIClient]:
    async with LocalAIClient(embedded_gateway, timeout=60, max_retries=0) as opened:
        yield opened


@pytest.fixture
def sync_client(embedded_gateway: str) -> Iterator[SyncLocalAIClient]:
    with SyncLocalAIClient(f"{embedded_gateway}/v1", timeout=60, max_retries=0) as opened:
        yield opened


async def test_async_chat_stream_and_models(client: LocalAIClient) -> None:
    reply = await client.chat_completion(HELLO, CHAT_MODEL, **SHORT)
    assert reply.content and reply.role == "assistant"
    assert reply.usage is not None and 0 < reply.usage.completion_tokens <= 8
    pieces = [p async for p in await client.chat_completion(HELLO, CHAT_MODEL, True, **SHORT)]
    assert len(pieces) > 3 and "".join(pieces) == reply.content, "token by token, same answer"
    async with client.stream_chat(HELLO, CHAT_MODEL, **SHORT) as chunks:
        received = [chunk async for chunk in chunks]
    assert received[-1].usage is not None and received[-1].usage.completion_tokens > 0
    assert [model["id"] for model in await client.list_models()] == [CHAT_MODEL, EMBED_MODEL]


async def test_async_embeddings_one_vector_per_input(client: LocalAIClient) -> None:
    vectors = await client.create_embeddings(["a cat", "stock markets"], EMBED_MODEL)
    assert len(vectors) == 2 and len(vectors[0]) == 576 and vectors[0] != vectors[1]


async def test_async_structured_output_returns_an_instance(client: LocalAIClient) -> None:
    answer = await client.grammar_constrained_generation(
        ASK_JSON, CHAT_MODEL, Answer, max_tokens=16
    )
    assert isinstance(answer, Answer)


async def test_an_unknown_model_is_a_404_with_its_code(client: LocalAIClient) -> None:
    with pytest.raises(UpstreamStatusError) as info:
        await client.chat_completion(HELLO, "no-such-model", **SHORT)
    assert (info.value.status, info.value.code) == (404, "model_not_found")


def test_sync_client(sync_client: SyncLocalAIClient) -> None:
    reply = sync_client.chat_completion(HELLO, CHAT_MODEL, **SHORT)
    assert "".join(sync_client.chat_completion(HELLO, CHAT_MODEL, True, **SHORT)) == reply.content
    assert len(sync_client.create_embeddings("a cat", EMBED_MODEL)) == 1
    answer = sync_client.grammar_constrained_generation(ASK_JSON, CHAT_MODEL, Answer, max_tokens=16)
    assert isinstance(answer, Answer)


async def test_sync_client_inside_a_running_event_loop(embedded_gateway: str) -> None:
    with SyncLocalAIClient(embedded_gateway, timeout=60) as sync_client:
        assert sync_client.chat_completion(HELLO, CHAT_MODEL, **SHORT).content
        assert list(sync_client.chat_completion(HELLO, CHAT_MODEL, True, **SHORT))


def test_adapter_with_the_flag_true_goes_through_the_gateway(
    embedded_gateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENABLE_LOCALAI_MIGRATION", "true")
    with LegacyPipelineAdapter(CHAT_MODEL, base_url=embedded_gateway) as adapter:
        assert adapter.migrated
        text = adapter.generate_response(HELLO, **SHORT)
        assert text and "".join(adapter.stream_response(HELLO, **SHORT)) == text


def test_adapter_with_the_flag_false_runs_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENABLE_LOCALAI_MIGRATION", "false")
    with LegacyPipelineAdapter(CHAT_MODEL) as adapter:
        assert not adapter.migrated
        text = adapter.generate_response(HELLO, **SHORT)
        pieces = list(adapter.stream_response(HELLO, **SHORT))
        assert len(pieces) > 3 and "".join(pieces) == text
        yes_or_no = adapter.generate_response(HELLO, max_tokens=4, grammar='root ::= "yes" | "no"')
        assert yes_or_no in ("yes", "no")


UNCLOSED = """
from clients import LegacyPipelineAdapter, SyncLocalAIClient
hi = [{"role": "user", "content": "Count to twenty."}]
client = SyncLocalAIClient(URL)
pieces = client.chat_completion(hi, "smollm2-135m-instruct", stream=True, max_tokens=30)
next(pieces)
adapter = LegacyPipelineAdapter("smollm2-135m-instruct")
tokens = adapter.stream_response(hi, max_tokens=30)
next(tokens)
"""


def test_unclosed_clients_and_adapters_let_the_process_exit_cleanly(
    embedded_gateway: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ENABLE_LOCALAI_MIGRATION", raising=False)
    script = UNCLOSED.replace("URL", repr(embedded_gateway))
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr


def readme_examples() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## Use it from Python\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, re.DOTALL)


def test_the_readme_examples_run(
    embedded_gateway: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("ENABLE_LOCALAI_MIGRATION", raising=False)
    examples = readme_examples()
    assert len(examples) == 3, "async client, sync client, legacy adapter"
    for number, example in enumerate(examples, 1):
        code = example.replace("http://127.0.0.1:8000", embedded_gateway)
        exec(compile(code, f"README.md Python example {number}", "exec"), {"__name__": "readme"})
        assert capsys.readouterr().out.strip(), f"example {number} printed nothing"
