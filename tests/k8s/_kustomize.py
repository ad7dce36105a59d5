"""A small kustomize for the features k8s/ uses, so the overlays are checked without kubectl.

Supported: `resources` (files and nested kustomization directories), `components` (their
resources and generators join the including kustomization's, and their patches apply to what it
has built so far), `namespace`, `images`, `patches`
(strategic merge by `path`), `configMapGenerator` and `secretGenerator` (`files`, `literals`,
`namespace`, `options` `labels` and `disableNameSuffixHash`, with kustomize's own name hash) and
the name references that follow a hashed name.
Any other kustomization field or resource kind raises `Unsupported`: nothing is ignored.
"""

import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

_FIELDS = frozenset(
    {
        "apiVersion",
        "kind",
        "resources",
        "components",
        "namespace",
        "images",
        "patches",
        "configMapGenerator",
        "secretGenerator",
    }
)
_GENERATOR_FIELDS = frozenset({"name", "namespace", "files", "literals", "options"})
_GENERATOR_OPTIONS = frozenset({"labels", "disableNameSuffixHash"})
_NAMESPACED = frozenset(
    {
        "ConfigMap",
        "Deployment",
        "HorizontalPodAutoscaler",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "PrometheusRule",
        "Secret",
        "Service",
        "ServiceMonitor",
    }
)
_CLUSTER_SCOPED = frozenset({"Namespace"})
_POD_TEMPLATE_KINDS = frozenset({"Deployment"})
# kustomize's hasher swaps these hex digits for letters so a suffix never looks like a number.
_HASH_LETTERS = str.maketrans({"0": "g", "1": "h", "3": "k", "a": "m", "e": "t"})


class Unsupported(Exception):
    """Raised for a kustomization feature this renderer does not implement."""


@dataclass
class _Build:
    objects: list[Obj] = field(default_factory=list)
    # (kind, name as written) -> name with hash suffix, for generated objects.
    renamed: dict[tuple[str, str], str] = field(default_factory=dict)


def build(directory: Path) -> list[Obj]:
    """Render the kustomization in `directory` to a list of objects."""
    return _build(directory).objects


def pod_specs(obj: Obj) -> list[Obj]:
    """The pod specs inside a workload object (none for other kinds)."""
    if obj["kind"] in _POD_TEMPLATE_KINDS:
        return [obj["spec"]["template"]["spec"]]
    return []


def _build(directory: Path, includer: _Build | None = None) -> _Build:
    """Build a kustomization; a component (`includer` given) builds onto its includer's."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(spec) - _FIELDS
    if unknown:
        raise Unsupported(f"{directory}: kustomization fields {sorted(unknown)}")
    result = includer if includer is not None else _Build()
    for entry in spec.get("resources", []):
        path = directory / entry
        if path.is_dir():
            child = _build(path)
            result.objects.extend(child.objects)
            result.renamed.update(child.renamed)
        else:
            docs = yaml.safe_load_all(path.read_text(encoding="utf-8"))
            result.objects.extend(doc for doc in docs if doc)
    for entry in spec.get("components", []):
        _build(directory / entry, result)
    for kind, key in (("ConfigMap", "configMapGenerator"), ("Secret", "secretGenerator")):
        for generator in spec.get(key, []):
            obj = _generate(directory, kind, generator)
            result.renamed[(kind, generator["name"])] = obj["metadata"]["name"]
            result.objects.append(obj)
    for patch in spec.get("patches", []):
        _apply_patch(directory, result.objects, patch)
    if "namespace" in spec:
        _set_namespace(result.objects, spec["namespace"])
    for image in spec.get("images", []):
        _set_image(result.objects, image)
    _fix_references(result.objects, result.renamed)
    return result


# ---- generators ---------------------------------------------------------------------------


def _generate(directory: Path, kind: str, generator: Obj) -> Obj:
    unknown = set(generator) - _GENERATOR_FIELDS
    options = generator.get("options", {})
    unknown |= set(options) - _GENERATOR_OPTIONS
    if unknown:
        raise Unsupported(f"{directory}: generator fields {sorted(unknown)}")
    data: dict[str, str] = {}
    for item in generator.get("files", []):
        key, _, source = item.rpartition("=")
        path = directory / source
        data[key or path.name] = path.read_text(encoding="utf-8")
    for item in generator.get("literals", []):
        key, _, value = item.partition("=")
        data[key] = value
    # kustomize's hasher looks the name up as one key "metadata/name", finds none and hashes
    # an empty name: the suffix depends on kind, type and data only.
    if kind == "Secret":
        encoded = {k: _encode_base64(v) for k, v in data.items()}
        body: Obj = {"kind": kind, "name": "", "type": "Opaque", "data": encoded}
        obj: Obj = {"apiVersion": "v1", "kind": kind, "type": "Opaque", "data": encoded}
    else:
        body = {"kind": kind, "name": "", "data": data}
        obj = {"apiVersion": "v1", "kind": kind, "data": data}
    hashed = not options.get("disableNameSuffixHash", False)
    obj["metadata"] = {
        "name": f"{generator['name']}-{_hash(body)}" if hashed else generator["name"]
    }
    if "labels" in options:
        obj["metadata"]["labels"] = dict(options["labels"])
    if "namespace" in generator:
        obj["metadata"]["namespace"] = generator["namespace"]
    return obj


def _encode_base64(text: str) -> str:
    """kustomize's encodeBase64: lines of 70 characters, each ended by a newline once the
    encoding is 70 characters or longer."""
    encoded = base64.b64encode(text.encode()).decode()
    if len(encoded) // 70 + 1 == 1:
        return encoded
    return "".join(encoded[i : i + 70] + "\n" for i in range(0, len(encoded), 70))


def _hash(body: Obj) -> str:
    """kustomize's suffix: sha256 of the Go JSON encoding, 10 hex digits, some as letters."""
    encoded = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        encoded = encoded.replace(char, escape)
    return hashlib.sha256(encoded.encode()).hexdigest()[:10].translate(_HASH_LETTERS)


# ---- transformers -------------------------------------------------------------------------


def _apply_patch(directory: Path, objects: list[Obj], patch: Obj) -> None:
    if set(patch) != {"path"}:
        raise Unsupported(f"{directory}: only `patches: [{{path: ...}}]` is supported")
    body = yaml.safe_load((directory / patch["path"]).read_text(encoding="utf-8"))
    matches = [
        i
        for i, obj in enumerate(objects)
        if obj["kind"] == body["kind"] and obj["metadata"]["name"] == body["metadata"]["name"]
    ]
    if len(matches) != 1:
        raise ValueError(f"{directory}: patch {patch['path']} matches {len(matches)} objects")
    objects[matches[0]] = _merge(objects[matches[0]], body)


def _merge(base: Any, patch: Any) -> Any:
    """Strategic merge as used here: maps merge, named-map lists merge by name, else replace."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = _merge(merged[key], value) if key in merged else value
        return merged
    if _named_list(base) and _named_list(patch):
        merged_list = list(base)
        index = {item["name"]: i for i, item in enumerate(merged_list)}
        added = []
        for item in patch:
            if item["name"] in index:
                merged_list[index[item["name"]]] = _merge(merged_list[index[item["name"]]], item)
            else:
                added.append(item)
        return added + merged_list  # kustomize puts a patch's new list items first
    return patch


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "name" in i for i in value)


def _set_namespace(objects: list[Obj], namespace: str) -> None:
    for obj in objects:
        if obj["kind"] in _NAMESPACED:
            obj["metadata"]["namespace"] = namespace
        elif obj["kind"] not in _CLUSTER_SCOPED:
            raise Unsupported(f"unknown scope for kind {obj['kind']}")


def _set_image(objects: list[Obj], image: Obj) -> None:
    for obj in objects:
        for spec in pod_specs(obj):
            for container in spec.get("initContainers", []) + spec["containers"]:
                name, tag = _split_image(container["image"])
                if name != image["name"]:
                    continue
                container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag)}"


def _split_image(reference: str) -> tuple[str, str]:
    if "@" in reference:
        raise Unsupported(f"digest references ({reference})")
    name, sep, tag = reference.rpartition(":")
    if not sep or "/" in tag:
        return reference, ""
    return name, tag


def _fix_references(objects: list[Obj], renamed: dict[tuple[str, str], str]) -> None:
    """Point ConfigMap and Secret references in pod specs at the hashed names."""
    for obj in objects:
        for spec in pod_specs(obj):
            for volume in spec.get("volumes", []):
                _rename(volume.get("configMap"), "name", "ConfigMap", renamed)
                _rename(volume.get("secret"), "secretName", "Secret", renamed)
            for container in spec.get("initContainers", []) + spec["containers"]:
                for env in container.get("env", []):
                    source = env.get("valueFrom", {})
                    _rename(source.get("configMapKeyRef"), "name", "ConfigMap", renamed)
                    _rename(source.get("secretKeyRef"), "name", "Secret", renamed)
                for env_from in container.get("envFrom", []):
                    _rename(env_from.get("configMapRef"), "name", "ConfigMap", renamed)
                    _rename(env_from.get("secretRef"), "name", "Secret", renamed)


def _rename(ref: Obj | None, key: str, kind: str, renamed: dict[tuple[str, str], str]) -> None:
    if ref is not None and (kind, ref[key]) in renamed:
        ref[key] = renamed[(kind, ref[key])]
