"""The gateway in front of real model servers: two llama-cpp-python servers on SmolLM2-135M
(each one thread with a RAM prompt cache, as a LocalAI llama.cpp replica) and one for
embeddings. Chat, streaming, grammar and embeddings go through a real `localai-gateway serve`;
prefix routing keeps each conversation on the server that holds its cache; killing a server
moves its conversations to the other."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest
from openai import OpenAI

from tests.integration.conftest import gateway_process
from tests.support.llama_servers import LlamaServer, answered_by, require_llama_servers

pytestmark = pytest.mark.integration

CHAT = "smollm2"  # routing: prefix
BALANCED = "smollm2-balanced"  # the same servers, least outstanding
EMBED = "smollm2-embed"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LlamaServer, ...]]:
    """Two chat servers (verbose: their logs show the prompt tokens each request evaluated)."""
    require_llama_servers()
    logs = tmp_path_factory.mktemp("llama")
    with (
        LlamaServer(cache_mb=64, n_ctx=1024, verbose=True, log_dir=logs) as first,
        LlamaServer(cache_mb=64, n_ctx=1024, verbose=True, log_dir=logs) as second,
    ):
        yield first, second


@pytest.fixture(scope="module")
def gateway(
    servers: tuple[LlamaServer, ...], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    logs = tmp_path_factory.mktemp("llama-embed")
    with LlamaServer(EMBED, embedding=True, n_ctx=512, log_dir=logs) as embed:
        upstreams = ", ".join(
            f"{{url: '{server.url}', name: llama-{i}}}" for i, server in enumerate(servers)
        )
        registry = f"""
models:
  {CHAT}:
    localai_model: smollm2
    capabilities: [chat, grammar]
    upstreams: [{upstreams}]
    routing: prefix
  {BALANCED}:
    localai_model: smollm2
    capabilities: [chat, grammar]
    upstreams: [{upstreams}]
  {EMBED}:
    localai_model: {EMBED}
    capabilities: [embeddings]
    upstreams: ['{embed.url}']
"""
        with gateway_process(registry, tmp_path_factory.mktemp("gateway")) as (url, _):
            yield url


@pytest.fixture(scope="module")
def sdk(gateway: str) -> Iterator[OpenAI]:
    with OpenAI(base_url=f"{gateway}/v1", api_key="unused", max_retries=0, timeout=60) as client:
        yield client


def ask(sdk: OpenAI, messages: list[dict[str, str]], model: str = CHAT, **fields: object) -> str:
    reply = sdk.chat.completions.create(
        model=model,
        messages=messages,
        max_tokens=8,
        temperature=0,
        **fields,  # type: ignore[call-overload]
    )
    assert reply.model == model
    return reply.choices[0].message.content or ""


def test_chat_reaches_a_real_server_and_comes_back_renamed(sdk: OpenAI) -> None:
    reply = sdk.chat.completions.create(
        model=BALANCED, messages=[{"role": "user", "content": "Say hello."}], max_tokens=8
    )
    assert reply.model == BALANCED and reply.choices[0].message.content
    assert reply.choices[0].finish_reason in {"stop", "length"}
    assert reply.usage is not None and reply.usage.prompt_tokens > 0


def test_a_stream_relays_real_tokens(sdk: OpenAI) -> None:
    chunks = list(
        sdk.chat.completions.create(
            model=CHAT,
            messages=[{"role": "user", "content": "Count to five."}],
            max_tokens=8,
            stream=True,
        )
    )
    assert {chunk.model for chunk in chunks} == {CHAT}
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].choices == [] or chunks[-1].choices[0].finish_reason in {"stop", "length"}


def test_a_grammar_constrains_the_real_model(sdk: OpenAI) -> None:
    messages = [{"role": "user", "content": "Is the sky blue?"}]
    answer = ask(sdk, messages, extra_body={"grammar": 'root ::= "yes" | "no"'})
    assert answer in {"yes", "no"}
    schema = {
        "type": "object",
        "properties": {"blue": {"type": "boolean"}},
        "required": ["blue"],
        "additionalProperties": False,
    }
    reply = sdk.chat.completions.create(
        model=CHAT,
        messages=messages,
        max_tokens=16,
        temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "sky", "schema": schema}},
    )
    assert isinstance(orjson.loads(reply.choices[0].message.content or "")["blue"], bool)


def test_embeddings_come_from_the_real_embedding_server(sdk: OpenAI) -> None:
    vectors = sdk.embeddings.create(model=EMBED, input=["a cat", "a dog"])
    assert vectors.model == EMBED
    assert [len(item.embedding) for item in vectors.data] == [576, 576]


def conversation_turns(
    sdk: OpenAI, servers: tuple[LlamaServer, ...], model: str
) -> dict[int, list[tuple[int, int, int]]]:
    """3 turns of 3 conversations, interleaved; per conversation and turn: the server, the
    prompt tokens it evaluated and the prompt's size."""
    conversations = [
        [{"role": "system", "content": f"You are tutor {i}. " + f"Topic {i} matters. " * 30}]
        for i in range(3)
    ]
    seen: dict[int, list[tuple[int, int, int]]] = {i: [] for i in range(3)}
    for turn in range(3):
        for i, messages in enumerate(conversations):
            messages.append({"role": "user", "content": f"Question {turn}?"})
            before = [len(server.prompt_evals()) for server in servers]
            reply = sdk.chat.completions.create(
                model=model,
                messages=messages,
                max_tokens=4,
                temperature=0,  # type: ignore[arg-type]
            )
            messages.append(
                {"role": "assistant", "content": reply.choices[0].message.content or ""}
            )
            assert reply.usage is not None
            server, evaluated = answered_by(servers, before)
            seen[i].append((server, evaluated, reply.usage.prompt_tokens))
    return seen


def test_prefix_routing_keeps_a_conversation_on_the_server_that_caches_it(
    sdk: OpenAI, servers: tuple[LlamaServer, ...]
) -> None:
    for turns in conversation_turns(sdk, servers, CHAT).values():
        assert len({server for server, _, _ in turns}) == 1, turns
        for _, evaluated, prompt in turns[1:]:
            assert evaluated < prompt / 3, f"later turns re-read only their new part: {turns}"


def test_a_killed_server_hands_its_conversations_to_the_other(
    sdk: OpenAI, servers: tuple[LlamaServer, ...], gateway: str
) -> None:
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}]
    before = [len(server.prompt_evals()) for server in servers]
    ask(sdk, messages)
    home, _ = answered_by(servers, before)
    servers[home].kill()
    try:
        for model in (CHAT, BALANCED, CHAT):
            before = [len(server.prompt_evals()) for server in servers]
            assert ask(sdk, messages, model)
            assert answered_by(servers, before)[0] != home
        ready = httpx.get(f"{gateway}/readyz", timeout=5)
        assert ready.status_code == 200, "one replica left: still ready"
    finally:
        servers[home].start()
