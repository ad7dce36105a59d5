"""What the status page shows: per model its replicas, load and last minute; the config version.

Names only, never an upstream URL or key: replicas appear by the names the registry gives them,
and the last reload's message is scrubbed as upstream errors are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .metrics import METRICS
from .window import RecentTraffic

if TYPE_CHECKING:
    from ..registry import ModelTarget
    from ..state import Gateway


def status_report(gateway: Gateway, recent: RecentTraffic, now: float) -> dict[str, Any]:
    """The status page's data for the configuration `gateway` at `now` (perf_counter s)."""
    recent.keep_only(gateway.registry.ids())
    streams = METRICS.streams_by_model()
    models = [_model(gateway, target, recent, now, streams) for target in gateway.registry]
    admission = gateway.dispatcher.admission
    version, last = gateway.version, gateway.lifecycle.last_reload
    return {
        "config": {
            "version": version.number,
            "registry_sha256": version.registry_sha256[:12],
            "loaded_at": version.loaded_at,
            "last_reload": None
            if last is None
            else {"at": last.at, "ok": last.ok, "message": last.message},
        },
        "gateway": {
            "in_flight": admission.running,
            "queued": admission.waiting,
            "streams": sum(streams.values()),
            "rps": round(sum(m["rps"] for m in models), 3),
        },
        "models": models,
    }


def _model(
    gateway: Gateway,
    target: ModelTarget,
    recent: RecentTraffic,
    now: float,
    streams: dict[str, int],
) -> dict[str, Any]:
    dispatcher = gateway.dispatcher
    replicas = dispatcher.replica_sets[target.id].replicas
    admission = dispatcher.model_admission.get(target.id)
    last_minute = recent.summary(target.id, now)
    return {
        "id": target.id,
        "localai_model": target.localai_model,
        "in_process": target.legacy_mode,
        "replicas": [
            {
                "name": replica.upstream.name,
                "healthy": replica.upstream.healthy,
                "breaker": replica.breaker.state.name.lower(),
                "usable": replica.usable(),
                "in_flight": replica.outstanding,
            }
            for replica in replicas
        ],
        "in_flight": sum(replica.outstanding for replica in replicas),
        "streams": streams.get(target.id, 0),
        "queued": admission.waiting if admission is not None else 0,
        "rps": round(last_minute.rps, 3),
        "errors_per_second": round(last_minute.errors_per_second, 3),
        "p50_ms": _ms(last_minute.p50),
        "p99_ms": _ms(last_minute.p99),
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)
