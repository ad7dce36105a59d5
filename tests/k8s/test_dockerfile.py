"""The Dockerfile: multi-stage, pinned slim base, non-root, healthcheck, no build tools shipped."""

import json
import re
from fnmatch import fnmatch

import pytest
from dockerfile_parse import DockerfileParser

from tests.k8s.conftest import ROOT

BASE_IMAGE = "python:3.11-slim-bookworm"
BUILD_TOOLS = re.compile(r"\b(build-essential|gcc|g\+\+|clang|cmake|make|curl|wget)\b")

Instruction = dict[str, str]


@pytest.fixture(scope="module")
def stages() -> list[list[Instruction]]:
    """Instructions grouped by stage, each stage starting at its FROM."""
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    grouped: list[list[Instruction]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            grouped.append([])
        if grouped:
            grouped[-1].append(instruction)
    return grouped


def values(stage: list[Instruction], name: str) -> list[str]:
    return [i["value"] for i in stage if i["instruction"] == name]


def test_every_stage_uses_the_pinned_slim_base(stages: list[list[Instruction]]) -> None:
    assert len(stages) >= 2
    for stage in stages:
        assert values(stage, "FROM")[0].split()[0] == BASE_IMAGE
    assert values(stages[0], "FROM")[0].split()[-1] == "builder"


def test_builder_builds_wheels_with_optional_legacy_extra(stages: list[list[Instruction]]) -> None:
    builder = " ".join(values(stages[0], "RUN"))
    assert "pip wheel" in builder
    assert '".[legacy,redis]"' in builder and '".[redis]"' in builder  # Redis: shared buckets
    assert 'CMAKE_ARGS="-DLLAVA_BUILD=OFF"' in builder
    assert any(v.startswith("WITH_LEGACY=") for v in values(stages[0], "ARG"))


def test_final_stage_installs_wheels_without_build_tools(stages: list[list[Instruction]]) -> None:
    final = stages[-1]
    runs = values(final, "RUN")
    assert any("from=builder" in run and "pip install --no-index" in run for run in runs)
    for run in runs:
        assert not BUILD_TOOLS.search(run), run


def test_final_stage_runs_as_non_root(stages: list[list[Instruction]]) -> None:
    (user,) = values(stages[-1], "USER")
    assert user.split(":")[0] not in {"root", "0"}


def test_healthcheck_uses_python_stdlib_on_healthz(stages: list[list[Instruction]]) -> None:
    (healthcheck,) = values(stages[-1], "HEALTHCHECK")
    command = json.loads(healthcheck[healthcheck.index("CMD") + 3 :])
    assert command[:2] == ["python", "-c"]
    assert "urllib.request" in command[2]
    assert "/healthz" in command[2]


def test_command_serves_on_all_interfaces(stages: list[list[Instruction]]) -> None:
    (cmd,) = values(stages[-1], "CMD")
    assert json.loads(cmd) == ["localai-gateway", "serve", "--host", "0.0.0.0"]


def test_dockerignore_admits_exactly_what_the_image_copies(
    stages: list[list[Instruction]],
) -> None:
    patterns = (ROOT / ".dockerignore").read_text(encoding="utf-8").split("\n")
    rules = [p for p in patterns if p and not p.startswith("#")]
    assert rules[0] == "**", "start from nothing, then admit"
    admitted = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    for stage in stages:
        for copy in values(stage, "COPY"):
            if "--from" in copy:
                continue
            sources = copy.split()[:-1]
            for source in sources:
                assert any(fnmatch(source.rstrip("/"), a) for a in admitted), source
