"""Prefix routing vs least-outstanding in front of two real llama.cpp servers (issue 18).

Two llama-cpp-python servers on SmolLM2-135M (tests/support/llama_servers.py: one thread each, a
RAM prompt cache of --cache-mb that holds the KV states of a few conversations, as a LocalAI
llama.cpp replica's slots do) behind one `localai-gateway serve` that serves them as two models:
`prefix` (`routing: prefix`) and `least-outstanding` (the default). Each round runs the workload
once per policy, on freshly started servers and gateway, the order alternating between rounds:
8 conversations of 6 turns, each with its own ~600-token system prompt, turns interleaved across
conversations (every first turn, then every second turn, ...), one request at a time, streamed,
`max_tokens` 8, temperature 0. TTFT is measured at the client, to the first content token. The
servers' logs say which one answered each turn and how many prompt tokens it evaluated: a turn
that evaluates under half its conversation's first turn hit the cache. The default cache, 112
MB, holds ~7 prompt states of this workload (~16 MB each; llama-cpp-python keeps a conversation's
previous state beside its newest, so that is 3-4 conversations): "a few", where least-outstanding
hits about as often as issue 18 measured (11-18 of 40 later turns).

  .venv/bin/python bench/prefix_routing_bench.py --rounds 2 --publish bench/results/routing
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import httpx
from benchkit import PROJECT, VENV_BIN, Record, export_source, loadavg, num, source_label

sys.path.insert(0, str(PROJECT))  # tests.support: the real servers and process helpers
from tests.support.llama_servers import LlamaServer, answered_by, unavailable
from tests.support.servers import run_process

POLICIES = {"prefix": "routing: prefix", "least-outstanding": "routing: least_outstanding"}
TOPICS = [
    "astronomy", "baking", "chess", "geology", "jazz", "knitting", "sailing", "volcanoes",
]  # fmt: skip
FACTS = 30  # ~600 tokens of system prompt per conversation


def system_prompt(topic: str) -> str:
    """A conversation's own ~600-token system prompt (its first words already differ)."""
    facts = " ".join(
        f"Note {i}: in {topic}, detail number {i} matters for the questions that follow."
        for i in range(1, FACTS + 1)
    )
    return f"You are a patient {topic} tutor. Answer in one short sentence. {facts}"


def registry(servers: list[LlamaServer]) -> str:
    """Both policies as models on the same two servers."""
    upstreams = ", ".join(f"{{url: '{s.url}', name: llama-{i}}}" for i, s in enumerate(servers))
    return "models:\n" + "".join(
        f"  {model}:\n    localai_model: smollm2\n    capabilities: [chat]\n"
        f"    upstreams: [{upstreams}]\n    {routing}\n"
        for model, routing in POLICIES.items()
    )


@contextlib.contextmanager
def stack(args: argparse.Namespace, logs: Path) -> Iterator[tuple[str, list[LlamaServer]]]:
    """Two fresh llama servers and a gateway in front of them; stopped on exit."""
    with contextlib.ExitStack() as running:
        servers = [
            running.enter_context(
                LlamaServer(cache_mb=args.cache_mb, verbose=True, log_dir=logs, port=port)
            )
            for port in args.ports[:2]
        ]
        path = logs / "registry.yaml"
        path.write_text(registry(servers))
        port = args.ports[2]
        env = {"LOCALAI_GATEWAY_REGISTRY": str(path), "LOCALAI_GATEWAY_FIRST_TOKEN_TIMEOUT": "300"}
        if args.source is not None:
            env["PYTHONPATH"] = str(args.source)
        cmd = [str(VENV_BIN / "localai-gateway"), "serve", "--port", str(port)]
        running.enter_context(
            run_process([*cmd, "--log-level", "warning"], env, port=port, ready_path="/readyz")
        )
        yield f"http://127.0.0.1:{port}", servers


def first_token(client: httpx.Client, model: str, messages: list[dict[str, str]]) -> Record:
    """Stream one turn: seconds to the first content token and to the end, the text, usage."""
    body = {
        "model": model,
        "messages": messages,
        "max_tokens": 8,
        "temperature": 0,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    ttft, text, usage = None, "", {}
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line.removeprefix("data: "))
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or ():
                piece = (choice.get("delta") or {}).get("content")
                if piece and ttft is None:
                    ttft = time.perf_counter() - started
                text += piece or ""
    total = time.perf_counter() - started
    return {"ttft": ttft if ttft is not None else total, "total": total, "text": text, **usage}


def run_policy(args: argparse.Namespace, policy: str, logs: Path) -> list[Record]:
    """The whole workload against one policy on fresh servers; one record per turn."""
    topics = TOPICS[: args.conversations]
    conversations = [[{"role": "system", "content": system_prompt(t)}] for t in topics]
    records: list[Record] = []
    with stack(args, logs) as (url, servers), httpx.Client(base_url=url, timeout=600) as client:
        started = time.perf_counter()
        for turn in range(1, args.turns + 1):
            for number, messages in enumerate(conversations):
                messages.append({"role": "user", "content": f"Question {turn}: what comes next?"})
                before = [len(server.prompt_evals()) for server in servers]
                record = first_token(client, policy, messages)
                messages.append({"role": "assistant", "content": record.pop("text")})
                server, evaluated = answered_by(servers, before)
                record |= {
                    "policy": policy,
                    "conversation": number,
                    "turn": turn,
                    "server": server,
                    "evaluated": evaluated,
                    "loadavg1": loadavg(),
                }
                records.append(record)
                print(progress(record), flush=True)
        wall = time.perf_counter() - started
    for record in records:
        record["wall"] = wall
    return records


def progress(rec: Record) -> str:
    """One line per turn while the run goes on."""
    return (
        f"{rec['policy']} conv {rec['conversation']} turn {rec['turn']}: ttft {rec['ttft']:.2f} s"
        f" on server {rec['server']}, {rec['evaluated']} prompt tokens evaluated, "
        f"load {rec['loadavg1']}"
    )


def mark_hits(records: list[Record]) -> None:
    """A later turn hit the cache when it evaluated under half the prompt tokens its
    conversation's first turn evaluated (a miss re-reads the system prompt at least)."""
    first = {(r["round"], r["conversation"]): r["evaluated"] for r in records if r["turn"] == 1}
    for record in records:
        full = first[record["round"], record["conversation"]]
        record["hit"] = record["turn"] > 1 and record["evaluated"] < full / 2


def summarize(records: list[Record], meta: Record) -> Record:
    """Per policy: TTFT medians of turn 1 and turns 2-6, wall time, hits, conversations per
    server; the ratio of the turns-2-6 medians."""
    rows: dict[str, Record] = {}
    for policy in POLICIES:
        mine = [r for r in records if r["policy"] == policy]
        later = [r for r in mine if r["turn"] > 1]
        walls = sorted({(r["round"], r["wall"]) for r in mine})
        homes = {(r["round"], r["conversation"], r["server"]) for r in mine}
        rows[policy] = {
            "turn1_ttft": statistics.median(r["ttft"] for r in mine if r["turn"] == 1),
            "later_ttft": statistics.median(r["ttft"] for r in later),
            "later_ttft_p90": statistics.quantiles([r["ttft"] for r in later], n=10)[-1],
            "hit_ttft": statistics.median([r["ttft"] for r in later if r["hit"]] or [0.0]),
            "miss_ttft": statistics.median([r["ttft"] for r in later if not r["hit"]] or [0.0]),
            "hits": sum(r["hit"] for r in later),
            "later_turns": len(later),
            "wall": [wall for _, wall in walls],
            "servers_per_conversation": len(homes) / (len(mine) / meta["turns"]),
            # Conversations that reached each server in round 1.
            "split": [sum(1 for h in homes if h[2] == s and h[0] == 1) for s in (0, 1)],
        }
    loads = [r["loadavg1"] for r in records]
    ratio = rows["prefix"]["later_ttft"] / rows["least-outstanding"]["later_ttft"]
    meta = {**meta, "load_median": statistics.median(loads), "load_min": min(loads)}
    return {"meta": {**meta, "load_max": max(loads)}, "rows": rows, "ratio": ratio}


def markdown(summary: Record) -> str:
    """The TTFT table with the conditions."""
    meta, rows = summary["meta"], summary["rows"]
    lines = [
        "# Prefix routing vs least-outstanding, two real llama.cpp servers",
        "",
        f"Command: `{meta['command']}`  ",
        f"Date: {meta['date']}; host: {meta['host']}; gateway: {meta['gateway']}; "
        f"{meta['rounds']} round(s), each policy "
        f"on fresh servers; 1-min loadavg median {num(meta['load_median'], 1)} "
        f"[{num(meta['load_min'], 1)}-{num(meta['load_max'], 1)}]  ",
        f"Servers: llama-cpp-python {meta['llama_cpp']} on SmolLM2-135M Q4_1, 1 thread, RAM "
        f"prompt cache {meta['cache_mb']} MB; {meta['conversations']} conversations x "
        f"{meta['turns']} turns, ~600-token "
        "system prompts, interleaved, sequential, streamed, max_tokens 8",
        "",
        "| policy | TTFT turn 1 (median) | TTFT turns 2-6 (median) | turns 2-6 p90 | cache hits "
        "(turns 2-6) | hit / miss TTFT | wall time per run | servers per conversation |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for policy, row in rows.items():
        walls = ", ".join(f"{wall:.0f} s" for wall in row["wall"])
        lines.append(
            f"| {policy} | {row['turn1_ttft']:.2f} s | {row['later_ttft']:.2f} s | "
            f"{row['later_ttft_p90']:.2f} s | {row['hits']} of {row['later_turns']} | "
            f"{row['hit_ttft']:.2f} / {row['miss_ttft']:.2f} s | {walls} | "
            f"{row['servers_per_conversation']:.2f} (split {row['split'][0]}/{row['split'][1]}) |"
        )
    lines += [
        "",
        f"Median TTFT of turns 2-6, prefix / least-outstanding: **{summary['ratio']:.2f}x** "
        "(target: at most 0.5x, with wall time not worse).",
        "",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=1, help="runs of each policy, order alternating")
    p.add_argument("--turns", type=int, default=6)
    p.add_argument("--conversations", type=int, default=len(TOPICS), choices=range(1, 9))
    p.add_argument("--cache-mb", type=int, default=112, help="each server's RAM prompt cache")
    p.add_argument("--ports", default="18110,18111,18112", help="server 1, server 2, gateway")
    p.add_argument("--gateway-rev", help="run this git revision (e.g. HEAD), not the working tree")
    p.add_argument(
        "--out",
        type=Path,
        default=PROJECT / "bench-results" / time.strftime("routing-%Y%m%d-%H%M%S"),
    )
    p.add_argument("--publish", type=Path, help="write summary.md, .json and records.jsonl here")
    args = p.parse_args(argv)
    args.ports = [int(port) for port in args.ports.split(",")]
    args.argv = argv
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    missing = unavailable()
    if missing is not None:
        raise SystemExit(f"bench: needs {missing}")
    args.out.mkdir(parents=True, exist_ok=True)
    args.source = export_source(args.gateway_rev, args.out / "src") if args.gateway_rev else None
    gateway = source_label(args.gateway_rev)  # now: a commit made during the run is not it
    started = time.strftime("%Y-%m-%d %H:%M")
    records: list[Record] = []
    for round_number in range(1, args.rounds + 1):
        order = list(POLICIES) if round_number % 2 else list(POLICIES)[::-1]
        for policy in order:
            logs = args.out / f"round{round_number}-{policy}"
            logs.mkdir(exist_ok=True)
            for record in run_policy(args, policy, logs):
                records.append({**record, "round": round_number})
    mark_hits(records)
    (args.out / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    meta = {
        "command": "python bench/prefix_routing_bench.py " + " ".join(args.argv),
        "date": started,
        "host": f"{os.uname().sysname} {os.uname().release}, {os.cpu_count()} cpus",
        "gateway": gateway,
        "llama_cpp": version("llama-cpp-python"),
        "cache_mb": args.cache_mb,
        "turns": args.turns,
        "conversations": args.conversations,
        "rounds": args.rounds,
    }
    summary = summarize(records, meta)
    print(markdown(summary))
    if args.publish:
        args.publish.mkdir(parents=True, exist_ok=True)
        (args.publish / "summary.md").write_text(markdown(summary))
        (args.publish / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
        shutil.copy(args.out / "records.jsonl", args.publish / "records.jsonl")


if __name__ == "__main__":
    main()
