"""render-localai: LocalAI model configs from the registry, checked against LocalAI's fields."""

import filecmp
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.registry import Capability, ModelEntry
from app.render_localai import (
    CAPABILITY_USECASES,
    GENERATED_HEADER,
    known_usecases,
    render_entry,
    render_localai,
)
from tests.k8s.conftest import ROOT

REGISTRY = ROOT / "localai_models.yaml"
COMMITTED = ROOT / "k8s/base/localai-models"
RERENDER = "localai-gateway render-localai localai_models.yaml k8s/base/localai-models"

# LocalAI v4.9 model config keys (core/config/model_config.go ModelConfig + LLMConfig, research
# localai.md section 5). A rendered key outside these is one LocalAI silently ignores.
LOCALAI_TOP_LEVEL_KEYS = frozenset(
    {
        # ModelConfig
        "name", "parameters", "backend", "alias", "failover", "artifacts", "f16", "threads",
        "debug", "roles", "embeddings", "template", "known_usecases", "known_input_modalities",
        "known_output_modalities", "pipeline", "function", "reasoning", "compression",
        "reasoning_effort", "chat_template_kwargs", "feature_flags", "diffusers", "step", "grpc",
        "tts", "cuda", "download_files", "description", "usage", "disabled", "pinned",
        "concurrency_groups", "options", "overrides", "mcp", "agent", "pii", "pii_detection",
        "router", "proxy", "mitm", "limits", "env",
        # LLMConfig (inlined)
        "system_prompt", "tensor_split", "main_gpu", "rms_norm_eps", "ngqa", "prompt_cache_path",
        "prompt_cache_all", "prompt_cache_ro", "mirostat", "mirostat_eta", "mirostat_tau",
        "gpu_layers", "mmap", "mmlock", "low_vram", "reranking", "grammar", "stopwords",
        "cutstrings", "extract_regex", "trimspace", "trimsuffix", "context_size", "numa",
        "lora_adapter", "lora_base", "lora_adapters", "lora_scales", "lora_scale", "no_mulmatq",
        "draft_model", "n_draft", "quantization", "load_format", "gpu_memory_utilization",
        "trust_remote_code", "enforce_eager", "swap_space", "max_model_len",
        "tensor_parallel_size", "disable_log_stats", "dtype", "limit_mm_per_prompt", "mmproj",
        "flash_attention", "no_kv_offloading", "cache_type_k", "cache_type_v", "rope_scaling",
        "type", "yarn_ext_factor", "yarn_attn_factor", "yarn_beta_fast", "yarn_beta_slow",
        "cfg_scale", "engine_args",
    }
)  # fmt: skip
# Nested blocks whose keys are checked too.
LOCALAI_NESTED_KEYS = {
    "parameters": frozenset(
        {
            "model", "language", "translate", "n", "top_k", "top_p", "min_p", "temperature",
            "max_tokens", "echo", "batch", "ignore_eos", "repeat_penalty", "repeat_last_n",
            "n_keep", "frequency_penalty", "presence_penalty", "tfz", "typical_p", "seed",
            "negative_prompt", "rope_freq_base", "rope_freq_scale", "negative_prompt_scale",
            "clip_skip", "tokenizer", "use_fast_tokenizer",
        }
    ),
    "template": frozenset(
        {
            "chat", "chat_message", "completion", "edit", "function", "use_tokenizer_template",
            "join_chat_messages_by_character", "multimodal", "jinja_template", "reply_prefix",
        }
    ),
}  # fmt: skip
LOCALAI_USECASES = frozenset(
    {
        "chat", "completion", "edit", "embeddings", "rerank", "image", "transcript", "tts",
        "sound_generation", "tokenize", "vad", "video", "detection",
    }
)  # fmt: skip
LOCALAI_BACKENDS = frozenset(
    {
        "llama-cpp", "ik-llama-cpp", "vllm", "vllm-cpp", "sglang", "transformers", "mlx",
        "mlx-vlm", "stablediffusion-ggml", "diffusers", "whisper", "faster-whisper", "whisperx",
        "moonshine", "parakeet-cpp", "piper", "kokoro", "coqui", "chatterbox", "outetts",
        "rerankers", "silero-vad", "local-store", "cloud-proxy",
    }
)  # fmt: skip


def entry(**fields: Any) -> ModelEntry:
    return ModelEntry.model_validate({"localai_model": "m", "capabilities": ["chat"], **fields})


def unknown_keys(config: dict[str, Any]) -> list[str]:
    """Keys LocalAI does not read, each with the block it belongs in when there is one."""
    unknown = [_hint(k) for k in config if k not in LOCALAI_TOP_LEVEL_KEYS]
    for block, allowed in LOCALAI_NESTED_KEYS.items():
        unknown += [f"{block}.{k}" for k in config.get(block, {}) if k not in allowed]
    return unknown


def _hint(key: str) -> str:
    homes = [block for block, allowed in LOCALAI_NESTED_KEYS.items() if key in allowed]
    return f"{key} (belongs under {homes[0]}:)" if homes else key


@pytest.fixture(scope="module")
def example_configs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    outdir = tmp_path_factory.mktemp("rendered")
    written = render_localai(REGISTRY, outdir)
    return {p.name: yaml.safe_load(p.read_text(encoding="utf-8")) for p in written}


def test_example_registry_renders_only_keys_localai_knows(
    example_configs: dict[str, dict[str, Any]],
) -> None:
    models = {name: c for name, c in example_configs.items() if name != "kustomization.yaml"}
    assert models
    for name, config in models.items():
        assert unknown_keys(config) == [], f"{name}: LocalAI would ignore these keys"
        assert set(config["known_usecases"]) <= LOCALAI_USECASES, name
        assert config["backend"] in LOCALAI_BACKENDS, name
        assert config["parameters"]["model"], name


def test_committed_configs_match_the_registry(tmp_path: Path) -> None:
    render_localai(REGISTRY, tmp_path)
    fresh = sorted(p.name for p in tmp_path.iterdir())
    assert sorted(p.name for p in COMMITTED.iterdir()) == fresh, f"run `{RERENDER}`"
    _, mismatch, errors = filecmp.cmpfiles(tmp_path, COMMITTED, fresh, shallow=False)
    assert mismatch == errors == [], f"stale: {mismatch + errors}; run `{RERENDER}`"


def test_gateway_registry_copy_matches_the_registry() -> None:
    copy = ROOT / "k8s/base/gateway/localai_models.yaml"
    assert copy.read_bytes() == REGISTRY.read_bytes(), f"run `cp localai_models.yaml {copy}`"


def test_kustomization_bundles_exactly_the_rendered_models(tmp_path: Path) -> None:
    written = render_localai(REGISTRY, tmp_path)
    kustomization = yaml.safe_load(written[-1].read_text(encoding="utf-8"))
    (generator,) = kustomization["configMapGenerator"]
    assert generator["name"] == "localai-models"
    assert generator["files"] == [p.name for p in written[:-1]]


def test_every_capability_has_a_usecase_mapping() -> None:
    assert set(CAPABILITY_USECASES) == set(Capability)


def test_usecases_follow_capabilities_without_repeats() -> None:
    both = [Capability.IMAGE_EDIT, Capability.IMAGES, Capability.VISION, Capability.CHAT]
    assert known_usecases(both) == ["chat", "image"]


def test_render_entry_maps_spec_fields() -> None:
    spec = {"backend": "llama-cpp", "model": "m.gguf", "context_size": 4096, "gpu_layers": 99}
    config = render_entry("m", entry(localai=spec, capabilities=["chat", "tools"]))
    assert config == {
        "name": "m",
        "backend": "llama-cpp",
        "parameters": {"model": "m.gguf"},
        "context_size": 4096,
        "gpu_layers": 99,
        "known_usecases": ["chat"],
    }


def test_embeddings_capability_sets_embeddings_true() -> None:
    config = render_entry("e", entry(capabilities=["embeddings"], localai={"model": "e.gguf"}))
    assert config["embeddings"] is True
    assert config["known_usecases"] == ["embeddings"]


def test_embeddings_flag_contradicting_capabilities_is_refused() -> None:
    with pytest.raises(ValueError, match="contradicts"):
        render_entry("c", entry(capabilities=["chat"], localai={"embeddings": True}))


def test_extra_keys_pass_through_and_parameters_merge() -> None:
    spec = {"model": "v.gguf", "mmproj": "p.gguf", "parameters": {"temperature": 0.2}}
    config = render_entry("v", entry(localai=spec))
    assert config["mmproj"] == "p.gguf"
    assert config["parameters"] == {"temperature": 0.2, "model": "v.gguf"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"model": "a.gguf", "parameters": {"model": "b.gguf"}}, "not both"),
        ({"parameters": ["model"]}, "must be a mapping"),
        ({"name": "other"}, "may not set"),
        ({"known_usecases": ["chat"]}, "may not set"),
    ],
)
def test_conflicting_spec_is_refused(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        render_entry("x", entry(localai=spec))


def test_entry_without_localai_block_is_refused() -> None:
    with pytest.raises(ValueError, match="no localai block"):
        render_entry("x", entry())


def test_entries_without_localai_block_are_skipped(tmp_path: Path) -> None:
    registry = tmp_path / "registry.yaml"
    models = {
        "rendered": {"localai_model": "a", "capabilities": ["chat"], "localai": {"model": "a"}},
        "gallery": {"localai_model": "b", "capabilities": ["chat"]},
    }
    registry.write_text(yaml.safe_dump({"models": models}), encoding="utf-8")
    written = render_localai(registry, tmp_path / "out")
    assert [p.name for p in written] == ["rendered.yaml", "kustomization.yaml"]


def test_rerender_removes_only_files_it_wrote(tmp_path: Path) -> None:
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "gone.yaml").write_text(GENERATED_HEADER + "name: gone\n", encoding="utf-8")
    (outdir / "mine.yaml").write_text("name: hand-written\n", encoding="utf-8")
    registry = tmp_path / "registry.yaml"
    models = {"kept": {"localai_model": "k", "capabilities": ["chat"], "localai": {"model": "k"}}}
    registry.write_text(yaml.safe_dump({"models": models}), encoding="utf-8")
    render_localai(registry, outdir)
    assert sorted(p.name for p in outdir.iterdir()) == [
        "kept.yaml",
        "kustomization.yaml",
        "mine.yaml",
    ]


def test_model_id_that_cannot_name_a_configmap_key_is_refused(tmp_path: Path) -> None:
    registry = tmp_path / "registry.yaml"
    models = {"a:b": {"localai_model": "k", "capabilities": ["chat"], "localai": {"model": "k"}}}
    registry.write_text(yaml.safe_dump({"models": models}), encoding="utf-8")
    with pytest.raises(ValueError, match="ConfigMap key"):
        render_localai(registry, tmp_path / "out")
