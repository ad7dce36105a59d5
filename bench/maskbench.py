"""MaskBench (guidance-ai/jsonschemabench, maskbench/data) for `grammar.schema_to_gbnf`.

Prepare the suite once (CI never fetches it):
    fetch github:guidance-ai/jsonschemabench        # the search tool's fetch; prints GIT_DIR
    bash ../shared/tools/maskbench/prepare.sh GIT_DIR   # -> /tmp/maskbench-suite
Run:
    .venv/bin/python bench/maskbench.py --jobs 2 --json-out /tmp/maskbench.json

Each schema is compiled in a worker under a hard deadline; its grammar is checked with the
offline oracle (../shared/tools/oracle.py) on every instance, rendered `json.dumps` default and
compact. A schema passes when it compiles and every instance is classified right under both;
schemas without instances pass when they compile (MaskBench's rule). Exceptions other than
UnsupportedSchemaError, and grammars the oracle refuses, are crashes.

Compile times are given on two clocks. CPU is the worker thread's CPU time: what the compile
budget (grammar/_budget.py) bounds, the same whatever else runs. Wall is the elapsed time,
which also counts the time the worker waited for a core: with --jobs 2 on a shared 2-core
machine it can be several times the CPU time, so it says how loaded the machine was as much
as how costly the schema is.
"""

from __future__ import annotations

import argparse
import collections
import gc
import json
import multiprocessing as mp
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

# the checkout this file is in, not whichever one the venv installed in editable mode
PROJECT = Path(__file__).resolve().parents[1]
TOOLS = PROJECT.parent / "shared" / "tools"
sys.path[:0] = [str(PROJECT), str(TOOLS)]
import oracle  # noqa: E402

import grammar  # noqa: E402

SUITE = Path("/tmp/maskbench-suite")
UNTESTED = "_untested_schemas.json.list"
RENDERINGS: dict[str, Callable[[Any], str]] = {
    "default": json.dumps,
    "compact": lambda v: json.dumps(v, separators=(",", ":")),
}
SLOW_S = 2.0


class Deadline(Exception):
    """The per-schema wall-clock limit of this run went by."""


@dataclass
class Result:
    split: str
    name: str
    status: str = ""  # compiled | refused | crash | timeout
    reason: str = ""
    compile_s: float = 0.0  # wall clock
    compile_cpu_s: float = 0.0  # the worker's CPU time
    instances: int = 0
    invalid_accepted: list[int] = field(default_factory=list)
    valid_rejected: list[int] = field(default_factory=list)
    check_timeout: bool = False

    @property
    def passing(self) -> bool:
        bad = self.invalid_accepted or self.valid_rejected or self.check_timeout
        return self.status == "compiled" and not bad


def _cases(suite: Path, select: re.Pattern[str] | None) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in [*sorted(suite.glob("*.json")), suite / UNTESTED]:
        split = path.name.split(".")[0]
        for case in json.loads(path.read_text(encoding="utf-8")):
            if select is None or select.search(case["description"]):
                yield split, case


def _alarm(signum: int, frame: FrameType | None) -> None:
    raise Deadline


def _within(seconds: float, fn: Callable[[], Any]) -> Any:
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _run(item: tuple[str, dict[str, Any], float]) -> Result:
    split, case, timeout = item
    res = Result(split, case["description"])
    start, cpu = time.perf_counter(), time.thread_time()
    try:
        gbnf = _within(timeout, lambda: grammar.schema_to_gbnf(case["schema"]))
        res.compile_s, res.compile_cpu_s = time.perf_counter() - start, time.thread_time() - cpu
        oracle.parse_gbnf(gbnf)
        res.status = "compiled"
    except grammar.UnsupportedSchemaError as exc:
        res.status, res.reason = "refused", str(exc).splitlines()[0][:300]
    except Deadline:
        res.status, res.reason = "timeout", f"no answer within {timeout} s"
    except Exception as exc:  # a crash is any other exception, or a grammar llama.cpp refuses
        res.status, res.reason = "crash", f"{type(exc).__name__}: {str(exc)[:300]}"
    res.compile_s = res.compile_s or time.perf_counter() - start
    res.compile_cpu_s = res.compile_cpu_s or time.thread_time() - cpu
    if res.status == "compiled":
        try:
            _within(timeout, lambda: _check(gbnf, case.get("tests", []), res))
        except Deadline:
            res.check_timeout = True
    # The oracle keeps 256 parsed grammars: millions of objects whose garbage collection
    # passes (2.8 s for the largest schemas' grammars) would land inside later compiles.
    oracle.parse_gbnf.cache_clear()
    return res


def _check(gbnf: str, tests: list[dict[str, Any]], res: Result) -> None:
    res.instances = len(tests)
    for i, test in enumerate(tests):
        accepted = [oracle.accepts(gbnf, render(test["data"])) for render in RENDERINGS.values()]
        if test["valid"] and not all(accepted):
            res.valid_rejected.append(i)
        if not test["valid"] and any(accepted):
            res.invalid_accepted.append(i)


def _init() -> None:
    signal.signal(signal.SIGALRM, _alarm)
    sys.setrecursionlimit(20_000)  # the oracle recurses per rule


def measure(suite: Path, jobs: int, timeout: float, select: str | None) -> list[Result]:
    pattern = re.compile(select) if select else None
    items = [(split, case, timeout) for split, case in _cases(suite, pattern)]
    items.sort(key=lambda it: -len(json.dumps(it[1]["schema"])))  # big ones first
    gc.freeze()  # the loaded suite: not for the workers' collector to walk (and copy on write)
    if jobs <= 1:
        _init()
        return [_run(it) for it in items]
    with mp.get_context("fork").Pool(jobs, initializer=_init, maxtasksperchild=200) as pool:
        results = []
        for done, res in enumerate(pool.imap_unordered(_run, items, chunksize=4), 1):
            results.append(res)
            if done % 500 == 0:
                print(f"{done}/{len(items)} schemas", file=sys.stderr, flush=True)
        return results


def summary(results: list[Result]) -> dict[str, Any]:
    answered = [r for r in results if r.status in ("compiled", "refused")]
    wall = sorted(r.compile_s for r in answered)
    cpu = sorted(r.compile_cpu_s for r in answered)

    def pct(values: list[float], q: float) -> float:
        if not values:
            return 0.0
        return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1)

    totals: dict[str, Any] = {
        "schemas": len(results),
        "passing": sum(r.passing for r in results),
        "refused": sum(r.status == "refused" for r in results),
        "accepting invalid": sum(bool(r.invalid_accepted) for r in results),
        "rejecting valid": sum(bool(r.valid_rejected) for r in results),
        "crashes": sum(r.status == "crash" for r in results),
        "timeouts": sum(r.status == "timeout" for r in results),
        "oracle timeouts": sum(r.check_timeout for r in results),
    }
    for clock, values in (("wall", wall), ("CPU", cpu)):
        totals[f"compile {clock} p50 ms"] = pct(values, 0.50)
        totals[f"compile {clock} p99 ms"] = pct(values, 0.99)
        totals[f"compile {clock} max ms"] = pct(values, 1.0)
        totals[f"{clock} over {SLOW_S:g} s"] = sum(v > SLOW_S for v in values)
    return totals


def refusal_classes(results: list[Result], top: int) -> list[tuple[str, int]]:
    """The commonest refusal reasons, pointers left out."""
    reasons = [re.sub(r" at [^:]*:", ":", r.reason) for r in results if r.status == "refused"]
    reasons = [re.sub(r"unknown format .*", "unknown format", r) for r in reasons]
    return collections.Counter(reasons).most_common(top)


# summary keys of runs made before the table named both clocks (theirs were wall clock)
_OLD_KEYS = {"compile wall p50 ms": "compile p50 ms", "compile wall p99 ms": "compile p99 ms"}
_OLD_KEYS[f"wall over {SLOW_S:g} s"] = f"over {SLOW_S:g} s"


def markdown(totals: dict[str, Any], results: list[Result], baseline: dict[str, Any] | None) -> str:
    """The table for bench/results/maskbench.md: after, and before when given."""
    head = "| metric | before | after |\n|---|---:|---:|"
    rows = [head if baseline else "| metric | |\n|---|---:|"]
    for key, value in totals.items():
        old = baseline.get(key, baseline.get(_OLD_KEYS.get(key, ""), "")) if baseline else None
        before = "" if old is None else f" {old} |"
        rows.append(f"| {key} |{before} {value} |")
    rows.append("\n| refusals (top 15) | schemas |\n|---|---:|")
    rows += [f"| {reason} | {n} |" for reason, n in refusal_classes(results, 15)]
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--suite", type=Path, default=SUITE)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60.0, help="hard limit per schema (s)")
    ap.add_argument("--select", help="regex on schema file names (e.g. '^Github_hard')")
    ap.add_argument("--json-out", type=Path, help="per-schema results")
    ap.add_argument("--markdown", type=Path, help="write the table here")
    ap.add_argument("--baseline", type=Path, help="a previous --json-out, for a before column")
    a = ap.parse_args(argv)
    start = time.perf_counter()
    results = measure(a.suite, a.jobs, a.timeout, a.select)
    totals = summary(results)
    totals["wall s"] = round(time.perf_counter() - start, 1)
    print("\n".join(f"{k:>18}: {v}" for k, v in totals.items()))
    if a.json_out:
        rows = [asdict(r) | {"passing": r.passing} for r in results]
        a.json_out.write_text(json.dumps({"summary": totals, "results": rows}, indent=0))
    if a.markdown:
        before = json.loads(a.baseline.read_text())["summary"] if a.baseline else None
        a.markdown.write_text(markdown(totals, results, before))
    return 0


if __name__ == "__main__":
    sys.exit(main())
