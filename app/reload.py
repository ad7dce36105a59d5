"""Hot reload: keep the live configuration in step with the registry and keys files.

`Reloader.watch` polls the files every `LOCALAI_GATEWAY_RELOAD_INTERVAL` seconds (a stat, and a
hash when the stat changed) and reloads on a change or on `request()` (SIGHUP). A reload reads
and checks both files, builds the dispatcher's view of the new registry (per-URL state kept),
probes upstreams it has not seen, then swaps `Live.gateway` in one assignment: requests in
flight finish on the configuration they took, new ones take the new one. A file that does not
check out leaves the old configuration serving; one log line names the file, the entry and the
field, and `localai_gateway_config_reload_total{result="error"}` counts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Mapping

from .access.auth import KeyRing, KeysFileError
from .configuration import ConfigFiles, Loaded, load_configuration
from .errors import scrub
from .observability.metrics import METRICS, Metrics
from .registry import Registry, RegistryError
from .state import ConfigVersion, Gateway, Live, ReloadOutcome

log = logging.getLogger("localai_gateway.reload")


class Reloader:
    """Reloads the configuration of `live` from `files`, one reload at a time."""

    def __init__(self, live: Live, files: ConfigFiles, metrics: Metrics = METRICS) -> None:
        self.live = live
        self.files = files
        self.metrics = metrics
        self._requested = asyncio.Event()
        self._lock = asyncio.Lock()

    def request(self) -> None:
        """Ask for a reload whether the files changed or not (SIGHUP); loop thread only."""
        self._requested.set()

    async def watch(self, interval: float | None) -> None:
        """Reload on request, and when a file changed (checked every `interval` s; None: only
        on request), until cancelled."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._requested.wait()
            requested = self._requested.is_set()
            self._requested.clear()
            if requested or self.files.changed():
                await self.reload()

    async def reload(self) -> bool:
        """Load the files and swap them in; False (old configuration kept) if they are bad."""
        async with self._lock:
            current = self._current()
            try:
                loaded = load_configuration(current.settings, self.files)
                gateway = successor(current, loaded)
            except (RegistryError, KeysFileError) as exc:
                self._failed(current, exc)
                return False
            await self._probe_new(current, gateway)
            self.live.gateway = gateway
            self._applied(current, gateway)
            return True

    def _current(self) -> Gateway:
        gateway = self.live.gateway
        if gateway is None:
            raise RuntimeError("Nothing to reload: the gateway's lifespan is not running.")
        return gateway

    async def _probe_new(self, current: Gateway, gateway: Gateway) -> None:
        """Probe the upstreams the old configuration did not have, before they take requests."""
        settings = gateway.settings
        new = gateway.dispatcher.upstreams.keys() - current.dispatcher.upstreams.keys()
        if new and settings.health_interval:
            await gateway.dispatcher.probe_all(settings.health_timeout, only=new)

    def _failed(self, current: Gateway, error: ValueError) -> None:
        message = " ".join(str(error).split())  # one line, whatever YAML's message spans
        log.error(
            "configuration reload failed, still serving version %d: %s",
            current.version.number,
            message,
        )
        self.metrics.reloaded(ok=False)
        current.lifecycle.last_reload = ReloadOutcome(time.time(), False, scrub(message))

    def _applied(self, before: Gateway, after: Gateway) -> None:
        changes = describe_changes(before, after)
        log.info(
            "configuration version %d loaded from %s: %s",
            after.version.number,
            self.files.names(),
            changes,
        )
        self.metrics.reloaded(ok=True, at=after.version.loaded_at)
        after.lifecycle.last_reload = ReloadOutcome(after.version.loaded_at, True, changes)


def successor(current: Gateway, loaded: Loaded) -> Gateway:
    """The configuration after `current` with `loaded`'s registry and keys; raise
    `RegistryError` when a model would run in-process and no in-process backend runs."""
    dispatcher = current.dispatcher
    needs_backend = [t.id for t in loaded.registry if t.legacy_mode != "off"]
    if needs_backend and dispatcher.llama_cpp is None:
        raise RegistryError(
            f"{current.settings.registry_path}: models {needs_backend} run in-process, and the "
            "in-process backend starts only with the process: restart the gateway for them"
        )
    version = ConfigVersion(
        current.version.number + 1, loaded.registry_sha256, loaded_at=time.time()
    )
    return dataclasses.replace(
        current,
        registry=loaded.registry,
        keys=loaded.keys,
        dispatcher=dispatcher.reconfigured(loaded.registry),
        version=version,
    )


def describe_changes(before: Gateway, after: Gateway) -> str:
    """`models added [...], ...; keys added [...], ...`, or `no changes`."""
    parts = [
        _changes("models", _models(before.registry), _models(after.registry)),
        _changes("keys", _keys(before.keys), _keys(after.keys)),
    ]
    return "; ".join(part for part in parts if part) or "no changes"


def _changes(kind: str, before: Mapping[str, object], after: Mapping[str, object]) -> str:
    added = [name for name in after if name not in before]
    removed = [name for name in before if name not in after]
    changed = [name for name in after if name in before and before[name] != after[name]]
    lists = (("added", added), ("removed", removed), ("changed", changed))
    said = [f"{verb} {names}" for verb, names in lists if names]
    return f"{kind} " + ", ".join(said) if said else ""


def _models(registry: Registry) -> dict[str, object]:
    # `created` is the load time of every entry: not a change.
    return {t.id: dataclasses.replace(t, created=0) for t in registry}


def _keys(keys: KeyRing | None) -> dict[str, object]:
    return {key.name: key for key in (keys.keys if keys is not None else ())}
