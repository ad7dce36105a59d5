"""Suite-wide fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_localai import FakeLocalAIApp
from tests.support.servers import FakeLocalAI


@pytest.fixture(scope="module")
def _fake_localai_process() -> Iterator[FakeLocalAI]:
    with FakeLocalAI() as fake:
        yield fake


@pytest.fixture
def fake_localai(_fake_localai_process: FakeLocalAI) -> FakeLocalAI:
    """A fake LocalAI process (one per test module), fresh state for every test."""
    if not _fake_localai_process.alive:  # a previous test killed it
        _fake_localai_process.restart()
    _fake_localai_process.clear()
    return _fake_localai_process


@pytest.fixture
def fake_localai_app() -> FakeLocalAIApp:
    """A new in-process fake LocalAI ASGI app with the default models."""
    return FakeLocalAIApp()
