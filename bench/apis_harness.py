"""The `apis` phase of run_gateway_bench.py: chat vs Open Responses vs Anthropic Messages.

The shared harness knows chat, stream and embed only. `add_apis` teaches the copy the bench
renders two more scenarios: the stub answers POST /v1/responses and /v1/messages with fixed
bodies in LocalAI v4.9's shapes (the chat body's text, LocalAI's fields), run_bench.sh sends
`requests/{responses,messages}.json` there, and its pre-flight check reads their text.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

SCENARIOS = ("chat", "responses", "messages")
LIMIT = 1.2  # issue 16: CPU per request within 20% of chat's

_SYSTEM = "You are a concise assistant."
_QUESTION = "In two sentences, explain what an API gateway adds in front of an LLM server."


def _text(shared: Path) -> str:
    chat = json.loads((shared / "stub" / "bodies" / "chat.json").read_text())
    return str(chat["choices"][0]["message"]["content"])


def _responses_body(text: str) -> dict[str, Any]:
    """A completed Open Responses resource, every field in LocalAI's order."""
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    item = {"type": "message", "id": "msg_bench", "status": "completed", "role": "assistant"}
    item |= {"content": [part], "arguments": "", "summary": []}
    usage = {"input_tokens": 31, "output_tokens": 62, "total_tokens": 93}
    usage |= {"input_tokens_details": {"cached_tokens": 0}}
    usage |= {"output_tokens_details": {"reasoning_tokens": 0}}
    return {
        "id": "resp_3b1f0d6a-0000-4000-8000-000000000001",
        "object": "response",
        "created_at": 1700000000,
        "completed_at": 1700000001,
        "status": "completed",
        "model": "bench-model",
        "output": [item],
        "error": None,
        "incomplete_details": None,
        "previous_response_id": None,
        "instructions": _SYSTEM,
        "tools": [],
        "tool_choice": "none",
        "parallel_tool_calls": True,
        "max_tool_calls": None,
        "temperature": 0.2,
        "top_p": 1,
        "presence_penalty": 0,
        "frequency_penalty": 0,
        "top_logprobs": 0,
        "max_output_tokens": 128,
        "text": {"format": {"type": "text"}},
        "truncation": "auto",
        "reasoning": None,
        "usage": usage,
        "metadata": {},
        "store": True,
        "background": False,
        "service_tier": "default",
        "safety_identifier": None,
        "prompt_cache_key": None,
    }


def _messages_body(text: str) -> dict[str, Any]:
    """An Anthropic message as LocalAI writes it."""
    return {
        "id": "msg_3b1f0d6a-0000-4000-8000-000000000001",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": text}],
        "model": "bench-model",
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 31, "output_tokens": 62},
    }


def _requests() -> dict[str, dict[str, Any]]:
    """What wrk sends: the chat scenario's question in each API's shape."""
    return {
        "responses": {
            "model": "@MODEL@",
            "instructions": _SYSTEM,
            "input": _QUESTION,
            "max_output_tokens": 128,
            "temperature": 0.2,
        },
        "messages": {
            "model": "@MODEL@",
            "system": _SYSTEM,
            "messages": [{"role": "user", "content": _QUESTION}],
            "max_tokens": 128,
            "temperature": 0.2,
        },
    }


def _patch(path: Path, anchor: str, replacement: str) -> None:
    text = path.read_text()
    if anchor not in text:
        raise SystemExit(f"bench: {path} has changed; cannot find {anchor.strip()[:60]!r}")
    path.chmod(path.stat().st_mode | 0o200)  # the shared files are read-only
    path.write_text(text.replace(anchor, replacement, 1))


def add_apis(harness: Path) -> None:
    """Teach a copy of the shared harness the `responses` and `messages` scenarios."""
    text = _text(harness)
    bodies = harness / "stub" / "bodies"
    for name, body in (("responses", _responses_body(text)), ("messages", _messages_body(text))):
        (bodies / f"{name}.json").write_text(json.dumps(body, separators=(",", ":")) + "\n")
    for name, request in _requests().items():
        (harness / "requests" / f"{name}.json").write_text(json.dumps(request) + "\n")
    template = harness / "stub" / "nginx.conf.tmpl"
    _patch(
        template,
        '        BENCH_EMBED = slurp("@BODIES@/embeddings.json")\n',
        '        BENCH_EMBED = slurp("@BODIES@/embeddings.json")\n'
        '        BENCH_RESPONSES = slurp("@BODIES@/responses.json")\n'
        '        BENCH_MESSAGES = slurp("@BODIES@/messages.json")\n',
    )
    locations = "".join(
        f"        location = /v1/{name} {{\n"
        f"            content_by_lua_block {{ bench_send_json(BENCH_{name.upper()}) }}\n"
        "        }\n\n"
        for name in ("responses", "messages")
    )
    anchor = "        location = /v1/embeddings {"
    _patch(template, anchor, locations + anchor)
    endpoints = 'embed) echo "/embeddings" ;;'
    _patch(
        harness / "run_bench.sh",
        endpoints,
        endpoints + ' responses) echo "/responses" ;; messages) echo "/messages" ;;',
    )
    check = (
        '            msg = ((obj.get("choices") or [{}])[0].get("message") or {})'
        '.get("content") or ""\n'
    )
    _patch(
        harness / "benchlib.py",
        check,
        check
        + '            if kind == "responses":\n'
        + '                msg = obj["output"][0]["content"][0]["text"]\n'
        + '            elif kind == "messages":\n'
        + '                msg = obj["content"][0]["text"]\n',
    )


def _cpu_ms(record: dict[str, Any]) -> float | None:
    cpu, requests = record.get("cpu_s"), record.get("requests")
    return cpu / requests * 1000 if cpu is not None and requests else None


def paired_ratios(records: list[dict[str, Any]], scenario: str) -> list[float]:
    """The gateway's CPU per request for `scenario` over chat's, one per round (pairs run
    within one round, minutes apart at most, so a shared machine's load shifts cancel)."""
    cpu: dict[tuple[str, int], float | None] = {
        (r["scenario"], r["round"]): _cpu_ms(r) for r in records if r["target"] == "gateway"
    }
    ratios = []
    for (name, round_), value in cpu.items():
        chat = cpu.get(("chat", round_))
        if name == scenario and value is not None and chat:
            ratios.append(value / chat)
    return sorted(ratios)


def section(
    rows: list[dict[str, Any]], records: list[dict[str, Any]], conc: int
) -> tuple[list[str], list[dict[str, Any]]]:
    """The summary's table (gateway CPU per request per API, vs chat) and its verdicts."""

    def get(scenario: str, target: str, key: str) -> Any:
        for row in rows:
            if (row["scenario"], row["conc"], row["target"]) == (scenario, conc, target):
                return row[key]
        return None

    lines = [
        f"## Chat vs Responses vs Messages, relayed to the stub (c={conc})",
        "",
        "| API | direct RPS | gateway RPS | gateway p50 added ms | gateway CPU ms/req "
        "| CPU vs chat, paired per round: median [min-max] | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for scenario in SCENARIOS:
        ratios = paired_ratios(records, scenario)
        ratio = statistics.median(ratios) if ratios else None
        spread = f" [{ratios[0]:.2f}-{ratios[-1]:.2f}]" if ratios else ""
        errors = int(get(scenario, "gateway", "errors") or 0)
        errors += int(get(scenario, "direct", "errors") or 0)
        lines.append(
            f"| {scenario} | {get(scenario, 'direct', 'rps') or 0:.0f} "
            f"| {get(scenario, 'gateway', 'rps') or 0:.0f} "
            f"| {_num(get(scenario, 'gateway', 'added_p50_ms'))} "
            f"| {_num(get(scenario, 'gateway', 'cpu_ms'), 3)} | {_num(ratio)}{spread} | {errors} |"
        )
        if scenario != "chat":
            verdicts.append(
                {
                    "target": f"{scenario} CPU ms/req vs chat, c={conc}",
                    "value": ratio,
                    "op": "<=",
                    "limit": LIMIT,
                    "met": None if ratio is None else ratio <= LIMIT,
                }
            )
    return [*lines, ""], verdicts


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"
