"""The targets of side_by_side.py: install (once, in scratch dirs) and start each one.

Every target is an OpenAI base URL in front of the same stub, plus the process tree to sample.
Peer code is installed under `--peers-dir` (default $BENCH_WORKDIR/peers), never in the repo; an
install that succeeded leaves `installed.json` there and is reused until its spec changes.
A peer that cannot be installed or started raises Skip with one line saying why.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchkit import (
    STUB_PORT,
    STUB_URL,
    BenchError,
    Record,
    start_gateway,
    start_ref,
    stop,
    wait_ready,
)

NGINX_FLOOR_CONF = """# The floor: nginx proxy_pass with upstream keep-alive, in front of the stub.
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    client_body_temp_path {dir}/tmp/body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    upstream stub {{
        server 127.0.0.1:{stub_port};
        keepalive 128;
        keepalive_requests 10000000;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://stub;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }}
    }}
}}
"""

LITELLM_ENV = {
    "LITELLM_LOG": "ERROR",
    "LITELLM_MODE": "PRODUCTION",
    # Without it start-up fetches the cost map from the internet and retries with back-off.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
}
PORTKEY_PACKAGE = "@portkey-ai/gateway"
GATEWAY_W2 = "gateway-w2"  # the gateway with --workers 2
PORTKEY_HEADERS = f"x-portkey-provider: openai|x-portkey-custom-host: {STUB_URL}"


class Skip(Exception):
    """A target that cannot run here; the message says why, in one line."""


@dataclass
class Target:
    """A running target: where to send requests, what to sample, what it is."""

    name: str
    url: str
    pid: int
    headers: str = ""
    info: Record = field(default_factory=dict)


# ---------------------------------------------------------------- versions


def tool_version(tool: str) -> str:
    """The version in `tool -v` (nginx, wrk) or `tool --version`, or why it could not be run."""
    flag = "-v" if tool in ("nginx", "wrk") else "--version"
    try:
        proc = subprocess.run([tool, flag], capture_output=True, text=True, timeout=10)
    except OSError as exc:
        return f"not available ({exc.strerror})"
    found = re.search(r"[\w.+/-]*\d+\.\d+[\w.+/-]*", proc.stdout + proc.stderr)
    return found.group(0) if found else "?"


def python_versions(*dists: str) -> str:
    """Versions of packages in this venv (the one the gateway and ref run from)."""
    return ", ".join(f"{d} {importlib.metadata.version(d)}" for d in dists)


# ---------------------------------------------------------------- installs


def run_step(cmd: list[str], cwd: Path, log: Path, timeout: int = 1200) -> str:
    """Run one install command (output appended to `log`); raise Skip if it fails."""
    shown = " ".join([Path(cmd[0]).name, *cmd[1:]])
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise Skip(f"{cmd[0]} not found") from None
    except subprocess.TimeoutExpired:
        raise Skip(f"`{shown}` took over {timeout} s") from None
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
    if proc.returncode:
        lines = [x for x in proc.stderr.splitlines() if x.strip() and "WARN" not in x]
        first_error = next((x for x in lines if "error" in x.lower()), None)
        why = (first_error or (lines or ["no output"])[-1]).strip()[:200]
        raise Skip(f"`{shown}` failed: {why}")
    return proc.stdout.strip()


def cached_install(dest: Path, spec: str, install: Callable[[Path], str]) -> Record:
    """Install `spec` into `dest` with `install` (returns the version), or reuse a finished one."""
    marker = dest / "installed.json"
    if marker.exists():
        done = json.loads(marker.read_text())
        if done.get("spec") == spec:
            return {**done, "cached": True}
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    start = time.monotonic()
    version = install(dest)
    done = {
        "spec": spec,
        "version": version,
        "install_s": round(time.monotonic() - start, 1),
        "installed": time.strftime("%Y-%m-%d %H:%M"),
    }
    marker.write_text(json.dumps(done))
    return {**done, "cached": False}


def install_litellm(spec: str) -> Callable[[Path], str]:
    """A fresh venv with `pip install <spec>`; returns litellm's version."""

    def install(dest: Path) -> str:
        log, py = dest / "install.log", dest / "venv" / "bin" / "python"
        run_step([sys.executable, "-m", "venv", str(dest / "venv")], dest, log)
        run_step([str(py), "-m", "pip", "install", "-q", spec], dest, log)
        return run_step(
            [str(py), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
            dest,
            log,
        )

    return install


def install_portkey(spec: str) -> Callable[[Path], str]:
    """`npm install <spec>` in a scratch package; returns the gateway's version."""

    def install(dest: Path) -> str:
        (dest / "package.json").write_text('{"private": true}\n')
        cmd = ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", spec]
        run_step(cmd, dest, dest / "install.log")
        package = dest / "node_modules" / PORTKEY_PACKAGE / "package.json"
        return json.loads(package.read_text())["version"]

    return install


# ---------------------------------------------------------------- starts


def launch(
    cmd: list[str], workdir: Path, name: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start `cmd` with its output in `workdir/<name>.log`."""
    try:
        with (workdir / f"{name}.log").open("wb") as log:
            return subprocess.Popen(
                cmd, stdout=log, stderr=log, cwd=workdir, env={**os.environ, **(env or {})}
            )
    except FileNotFoundError:
        raise Skip(f"{cmd[0]} not found") from None


def start_nginx_floor(args: argparse.Namespace, workdir: Path, port: int) -> subprocess.Popen:
    """nginx (the Debian binary the stub uses) relaying to the stub over kept-alive connections."""
    conf_dir = workdir / "nginx-floor"
    (conf_dir / "tmp").mkdir(parents=True, exist_ok=True)
    conf = conf_dir / "nginx.conf"
    conf.write_text(NGINX_FLOOR_CONF.format(dir=conf_dir, stub_port=STUB_PORT, port=port))
    nginx = shutil.which(os.environ.get("NGINX_BIN", "nginx")) or "nginx"
    return launch([nginx, "-p", str(conf_dir), "-c", str(conf)], workdir, "nginx")


def start_litellm(args: argparse.Namespace, workdir: Path, port: int) -> subprocess.Popen:
    """LiteLLM's proxy, 1 worker, with the harness's config (master key sk-bench, no database)."""
    dest = args.peers_dir / "litellm"
    args.installs["litellm"] = cached_install(
        dest, args.litellm_spec, install_litellm(args.litellm_spec)
    )
    cmd = [
        *(str(dest / "venv" / "bin" / "litellm"), "--config"),
        str(args.shared / "examples" / "litellm_config.yaml"),
        *("--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"),
    ]
    return launch(cmd, workdir, "litellm", LITELLM_ENV)


def start_portkey(args: argparse.Namespace, workdir: Path, port: int) -> subprocess.Popen:
    """Portkey's Node gateway, headless, in production mode (no console, no request log UI)."""
    dest = args.peers_dir / "portkey"
    done = cached_install(dest, args.portkey_spec, install_portkey(args.portkey_spec))
    args.installs["portkey"] = {
        **done,
        "version": f"{done['version']} on Node {tool_version('node').lstrip('v')}",
    }
    server = dest / "node_modules" / PORTKEY_PACKAGE / "build" / "start-server.js"
    cmd = ["node", str(server), f"--port={port}", "--headless"]
    return launch(cmd, workdir, "portkey", {"NODE_ENV": "production"})


def start_gateway_target(args: argparse.Namespace, workdir: Path, port: int) -> subprocess.Popen:
    """The gateway, API key checked, from --gateway-rev's export when given."""
    return start_gateway(workdir, port, workdir / "gateway.log", args.auth, args.source)


def start_gateway_workers(args: argparse.Namespace, workdir: Path, port: int) -> subprocess.Popen:
    """The gateway as `gateway` runs it, with `--workers 2`: the ratio to `gateway` is what a
    second worker buys on this machine."""
    log = workdir / f"{GATEWAY_W2}.log"
    return start_gateway(workdir, port, log, args.auth, args.source, workers=2)


def start_ref_target(args: argparse.Namespace, workdir: Path, port: int) -> subprocess.Popen:
    """ref_proxy.py under uvicorn, 1 worker."""
    return start_ref(args.shared, workdir, port, workdir / "ref.log")


def last_line(log: Path) -> str:
    """The last non-blank line of a log, for a one-line reason."""
    lines = [x.strip() for x in log.read_text(errors="replace").splitlines() if x.strip()]
    return lines[-1][:200] if lines else f"{log} is empty"


@dataclass
class Peer:
    """How to start one target, and which path answers 200 once it is ready."""

    start: Callable[[argparse.Namespace, Path, int], subprocess.Popen]
    port: int
    ready: str
    ready_s: float = 30.0
    headers: str = ""
    version: Callable[[], str] = lambda: "-"  # peers installed here report theirs on install


PEERS = {
    "nginx": Peer(start_nginx_floor, 18102, "/v1/models", version=lambda: tool_version("nginx")),
    "gateway": Peer(
        start_gateway_target, 18100, "/readyz", version=lambda: python_versions("localai-gateway")
    ),
    GATEWAY_W2: Peer(
        start_gateway_workers,
        18105,
        "/readyz",
        version=lambda: python_versions("localai-gateway"),
    ),
    "ref": Peer(
        start_ref_target,
        18101,
        "/docs",
        version=lambda: python_versions("fastapi", "httpx", "uvicorn"),
    ),
    "portkey": Peer(start_portkey, 18103, "/", headers=PORTKEY_HEADERS),
    "litellm": Peer(start_litellm, 18104, "/health/liveliness", ready_s=180.0),
}


def start_target(
    name: str, args: argparse.Namespace, workdir: Path, stack: contextlib.ExitStack
) -> Target:
    """Install if needed and start `name` (stopped when `stack` closes); wait until it is
    ready. Raise Skip if it cannot run."""
    peer = PEERS[name]
    proc = peer.start(args, workdir, peer.port)
    stack.callback(stop, proc)
    base = f"http://127.0.0.1:{peer.port}"
    start = time.monotonic()
    try:
        wait_ready(base + peer.ready, proc, peer.ready_s)
    except BenchError as exc:
        stop(proc)
        raise Skip(f"{exc}: {last_line(workdir / f'{name}.log')}") from None
    ready_s = round(time.monotonic() - start, 1)
    info = {"version": peer.version(), **args.installs.get(name, {}), "ready_s": ready_s}
    return Target(name, base + "/v1", proc.pid, peer.headers, info)
