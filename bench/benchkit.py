"""Pieces shared by the bench scripts: the stub, the gateway and ref processes, wrk, summaries.

run_gateway_bench.py (gateway vs ref vs direct) and side_by_side.py (the gateway and its peers)
both start the shared harness's nginx stub, run `localai-gateway serve` with an API key checked
and ref_proxy.py, drive wrk with the harness's Lua script and reduce its results the same way.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
STUB_PORT = 18080
STUB_URL = f"http://127.0.0.1:{STUB_PORT}/v1"
GATEWAY, REF, DIRECT = "gateway", "ref", "direct"

REGISTRY = """models:
  bench-model:
    localai_model: bench-model
    capabilities: [chat, embeddings]
    upstreams: [http://127.0.0.1:{stub_port}]
"""

# The key wrk and the probes send (run_bench.sh's default BENCH_API_KEY).
API_KEY = b"sk-bench"
KEYS_FILE = """keys:
  - {{name: bench, sha256: {sha256}, models: [bench-model]}}
"""

Record = dict[str, Any]


class BenchError(SystemExit):
    """A failure that ends a run with its message (callers may catch it to skip a target)."""


# ---------------------------------------------------------------- processes


def run_bench_sh(shared: Path, workdir: Path, *args: str) -> None:
    """Run the shared `run_bench.sh` with its stub state kept under `workdir`."""
    env = {**os.environ, "BENCH_WORKDIR": str(workdir / "stub"), "PYTHON": sys.executable}
    subprocess.run([str(shared / "run_bench.sh"), *args], env=env, check=True)


def stub_pid(workdir: Path, stub_port: int = STUB_PORT) -> int:
    """The nginx master of the stub started by `run_bench_sh(shared, workdir, "stub-start")`."""
    return int((workdir / "stub" / f"stub-{stub_port}" / "nginx.pid").read_text())


def wait_ready(url: str, proc: subprocess.Popen[bytes], seconds: float = 30.0) -> None:
    """Poll `url` until it answers 200; fail if the process exits or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"bench: {proc.args[0]} exited with {proc.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as reply:
            if reply.status == 200:
                return
        time.sleep(0.1)
    raise BenchError(f"bench: {url} not ready within {seconds:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate one process started here, killing it if it ignores SIGTERM for 10 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def start_gateway(
    workdir: Path,
    port: int,
    log: Path,
    auth: bool = True,
    source: Path | None = None,
    stub_port: int = STUB_PORT,
    workers: int = 1,
) -> subprocess.Popen[bytes]:
    """`localai-gateway serve` in front of the stub (`--workers`); with `auth`, the bench key
    is checked."""
    registry = workdir / "registry.yaml"
    registry.write_text(REGISTRY.format(stub_port=stub_port))
    env = {**os.environ, "LOCALAI_GATEWAY_REGISTRY": str(registry)}
    if auth:
        keys = workdir / "keys.yaml"
        keys.write_text(KEYS_FILE.format(sha256=hashlib.sha256(API_KEY).hexdigest()))
        env["LOCALAI_GATEWAY_API_KEYS_FILE"] = str(keys)
    if source is not None:
        env["PYTHONPATH"] = str(source)
    cmd = [str(VENV_BIN / "localai-gateway"), "serve", "--port", str(port)]
    if workers != 1:  # only then: commits before `--workers` stay measurable
        cmd += ["--workers", str(workers)]
    cmd += ["--log-level", "warning"]
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=out, cwd=workdir)


def start_ref(
    shared: Path, workdir: Path, port: int, log: Path, stub_port: int = STUB_PORT
) -> subprocess.Popen[bytes]:
    """The harness's ref_proxy.py under uvicorn, 1 worker, as in perf-baseline.md."""
    env = {**os.environ, "UPSTREAM_BASE_URL": f"http://127.0.0.1:{stub_port}/v1"}
    cmd = [
        *(str(VENV_BIN / "uvicorn"), "ref_proxy:app", "--app-dir", str(shared)),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", "1"),
        *("--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"),
    ]
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=out, cwd=workdir)


def benchlib(shared: Path) -> Any:
    """The shared harness's helpers (CPU seconds and RSS of a process tree)."""
    if str(shared) not in sys.path:
        sys.path.insert(0, str(shared))
    import benchlib as lib

    return lib


def rss_mb(shared: Path, pid: int) -> float:
    """Current RSS of `pid` and its children in MB."""
    return benchlib(shared).mem_kb(pid)[0] / 1024


# ---------------------------------------------------------------- wrk


def wrk_command(
    shared: Path, url: str, scenario: str, conc: int, seconds: int, max_requests: int
) -> list[str]:
    """One wrk run with the harness's Lua script: POST `scenario`'s body to `url` (full URL)."""
    return [
        *("wrk", "-t1", f"-c{conc}", f"-d{seconds}s", "--timeout", "30s"),
        *("-s", str(shared / "wrk" / "bench.lua"), url, "--"),
        *(str(shared / "requests" / f"{scenario}.json"), str(max_requests)),
    ]


def wrk_result(output: str) -> Record | None:
    """The BENCHJSON line the Lua script prints at the end, or None if wrk gave none."""
    line = next((x for x in output.splitlines() if x.startswith("BENCHJSON ")), None)
    return None if line is None else json.loads(line.removeprefix("BENCHJSON "))


def errors_of(run: Record) -> int:
    """Socket errors, timeouts and non-2xx answers of one wrk run."""
    return sum(v for k, v in run.items() if k.startswith("err_"))


# ---------------------------------------------------------------- code under test


def stub_with_readyz(shared: Path, dest: Path) -> Path:
    """Copy the shared harness and give its stub LocalAI's `/readyz`, which the gateway probes."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(shared, dest)
    template = dest / "stub" / "nginx.conf.tmpl"
    template.chmod(0o644)
    text = template.read_text()
    anchor = "        location = /health {"
    if anchor not in text:
        raise SystemExit(f"bench: no '/health' location in {template} to add /readyz beside")
    readyz = '        location = /readyz {\n            return 200 "ok\\n";\n        }\n\n'
    template.write_text(text.replace(anchor, readyz + anchor, 1))
    return dest


def export_source(rev: str, dest: Path) -> Path:
    """Extract `rev` of the project to `dest`, so edits in the working tree cannot break a run."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(
        ["git", "-C", str(PROJECT), "archive", rev, "app", "clients", "grammar"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def source_label(rev: str | None) -> str:
    """Which code the gateway ran: a commit, or the working tree with its changed files."""
    head = subprocess.run(
        ["git", "-C", str(PROJECT), "rev-parse", "--short", rev or "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if rev is not None:
        return f"commit {head}"
    dirty = subprocess.run(
        ["git", "-C", str(PROJECT), "status", "--short", "--", "app", "clients"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return f"working tree at {head}" + (" (app/ or clients/ modified)" if dirty else "")


# ---------------------------------------------------------------- results


def loadavg() -> float:
    """The 1-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def read_jsonl(path: Path) -> list[Record]:
    """Every result line of a run_bench.sh results file."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def cells(records: list[Record]) -> dict[tuple[str, int], dict[str, dict[int, Record]]]:
    """Results indexed by (scenario, conc), then target, then round."""
    out: dict[tuple[str, int], dict[str, dict[int, Record]]] = {}
    for rec in records:
        key = (rec["scenario"], rec["conc"])
        out.setdefault(key, {}).setdefault(rec["target"], {})[rec["round"]] = rec
    return out


def median_of(values: list[float]) -> float | None:
    """Median, or None for no values."""
    return statistics.median(values) if values else None


def added_ms(runs: dict[int, Record], direct: dict[int, Record], key: str) -> float | None:
    """Median over rounds of a latency percentile minus direct's in the same round, in ms."""
    return median_of([(r[key] - direct[k][key]) / 1000 for k, r in runs.items() if k in direct])


def target_row(cell: dict[str, dict[int, Record]], name: str) -> Record:
    """Medians over rounds for one target; ratios and added latency paired per round."""
    runs, direct, ref = cell[name], cell.get(DIRECT, {}), cell.get(REF, {})
    rps = [r["rps"] for r in runs.values()]
    return {
        "target": name,
        "rps": median_of(rps),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "p50_ms": median_of([r["lat_p50_us"] / 1000 for r in runs.values()]),
        "p99_ms": median_of([r["lat_p99_us"] / 1000 for r in runs.values()]),
        "added_p50_ms": added_ms(runs, direct, "lat_p50_us"),
        "added_p99_ms": added_ms(runs, direct, "lat_p99_us"),
        "vs_ref": median_of(
            [r["rps"] / ref[k]["rps"] for k, r in runs.items() if k in ref and ref[k]["rps"]]
        ),
        "cpu_ms": median_of(
            [
                r["cpu_s"] / r["requests"] * 1000
                for r in runs.values()
                if r.get("cpu_s") is not None and r["requests"]
            ]
        ),
        "rss_mb": median_of(
            [r["peak_rss_kb"] / 1024 for r in runs.values() if r.get("peak_rss_kb")]
        ),
        "errors": sum(errors_of(r) for r in runs.values()),
        "loadavg": median_of([r["loadavg1"] for r in runs.values()]),
    }


def num(value: float | None, digits: int = 2) -> str:
    """A table cell: the value rounded, or '-' when not measured."""
    return "-" if value is None else f"{value:.{digits}f}"
