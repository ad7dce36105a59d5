"""Hot reload through a real `localai-gateway serve`: keys and registry mounted as a Kubernetes
ConfigMap/Secret (symlink swaps), revoked keys, added models, broken files, SIGHUP."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.configmap import ConfigMapDir
from tests.support.servers import FakeLocalAI

from .conftest import serve_gateway

pytestmark = pytest.mark.integration

TEAM, OPS = "sk-team-secret", "sk-ops-secret"
HELLO = [{"role": "user", "content": "hi"}]
LIMIT = 5.0  # seconds the issue allows from a file change to its effect


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def keys_yaml(*names: str) -> str:
    entries = {"team": TEAM, "ops": OPS}
    lines = [f"  - {{name: {n}, sha256: {sha(entries[n])}, models: '*'}}\n" for n in names]
    return "keys:\n" + "".join(lines)


def registry_yaml(*models: str, extra: str = "") -> str:
    entries = "".join(
        f"  {m}:\n    localai_model: qwen3-30b-instruct:q4_k_m\n    capabilities: [chat]\n{extra}"
        for m in models
    )
    return "models:\n" + entries


class Gateway:
    """A running gateway whose registry and keys live in ConfigMap-style folders."""

    def __init__(
        self, url: str, process: subprocess.Popen[bytes], registry: ConfigMapDir, keys: ConfigMapDir
    ) -> None:
        self.url, self.process, self.registry, self.keys = url, process, registry, keys

    def chat(self, model: str, key: str = OPS) -> httpx.Response:
        body = {"model": model, "messages": HELLO}
        headers = {"authorization": f"Bearer {key}"}
        return httpx.post(f"{self.url}/v1/chat/completions", json=body, headers=headers, timeout=10)

    def reloads(self, result: str) -> float:
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        wanted = ("localai_gateway_config_reload_total", {"result": result})
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if (sample.name, sample.labels) == wanted:
                    return sample.value
        raise AssertionError("localai_gateway_config_reload_total is not exported")


@pytest.fixture
def gateway(fake_localai: FakeLocalAI, tmp_path: Path) -> Iterator[Gateway]:
    with run_gateway(fake_localai, tmp_path, {}) as running:
        yield running


@contextmanager
def run_gateway(fake: FakeLocalAI, tmp_path: Path, env: dict[str, str]) -> Iterator[Gateway]:
    registry, keys = ConfigMapDir(tmp_path / "registry"), ConfigMapDir(tmp_path / "keys")
    registry.update({"models.yaml": registry_yaml("first")})
    keys.update({"keys.yaml": keys_yaml("team", "ops")})
    settings = {
        "LOCALAI_GATEWAY_LOCALAI_URL": fake.url,
        "LOCALAI_GATEWAY_REGISTRY": str(registry.path("models.yaml")),
        "LOCALAI_GATEWAY_API_KEYS_FILE": str(keys.path("keys.yaml")),
        "LOCALAI_GATEWAY_HEALTH_INTERVAL": "0.5",
        **env,
    }
    with serve_gateway(settings) as (url, process):
        yield Gateway(url, process, registry, keys)


def seconds_until(condition: Callable[[], bool], limit: float = LIMIT) -> float:
    """Poll `condition` until it holds; return the seconds it took (fail after `limit`)."""
    start = time.monotonic()
    while not condition():
        elapsed = time.monotonic() - start
        assert elapsed < limit, f"not within {limit}s"
        time.sleep(0.05)
    return time.monotonic() - start


def test_a_revoked_key_is_refused_within_5s_by_the_same_process(gateway: Gateway) -> None:
    assert gateway.chat("first", TEAM).status_code == 200
    pid = gateway.process.pid
    gateway.keys.update({"keys.yaml": keys_yaml("ops")})
    took = seconds_until(lambda: gateway.chat("first", TEAM).status_code == 401)
    print(f"\nkey revoked -> 401 in {took:.2f}s")
    assert gateway.chat("first", OPS).status_code == 200, "the other key still works"
    assert gateway.process.poll() is None and gateway.process.pid == pid
    assert gateway.reloads("ok") == 1


def test_an_added_model_is_served_within_5s(gateway: Gateway) -> None:
    assert gateway.chat("second").status_code == 404
    gateway.registry.update({"models.yaml": registry_yaml("first", "second")})
    took = seconds_until(lambda: gateway.chat("second").status_code == 200)
    print(f"\nmodel added -> served in {took:.2f}s")
    assert gateway.chat("first").status_code == 200


@pytest.mark.parametrize(
    ("folder", "broken"),
    [
        ("registry", {"models.yaml": "models:\n  first: [unclosed\n"}),
        ("registry", {"models.yaml": registry_yaml("first", extra="    fallback: nowhere\n")}),
        ("keys", {"keys.yaml": "keys:\n  - {name: ops, models: '*'}\n"}),
    ],
    ids=["yaml-error", "unknown-fallback-model", "key-without-sha256"],
)
def test_a_broken_file_keeps_the_old_configuration_and_counts_an_error(
    gateway: Gateway, folder: str, broken: dict[str, str]
) -> None:
    getattr(gateway, folder).update(broken)
    seconds_until(lambda: gateway.reloads("error") == 1)
    assert gateway.chat("first").status_code == 200, "still served"
    assert gateway.chat("first", TEAM).status_code == 200, "keys unchanged"
    assert gateway.reloads("ok") == 0
    gateway.keys.update({"keys.yaml": keys_yaml("team", "ops")})
    gateway.registry.update({"models.yaml": registry_yaml("first", "second")})
    seconds_until(lambda: gateway.chat("second").status_code == 200)
    assert gateway.reloads("error") == 1, "each broken version is counted once"


def test_a_stream_in_flight_finishes_on_the_configuration_it_started_with(
    gateway: Gateway, fake_localai: FakeLocalAI
) -> None:
    fake_localai.set_faults({"slow_events_ms": 150})
    chunks: list[bytes] = []

    def stream() -> None:
        body = {"model": "first", "messages": HELLO, "stream": True}
        headers = {"authorization": f"Bearer {TEAM}"}
        with httpx.stream(
            "POST", f"{gateway.url}/v1/chat/completions", json=body, headers=headers, timeout=20
        ) as reply:
            chunks.extend(reply.iter_bytes())

    reader = threading.Thread(target=stream)
    reader.start()
    seconds_until(lambda: fake_localai.stats()["active_streams"] == 1)
    gateway.registry.update({"models.yaml": registry_yaml("second")})
    gateway.keys.update({"keys.yaml": keys_yaml("ops")})
    seconds_until(lambda: gateway.chat("first").status_code == 404)
    assert fake_localai.stats()["active_streams"] == 1, "the stream outlived the reload"
    reader.join(20)
    text = b"".join(chunks)
    assert text.rstrip().endswith(b"data: [DONE]") and b'"error"' not in text
    assert b'"model":"first"' in text


def test_sighup_reloads_when_polling_is_off(fake_localai: FakeLocalAI, tmp_path: Path) -> None:
    with run_gateway(fake_localai, tmp_path, {"LOCALAI_GATEWAY_RELOAD_INTERVAL": "0"}) as gateway:
        gateway.registry.update({"models.yaml": registry_yaml("first", "second")})
        time.sleep(1.5)
        assert gateway.chat("second").status_code == 404, "no polling: not seen yet"
        os.kill(gateway.process.pid, signal.SIGHUP)
        seconds_until(lambda: gateway.chat("second").status_code == 200)
        assert gateway.reloads("ok") == 1 and gateway.process.poll() is None
