"""The rule for what CI must have: off CI a test whose tool or package is missing skips, saying
what to install; with CI=true it fails, since .ci/run installs everything."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(what: str) -> NoReturn:
    """Skip the calling test because it `needs what` (fail under CI=true)."""
    message = f"needs {what}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (.ci/run installs it)")
    pytest.skip(message)
