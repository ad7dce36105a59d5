"""One model's entry of a registry file (`localai_models.yaml`), read without `app/`.

Only what `LegacyPipelineAdapter` needs is read and checked: `localai_model` (LocalAI's name,
used on the migration path), `aliases`, and the `legacy` block, validated as the gateway
validates it (`LlamaCppModelConfig`). The gateway's own loader checks everything else.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .llamacpp import LlamaCppModelConfig, embedded_models


class RegistryEntry(BaseModel):
    """The fields of a registry entry the adapter uses; the others are ignored here."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    localai_model: Annotated[str, Field(min_length=1)]
    aliases: tuple[str, ...] = ()
    legacy: LlamaCppModelConfig | None = None


def _read(path: Path) -> dict[str, Any]:
    import yaml  # only adapters given a registry file need it

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the registry: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    models = document.get("models") if isinstance(document, dict) else None
    if not isinstance(models, dict):
        raise ValueError(f"{path}: a registry has a top-level 'models' mapping")
    return models


def registry_entry(model: str, registry: str | os.PathLike[str] | None) -> RegistryEntry | None:
    """The entry for `model` (an id or an alias) in the `registry` file, or among the embedded
    SmolLM2 models when `registry` is None; None when it is not there.

    A broken file or entry raises ValueError naming the file, the model and the field.
    """
    where = "the embedded models" if registry is None else str(registry)
    entries = embedded_models() if registry is None else _read(Path(registry))
    raw = entries.get(model)
    if raw is None:
        raw = next(
            (
                entry
                for entry in entries.values()
                if isinstance(entry, dict) and model in (entry.get("aliases") or ())
            ),
            None,
        )
    if raw is None:
        return None
    try:
        return RegistryEntry.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(entry)"
        raise ValueError(f"{where}: model {model!r}: field {field!r}: {first['msg']}") from exc
