"""Rendered overlays for the manifest tests: by the builtin renderer always, by kubectl if found."""

import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.k8s import _kustomize
from tests.k8s._kustomize import Obj

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = ("cpu", "gpu-nvidia")
RENDERERS = ("builtin", "kubectl")


def kubectl_build(directory: Path) -> list[Obj]:
    """Render with `kubectl kustomize` (no cluster needed)."""
    out = subprocess.run(
        ["kubectl", "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@cache
def render(overlay: str, renderer: str) -> tuple[Obj, ...]:
    """The objects of one overlay, rendered once per session."""
    directory = K8S / "overlays" / overlay
    if renderer == "kubectl":
        return tuple(kubectl_build(directory))
    return tuple(_kustomize.build(directory))


@pytest.fixture(params=[(o, r) for o in OVERLAYS for r in RENDERERS], ids="-".join)
def rendered(request: pytest.FixtureRequest) -> tuple[str, tuple[Obj, ...]]:
    """(overlay name, objects) for every overlay, by each available renderer."""
    overlay, renderer = request.param
    if renderer == "kubectl" and shutil.which("kubectl") is None:
        pytest.skip("kubectl is not on PATH; the builtin renderer checks these overlays")
    return overlay, render(overlay, renderer)
