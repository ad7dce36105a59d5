"""The gateway's HTTP routes, one module per resource."""

from __future__ import annotations

from typing import Any


def path_parameter(name: str) -> dict[str, Any]:
    """`openapi_extra` documenting the string path parameter `name`, read from `path_params`.

    An endpoint argument would be a pydantic field, and FastAPI imports `pydantic.v1` (~1.5 MB
    of resident memory) to vet the first field it builds; a path segment is a string anyway.
    """
    schema = {"type": "string", "title": name.replace("_", " ").title()}
    return {"parameters": [{"name": name, "in": "path", "required": True, "schema": schema}]}
