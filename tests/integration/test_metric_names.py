"""Every metric the shipped dashboard and alerts read is one a running gateway exports."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.monitoring import metric_names, queries
from tests.support.servers import FakeLocalAI

from .conftest import gateway_process

pytestmark = pytest.mark.integration

SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
}


def exported_names(text: str) -> set[str]:
    """The sample names an exposition can hold, from each family's type (even without samples
    yet: a counter nobody has hit is still declared)."""
    names = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
        names |= {sample.name for sample in family.samples}
    return names


def test_dashboard_and_alerts_read_only_exported_metrics(
    fake_localai: FakeLocalAI, tmp_path_factory: pytest.TempPathFactory
) -> None:
    registry = (
        "models:\n  chat:\n    localai_model: qwen3-30b-instruct:q4_k_m\n    capabilities: [chat]\n"
    )
    env = {"LOCALAI_GATEWAY_LOCALAI_URL": fake_localai.url}
    with gateway_process(registry, tmp_path_factory.mktemp("names"), env) as (url, _):
        chat = {"model": "chat", "messages": [{"role": "user", "content": "hi"}], "stream": True}
        assert httpx.post(f"{url}/v1/chat/completions", json=chat, timeout=10).is_success
        exported = exported_names(httpx.get(f"{url}/metrics", timeout=10).text)
    assert "localai_gateway_config_reload_total" in exported
    for where, expression in queries().items():
        missing = metric_names(expression) - exported
        assert not missing, f"{where} reads {sorted(missing)}, which the gateway does not export"
