"""Finding GGUF files and importing llama_cpp, without needing llama_cpp installed."""

import importlib
from pathlib import Path

import pytest

from clients.llamacpp import LlamaCppModelConfig, LlamaCppModelUnavailable, packaged_gguf
from clients.llamacpp.runtime import import_llama_cpp, model_path


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def make_package(site: Path, name: str, *files: str) -> None:
    (site / name).mkdir()
    (site / name / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    for file in files:
        (site / name / file).write_bytes(b"GGUF")


def test_packaged_gguf_is_found_without_importing_the_package(site: Path) -> None:
    make_package(site, "one_model", "m.gguf", "README.md")
    assert packaged_gguf("one-model") == site / "one_model" / "m.gguf"
    config = LlamaCppModelConfig(package="one-model")
    assert model_path("x", config) == site / "one_model" / "m.gguf"


def test_a_package_without_exactly_one_gguf_is_unavailable(site: Path) -> None:
    make_package(site, "two_models", "a.gguf", "b.gguf")
    assert packaged_gguf("two-models") is None
    assert packaged_gguf("not-installed-anywhere") is None
    with pytest.raises(LlamaCppModelUnavailable, match="model 'x': package 'two-models'"):
        model_path("x", LlamaCppModelConfig(package="two-models"))


def test_a_gguf_path(tmp_path: Path) -> None:
    present = tmp_path / "m.gguf"
    present.write_bytes(b"GGUF")
    assert model_path("x", LlamaCppModelConfig(gguf=present)) == present
    with pytest.raises(LlamaCppModelUnavailable, match="its GGUF file is missing") as caught:
        model_path("x", LlamaCppModelConfig(gguf=tmp_path / "absent.gguf"))
    assert str(tmp_path) not in str(caught.value)  # paths go to the log, not to clients


def test_missing_llama_cpp_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(name: str) -> None:
        raise ImportError(f"No module named {name!r}")

    monkeypatch.setattr(importlib, "import_module", refuse)
    with pytest.raises(LlamaCppModelUnavailable, match="needs llama-cpp-python"):
        import_llama_cpp("x")
