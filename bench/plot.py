"""Plot RPS and added p50 latency vs concurrency from a run_gateway_bench.py summary.json.

  .venv/bin/python bench/plot.py bench/results/summary.json      # writes rps_latency.png beside it
Needs matplotlib (the `bench` extra).
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


def main() -> None:
    """Command line: the summary.json to read and the PNG to write."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("summary", type=Path)
    parser.add_argument("--out", type=Path, help="PNG path (default: rps_latency.png beside it)")
    args = parser.parse_args()
    summary = json.loads(args.summary.read_text())
    plot(summary, args.out or args.summary.with_name("rps_latency.png"))


if __name__ == "__main__":
    main()
