"""Plots of the bench summaries (needs matplotlib, the `bench` extra).

  .venv/bin/python bench/plot.py bench/results/summary.json        # rps_latency.png beside it
  .venv/bin/python bench/plot.py bench/results/peers/summary.json  # side_by_side.png beside it
run_gateway_bench.py's summary gives RPS and added p50 vs concurrency; side_by_side.py's gives
grouped bars per scenario and target (RPS, added p50/p99, CPU per request, RSS).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

TARGETS = {"gateway": "tab:blue", "ref": "tab:orange", "direct": "tab:gray"}
SCENARIOS = {"chat": "chat", "stream": "stream (50 events, burst)", "embed": "embeddings"}


def series(rows: list[dict[str, Any]], scenario: str, target: str, key: str) -> tuple[list, list]:
    """(concurrencies, values) of one target in one scenario, skipping unmeasured cells."""
    points = sorted(
        (r["conc"], r[key])
        for r in rows
        if r["scenario"] == scenario and r["target"] == target and r[key] is not None
    )
    return [c for c, _ in points], [v for _, v in points]


def plot(summary: dict[str, Any], out: Path) -> None:
    """One column per scenario: RPS on top, added p50 latency below, both log-scaled."""
    rows = summary["main"]
    scenarios = [s for s in SCENARIOS if any(r["scenario"] == s for r in rows)]
    fig, axes = plt.subplots(2, len(scenarios), figsize=(4.2 * len(scenarios), 7), squeeze=False)
    for col, scenario in enumerate(scenarios):
        rps_ax, lat_ax = axes[0][col], axes[1][col]
        for target, color in TARGETS.items():
            rps_ax.plot(*series(rows, scenario, target, "rps"), "o-", color=color, label=target)
            if target != "direct":
                lat_ax.plot(*series(rows, scenario, target, "added_p50_ms"), "o-", color=color)
        rps_ax.set_title(SCENARIOS[scenario])
        rps_ax.set_ylabel("requests/s")
        lat_ax.set_ylabel("p50 added vs direct, ms")
        lat_ax.set_xlabel("concurrency (connections)")
        concs = sorted({r["conc"] for r in rows if r["scenario"] == scenario})
        for ax in (rps_ax, lat_ax):
            ax.set_xscale("log", base=2)
            ax.set_xticks(concs, [str(c) for c in concs])
            ax.set_yscale("log")
            ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend()
    meta = summary["meta"]
    fig.suptitle(
        f"{meta['gateway']} | {meta['date']} | loadavg median {meta.get('load_median', 0):.1f}",
        fontsize=8,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


PEER_COLORS = {
    "direct": "tab:gray",
    "nginx": "tab:green",
    "gateway": "tab:blue",
    "gateway-w2": "tab:cyan",
    "ref": "tab:orange",
    "portkey": "tab:purple",
    "litellm": "tab:red",
}


ADDED_FLOOR_MS = 0.01


def peer_panels(concs: list[int]) -> list[tuple[str, int, str]]:
    """(row key, concurrency, title) of each panel: lowest and highest concurrency measured."""
    lo, hi = min(concs), max(concs)
    return [
        ("rps", lo, f"requests/s, c={lo}"),
        ("rps", hi, f"requests/s, c={hi}"),
        ("added_p50_ms", lo, f"p50 added vs direct, ms (floor {ADDED_FLOOR_MS}), c={lo}"),
        ("added_p99_ms", hi, f"p99 added vs direct, ms (floor {ADDED_FLOOR_MS}), c={hi}"),
        ("cpu_ms", hi, f"CPU ms per request, c={hi}"),
        ("rss_mb", hi, f"peak RSS MB, c={hi}"),
    ]


def peer_bars(ax: Any, rows: list[dict[str, Any]], key: str, conc: int, names: list[str]) -> None:
    """Grouped bars: one group per scenario, one bar per target; 'failed' where a check failed,
    'none' where no request completed."""
    scenarios = [s for s in SCENARIOS if any(r["scenario"] == s for r in rows)]
    by_cell = {(r["scenario"], r["conc"], r["target"]): r for r in rows}
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        for x, scenario in enumerate(scenarios):
            row, pos = by_cell.get((scenario, conc, name), {}), x - 0.4 + width * (i + 0.5)
            if "not_run" in row:
                text = "failed" if "check" in row["not_run"] else "none"
                ax.text(
                    pos, 0.02, text, rotation=90, fontsize=7, transform=ax.get_xaxis_transform()
                )
            elif row.get(key) is not None:
                # added latency within noise of direct can be <= 0: drawn at the floor
                value = max(row[key], ADDED_FLOOR_MS) if key.startswith("added") else row[key]
                ax.bar(pos, value, width, color=PEER_COLORS.get(name), label=name)
    ax.set_xticks(range(len(scenarios)), [SCENARIOS[s] for s in scenarios], fontsize=8)


def plot_peers(summary: dict[str, Any], out: Path) -> None:
    """Six panels of grouped bars: RPS at the lowest and highest concurrency, added p50/p99,
    CPU per request and peak RSS; latency and CPU on log scales."""
    rows, names = summary["rows"], [n for n in PEER_COLORS if n in summary["targets"]]
    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    for ax, (key, conc, title) in zip(axes.flat, peer_panels(summary["meta"]["conc"]), strict=True):
        shown = [n for n in names if n != "direct" or not key.startswith("added")]
        peer_bars(ax, rows, key, conc, shown)
        ax.set_title(title, fontsize=10)
        ax.set_yscale("linear" if key == "rss_mb" else "log")
        ax.grid(True, axis="y", which="both", alpha=0.3)
    handles = {}
    for ax in axes.flat:
        handles.update({label: h for h, label in zip(*ax.get_legend_handles_labels(), strict=True)})
    fig.legend(
        [handles[n] for n in names if n in handles],
        [n for n in names if n in handles],
        loc="lower center",
        ncol=len(names),
        fontsize=9,
    )
    meta = summary["meta"]
    fig.suptitle(
        f"{meta['gateway']} | {meta['date']} | {meta['rounds']} rounds x {meta['duration']} s | "
        f"loadavg median {meta['load_median']:.1f}",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(out, dpi=80)
    plt.close(fig)


def main() -> None:
    """Command line: the summary.json to read and the PNG to write."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("summary", type=Path)
    parser.add_argument("--out", type=Path, help="PNG path (default: rps_latency.png beside it)")
    args = parser.parse_args()
    summary = json.loads(args.summary.read_text())
    if "rows" in summary:  # side_by_side.py
        plot_peers(summary, args.out or args.summary.with_name("side_by_side.png"))
    else:
        plot(summary, args.out or args.summary.with_name("rps_latency.png"))


if __name__ == "__main__":
    main()
