"""Property-based run of the gateway's own OpenAPI schema: no generated request may cause a 5xx.

The app runs in-process over ASGI (schemathesis drives its lifespan) with auth on; its upstream
is the in-process fake LocalAI, reached through respx. The schema is loaded eagerly: the lazy
`schemathesis.pytest.from_fixture` does not work with pytest 9.
"""

from __future__ import annotations

import atexit
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from app.main import create_app
from app.settings import Settings
from tests.support.fake_localai import FakeLocalAIApp
from tests.support.servers import REPO_ROOT

LOCALAI = "http://localai.test:8080"
KEY = "sk-schemathesis"
AUTH = {"authorization": f"Bearer {KEY}"}


def gateway_app() -> FastAPI:
    """The gateway with auth on (one key, every model); the keys file is read (and watched)
    while the app runs, so it lives until the test process ends."""
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    directory = tempfile.mkdtemp(prefix="schemathesis-keys-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    keys = Path(directory) / "keys.yaml"
    keys.write_text(f"keys:\n  - {{name: fuzz, sha256: {digest}, models: '*'}}\n")
    return create_app(
        Settings(
            localai_url=LOCALAI,
            registry=REPO_ROOT / "localai_models.yaml",
            api_keys_file=keys,
            http_transport="httpx",
            max_request_bytes=256 * 1024,
            _env_file=None,
        )
    )


schema = schemathesis.openapi.from_asgi("/openapi.json", gateway_app(), headers=AUTH)


@pytest.fixture(scope="module", autouse=True)
def fake_upstream() -> Iterator[respx.MockRouter]:
    """Every upstream call answered by the in-process fake LocalAI."""
    fake = httpx.AsyncClient(transport=httpx.ASGITransport(app=FakeLocalAIApp()), base_url=LOCALAI)

    async def forward(request: httpx.Request) -> httpx.Response:
        reply = await fake.request(
            request.method, request.url.raw_path.decode(), headers=request.headers,
            content=request.content,
        )  # fmt: skip
        return httpx.Response(reply.status_code, headers=reply.headers, content=reply.content)

    with respx.mock(base_url=LOCALAI, assert_all_called=False) as router:
        router.route().mock(side_effect=forward)
        yield router


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call(headers=AUTH)
    case.validate_response(response, checks=[not_a_server_error])
