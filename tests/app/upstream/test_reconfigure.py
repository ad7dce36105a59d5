"""Dispatcher.reconfigured: a reloaded registry's view keeps the state of what stays."""

from __future__ import annotations

import httpx
import yaml

from app.registry import Registry, RegistryFile
from app.settings import Settings
from app.upstream.breaker import BreakerState
from app.upstream.dispatch import Dispatcher
from clients import Timeouts, UpstreamClient

A, B, C = "http://a.test", "http://b.test", "http://c.test"


def registry(text: str) -> Registry:
    document = RegistryFile.model_validate(yaml.safe_load(text))
    return Registry.build(document, source="test", default_upstream=None, timeouts=Timeouts())


def entry(model: str, localai: str, *upstreams: str, extra: str = "") -> str:
    return f"  {model}:\n    localai_model: {localai}\n    capabilities: [chat]\n" + (
        f"    upstreams: [{', '.join(upstreams)}]\n{extra}"
    )


BEFORE = (
    "models:\n"
    + entry("kept", "k", A, B, extra="    max_concurrency: 2\n")
    + entry("moved", "m", A)
    + entry("gone", "g", C)
)
AFTER = (
    "models:\n"
    + entry("kept", "k", A, B, extra="    max_concurrency: 2\n")
    + entry("moved", "m", A, B)
    + entry("new", "n", B)
)


def dispatcher() -> Dispatcher:
    client = UpstreamClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    return Dispatcher(client, registry(BEFORE), Settings(_env_file=None))  # type: ignore[call-arg]


def test_state_of_urls_and_models_that_stay_is_kept() -> None:
    old = dispatcher()
    old.upstreams[A].healthy = False
    old.breakers[A, "m"].record(False)
    new = old.reconfigured(registry(AFTER))
    assert new.client is old.client and new.admission is old.admission
    assert new.upstreams[A] is old.upstreams[A] and not new.upstreams[A].healthy
    assert new.breakers[A, "m"] is old.breakers[A, "m"]
    assert new.replica_sets["kept"] is old.replica_sets["kept"], "slots and queue kept"
    assert new.model_admission["kept"] is old.model_admission["kept"]
    assert new.replica_sets["moved"] is not old.replica_sets["moved"], "its replicas changed"
    assert new.replica_sets["moved"].replicas[0].breaker is old.breakers[A, "m"]


def test_what_a_reload_removes_is_dropped() -> None:
    old = dispatcher()
    new = old.reconfigured(registry(AFTER))
    assert set(new.upstreams) == {A, B}, "C is no longer probed or shown"
    assert (C, "g") not in new.breakers and "gone" not in new.replica_sets
    assert new.replica_states().keys() == {"upstream-1", "upstream-2"}
    assert old.replica_sets["gone"].replicas, "requests in flight keep the old view"


def test_a_changed_limit_gets_a_new_admission_and_a_renamed_upstream_keeps_its_health() -> None:
    old = dispatcher()
    old.upstreams[A].healthy = False
    renamed = AFTER.replace(
        f"[{A}, {B}]\n    max_concurrency: 2",
        f"[{{url: '{A}', name: gpu}}, {B}]\n    max_concurrency: 3",
    )
    new = old.reconfigured(registry(renamed))
    assert new.model_admission["kept"] is not old.model_admission["kept"]
    assert new.model_admission["kept"].limit == 3
    assert new.upstreams[A].name == "gpu" and not new.upstreams[A].healthy
    assert new.breakers[A, "k"].state is BreakerState.CLOSED


def test_a_changed_routing_gets_a_new_replica_set_with_the_same_breakers() -> None:
    old = dispatcher()
    assert old.replica_sets["kept"].ring is None
    limit = "    max_concurrency: 2\n"
    routed = AFTER.replace(limit, limit + "    routing: prefix\n")
    new = old.reconfigured(registry(routed))
    assert new.replica_sets["kept"] is not old.replica_sets["kept"]
    assert new.replica_sets["kept"].ring is not None
    assert new.replica_sets["kept"].replicas[0].breaker is old.breakers[A, "k"]
