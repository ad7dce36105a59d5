"""Test-only routes under /__: recorded requests, faults, stats, config and reset."""

from __future__ import annotations

import json
from typing import Any

from ._faults import Fault
from ._http import Reply, Request, json_reply
from ._state import State

_CONFIG_FIELDS = {"models": list, "api_keys": list, "ready": bool}


def control(request: Request, state: State) -> Reply:
    """Answer one /__ route; these are never recorded, faulted or authenticated."""
    action = (request.method, request.route)
    if action == ("GET", "/__requests"):
        return json_reply(200, state.requests)
    if action == ("DELETE", "/__requests"):
        state.requests.clear()
        return json_reply(200, {"cleared": True})
    if action == ("GET", "/__faults"):
        return json_reply(200, state.faults.listing())
    if action == ("POST", "/__faults"):
        return _add_faults(request, state)
    if action == ("DELETE", "/__faults"):
        state.faults.clear()
        return json_reply(200, {"cleared": True})
    if action == ("GET", "/__stats"):
        return json_reply(200, state.stats.as_json())
    if action == ("POST", "/__config"):
        return _configure(request, state)
    if action == ("POST", "/__reset"):
        state.reset()
        return json_reply(200, {"reset": True})
    return json_reply(404, {"detail": f"no control route {request.method} {request.route}"})


def _add_faults(request: Request, state: State) -> Reply:
    """Accept one fault object or a list of them; 400 names the first bad field."""
    try:
        raw = json.loads(request.body)
        faults = [Fault.parse(item) for item in (raw if isinstance(raw, list) else [raw])]
    except ValueError as exc:
        return json_reply(400, {"detail": str(exc)})
    state.faults.add(faults)
    return json_reply(200, state.faults.listing())


def _configure(request: Request, state: State) -> Reply:
    """Change models, API keys or readiness of the running server."""
    try:
        raw: Any = json.loads(request.body)
    except ValueError as exc:
        return json_reply(400, {"detail": str(exc)})
    if not isinstance(raw, dict) or set(raw) - set(_CONFIG_FIELDS):
        return json_reply(400, {"detail": f"config takes only {sorted(_CONFIG_FIELDS)}"})
    for name, value in raw.items():
        if not isinstance(value, _CONFIG_FIELDS[name]):
            return json_reply(400, {"detail": f"config field {name!r} has the wrong type"})
        setattr(state.config, name, value)
    return json_reply(200, vars(state.config))
