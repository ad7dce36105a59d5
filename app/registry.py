"""The model registry: internal model ids mapped to LocalAI models, replicas and defaults.

`localai_models.yaml` holds a top-level `models:` mapping. `load_registry` parses and checks it
(an invalid file names the file, the model id and the field); `Registry` is the lookup the
routes use, with every per-request value precomputed.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, HttpUrl, ValidationError

from clients import Timeouts
from clients.llamacpp import LlamaCppModelConfig

from .errors import CapabilityNotSupported, ModelNotFound
from .pipeline import StreamConfig
from .settings import upstream_base

LegacyMode = Literal["off", "fallback", "only"]
# YAML 1.1 reads a bare `off` as false.
LegacyModeField = Annotated[
    LegacyMode, BeforeValidator(lambda value: "off" if value is False else value)
]
ModelId = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[^\s/][^\s]*$")]


class Capability(enum.StrEnum):
    """What a model can be asked to do; each endpoint requires one."""

    CHAT = "chat"
    EMBEDDINGS = "embeddings"
    IMAGES = "images"
    IMAGE_EDIT = "image_edit"
    VISION = "vision"
    TOOLS = "tools"
    GRAMMAR = "grammar"
    AUDIO_TRANSCRIPTION = "audio_transcription"
    SPEECH = "speech"
    RERANK = "rerank"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimeoutSpec(_Strict):
    """Per-model timeouts in seconds; an omitted field inherits, `null` turns the limit off."""

    connect: Annotated[float, Field(gt=0)] | None = None
    first_token: Annotated[float, Field(gt=0)] | None = None
    idle: Annotated[float, Field(gt=0)] | None = None
    total: Annotated[float, Field(gt=0)] | None = None

    def over(self, defaults: Timeouts) -> Timeouts:
        """Return `defaults` with the fields this spec sets replaced."""
        return defaults.merge(**{name: getattr(self, name) for name in self.model_fields_set})


UpstreamName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]


class UpstreamSpec(_Strict):
    """One replica of a model: its URL, the name metrics and /readyz show instead of the URL,
    load-balancing weight and parallel slots."""

    url: HttpUrl
    name: UpstreamName | None = None
    # Its health endpoint (default LOCALAI_GATEWAY_HEALTH_PATH, `/readyz`); a 404 or 405 there
    # means "no health endpoint": the upstream is then judged by its traffic alone.
    health_path: Annotated[str, Field(pattern=r"^/[!-~]*$", max_length=256)] | None = None
    weight: Annotated[float, Field(gt=0)] = 1.0
    max_concurrency: Annotated[int, Field(ge=1)] | None = None


class Routing(_Strict):
    """How a model's requests pick a replica: by least outstanding calls per weight, or for
    chat by a hash of the conversation's leading messages (`prefix`), so its turns find their
    prompt cache; a replica over `load_factor` x its share of the load passes them on."""

    policy: Literal["least_outstanding", "prefix"] = "least_outstanding"
    load_factor: Annotated[float, Field(ge=1, le=10)] = 1.25

    def __str__(self) -> str:
        if self.policy == "prefix":
            return f"prefix (load factor {self.load_factor:g})"
        return self.policy


DEFAULT_ROUTING = Routing()
# `routing: prefix` is short for `routing: {policy: prefix}`.
RoutingField = Annotated[
    Routing, BeforeValidator(lambda value: {"policy": value} if isinstance(value, str) else value)
]


class LocalAIModelSpec(BaseModel):
    """How LocalAI loads the model (input of `render-localai`); other LocalAI keys pass through."""

    model_config = ConfigDict(extra="allow", frozen=True)

    backend: str | None = None
    model: str | None = None
    context_size: int | None = None
    gpu_layers: int | None = None
    embeddings: bool | None = None


class ModelEntry(_Strict):
    """One registry entry: the LocalAI model behind an internal id, and how to reach it."""

    localai_model: Annotated[str, Field(min_length=1)]
    capabilities: Annotated[frozenset[Capability], Field(min_length=1)]
    upstreams: tuple[HttpUrl | UpstreamSpec, ...] = ()
    aliases: tuple[ModelId, ...] = ()
    defaults: dict[str, Any] = Field(default_factory=dict)
    timeout: TimeoutSpec | None = None
    localai: LocalAIModelSpec | None = None
    stream: StreamConfig | None = None
    fallback: ModelId | None = None
    retries: Annotated[int, Field(ge=0, le=10)] | None = None
    max_concurrency: Annotated[int, Field(ge=1)] | None = None
    routing: RoutingField = DEFAULT_ROUTING
    legacy: LlamaCppModelConfig | None = None
    legacy_mode: LegacyModeField | None = None

    def upstream_specs(self) -> tuple[UpstreamSpec, ...]:
        """Every replica as an `UpstreamSpec` (a bare URL gets the defaults)."""
        return tuple(
            spec if isinstance(spec, UpstreamSpec) else UpstreamSpec(url=spec)
            for spec in self.upstreams
        )


class DefaultModels(_Strict):
    """The model a request without `model` uses, per kind of endpoint (the top-level
    `defaults:` block); a kind left out keeps `model` required."""

    chat: ModelId | None = None
    embeddings: ModelId | None = None
    images: ModelId | None = None
    transcription: ModelId | None = None
    speech: ModelId | None = None
    rerank: ModelId | None = None


# The capability each `defaults:` key stands for (image edits use the images default).
DEFAULT_KINDS = {
    "chat": Capability.CHAT,
    "embeddings": Capability.EMBEDDINGS,
    "images": Capability.IMAGES,
    "transcription": Capability.AUDIO_TRANSCRIPTION,
    "speech": Capability.SPEECH,
    "rerank": Capability.RERANK,
}
_DEFAULT_KIND_OF = {capability: kind for kind, capability in DEFAULT_KINDS.items()} | {
    Capability.IMAGE_EDIT: "images"
}


class RegistryFile(_Strict):
    """The whole `localai_models.yaml` document."""

    models: Annotated[dict[ModelId, ModelEntry], Field(min_length=1)]
    defaults: DefaultModels = DefaultModels()


class RegistryError(ValueError):
    """Raised when a registry file cannot be used; the message names file, model and field."""


@dataclass(frozen=True, slots=True)
class ReplicaConfig:
    """A replica as configured: base URL (no /v1), its public name, weight and parallel slots."""

    url: str
    name: str
    health_path: str = "/readyz"
    weight: float = 1.0
    max_concurrency: int | None = None


@dataclass(frozen=True, slots=True)
class ModelTarget:
    """A resolved model: everything a request needs, computed once at load time."""

    id: str
    localai_model: str
    capabilities: frozenset[Capability]
    replicas: tuple[ReplicaConfig, ...]
    timeouts: Timeouts
    defaults: dict[str, Any]
    created: int
    stream: StreamConfig | None = None
    member: bytes = b""  # `"model":"<id>"`, written into every reply
    fallback: str | None = None
    retries: int | None = None  # None: the process default
    max_concurrency: int | None = None
    routing: Routing = DEFAULT_ROUTING
    legacy: LlamaCppModelConfig | None = None
    legacy_mode: LegacyMode = "off"  # "off" whenever `legacy` is None
    aliases: tuple[str, ...] = ()

    @property
    def upstreams(self) -> tuple[str, ...]:
        """The replica base URLs."""
        return tuple(replica.url for replica in self.replicas)

    @property
    def takes_grammar(self) -> bool:
        """Whether the model's LocalAI backend takes a `grammar` (the `grammar` capability)."""
        return Capability.GRAMMAR in self.capabilities

    def require(self, capability: Capability) -> None:
        """Raise `CapabilityNotSupported` unless the model has `capability`."""
        if capability not in self.capabilities:
            raise CapabilityNotSupported(
                f"Model {self.id!r} does not support {capability.value!r}; it supports: "
                + ", ".join(sorted(self.capabilities)),
                param="model",
            )


def _describe(path: Path, error: ValidationError) -> str:
    first = error.errors()[0]
    location = [str(part) for part in first["loc"]]
    if len(location) >= 2 and location[0] == "models":
        where = f"model {location[1]!r}: field {'.'.join(location[2:]) or '(entry)'!r}"
    else:
        where = f"field {'.'.join(location) or '(document)'!r}"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{path}: {where}: {first['msg']}{more}"


def load_registry(path: Path, read: Callable[[Path], bytes] = Path.read_bytes) -> RegistryFile:
    """Read (with `read`) and check a registry file; raise `RegistryError` naming what is
    wrong."""
    try:
        document = yaml.safe_load(read(path))
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read the registry: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise RegistryError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return RegistryFile.model_validate(document)
    except ValidationError as exc:
        raise RegistryError(_describe(path, exc)) from exc


DEFAULT_UPSTREAM_NAME = "localai"


def given_per_url(
    document: RegistryFile, field: str, source: Path | str
) -> tuple[dict[str, str], list[str]]:
    """The value of the upstream field `field` each URL is given (two values for one URL are a
    `RegistryError`), and every upstream URL in registry order."""
    given: dict[str, str] = {}
    order: list[str] = []
    for model_id, entry in document.models.items():
        for spec in entry.upstream_specs():
            url = upstream_base(str(spec.url))
            order.append(url)
            value = getattr(spec, field)
            if value is not None and given.setdefault(url, value) != value:
                raise RegistryError(
                    f"{source}: model {model_id!r}: field 'upstreams': {field} {value!r} for "
                    f"an upstream already given {field} {given[url]!r}"
                )
    return given, order


def name_upstreams(
    document: RegistryFile, default_upstream: str | None, source: Path | str
) -> dict[str, str]:
    """A name per upstream URL: the one the registry gives, else `localai` for the default
    upstream and `upstream-N` for the others, in order; two names for one URL (or one name for
    two URLs) are a `RegistryError`."""
    given, urls = given_per_url(document, "name", source)
    order = urls if default_upstream is None else [default_upstream, *urls]
    if default_upstream is not None:
        given.setdefault(default_upstream, DEFAULT_UPSTREAM_NAME)
    taken = set(given.values())
    if len(taken) != len(given):
        raise RegistryError(f"{source}: field 'upstreams': one name is given to two URLs")
    counter = 0
    for url in dict.fromkeys(order):
        while url not in given:
            counter += 1
            if (name := f"upstream-{counter}") not in taken:
                given[url] = name
                taken.add(name)
    return given


def _defaults(
    document: RegistryFile, names: dict[str, ModelTarget], source: Path | str
) -> dict[str, ModelTarget]:
    """The default model per `defaults:` key; one that is unknown or lacks the capability is a
    `RegistryError`."""
    chosen: dict[str, ModelTarget] = {}
    for kind, name in document.defaults.model_dump(exclude_none=True).items():
        target = names.get(name)
        if target is None:
            raise RegistryError(f"{source}: field 'defaults.{kind}': no model {name!r}")
        if DEFAULT_KINDS[kind] not in target.capabilities:
            raise RegistryError(
                f"{source}: field 'defaults.{kind}': model {name!r} lacks the "
                f"{DEFAULT_KINDS[kind].value!r} capability"
            )
        chosen[kind] = target
    return chosen


class Registry:
    """Lookup from a model id or alias to its `ModelTarget`, and the default models."""

    def __init__(
        self,
        targets: dict[str, ModelTarget],
        names: dict[str, ModelTarget],
        defaults: dict[str, ModelTarget] | None = None,
    ) -> None:
        self._targets = targets
        self._names = names
        self.defaults = defaults or {}

    @classmethod
    def build(
        cls,
        document: RegistryFile,
        *,
        source: Path | str,
        default_upstream: str | None,
        timeouts: Timeouts,
        legacy_mode: LegacyMode = "off",
        health_path: str = "/readyz",
    ) -> Registry:
        """Resolve every entry against the process defaults; raise `RegistryError` on conflicts."""
        created = int(time.time())
        targets: dict[str, ModelTarget] = {}
        names: dict[str, ModelTarget] = {}
        upstream_names = name_upstreams(document, default_upstream, source)
        health_paths = given_per_url(document, "health_path", source)[0]

        def replica(url: str, weight: float = 1.0, slots: int | None = None) -> ReplicaConfig:
            path = health_paths.get(url, health_path)
            return ReplicaConfig(url, upstream_names[url], path, weight, slots)

        for model_id, entry in document.models.items():
            replicas = tuple(
                replica(upstream_base(str(spec.url)), spec.weight, spec.max_concurrency)
                for spec in entry.upstream_specs()
            )
            mode = (entry.legacy_mode or legacy_mode) if entry.legacy else "off"
            if entry.legacy_mode not in (None, "off") and entry.legacy is None:
                raise RegistryError(
                    f"{source}: model {model_id!r}: field 'legacy': legacy_mode "
                    f"{entry.legacy_mode!r} needs a legacy block"
                )
            if not replicas and mode != "only" and default_upstream is None:
                raise RegistryError(
                    f"{source}: model {model_id!r}: field 'upstreams': none given and "
                    "LOCALAI_GATEWAY_LOCALAI_URL is not set"
                )
            target = ModelTarget(
                id=model_id,
                localai_model=entry.localai_model,
                capabilities=entry.capabilities,
                replicas=replicas or (() if mode == "only" else (replica(str(default_upstream)),)),
                timeouts=entry.timeout.over(timeouts) if entry.timeout else timeouts,
                defaults=entry.defaults,
                created=created,
                stream=entry.stream,
                member=b'"model":' + orjson.dumps(model_id),
                fallback=entry.fallback,
                retries=entry.retries,
                max_concurrency=entry.max_concurrency,
                routing=entry.routing,
                legacy=entry.legacy,
                legacy_mode=mode,
                aliases=entry.aliases,
            )
            targets[model_id] = target
            for name in (model_id, *entry.aliases):
                if name in names:
                    raise RegistryError(
                        f"{source}: model {model_id!r}: field 'aliases': {name!r} is already "
                        f"used by model {names[name].id!r}"
                    )
                names[name] = target
        for target in targets.values():
            if target.fallback is not None and target.fallback not in targets:
                raise RegistryError(
                    f"{source}: model {target.id!r}: field 'fallback': no model "
                    f"{target.fallback!r} in the registry"
                )
            if target.fallback == target.id:
                raise RegistryError(
                    f"{source}: model {target.id!r}: field 'fallback': a model cannot fall "
                    "back to itself"
                )
        return cls(targets, names, _defaults(document, names, source))

    def resolve(self, name: object) -> ModelTarget:
        """Return the target for a model id or alias; raise `ModelNotFound` otherwise."""
        target = self._names.get(name) if isinstance(name, str) else None
        if target is None:
            raise ModelNotFound(
                f"The model {name!r} does not exist or you do not have access to it.",
                param="model",
            )
        return target

    def default_for(self, capability: Capability) -> ModelTarget | None:
        """The model a request without `model` uses for `capability`, if one is set."""
        target = self.defaults.get(_DEFAULT_KIND_OF.get(capability, ""))
        return target if target is not None and capability in target.capabilities else None

    def ids(self) -> list[str]:
        """The internal model ids, in registry order."""
        return list(self._targets)

    def get(self, model_id: str) -> ModelTarget:
        """Return the target registered under `model_id` (ids only, no aliases)."""
        return self._targets[model_id]

    def __iter__(self) -> Iterator[ModelTarget]:
        return iter(self._targets.values())

    def __len__(self) -> int:
        return len(self._targets)
