"""The long-lived objects a request needs, owned by the lifespan and reached via dependencies."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from clients import LocalAIClient

from .registry import Registry
from .settings import Settings


@dataclass(frozen=True, slots=True)
class Gateway:
    """Settings, registry and the one upstream client of this process."""

    settings: Settings
    registry: Registry
    client: LocalAIClient


def get_gateway(request: Request) -> Gateway:
    """Dependency: the `Gateway` the lifespan put into the request state."""
    return request.state.gateway
