"""Gateway overhead benchmark: `localai-gateway serve` and ref_proxy.py in front of the nginx stub.

Each phase starts its own stack (stub on --stub-port, gateway, reference proxy) and stops it:
  main    shared run_bench.sh: chat, burst stream and embeddings at --conc (gateway, ref, direct)
  paced   the stub paces stream events (--stream-delay-ms): TTFB probe, then run_bench.sh stream
  memory  RSS idle and with 64 open streams (gateway and ref), then a soak (--soak-seconds)
  apis    chat vs Open Responses vs Anthropic Messages at --apis-conc (gateway, direct)
Raw results go to --out; `--publish DIR` also writes DIR/summary.md and DIR/summary.json
(read by bench/plot.py).

  .venv/bin/python bench/run_gateway_bench.py --rounds 3 --duration 10 --publish bench/results
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import apis_harness
from benchkit import (
    API_KEY,
    DIRECT,
    GATEWAY,
    PROJECT,
    REF,
    Record,
    cells,
    errors_of,
    export_source,
    loadavg,
    num,
    read_jsonl,
    rss_mb,
    run_bench_sh,
    source_label,
    start_gateway,
    start_ref,
    stop,
    stub_pid,
    stub_with_readyz,
    target_row,
    wait_ready,
    wrk_command,
    wrk_result,
)

STREAM_EVENTS = 50
OPEN_STREAMS = 64


# ---------------------------------------------------------------- processes


@dataclass
class Stack:
    """The running stub, gateway and reference proxy of one phase."""

    shared: Path
    workdir: Path
    gateway_pid: int
    ref_pid: int
    stub_pid: int
    gateway_port: int
    ref_port: int
    stub_port: int

    def urls(self) -> dict[str, str]:
        """OpenAI base URL of every target, the stub first."""
        return {
            DIRECT: f"http://127.0.0.1:{self.stub_port}/v1",
            GATEWAY: f"http://127.0.0.1:{self.gateway_port}/v1",
            REF: f"http://127.0.0.1:{self.ref_port}/v1",
        }

    def pids(self) -> dict[str, int]:
        """Process to sample for CPU and memory, per target."""
        return {DIRECT: self.stub_pid, GATEWAY: self.gateway_pid, REF: self.ref_pid}


@contextlib.contextmanager
def started_stack(args: argparse.Namespace, workdir: Path, delay_ms: int) -> Iterator[Stack]:
    """Start the stub (pacing events every `delay_ms`), the gateway and ref; stop all on exit."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = ("--port", str(args.stub_port))
    run_bench_sh(args.shared, workdir, "stub-start", *port, "--stream-delay-ms", str(delay_ms))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        gateway_log = workdir / "gateway.log"
        gateway = start_gateway(
            workdir, args.gateway_port, gateway_log, args.auth, args.source, args.stub_port
        )
        procs.append(gateway)
        ref_log = workdir / "ref.log"
        procs.append(start_ref(args.shared, workdir, args.ref_port, ref_log, args.stub_port))
        wait_ready(f"http://127.0.0.1:{args.gateway_port}/readyz", procs[0])
        wait_ready(f"http://127.0.0.1:{args.ref_port}/docs", procs[1])
        yield Stack(
            args.shared,
            workdir,
            procs[0].pid,
            procs[1].pid,
            stub_pid(workdir, args.stub_port),
            args.gateway_port,
            args.ref_port,
            args.stub_port,
        )
    finally:
        for proc in procs:
            stop(proc)
        run_bench_sh(args.shared, workdir, "stub-stop", *port)


# ---------------------------------------------------------------- load and probes


def run_load(
    stack: Stack,
    out: Path,
    args: argparse.Namespace,
    scenarios: str,
    conc: str | None = None,
    proxies: tuple[str, ...] = (GATEWAY, REF),
) -> Path:
    """Interleaved wrk runs (run_bench.sh run) of the stub and `proxies`; return results.jsonl."""
    urls, pids = stack.urls(), stack.pids()
    cmd = [
        "run",
        "--upstream",
        urls[DIRECT],
        "--out",
        str(out),
        "--scenarios",
        scenarios,
        "--conc",
        conc or args.conc,
        "--rounds",
        str(args.rounds),
        "--duration",
        str(args.duration),
        "--warmup",
        str(args.warmup),
        "--timeout",
        "30",
    ]
    for name in proxies:
        cmd += ["--target", f"{name}={urls[name]}"]
    for name in (DIRECT, *proxies):
        cmd += ["--pid", f"{name}={pids[name]}"]
    run_bench_sh(stack.shared, stack.workdir, *cmd)
    return out / "results.jsonl"


def request_body(shared: Path, scenario: str) -> bytes:
    """The shared harness's request body for a scenario, with the model filled in."""
    return (
        (shared / "requests" / f"{scenario}.json")
        .read_bytes()
        .strip()
        .replace(b"@MODEL@", b"bench-model")
    )


class StreamProbe:
    """One keep-alive connection timing streamed chat completions (TTFB and full stream)."""

    def __init__(self, base_url: str, body: bytes) -> None:
        hostport, _, prefix = base_url.removeprefix("http://").partition("/")
        self.host, port = hostport.split(":")
        self.port = int(port)
        self.request = (
            f"POST /{prefix}/chat/completions HTTP/1.1\r\nHost: {hostport}\r\n"
            "Content-Type: application/json\r\nAccept: text/event-stream\r\n"
            f"Authorization: Bearer {API_KEY.decode()}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def once(self) -> tuple[float, float]:
        """Send one request; return (seconds to the first `data:` byte, seconds to the end)."""
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        start = time.perf_counter()
        writer.write(self.request)
        buffer, first = b"", 0.0
        while not (b"data: [DONE]" in buffer and buffer.endswith(b"\r\n0\r\n\r\n")):
            chunk = await asyncio.wait_for(reader.read(65536), 30)
            if not chunk:
                raise ConnectionError(f"{self.host}:{self.port} closed the stream early")
            buffer += chunk
            if not first and b"data:" in buffer:
                first = time.perf_counter() - start
        if not buffer.startswith(b"HTTP/1.1 200"):
            raise ConnectionError(f"{self.host}:{self.port}: {buffer[:80]!r}")
        return first, time.perf_counter() - start

    def close(self) -> None:
        """Close the connection."""
        if self.streams is not None:
            self.streams[1].close()


async def probe_ttfb(urls: dict[str, str], body: bytes, samples: int) -> Record:
    """Time `samples` sequential streams per target, targets interleaved; medians in ms."""
    probes = {name: StreamProbe(url, body) for name, url in urls.items()}
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in urls}
    names = list(urls)
    try:
        for i in range(samples):
            for name in names if i % 2 else reversed(names):
                times[name].append(await probes[name].once())
    finally:
        for probe in probes.values():
            probe.close()
    result: Record = {"samples": samples}
    for name, pairs in times.items():
        result[name] = {
            "ttfb_ms": statistics.median(p[0] for p in pairs) * 1000,
            "total_ms": statistics.median(p[1] for p in pairs) * 1000,
        }
    return result


def hold_streams(stack: Stack, target: str, seconds: int) -> Record:
    """Keep OPEN_STREAMS streams open for `seconds` with wrk; sample RSS every second."""
    url = stack.urls()[target] + "/chat/completions"
    cmd = wrk_command(stack.shared, url, "stream", OPEN_STREAMS, seconds, 100000000)
    pid, samples = stack.pids()[target], []
    start = time.monotonic()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as wrk:
        while wrk.poll() is None and time.monotonic() - start < seconds + 60:
            samples.append(
                (round(time.monotonic() - start, 1), round(rss_mb(stack.shared, pid), 1))
            )
            time.sleep(1.0)
        stop(wrk)
        output = wrk.stdout.read().decode() if wrk.stdout else ""
    run = wrk_result(output)
    if run is None:
        raise SystemExit(f"bench: wrk gave no result for {target}: {output[-500:]}")
    errors = errors_of(run)
    return {"seconds": seconds, "requests": run["requests"], "errors": errors, "rss": samples}


def flatness(samples: list[tuple[float, float]]) -> Record:
    """RSS growth over a soak: median of the last fifth minus median of the 10-30% window."""
    rss = [mb for _, mb in samples]
    n = len(rss)
    early = rss[n // 10 : max(n * 3 // 10, n // 10 + 1)]
    late = rss[n * 4 // 5 :]
    growth = statistics.median(late) - statistics.median(early)
    slope = statistics.linear_regression([t for t, _ in samples], rss).slope * 60 if n > 2 else 0.0
    limit = max(2.0, 0.03 * statistics.median(early))
    return {
        "growth_mb": round(growth, 2),
        "slope_mb_per_min": round(slope, 3),
        "limit_mb": round(limit, 2),
        "flat": growth <= limit,
        "peak_mb": max(rss),
    }


# ---------------------------------------------------------------- phases


def phase_main(args: argparse.Namespace) -> Record:
    """Chat, burst stream and embeddings at every concurrency."""
    with started_stack(args, args.out / "stack-main", 0) as stack:
        idle = {name: rss_mb(args.shared, stack.pids()[name]) for name in (GATEWAY, REF)}
        results = run_load(stack, args.out / "main", args, args.scenarios)
    return {"records": read_jsonl(results), "idle_rss_mb": idle}


def phase_paced(args: argparse.Namespace) -> Record:
    """TTFB probe and stream runs with the stub pacing events."""
    with started_stack(args, args.out / "stack-paced", args.stream_delay_ms) as stack:
        body = request_body(args.shared, "stream")
        ttfb = asyncio.run(probe_ttfb(stack.urls(), body, args.ttfb_samples))
        results = run_load(stack, args.out / "paced", args, "stream")
    return {"records": read_jsonl(results), "ttfb": ttfb, "delay_ms": args.stream_delay_ms}


def phase_memory(args: argparse.Namespace) -> Record:
    """RSS idle and with 64 open streams for both proxies, then a soak of the gateway."""
    with started_stack(args, args.out / "stack-memory", args.soak_delay_ms) as stack:
        idle = {name: rss_mb(args.shared, stack.pids()[name]) for name in (GATEWAY, REF)}
        ref = hold_streams(stack, REF, 15)
        soak = hold_streams(stack, GATEWAY, args.soak_seconds)
    return {
        "idle_rss_mb": idle,
        "ref_open": ref,
        "soak": soak,
        "delay_ms": args.soak_delay_ms,
        "soak_flatness": flatness(soak["rss"]),
    }


def phase_apis(args: argparse.Namespace) -> Record:
    """Chat, Open Responses and Anthropic Messages, non-streaming, relayed by the gateway."""
    with started_stack(args, args.out / "stack-apis", 0) as stack:
        scenarios = ",".join(apis_harness.SCENARIOS)
        conc = str(args.apis_conc)
        results = run_load(stack, args.out / "apis", args, scenarios, conc, (GATEWAY,))
    return {"records": read_jsonl(results), "conc": args.apis_conc}


PHASES = {"main": phase_main, "paced": phase_paced, "memory": phase_memory, "apis": phase_apis}


# ---------------------------------------------------------------- summary


def rows_of(records: list[Record]) -> list[Record]:
    """One row per scenario, concurrency and target."""
    order = ["chat", "stream", "embed", "responses", "messages"]
    rows = []
    for (scenario, conc), cell in sorted(
        cells(records).items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])
    ):
        for name in (DIRECT, GATEWAY, REF):
            if name in cell:
                rows.append({"scenario": scenario, "conc": conc, **target_row(cell, name)})
    return rows


def pick(rows: list[Record], scenario: str, conc: int, target: str, key: str) -> float | None:
    """One value of one row, or None when that cell was not measured."""
    for row in rows:
        if (row["scenario"], row["conc"], row["target"]) == (scenario, conc, target):
            return row[key]
    return None


def targets(report: Record, main: list[Record]) -> list[Record]:
    """Every issue-8 target: measured value, limit, and whether it is met."""
    ttfb = report.get("paced", {}).get("ttfb")
    memory = report.get("memory")
    added_ttfb = ttfb and ttfb[GATEWAY]["ttfb_ms"] - ttfb[DIRECT]["ttfb_ms"]
    soak = memory and memory["soak_flatness"]
    checks = [
        ("chat RPS vs ref, c=1", pick(main, "chat", 1, GATEWAY, "vs_ref"), ">=", 1.5),
        ("chat RPS vs ref, c=64", pick(main, "chat", 64, GATEWAY, "vs_ref"), ">=", 4.0),
        ("chat added p50 ms, c=1", pick(main, "chat", 1, GATEWAY, "added_p50_ms"), "<=", 0.5),
        ("chat CPU ms/req, c=64", pick(main, "chat", 64, GATEWAY, "cpu_ms"), "<=", 0.8),
        (
            "stream (50 events) RPS vs ref, c=16",
            pick(main, "stream", 16, GATEWAY, "vs_ref"),
            ">=",
            3.0,
        ),
        ("stream added TTFB ms, c=1", added_ttfb, "<=", 1.0),
        (f"RSS MB with {OPEN_STREAMS} open streams", soak and soak["peak_mb"], "<=", 80.0),
        (
            "RSS growth MB over the soak",
            soak and soak["growth_mb"],
            "<=",
            soak and soak["limit_mb"],
        ),
    ]
    out = []
    for name, value, op, limit in checks:
        met = None if value is None else (value >= limit if op == ">=" else value <= limit)
        out.append({"target": name, "value": value, "op": op, "limit": limit, "met": met})
    return out


def load_table(rows: list[Record], extra: tuple[str, str, int] | None = None) -> list[str]:
    """Markdown table: gateway vs ref vs direct per scenario and concurrency."""
    cols = [
        "scenario",
        "conc",
        "direct RPS",
        "gateway RPS",
        "ref RPS",
        "gateway/ref RPS",
        "gateway p50 added ms",
        "ref p50 added ms",
        "gateway CPU ms/req",
        "ref CPU ms/req",
        "gateway RSS MB",
        "ref RSS MB",
        "errors",
    ]
    if extra:
        cols.append(extra[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    keys = sorted(
        {(r["scenario"], r["conc"]) for r in rows},
        key=lambda k: rows.index(next(r for r in rows if (r["scenario"], r["conc"]) == k)),
    )
    for scenario, conc in keys:

        def get(target: str, key: str, s: str = scenario, c: int = conc) -> float | None:
            return pick(rows, s, c, target, key)

        rps = [
            f"{get(t, 'rps') or 0:.0f} [{get(t, 'rps_min') or 0:.0f}-{get(t, 'rps_max') or 0:.0f}]"
            for t in (DIRECT, GATEWAY, REF)
        ]
        errors = sum(int(get(t, "errors") or 0) for t in (DIRECT, GATEWAY, REF))
        cells_ = [
            scenario,
            str(conc),
            *rps,
            num(get(GATEWAY, "vs_ref")),
            num(get(GATEWAY, "added_p50_ms")),
            num(get(REF, "added_p50_ms")),
            num(get(GATEWAY, "cpu_ms"), 3),
            num(get(REF, "cpu_ms"), 3),
            num(get(GATEWAY, "rss_mb"), 0),
            num(get(REF, "rss_mb"), 0),
            str(errors),
        ]
        if extra:
            value = get(GATEWAY, extra[1])
            cells_.append(num(value and value / extra[2], 3))
        lines.append("| " + " | ".join(cells_) + " |")
    return lines


def paced_section(paced: Record, rows: list[Record]) -> list[str]:
    """Paced streams: load table with CPU per event, and the TTFB probe."""
    ttfb = paced["ttfb"]
    lines = [
        f"## Paced streams (stub sends one of {STREAM_EVENTS} events every {paced['delay_ms']} ms)",
        "",
        *load_table(rows, ("gateway CPU ms/event", "cpu_ms", STREAM_EVENTS)),
        "",
        f"Time to first byte, {ttfb['samples']} sequential streams per target on one "
        "keep-alive connection, targets interleaved (medians):",
        "",
        "| target | TTFB ms | TTFB added ms | full stream ms | added per event ms |",
        "|---|---|---|---|---|",
    ]
    base = ttfb[DIRECT]
    for name in (DIRECT, GATEWAY, REF):
        t = ttfb[name]
        per_event = (t["total_ms"] - base["total_ms"]) / STREAM_EVENTS
        lines.append(
            f"| {name} | {t['ttfb_ms']:.3f} | {t['ttfb_ms'] - base['ttfb_ms']:.3f} | "
            f"{t['total_ms']:.1f} | {per_event:.4f} |"
        )
    return [*lines, ""]


def memory_section(memory: Record) -> list[str]:
    """Idle RSS, RSS with open streams, and the soak."""
    soak, flat, ref = memory["soak"], memory["soak_flatness"], memory["ref_open"]
    idle = memory["idle_rss_mb"]
    rss = [mb for _, mb in soak["rss"]]
    ref_peak = max(mb for _, mb in ref["rss"])
    return [
        f"## Memory ({OPEN_STREAMS} open streams: wrk c={OPEN_STREAMS}, stub event every "
        f"{memory['delay_ms']} ms)",
        "",
        "| | gateway | ref |",
        "|---|---|---|",
        f"| RSS idle MB | {idle[GATEWAY]:.1f} | {idle[REF]:.1f} |",
        f"| RSS peak MB, {OPEN_STREAMS} open streams | {flat['peak_mb']:.1f} | {ref_peak:.1f} |",
        "",
        f"Soak: gateway, {soak['seconds']} s, {soak['requests']} streams, {soak['errors']} errors;"
        f" RSS first {rss[0]:.1f}, last {rss[-1]:.1f}, peak {flat['peak_mb']:.1f} MB; growth "
        f"(last fifth vs 10-30%) {flat['growth_mb']:+.2f} MB (limit {flat['limit_mb']:.1f}), "
        f"slope {flat['slope_mb_per_min']:+.3f} MB/min: {'flat' if flat['flat'] else 'GROWING'}.",
        "",
    ]


def markdown(report: Record, summary: Record) -> str:
    """The committed summary: command, conditions, tables and target verdicts."""
    meta = report["meta"]
    lines = [
        "# Gateway benchmark: latest results",
        "",
        f"Command: `{meta['command']}`  ",
        f"Date: {meta['date']}; host: {meta['host']}; gateway: {meta['gateway']}  ",
        f"1-min loadavg during runs: median {num(meta.get('load_median'), 1)} "
        f"[{num(meta.get('load_min'), 1)}-{num(meta.get('load_max'), 1)}] (shared machine; "
        "ratios are paired per round, cells are median [min-max] over rounds)",
        "",
    ]
    if summary["main"]:
        lines += [
            "## Chat, burst stream (50 events at once), embeddings",
            "",
            *load_table(summary["main"]),
            "",
            "![RPS and added latency](rps_latency.png)",
            "",
        ]
    if "paced" in report:
        lines += paced_section(report["paced"], summary["paced"])
    if "memory" in report:
        lines += memory_section(report["memory"])
    if "apis" in report:
        apis = report["apis"]
        lines += apis_harness.section(summary["apis"], apis["records"], apis["conc"])[0]
    lines += [
        "## Targets (issues 8 and 16)",
        "",
        "| target | measured | limit | met |",
        "|---|---|---|---|",
    ]
    for t in summary["targets"]:
        verdict = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
        lines.append(
            f"| {t['target']} | {num(t['value'])} | {t['op']} {num(t['limit'])} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def summarize(report: Record) -> Record:
    """Rows per phase and the target verdicts."""
    main = rows_of(report.get("main", {}).get("records", []))
    paced = rows_of(report.get("paced", {}).get("records", []))
    apis = rows_of(report.get("apis", {}).get("records", []))
    phases = ("main", "paced", "apis")
    loads = [r["loadavg1"] for p in phases for r in report.get(p, {}).get("records", [])]
    if loads:
        report["meta"].update(
            load_median=statistics.median(loads), load_min=min(loads), load_max=max(loads)
        )
    return {
        "meta": report["meta"],
        "main": main,
        "paced": paced,
        "ttfb": report.get("paced", {}).get("ttfb"),
        "memory": {k: v for k, v in report.get("memory", {}).items() if k != "soak"},
        "soak_rss": report.get("memory", {}).get("soak", {}).get("rss"),
        "apis": apis,
        "targets": targets(report, main) + apis_verdicts(report, apis),
    }


def apis_verdicts(report: Record, rows: list[Record]) -> list[Record]:
    """Issue 16's targets, when the apis phase ran."""
    if not rows:
        return []
    apis = report["apis"]
    return apis_harness.section(rows, apis["records"], apis["conc"])[1]


# ---------------------------------------------------------------- command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Options; defaults are the full run."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--phases", default="main,paced,memory", help="comma list of " + ",".join(PHASES)
    )
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load")
    p.add_argument("--conc", default="1,16,64", help="concurrencies (wrk connections)")
    p.add_argument("--scenarios", default="chat,stream,embed", help="main phase scenarios")
    p.add_argument("--stream-delay-ms", type=int, default=2, help="paced phase: ms between events")
    p.add_argument("--ttfb-samples", type=int, default=100, help="streams per target for TTFB")
    p.add_argument("--soak-seconds", type=int, default=300)
    p.add_argument("--soak-delay-ms", type=int, default=50, help="memory phase: ms between events")
    p.add_argument("--apis-conc", type=int, default=64, help="apis phase: wrk connections")
    p.add_argument("--stub-port", type=int, default=18080)
    p.add_argument("--gateway-port", type=int, default=18100)
    p.add_argument("--ref-port", type=int, default=18101)
    p.add_argument(
        "--shared",
        type=Path,
        default=Path(os.environ.get("BENCH_SHARED", PROJECT.parent / "shared" / "bench")),
        help="the shared bench/ folder",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=PROJECT / "bench-results" / time.strftime("gateway-%Y%m%d-%H%M%S"),
    )
    p.add_argument("--publish", type=Path, help="write summary.md and summary.json here")
    p.add_argument("--no-run", action="store_true", help="only re-summarize --out/report.json")
    p.add_argument(
        "--no-auth",
        dest="auth",
        action="store_false",
        help="run the gateway without an API keys file (default: keys file, key checked)",
    )
    p.add_argument("--gateway-rev", help="run this git revision (e.g. HEAD), not the working tree")
    args = p.parse_args(argv)
    unknown = set(args.phases.split(",")) - set(PHASES)
    if unknown:
        p.error(f"unknown phases: {', '.join(sorted(unknown))}")
    if not 10 <= args.soak_seconds <= 3600:
        p.error("--soak-seconds must be 10..3600")
    return args


def main(argv: list[str] | None = None) -> None:
    """Run the chosen phases, merge them into --out/report.json, and publish the summary."""
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    report_file = args.out / "report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    args.source = None
    if args.gateway_rev and not args.no_run:
        args.source = export_source(args.gateway_rev, args.out / "src")
    if not args.no_run:
        args.shared = stub_with_readyz(args.shared, args.out / "shared-bench")
        apis_harness.add_apis(args.shared)
        report["meta"] = {
            "gateway": source_label(args.gateway_rev) + (", API key checked" if args.auth else ""),
            "command": "python bench/run_gateway_bench.py "
            + " ".join(sys.argv[1:] if argv is None else argv),
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "host": f"{os.uname().sysname} {os.uname().release}, {os.cpu_count()} cpus",
        }
        for phase in args.phases.split(","):
            print(f"== phase {phase} (loadavg {loadavg()})", flush=True)
            report[phase] = PHASES[phase](args)
            report_file.write_text(json.dumps(report))
    summary = summarize(report)
    text = markdown(report, summary)
    print(text)
    if args.publish:
        args.publish.mkdir(parents=True, exist_ok=True)
        (args.publish / "summary.md").write_text(text)
        (args.publish / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        if summary["main"]:
            from plot import plot  # bench/plot.py; needs matplotlib (the `bench` extra)

            plot(summary, args.publish / "rps_latency.png")


if __name__ == "__main__":
    main()
