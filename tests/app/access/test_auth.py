"""API keys: the keys file, 401/403 answers, model visibility, the start-up rule."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import httpx
import pytest
import respx
from fastapi.testclient import TestClient

from app.access import auth
from app.access.auth import AuthNotConfigured, KeyRing, KeysFileError, check_bind, load_keys
from app.main import create_app
from app.settings import Settings
from tests.support.chunks import localai_chat

TEAM_A = "sk-team-a-secret"
OPS = "sk-ops-secret"
HELLO = {"model": "chat-model", "messages": [{"role": "user", "content": "hi"}]}


def sha(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def keys_yaml(*entries: str) -> str:
    return "keys:\n" + "".join(f"  - {entry}\n" for entry in entries)


@pytest.fixture
def keys_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.yaml"
    path.write_text(
        keys_yaml(
            f"{{name: team-a, sha256: {sha(TEAM_A)}, models: [chat-model]}}",
            f"{{name: ops, sha256: {sha(OPS).upper()}, models: '*'}}",
        )
    )
    return path


@pytest.fixture
def authed(settings: Settings, keys_file: Path, localai: respx.MockRouter) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"api_keys_file": keys_file}))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def test_missing_key_is_401_openai_shaped(authed: TestClient) -> None:
    reply = authed.post("/v1/chat/completions", json=HELLO)
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == "Bearer"
    error = reply.json()["error"]
    assert error["type"] == "authentication_error" and error["code"] == "invalid_api_key"
    assert "Authorization: Bearer" in error["message"]


@pytest.mark.parametrize(
    "headers",
    [bearer("sk-wrong"), {"x-api-key": "sk-wrong"}, {"authorization": f"Basic {TEAM_A}"}],
)
def test_wrong_key_is_401(authed: TestClient, headers: dict[str, str]) -> None:
    reply = authed.get("/v1/models", headers=headers)
    assert reply.status_code == 401
    assert reply.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize("headers", [bearer(TEAM_A), {"x-api-key": TEAM_A}])
def test_valid_key_passes_by_either_header(
    authed: TestClient, localai: respx.MockRouter, headers: dict[str, str]
) -> None:
    localai.post("/v1/chat/completions").respond(json=localai_chat())
    reply = authed.post("/v1/chat/completions", json=HELLO, headers=headers)
    assert reply.status_code == 200, reply.text


def test_model_not_allowed_is_403(authed: TestClient, localai: respx.MockRouter) -> None:
    route = localai.post("/v1/embeddings").respond(json={"data": []})
    body = {"model": "embed-model", "input": "x"}
    reply = authed.post("/v1/embeddings", json=body, headers=bearer(TEAM_A))
    assert reply.status_code == 403
    error = reply.json()["error"]
    assert error["type"] == "permission_error" and error["param"] == "model"
    assert not route.called
    assert authed.post("/v1/embeddings", json=body, headers=bearer(OPS)).status_code == 200


def test_alias_is_authorized_as_its_model(authed: TestClient, localai: respx.MockRouter) -> None:
    localai.post("/v1/chat/completions").respond(json=localai_chat())
    body = {**HELLO, "model": "chat-alias"}
    assert authed.post("/v1/chat/completions", json=body, headers=bearer(TEAM_A)).status_code == 200


def test_models_list_shows_only_allowed_models(authed: TestClient) -> None:
    team = authed.get("/v1/models", headers=bearer(TEAM_A)).json()["data"]
    assert [model["id"] for model in team] == ["chat-model"]
    everything = authed.get("/v1/models", headers=bearer(OPS)).json()["data"]
    assert {model["id"] for model in everything} >= {"chat-model", "embed-model"}


def test_forbidden_model_reads_as_unknown(authed: TestClient) -> None:
    forbidden = authed.get("/v1/models/embed-model", headers=bearer(TEAM_A))
    unknown = authed.get("/v1/models/no-such-model", headers=bearer(TEAM_A))
    assert forbidden.status_code == unknown.status_code == 404
    assert forbidden.json()["error"]["code"] == unknown.json()["error"]["code"]
    assert authed.get("/v1/models/chat-alias", headers=bearer(TEAM_A)).json()["id"] == "chat-model"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_probes_and_metrics_are_public(authed: TestClient, path: str) -> None:
    assert authed.get(path).status_code == 200


def test_readyz_says_only_ready_or_not_without_a_key(authed: TestClient) -> None:
    assert authed.get("/readyz").json() == {"status": "ready"}
    assert authed.get("/readyz", headers=bearer("sk-wrong")).json() == {"status": "ready"}
    details = authed.get("/readyz", headers=bearer(TEAM_A))
    assert details.status_code == 200
    models = ("chat-model", "embed-model", "plain-model", "timeout-model", "think-model")
    assert details.json()["upstreams"] == {
        "localai": {"healthy": True, "breakers": dict.fromkeys(models, "closed")}
    }
    assert "localai.test" not in details.text, "no upstream URL, even for a key"


def test_metrics_label_replicas_by_name_never_by_url(authed: TestClient) -> None:
    text = authed.get("/metrics").text
    assert 'localai_gateway_breaker_state{model="chat-model",upstream="localai"} 0.0' in text
    assert 'localai_gateway_upstream_healthy{upstream="localai"} 1.0' in text
    assert "localai.test" not in text


def test_metrics_can_require_a_key(
    settings: Settings, keys_file: Path, localai: respx.MockRouter
) -> None:
    update = {"api_keys_file": keys_file, "metrics_auth": True}
    with TestClient(create_app(settings.model_copy(update=update))) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers=bearer(OPS)).status_code == 200
        assert client.get("/healthz").status_code == 200


def test_auth_off_needs_no_key(settings: Settings, keys_file: Path) -> None:
    update = {"api_keys_file": keys_file, "auth": False}
    with TestClient(create_app(settings.model_copy(update=update))) as client:
        assert client.get("/v1/models").status_code == 200


def test_lookup_compares_every_digest_with_compare_digest() -> None:
    ring = KeyRing(
        auth.ApiKey(name=name, sha256=sha(name), models=None) for name in ("a", "b", "c")
    )
    with mock.patch.object(auth.hmac, "compare_digest", wraps=hmac.compare_digest) as compare:
        found = ring.find("a")
    assert found is not None and found.name == "a"
    assert compare.call_count == 3, "no early exit: every key is compared"
    assert all(call.args[0] == sha("a") for call in compare.call_args_list)


def test_keys_file_accepts_the_documented_shape(keys_file: Path) -> None:
    ring = load_keys(keys_file)
    team, ops = ring.keys
    assert team.models == frozenset({"chat-model"}) and ops.models is None
    assert ops.sha256 == sha(OPS), "digests are normalised to lower case"
    assert not ring.limited


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("keys: []", "'keys'"),
        (keys_yaml("{name: a, sha256: abc, models: '*'}"), "keys.0.sha256"),
        (keys_yaml(f"{{name: a, sha256: {sha('x')}, models: all}}"), "keys.0.models"),
        (keys_yaml(f"{{name: a, sha256: {sha('x')}, models: '*', rpm: 0}}"), "keys.0.rpm"),
        (keys_yaml(f"{{name: a, sha256: {sha('x')}, models: '*', extra: 1}}"), "keys.0.extra"),
        (
            keys_yaml(
                f"{{name: a, sha256: {sha('x')}, models: '*'}}",
                f"{{name: b, sha256: {sha('x')}, models: '*'}}",
            ),
            "same sha256",
        ),
        ("keys: [", "not valid YAML"),
    ],
)
def test_bad_keys_file_names_the_field(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(content)
    with pytest.raises(KeysFileError, match=message) as raised:
        load_keys(path)
    assert str(path) in str(raised.value)


def test_missing_keys_file_fails_the_start_up(settings: Settings, tmp_path: Path) -> None:
    app = create_app(settings.model_copy(update={"api_keys_file": tmp_path / "absent.yaml"}))
    with pytest.raises(KeysFileError, match="cannot read"), TestClient(app):
        pass


def test_auth_on_without_keys_file_fails(settings: Settings) -> None:
    with pytest.raises(KeysFileError, match="LOCALAI_GATEWAY_API_KEYS_FILE"):
        create_app(settings.model_copy(update={"auth": True}))


def test_unconfigured_auth_warns_and_serves_locally(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/models").status_code == 200
    assert "serving WITHOUT auth" in caplog.text


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost", "127.0.0.2"])
def test_unconfigured_auth_may_bind_loopback(settings: Settings, host: str) -> None:
    check_bind(settings, host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "gateway.example"])
def test_unconfigured_auth_refuses_public_bind(settings: Settings, host: str) -> None:
    with pytest.raises(AuthNotConfigured, match="LOCALAI_GATEWAY_API_KEYS_FILE"):
        check_bind(settings, host)


def test_configured_auth_may_bind_anywhere(settings: Settings, keys_file: Path) -> None:
    check_bind(settings.model_copy(update={"api_keys_file": keys_file}), "0.0.0.0")
    check_bind(settings.model_copy(update={"auth": False}), "0.0.0.0")


def test_the_upstream_never_sees_the_client_key(
    authed: TestClient, localai: respx.MockRouter
) -> None:
    route = localai.post("/v1/chat/completions").respond(json=localai_chat())
    authed.post("/v1/chat/completions", json=HELLO, headers=bearer(TEAM_A))
    sent: httpx.Request = route.calls.last.request
    assert sent.headers["authorization"] == "Bearer sk-upstream-secret"
    assert TEAM_A not in str(sent.headers)
