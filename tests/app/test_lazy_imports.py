"""Building and serving the app leaves rarely used modules unimported (resident memory).

Checked in a fresh interpreter: the rest of the suite imports these modules itself.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Each is imported only by the requests that need it; the sizes are their resident memory.
LAZY = (
    "jsonschema",  # response_format json_schema (app/structured.py), with grammar ~2.4 MB
    "grammar",
    "httpcore",  # the image fetcher's httpx client (app/safe_fetch.py), ~1.6 MB
    "pydantic.v1",  # FastAPI imports it to vet its first pydantic field (app/routes), ~1.5 MB
    "llama_cpp",  # the in-process backend, only for legacy models
    "redis",  # shared rate-limit buckets, only with a Redis URL
    "aiohttp",  # not a dependency since the native upstream pool (clients/_transports/native.py)
)

SCRIPT = """
import sys
from fastapi.testclient import TestClient
from app.main import create_app
from app.settings import Settings

settings = Settings(registry=sys.argv[1], api_keys_file=None)
with TestClient(create_app(settings)) as client:
    assert client.get("/healthz").status_code == 200
    assert client.get("/v1/models").status_code == 200
    assert client.get("/v1/models/chat-model").status_code == 200
print(" ".join(name for name in sys.argv[2:] if name in sys.modules))
"""

REGISTRY = """models:
  chat-model:
    localai_model: chat-model
    capabilities: [chat, embeddings]
    upstreams: [http://127.0.0.1:9]
"""


def test_serving_the_app_imports_no_rarely_used_module(tmp_path: Path) -> None:
    registry = tmp_path / "models.yaml"
    registry.write_text(REGISTRY)
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(registry), *LAZY],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []
