"""The README's set-up commands stay true: CI runs exactly the README's test command."""

from __future__ import annotations

import re

from tests.support.servers import REPO_ROOT


def readme_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^    (\S.*)$", section, re.MULTILINE)


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = readme_commands()
    assert len(commands) == 2, commands
    assert "localai-gateway serve" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text().splitlines()
    test_command = readme_commands()[1]
    assert test_command.replace(" -q", "") in [
        line.replace(" -q", "").replace("$PY", "python3") for line in ci
    ]
