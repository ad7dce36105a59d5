"""The status page in a real browser: a gateway over two fake LocalAI replicas, one killed."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.browser import chromium_page
from tests.support.servers import FakeLocalAI

from .conftest import gateway_process

pytestmark = pytest.mark.integration

ADMIN = "sk-admin-secret"
# LOCALAI_GATEWAY_SCREENSHOT=docs/status-page.png keeps the picture the README shows.
SCREENSHOT = os.environ.get("LOCALAI_GATEWAY_SCREENSHOT")


def registry(a: str, b: str) -> str:
    entry = "    localai_model: qwen3-30b-instruct:q4_k_m\n    capabilities: [chat]\n"
    replicas = f'    upstreams: [{{url: "{a}", name: gpu-0}}, {{url: "{b}", name: gpu-1}}]\n'
    return f"models:\n  qwen3-30b:\n{entry}{replicas}  qwen3-embed:\n{entry}    upstreams: [{a}]\n"


@pytest.fixture
def replicas() -> Iterator[tuple[FakeLocalAI, FakeLocalAI]]:
    with FakeLocalAI() as a, FakeLocalAI() as b:
        yield a, b


def test_the_status_page_shows_models_and_a_killed_replica_down(
    replicas: tuple[FakeLocalAI, FakeLocalAI], tmp_path: Path
) -> None:
    a, b = replicas
    keys = tmp_path / "keys.yaml"
    digest = hashlib.sha256(ADMIN.encode()).hexdigest()
    keys.write_text(f"keys:\n  - {{name: ops, sha256: {digest}, models: '*', admin: true}}\n")
    env = {"LOCALAI_GATEWAY_API_KEYS_FILE": str(keys), "LOCALAI_GATEWAY_HEALTH_INTERVAL": "0.3"}
    credentials = {"username": "ops", "password": ADMIN}
    with (
        gateway_process(registry(a.url, b.url), tmp_path, env) as (url, _),
        chromium_page(
            http_credentials=credentials, viewport={"width": 1200, "height": 520}
        ) as page,
    ):
        chat = {"model": "qwen3-30b", "messages": [{"role": "user", "content": "hi"}]}
        for _ in range(5):
            headers = {"authorization": f"Bearer {ADMIN}"}
            assert httpx.post(f"{url}/v1/chat/completions", json=chat, headers=headers).is_success
        page.goto(f"{url}/status")
        page.wait_for_selector('tr[data-model="qwen3-embed"]')
        assert page.locator("#state").inner_text().lower() == "ready"
        assert page.locator('[data-replica="gpu-1"]').get_attribute("data-state") == "up"
        assert float(page.locator('tr[data-model="qwen3-30b"] td').nth(5).inner_text()) > 0
        b.kill()
        down = '[data-replica="gpu-1"][data-state="down"]'
        page.wait_for_selector(down, timeout=10_000)  # probed down, then redrawn in place
        assert "down" in page.locator(down).inner_text()
        assert page.locator('[data-replica="gpu-0"]').first.get_attribute("data-state") == "up"
        assert a.url not in page.content() and b.url not in page.content()
        time.sleep(0.2)
        page.screenshot(path=SCREENSHOT or str(tmp_path / "status.png"), full_page=True)
