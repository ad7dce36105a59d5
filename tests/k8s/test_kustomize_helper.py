"""The builtin renderer: same output as kubectl, and loud about what it does not implement."""

import shutil
from pathlib import Path

import pytest

from tests.k8s import _kustomize
from tests.k8s.conftest import K8S, OVERLAYS, kubectl_build

needs_kubectl = pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl is not on PATH: nothing to compare with"
)


def key(obj: _kustomize.Obj) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_builtin_renderer_matches_kubectl(overlay: str) -> None:
    directory = K8S / "overlays" / overlay
    assert sorted(_kustomize.build(directory), key=key) == sorted(kubectl_build(directory), key=key)


def write(directory: Path, kustomization: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "kustomization.yaml").write_text(kustomization, encoding="utf-8")
    return directory


def test_generated_names_carry_kustomizes_hash(tmp_path: Path) -> None:
    # Expected names as `kubectl kustomize` (kustomize v5.5) prints them for this input.
    directory = write(
        tmp_path,
        "secretGenerator: [{name: s, literals: [k=v]}]\n"
        "configMapGenerator: [{name: c, literals: [k=v]}]\n",
    )
    assert sorted(key(o) for o in _kustomize.build(directory)) == [
        ("ConfigMap", "c-bdg947hgcc"),
        ("Secret", "s-ftgtgc4t9f"),
    ]


@pytest.mark.parametrize(
    "kustomization",
    [
        "commonLabels: {a: b}\n",
        "configMapGenerator: [{name: c, envs: [x.env]}]\n",
        "patches: [{patch: '{}', target: {kind: Deployment}}]\n",
    ],
)
def test_unimplemented_features_are_refused(tmp_path: Path, kustomization: str) -> None:
    with pytest.raises(_kustomize.Unsupported):
        _kustomize.build(write(tmp_path, kustomization))


def test_patch_merges_named_lists_and_replaces_others(tmp_path: Path) -> None:
    (tmp_path / "d.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
        "spec:\n  template:\n    spec:\n"
        "      tolerations: [{key: a}]\n"
        "      containers: [{name: x, image: i:1.0.0, args: [a]}, {name: y, image: i:1.0.0}]\n",
        encoding="utf-8",
    )
    (tmp_path / "p.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n"
        "spec:\n  template:\n    spec:\n"
        "      tolerations: [{key: b}]\n"
        "      containers: [{name: y, args: [b]}]\n",
        encoding="utf-8",
    )
    directory = write(tmp_path, "resources: [d.yaml]\npatches: [{path: p.yaml}]\n")
    (deployment,) = _kustomize.build(directory)
    spec = deployment["spec"]["template"]["spec"]
    assert spec["tolerations"] == [{"key": "b"}]
    assert spec["containers"] == [
        {"name": "x", "image": "i:1.0.0", "args": ["a"]},
        {"name": "y", "image": "i:1.0.0", "args": ["b"]},
    ]
