"""The `localai-gateway` command: grammar, check-registry, and settings errors in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from grammar import schema_to_gbnf
from tests.support.servers import REPO_ROOT

SCHEMA = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}


def test_grammar_prints_the_schema_grammar(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "s.json"
    path.write_text(
        '{"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}'
    )
    main(["grammar", str(path)])
    assert capsys.readouterr().out.strip() == schema_to_gbnf(SCHEMA).strip()


def test_grammar_from_a_pydantic_model(capsys: pytest.CaptureFixture) -> None:
    """UpstreamSpec's url is an HttpUrl (`format: uri`, `maxLength: 2083`): exact, that bound
    has no grammar; --lenient leaves it to the answer check."""
    with pytest.raises(SystemExit, match="maxLength"):
        main(["grammar", "--pydantic", "app.registry:UpstreamSpec"])
    main(["grammar", "--lenient", "--pydantic", "app.registry:UpstreamSpec"])
    assert "root ::=" in capsys.readouterr().out


def test_grammar_refusal_names_the_keyword(tmp_path: Path) -> None:
    path = tmp_path / "u.json"
    path.write_text('{"type": "array", "uniqueItems": true}')
    with pytest.raises(SystemExit, match="uniqueItems"):
        main(["grammar", str(path)])


def test_check_registry_prints_the_mapping(capsys: pytest.CaptureFixture) -> None:
    main(["check-registry", str(REPO_ROOT / "localai_models.yaml")])
    out = capsys.readouterr().out
    assert "qwen3-30b-a3b-q4-k-m -> qwen3-30b-instruct:q4_k_m" in out
    assert "qwen25-vl -> minicpm-v-4_5" in out


def test_check_registry_prints_a_routing_other_than_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(
        "models:\n  m:\n    localai_model: x\n    capabilities: [chat]\n"
        "    upstreams: [http://a:1, http://b:1]\n    routing: prefix\n"
        "  n:\n    localai_model: y\n    capabilities: [chat]\n    upstreams: [http://a:1]\n"
    )
    main(["check-registry", str(path)])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].endswith("@ http://a:1 http://b:1, routing prefix (load factor 1.25)")
    assert lines[2].endswith("@ http://a:1")


def test_serve_with_a_bad_setting_exits_with_one_line_naming_the_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve"],
        env={"LOCALAI_GATEWAY_CONNECT_TIMEOUT": "soon", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "LOCALAI_GATEWAY_CONNECT_TIMEOUT" in lines[0]


def test_serve_with_a_bad_registry_names_file_model_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  m:\n    localai_model: x\n    capabilities: [teleport]\n")
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve"],
        env={"LOCALAI_GATEWAY_REGISTRY": str(path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert result.returncode != 0
    assert "bad.yaml" in result.stderr and "'m'" in result.stderr
    assert "capabilities" in result.stderr


def test_a_weak_image_url_key_stops_serve_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOCALAI_GATEWAY_IMAGE_URL_KEY", "short")
    with pytest.raises(SystemExit) as info:
        main(["serve"])
    message = str(info.value)
    assert "LOCALAI_GATEWAY_IMAGE_URL_KEY" in message and "32 bytes" in message
    assert "short" not in message


def test_check_registry_prints_the_defaults(capsys: pytest.CaptureFixture) -> None:
    main(["check-registry", str(REPO_ROOT / "localai_models.yaml")])
    out = capsys.readouterr().out
    assert "default chat: qwen3-30b-a3b-q4-k-m" in out
    assert "default rerank: jina-reranker" in out


def test_check_registry_refuses_a_default_without_the_capability(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text(
        "defaults: {embeddings: c}\n"
        "models:\n  c: {localai_model: c, capabilities: [chat], upstreams: ['http://l:1']}\n"
    )
    with pytest.raises(SystemExit, match=r"'defaults\.embeddings': model 'c' lacks"):
        main(["check-registry", str(path)])
