"""The shipped monitoring (k8s/monitoring): its PromQL queries and the metric names they use."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.support.servers import REPO_ROOT

MONITORING = REPO_ROOT / "k8s" / "monitoring"
DASHBOARD = MONITORING / "dashboards" / "localai-gateway.json"
RULES = MONITORING / "prometheusrule.yaml"
_METRIC = re.compile(r"\blocalai_gateway_[a-zA-Z0-9_:]+")


def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return document


def rule_groups() -> dict[str, Any]:
    """The PrometheusRule's spec: a Prometheus rules file (`groups:`)."""
    spec: dict[str, Any] = yaml.safe_load(RULES.read_text(encoding="utf-8"))["spec"]
    return spec


def queries() -> dict[str, str]:
    """Every PromQL expression, by where it is: dashboard panels, variables and alerts."""
    found = {
        f"panel {panel['title']!r} {target['refId']}": target["expr"]
        for panel in dashboard()["panels"]
        for target in panel.get("targets", [])
    }
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            found[f"variable {variable['name']!r}"] = variable["definition"]
    for group in rule_groups()["groups"]:
        for rule in group["rules"]:
            found[f"alert {rule['alert']!r}"] = rule["expr"]
    return found


def metric_names(expression: str) -> set[str]:
    """The gateway metric names (`localai_gateway_...`) an expression reads."""
    return set(_METRIC.findall(expression))


def write_rules(folder: Path) -> Path:
    """Write the alert rules as a plain Prometheus rules file; return its path."""
    path = folder / "rules.yaml"
    path.write_text(yaml.safe_dump(rule_groups()), encoding="utf-8")
    return path
