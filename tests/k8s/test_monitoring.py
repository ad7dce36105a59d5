"""k8s/monitoring: the alert rules pass promtool (syntax and unit tests), the dashboard is a
well-formed Grafana dashboard, and the component renders into an overlay."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.k8s import _kustomize
from tests.k8s.conftest import K8S, kubectl_build
from tests.support.browser import require_tool
from tests.support.monitoring import (
    DASHBOARD,
    MONITORING,
    dashboard,
    metric_names,
    queries,
    rule_groups,
    write_rules,
)

ALERTS = {
    "LocalAIGatewayHighErrorRatio",
    "LocalAIGatewayHighLatencyP99",
    "LocalAIGatewayHighTimeToFirstToken",
    "LocalAIGatewayBreakerOpen",
    "LocalAIGatewayNoHealthyReplica",
    "LocalAIGatewayQueueSaturated",
    "LocalAIGatewayRateLimited",
    "LocalAIGatewayConfigReloadFailed",
}


def promtool(*args: str) -> None:
    tool = require_tool(shutil.which("promtool"), "promtool: apt-get install -y prometheus")
    done = subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_checks_the_rules(tmp_path: Path) -> None:
    promtool("check", "rules", str(write_rules(tmp_path)))


def test_promtool_unit_tests_fire_the_alerts(tmp_path: Path) -> None:
    write_rules(tmp_path)
    shutil.copy(MONITORING / "alerts_test.yaml", tmp_path)
    promtool("test", "rules", str(tmp_path / "alerts_test.yaml"))


def test_the_rules_cover_what_the_issue_asks() -> None:
    rules = [rule for group in rule_groups()["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} == ALERTS
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]


def test_every_query_reads_a_gateway_metric() -> None:
    for where, expression in queries().items():
        assert metric_names(expression), f"{where} reads no localai_gateway_ metric"


def test_the_dashboard_is_well_formed() -> None:
    board = dashboard()
    panels = board["panels"]
    assert board["uid"] == "localai-gateway" and board["title"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    variables = {variable["name"] for variable in board["templating"]["list"]}
    assert variables == {"datasource", "model"}
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"


RENDERERS = ["builtin", "kubectl"]


@pytest.mark.parametrize("renderer", RENDERERS)
def test_the_component_adds_rules_scraping_and_the_dashboard(renderer: str, tmp_path: Path) -> None:
    overlay = tmp_path / "monitored"
    overlay.mkdir()
    up = os.path.relpath(K8S, overlay)  # kustomize refuses absolute paths
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources:\n  - {up}/overlays/cpu\ncomponents:\n  - {up}/monitoring\n"
    )
    if renderer == "kubectl":
        if shutil.which("kubectl") is None:
            pytest.skip("kubectl is not on PATH; the builtin renderer checks the component")
        objects = kubectl_build(overlay)
    else:
        objects = _kustomize.build(overlay)
    by_kind = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    board = by_kind["ConfigMap", "localai-gateway-dashboard"]
    assert board["metadata"]["labels"] == {"grafana_dashboard": "1"}
    assert board["data"]["localai-gateway.json"] == DASHBOARD.read_text(encoding="utf-8")
    monitor = by_kind["ServiceMonitor", "localai-gateway"]["spec"]
    service = by_kind["Service", "localai-gateway"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert by_kind["PrometheusRule", "localai-gateway"]["spec"] == rule_groups()
    added = [
        ("ConfigMap", "localai-gateway-dashboard"),
        ("ServiceMonitor", "localai-gateway"),
        ("PrometheusRule", "localai-gateway"),
    ]
    for key in added:
        assert by_kind[key]["metadata"]["namespace"] == "localai-gateway", key
