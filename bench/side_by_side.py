"""Side by side (issue 18): the gateway, its peers and the floor in front of the same stub.

Targets, each on its own port in front of the nginx+Lua stub on :18080:
  direct   the stub itself: the baseline of every "added" latency
  nginx    nginx proxy_pass with upstream keep-alive, 1 worker: the floor, what any proxy costs
  gateway  localai-gateway serve, API key checked (--gateway-rev runs a commit, not the tree)
  gateway-w2  the same with --workers 2 (two processes on one port)
  ref      the harness's minimal FastAPI+httpx proxy (ref_proxy.py), uvicorn, 1 worker
  portkey  @portkey-ai/gateway from npm, routed with x-portkey-provider/-custom-host headers
  litellm  litellm[proxy] from PyPI in a scratch venv, 1 worker, master key checked
Peers are installed once under --peers-dir and reused; one that cannot be installed or started
is skipped with the reason. Each target answers one request per scenario first; a scenario it
fails is not loaded (a 2 s burst counts its failures instead). Then interleaved rounds, the
order rotated each round, with CPU and peak RSS of each process tree sampled per run.

  .venv/bin/python bench/side_by_side.py --gateway-rev HEAD --rounds 3 --duration 10 \\
      --publish bench/results/peers
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchkit import (
    DIRECT,
    GATEWAY,
    PROJECT,
    STUB_PORT,
    STUB_URL,
    Record,
    benchlib,
    cells,
    errors_of,
    export_source,
    loadavg,
    num,
    run_bench_sh,
    source_label,
    stub_pid,
    stub_with_readyz,
    target_row,
    wrk_command,
    wrk_result,
)
from peers import GATEWAY_W2, PEERS, Skip, Target, start_target, tool_version

ENDPOINTS = {"chat": "/chat/completions", "stream": "/chat/completions", "embed": "/embeddings"}
ORDER = [DIRECT, "nginx", GATEWAY, GATEWAY_W2, "ref", "portkey", "litellm"]
MAX_REQUESTS = 2_000_000
BURST_SECONDS = 2

# ---------------------------------------------------------------- one run


class PeakRss(threading.Thread):
    """Samples the RSS of a process tree every 0.25 s until stopped; keeps the peak in KB."""

    def __init__(self, shared: Path, pid: int) -> None:
        super().__init__(daemon=True)
        self.lib, self.pid, self.peak_kb = benchlib(shared), pid, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_kb = max(self.peak_kb, self.lib.mem_kb(self.pid)[0])
            self.done.wait(0.25)


def wrk(shared: Path, target: Target, scenario: str, conc: int, seconds: int) -> Record | None:
    """One bounded wrk run against `target` with its routing headers; its BENCHJSON result."""
    url = target.url + ENDPOINTS[scenario]
    cmd = [
        "timeout",
        str(seconds + 60),
        *wrk_command(shared, url, scenario, conc, seconds, MAX_REQUESTS),
    ]
    env = {**os.environ, "BENCH_EXTRA_HEADERS": target.headers}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    return wrk_result(proc.stdout)


def measure(shared: Path, target: Target, scenario: str, conc: int, seconds: int) -> Record | None:
    """One measured run: wrk's numbers plus CPU seconds and peak RSS of the target's tree."""
    lib = benchlib(shared)
    sampler = PeakRss(shared, target.pid)
    cpu0 = lib.cpu_seconds(target.pid)
    sampler.start()
    try:
        run = wrk(shared, target, scenario, conc, seconds)
    finally:
        sampler.done.set()
        sampler.join()
    if run is None:
        return None
    seconds_run = run["duration_us"] / 1e6
    return {
        **run,
        "rps": run["requests"] / seconds_run if seconds_run else 0.0,
        "cpu_s": lib.cpu_seconds(target.pid) - cpu0,
        "peak_rss_kb": sampler.peak_kb,
        "loadavg1": loadavg(),
    }


def check(shared: Path, target: Target, scenario: str) -> tuple[bool, str]:
    """The harness's one-request check of a scenario (shape of the answer), with the headers."""
    body = shared / "requests" / f"{scenario}.json"
    url = target.url + ENDPOINTS[scenario]
    cmd = [sys.executable, str(shared / "benchlib.py"), "check", url, str(body), scenario]
    env = {**os.environ, "BENCH_EXTRA_HEADERS": target.headers}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    line = (proc.stdout.strip() or proc.stderr.strip() or "no output").splitlines()[-1]
    return proc.returncode == 0, line


def last_error_line(log: Path) -> str:
    """The last line of a target's log that mentions an error ('' if none or no log)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    lines = [x.strip() for x in text.splitlines() if "error" in x.lower()]
    return lines[-1][:300] if lines else ""


def failure_burst(shared: Path, target: Target, scenario: str) -> Record:
    """A short c=1 run of a scenario that failed its check: how many answers failed."""
    run = wrk(shared, target, scenario, 1, BURST_SECONDS) or {}
    return {
        "seconds": BURST_SECONDS,
        "requests": run.get("requests", 0),
        "failed": errors_of(run),
    }


# ---------------------------------------------------------------- rounds


def rotated(items: list[Any], k: int) -> list[Any]:
    """`items` starting at position k (mod its length)."""
    k %= max(len(items), 1)
    return items[k:] + items[:k]


def schedule(plan: dict[str, list[Target]], concs: list[int], rounds: int) -> list[tuple]:
    """Every measured run in order: per round, each scenario and concurrency, targets rotated."""
    return [
        (rnd, scenario, conc, target)
        for rnd in range(1, rounds + 1)
        for scenario, targets in plan.items()
        for conc in concs
        for target in rotated(targets, rnd - 1)
    ]


def run_rounds(args: argparse.Namespace, plan: dict[str, list[Target]], out: Path) -> list[Record]:
    """Warm up each target (c=16, unmeasured), then every run of the schedule."""
    for scenario, targets in plan.items():
        for target in targets if args.warmup else []:
            wrk(args.shared, target, scenario, 16, args.warmup)
    runs, records = schedule(plan, args.conc, args.rounds), []
    with (out / "results.jsonl").open("w") as results:
        for i, (rnd, scenario, conc, target) in enumerate(runs, 1):
            time.sleep(args.pause if i > 1 else 0)
            rec = measure(args.shared, target, scenario, conc, args.duration)
            label = f"[{i}/{len(runs)}] r{rnd} {scenario} c={conc} {target.name}"
            if rec is None:
                print(f"{label}: wrk gave no result", flush=True)
                continue
            rec.update(round=rnd, scenario=scenario, conc=conc, target=target.name)
            records.append(rec)
            results.write(json.dumps(rec) + "\n")
            print(progress(label, rec), flush=True)
    return records


def progress(prefix: str, rec: Record) -> str:
    """One line per run while the rounds go on."""
    cpu = rec["cpu_s"] / rec["requests"] * 1000 if rec["requests"] else 0.0
    return (
        f"{prefix}: {rec['rps']:.0f} rps, p50 {rec['lat_p50_us'] / 1000:.2f} ms, "
        f"p99 {rec['lat_p99_us'] / 1000:.2f} ms, cpu {cpu:.3f} ms/req, "
        f"rss {rec['peak_rss_kb'] / 1024:.0f} MB, errors {errors_of(rec)}, load {rec['loadavg1']}"
    )


# ---------------------------------------------------------------- the whole run


def port_in_use(port: int) -> bool:
    """True when something listens on 127.0.0.1:`port`."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_all(args: argparse.Namespace, workdir: Path, stack: contextlib.ExitStack) -> Record:
    """Start the stub and every chosen target; stop them when `stack` closes."""
    ports = [STUB_PORT, *(PEERS[name].port for name in args.targets)]
    busy = [port for port in ports if port_in_use(port)]
    if busy:
        raise SystemExit(f"bench: port(s) {busy} in use on 127.0.0.1 (another bench run?)")
    run_bench_sh(args.shared, workdir, "stub-start")
    stack.callback(run_bench_sh, args.shared, workdir, "stub-stop")
    info = {"version": tool_version("nginx") + " + Lua"}
    direct = Target(DIRECT, STUB_URL, stub_pid(workdir), info=info)
    targets, skipped = [direct], {}
    for name in args.targets:
        print(f"== starting {name}", flush=True)
        try:
            targets.append(start_target(name, args, workdir, stack))
        except Skip as why:
            if name == GATEWAY:
                raise SystemExit(f"bench: the gateway did not start: {why}") from None
            skipped[name] = str(why)
            print(f"{name}: skipped: {why}", flush=True)
    return {"targets": targets, "skipped": skipped}


def checked_plan(args: argparse.Namespace, targets: list[Target], logs: Path) -> tuple[dict, dict]:
    """Check every target and scenario; the plan has each scenario's passing targets. A failed
    check keeps the last error line of the target's log and a short burst's failure count."""
    plan: dict[str, list[Target]] = {s: [] for s in args.scenarios}
    checks: dict[str, dict[str, Record]] = {}
    for target in targets:
        for scenario in args.scenarios:
            ok, line = check(args.shared, target, scenario)
            print(f"  [{target.name}] {line}", flush=True)
            result: Record = {"ok": ok, "line": line}
            if ok:
                plan[scenario].append(target)
            else:
                result["burst"] = failure_burst(args.shared, target, scenario)
                result["log"] = last_error_line(logs / f"{target.name}.log")
            checks.setdefault(target.name, {})[scenario] = result
    return plan, checks


def run(args: argparse.Namespace) -> Record:
    """Start everything, check, run the rounds, stop everything; the raw report."""
    workdir = args.out / "stack"
    workdir.mkdir(parents=True, exist_ok=True)
    load_start = loadavg()
    with contextlib.ExitStack() as stack:
        started = start_all(args, workdir, stack)
        plan, checks = checked_plan(args, started["targets"], workdir)
        records = run_rounds(args, plan, args.out)
    return {
        "meta": meta(args, load_start),
        "targets": {
            t.name: {"url": t.url, "headers": t.headers, **t.info} for t in started["targets"]
        },
        "skipped": started["skipped"],
        "checks": checks,
        "records": records,
    }


def meta(args: argparse.Namespace, load_start: float) -> Record:
    """What ran, where, when, and how busy the machine was."""
    return {
        "command": "python bench/side_by_side.py " + " ".join(args.argv),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "host": f"{os.uname().sysname} {os.uname().release}, {os.cpu_count()} cpus",
        "gateway": source_label(args.gateway_rev) + (", API key checked" if args.auth else ""),
        "tools": {tool: tool_version(tool) for tool in ("nginx", "wrk", "node")},
        "load_start": load_start,
        "load_end": loadavg(),
        "rounds": args.rounds,
        "conc": args.conc,
        "duration": args.duration,
    }


# ---------------------------------------------------------------- summary

WHAT = {
    DIRECT: "the nginx+Lua stub itself (baseline)",
    "nginx": "nginx `proxy_pass`, upstream keep-alive, 1 worker: the floor",
    GATEWAY: "`localai-gateway serve`",
    GATEWAY_W2: "`localai-gateway serve --workers 2`",
    "ref": "`ref_proxy.py`: FastAPI + httpx, uvicorn, 1 worker",
    "portkey": "Portkey gateway (npm), headless, `x-portkey-*` routing headers",
    "litellm": "`litellm[proxy]` (PyPI), 1 worker, master key checked",
}


def not_run_row(scenario: str, conc: int, name: str, why: str) -> Record:
    """A cell with no measurement, and why."""
    return {"scenario": scenario, "conc": conc, "target": name, "not_run": why}


def check_notes(report: Record) -> tuple[list[str], dict[tuple[str, str], str]]:
    """A note per failed check, and the table text of each failed (target, scenario)."""
    notes: list[str] = []
    why_of: dict[tuple[str, str], str] = {}
    for name, scenarios in report["checks"].items():
        for scenario, result in scenarios.items():
            if result["ok"]:
                continue
            burst = result["burst"]
            log = f"; its log: `{result['log']}`" if result.get("log") else ""
            notes.append(
                f"{name}, {scenario}: `{result['line']}`{log}; a {burst['seconds']} s run at "
                f"c=1: {burst['failed']} of {burst['requests']} answers failed"
            )
            status = re.search(r"HTTP \d{3}", result["line"])
            why_of[name, scenario] = (
                f"check failed{', ' + status.group(0) if status else ''} (note {len(notes)})"
            )
    return notes, why_of


def slow(runs: dict[int, Record]) -> bool:
    """True when p50 latency is over 10% of a run: RPS is then biased low (requests still in
    flight at the end are not counted)."""
    return any(r["lat_p50_us"] > 0.1 * r["duration_us"] for r in runs.values())


def rows_and_notes(report: Record) -> tuple[list[Record], list[str]]:
    """One row per scenario, concurrency and target in ORDER; notes for failed checks.
    Runs in which no request completed count as no result."""
    runs = cells(report["records"])
    by_cell = cells([r for r in report["records"] if r["requests"]])
    notes, why_of = check_notes(report)
    empty = f"no request completed within a {report['meta']['duration']} s run"
    rows = []
    for scenario in ENDPOINTS:
        for conc in report["meta"]["conc"]:
            cell = by_cell.get((scenario, conc), {})
            for name in ORDER:
                if name in cell:
                    row = {**target_row(cell, name), "slow": slow(cell[name])}
                    rows.append({"scenario": scenario, "conc": conc, **row})
                elif name in runs.get((scenario, conc), {}):
                    rows.append(not_run_row(scenario, conc, name, empty))
                elif (name, scenario) in why_of:
                    rows.append(not_run_row(scenario, conc, name, why_of[name, scenario]))
    return rows, notes


def latency(row: Record, key: str) -> str:
    """'p (+added)' in ms; the baseline has no added part."""
    added = row[f"added_{key}_ms"]
    base = num(row[f"{key}_ms"])
    return base if row["target"] == DIRECT or added is None else f"{base} ({added:+.2f})"


def table(summary: Record) -> list[str]:
    """The side-by-side table: one line per scenario, concurrency and target."""
    head = ["scenario", "conc", "target", "RPS [min-max]", "p50 ms (added)", "p99 ms (added)"]
    head += ["CPU ms/req", "RSS MB", "errors"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in summary["rows"]:
        cols = [row["scenario"], str(row["conc"]), row["target"]]
        if "not_run" in row:
            cols += [f"not run: {row['not_run']}", *["-"] * 5]
        else:
            rps = f"{row['rps']:.0f}{'*' if row['slow'] else ''}"
            rps += f" [{row['rps_min']:.0f}-{row['rps_max']:.0f}]"
            cols += [rps, latency(row, "p50"), latency(row, "p99"), num(row["cpu_ms"], 3)]
            cols += [num(row["rss_mb"], 0), str(row["errors"])]
        lines.append("| " + " | ".join(cols) + " |")
    for name, why in summary["skipped"].items():
        lines.append(f"| all | - | {name} | skipped: {why} | - | - | - | - | - |")
    return lines


def worker_ratios(report: Record) -> list[Record]:
    """Per scenario and concurrency where both ran: `gateway-w2` RPS over `gateway` RPS,
    paired per round (median, min, max), and the CPU each spent per request."""
    ratios = []
    for (scenario, conc), cell in sorted(cells(report["records"]).items()):
        one, two = cell.get(GATEWAY, {}), cell.get(GATEWAY_W2, {})
        paired = [two[k]["rps"] / one[k]["rps"] for k in one if k in two and one[k]["rps"]]
        if paired:
            ratios.append(
                {
                    "scenario": scenario,
                    "conc": conc,
                    "ratio": statistics.median(paired),
                    "min": min(paired),
                    "max": max(paired),
                    "rps": [target_row(cell, GATEWAY)["rps"], target_row(cell, GATEWAY_W2)["rps"]],
                }
            )
    return ratios


def ratios_table(summary: Record) -> list[str]:
    """What the second worker buys, when both gateways ran."""
    if not summary.get("worker_ratios"):
        return []
    lines = [
        "`--workers 2` vs `--workers 1` (RPS ratio paired per round, median [min-max]):",
        "",
        "| scenario | conc | --workers 1 RPS | --workers 2 RPS | ratio |",
        "|---|---|---|---|---|",
    ]
    for row in summary["worker_ratios"]:
        one, two = row["rps"]
        lines.append(
            f"| {row['scenario']} | {row['conc']} | {one:.0f} | {two:.0f} | "
            f"{row['ratio']:.2f}x [{row['min']:.2f}-{row['max']:.2f}] |"
        )
    return [*lines, ""]


def targets_table(summary: Record) -> list[str]:
    """What each target is: version, install time, time until it answered."""
    lines = ["| target | what | version | install | ready after |", "|---|---|---|---|---|"]
    for name, info in summary["targets"].items():
        what = WHAT[name] + (f" ({summary['meta']['gateway']})" if name == GATEWAY else "")
        install = "-"
        if "install_s" in info:
            install = f"{info['install_s']:.0f} s" + (
                f" (cached, {info['installed']})" if info.get("cached") else ""
            )
        ready = f"{info['ready_s']} s" if "ready_s" in info else "-"
        lines.append(f"| {name} | {what} | {info.get('version', '-')} | {install} | {ready} |")
    return lines


def markdown(summary: Record) -> str:
    """The published summary: conditions, targets, the table, notes and the plot."""
    meta = summary["meta"]
    notes = [f"{i}. {n}" for i, n in enumerate(summary["notes"], 1)]
    return "\n".join(
        [
            "# Side by side: the gateway, its peers and the floor",
            "",
            f"Command: `{meta['command']}`  ",
            f"Date: {meta['date']}; host: {meta['host']}; tools: "
            + ", ".join(f"{k} {v}" for k, v in meta["tools"].items())
            + "  ",
            f"1-min loadavg: {meta['load_start']} at start, {meta['load_end']} at the end, median "
            f"{num(meta['load_median'], 1)} [{num(meta['load_min'], 1)}-{num(meta['load_max'], 1)}]"
            " over the runs (shared 2-core machine: read ratios, not absolutes)",
            "",
            *targets_table(summary),
            "",
            f"{meta['rounds']} interleaved rounds of {meta['duration']} s runs (order rotated each "
            'round); cells are the median over rounds; "added" is the per-round difference from '
            "direct; CPU is the process tree's user+sys time per completed request; RSS the peak "
            "of the tree during the run; errors are socket errors, timeouts and non-2xx answers. "
            "`*`: p50 over 10% of the run, so RPS is biased low (requests in flight at the end "
            "are not counted).",
            "",
            *table(summary),
            "",
            *ratios_table(summary),
            *(["Notes:", "", *notes, ""] if notes else []),
            "![Side by side](side_by_side.png)",
            "",
        ]
    )


def summarize(report: Record) -> Record:
    """Rows, notes and load figures for the markdown, the JSON and the plot."""
    rows, notes = rows_and_notes(report)
    loads = [r["loadavg1"] for r in report["records"]] or [report["meta"]["load_start"]]
    meta = {
        **report["meta"],
        "load_median": statistics.median(loads),
        "load_min": min(loads),
        "load_max": max(loads),
    }
    keep = ("targets", "skipped")
    return {
        "meta": meta,
        **{k: report[k] for k in keep},
        "rows": rows,
        "notes": notes,
        "worker_ratios": worker_ratios(report),
    }


# ---------------------------------------------------------------- command line


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Options; the defaults are the full comparison."""
    workroot = Path(os.environ.get("BENCH_WORKDIR", Path(tempfile.gettempdir()) / "openai-bench"))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--targets", default=",".join(PEERS), help="comma list of " + ",".join(PEERS))
    p.add_argument("--scenarios", default="chat,stream,embed", help="chat,stream,embed")
    p.add_argument("--conc", default="1,64", help="concurrencies (wrk connections)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    p.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load, c=16")
    p.add_argument("--pause", type=float, default=1.0, help="idle seconds between runs")
    p.add_argument("--gateway-rev", help="run this git revision (e.g. HEAD), not the working tree")
    p.add_argument(
        "--no-auth", dest="auth", action="store_false", help="no API key for the gateway"
    )
    p.add_argument("--litellm-spec", default="litellm[proxy]", help="what pip installs")
    p.add_argument("--portkey-spec", default="@portkey-ai/gateway", help="what npm installs")
    p.add_argument("--peers-dir", type=Path, default=workroot / "peers", help="scratch installs")
    p.add_argument(
        "--shared",
        type=Path,
        default=Path(os.environ.get("BENCH_SHARED", PROJECT.parent / "shared" / "bench")),
    )
    p.add_argument(
        "--out", type=Path, default=PROJECT / "bench-results" / time.strftime("peers-%Y%m%d-%H%M%S")
    )
    p.add_argument("--publish", type=Path, help="write summary.md, summary.json and the plot here")
    p.add_argument("--no-run", action="store_true", help="only re-summarize --out/report.json")
    args = p.parse_args(argv)
    args.targets = [t for t in args.targets.split(",") if t]
    args.scenarios = args.scenarios.split(",")
    args.conc = [int(c) for c in args.conc.split(",")]
    unknown = set(args.targets) - set(PEERS) or set(args.scenarios) - set(ENDPOINTS)
    if unknown:
        p.error(f"unknown targets or scenarios: {', '.join(sorted(unknown))}")
    if not (1 <= args.rounds <= 20 and 1 <= args.duration <= 300):
        p.error("--rounds must be 1..20 and --duration 1..300")
    args.argv, args.installs, args.source = argv, {}, None
    return args


def publish(summary: Record, dest: Path) -> None:
    """summary.md, summary.json and side_by_side.png in `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "summary.md").write_text(markdown(summary))
    (dest / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    from plot import plot_peers  # bench/plot.py; needs matplotlib (the `bench` extra)

    plot_peers(summary, dest / "side_by_side.png")


def main(argv: list[str] | None = None) -> None:
    """Run (or re-read) the comparison, print the summary and publish it."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    report_file = args.out / "report.json"
    if not args.no_run:
        # SIGTERM and SIGHUP unwind like Ctrl-C, so everything started is stopped.
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda signum, _: sys.exit(128 + signum))
        args.out.mkdir(parents=True, exist_ok=True)
        args.shared = stub_with_readyz(args.shared, args.out / "shared-bench")
        if args.gateway_rev:
            args.source = export_source(args.gateway_rev, args.out / "src")
        try:
            report = run(args)
        except KeyboardInterrupt:
            raise SystemExit("bench: interrupted; everything it started is stopped") from None
        report_file.write_text(json.dumps(report))
    summary = summarize(json.loads(report_file.read_text()))
    print(markdown(summary))
    if args.publish:
        publish(summary, args.publish)


if __name__ == "__main__":
    main()
