"""GET /status (the status page, one self-contained HTML) and GET /status/data (its JSON).

The auth middleware lets only an `admin` key through (HTTP Basic auth too, so a browser can log
in); without keys configured (loopback only) they are open, as /readyz's details are.
"""

from __future__ import annotations

import time
from importlib import resources

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from ..observability.status import status_report
from ..observability.window import RECENT
from ..state import Gateway
from .health import readiness

router = APIRouter()

PAGE = resources.files(__package__).joinpath("status_page.html").read_bytes()
NO_STORE = {"cache-control": "no-store"}


@router.get("/status", include_in_schema=False)
async def status_page() -> Response:
    """The status page; it fetches /status/data every few seconds and redraws in place."""
    return Response(PAGE, media_type="text/html; charset=utf-8", headers=NO_STORE)


@router.get("/status/data", include_in_schema=False)
async def status_data(request: Request) -> Response:
    """Models, replicas, load, the last minute per model and the config version, as JSON."""
    gateway: Gateway = request.state.gateway
    _, ready = readiness(gateway, details=False)
    body = {"status": ready["status"], **status_report(gateway, RECENT, time.perf_counter())}
    return Response(orjson.dumps(body), media_type="application/json", headers=NO_STORE)
