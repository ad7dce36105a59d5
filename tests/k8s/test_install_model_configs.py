"""The LocalAI init container's script, run with sh on temporary directories."""

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.k8s.conftest import K8S


def install(models: Path, rendered: Path) -> None:
    """Run the init container's script with its two mount paths moved under tmp."""
    deployment = yaml.safe_load((K8S / "base/localai/deployment.yaml").read_text(encoding="utf-8"))
    (init,) = deployment["spec"]["template"]["spec"]["initContainers"]
    shell, flags, script = init["command"]
    script = script.replace("/models", str(models)).replace("/rendered", str(rendered))
    subprocess.run([shell, flags, script], check=True, timeout=30)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    models, rendered = tmp_path / "models", tmp_path / "rendered"
    models.mkdir()
    rendered.mkdir()
    return models, rendered


@pytest.mark.skipif(not Path("/bin/sh").exists(), reason="no /bin/sh to run the script")
def test_rollout_replaces_previous_configs_and_keeps_other_files(dirs: tuple[Path, Path]) -> None:
    models, rendered = dirs
    (models / "weights.gguf").write_bytes(b"\0")
    (models / "gallery-model.yaml").write_text("name: gallery\n", encoding="utf-8")
    (rendered / "a.yaml").write_text("name: a\n", encoding="utf-8")
    (rendered / "b.yaml").write_text("name: b\n", encoding="utf-8")
    install(models, rendered)
    assert (models / "a.yaml").read_text(encoding="utf-8") == "name: a\n"

    (rendered / "a.yaml").unlink()
    (rendered / "b.yaml").write_text("name: b2\n", encoding="utf-8")
    install(models, rendered)
    names = sorted(p.name for p in models.iterdir())
    assert names == [".gateway-rendered", "b.yaml", "gallery-model.yaml", "weights.gguf"]
    assert (models / "b.yaml").read_text(encoding="utf-8") == "name: b2\n"


@pytest.mark.skipif(not Path("/bin/sh").exists(), reason="no /bin/sh to run the script")
def test_empty_configmap_installs_nothing(dirs: tuple[Path, Path]) -> None:
    models, rendered = dirs
    install(models, rendered)
    assert (models / ".gateway-rendered").read_text(encoding="utf-8") == ""
