"""Cold CLI cost: ``kb --help`` and ``kb search --json`` from process start to output.

Each run is a fresh process (``.venv/bin/kb``), so imports, index loading and the
query encoder's start-up are all included. The torch path (KB_QUERY_ENCODER=torch,
what every search paid before the ONNX encoder) is measured a few times for
comparison, and ``python -X importtime`` shows which imports remain.

Usage: python -m bench.startup [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import ROOT, eval_queries, load_average, percentiles, save

KB = str(Path(sys.executable).with_name("kb"))


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, check=False, cwd=ROOT, env=env, capture_output=True, text=True)
    return time.perf_counter() - started, proc


def import_profile(cmd: list[str], env: dict[str, str], top: int = 12) -> list[dict]:
    proc = subprocess.run([sys.executable, "-X", "importtime", *cmd], check=False, cwd=ROOT, env=env, capture_output=True, text=True)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, cumulative_us, name = (part for part in line.split(":", 1)[1].split("|"))
        name = name.rstrip()
        try:
            rows.append({"module": name.strip(), "self_ms": int(self_us) / 1000,
                         "cumulative_ms": int(cumulative_us) / 1000, "top_level": not name.startswith("  ")})
        except ValueError:
            continue
    rows = [r for r in rows if r["top_level"]]
    rows.sort(key=lambda r: -r["cumulative_ms"])
    return rows[:top]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--torch-runs", type=int, default=3)
    args = parser.parse_args(argv)
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    env.pop("KB_QUERY_ENCODER", None)
    queries = [row["query"] for row in eval_queries()]
    result: dict = {"load_before": load_average()}

    help_samples = []
    for _ in range(args.runs):
        seconds, proc = timed([KB, "--help"], env)
        assert proc.returncode == 0, proc.stderr
        help_samples.append(seconds)
    result["help"] = percentiles(help_samples) | {"median_s": sorted(help_samples)[len(help_samples) // 2]}

    sub_help = [timed([KB, "search", "--help"], env)[0] for _ in range(max(3, args.runs // 2))]
    result["search_help"] = percentiles(sub_help)

    search_samples = []
    for text in queries[: args.runs]:
        seconds, proc = timed([KB, "search", text, "--json"], env)
        assert proc.returncode == 0 and proc.stdout.startswith("{"), proc.stderr
        search_samples.append(seconds)
    result["search"] = percentiles(search_samples) | {"median_s": sorted(search_samples)[len(search_samples) // 2]}

    torch_env = dict(env, KB_QUERY_ENCODER="torch")
    torch_samples = []
    for text in queries[: args.torch_runs]:
        seconds, proc = timed([KB, "search", text, "--json"], torch_env)
        assert proc.returncode == 0, proc.stderr
        torch_samples.append(seconds)
    result["search_torch"] = percentiles(torch_samples) | {"median_s": sorted(torch_samples)[len(torch_samples) // 2]}

    result["imports_search"] = import_profile([KB, "search", queries[0], "--json"], env)
    result["imports_help"] = import_profile([KB, "--help"], env, top=6)
    result["load_after"] = load_average()
    save("startup", result)
    print(f"kb --help p50 {result['help']['p50']:.0f} ms p95 {result['help']['p95']:.0f} ms; "
          f"kb search p50 {result['search']['p50']:.0f} ms p95 {result['search']['p95']:.0f} ms; "
          f"torch path p50 {result['search_torch']['p50']:.0f} ms")
    return result


if __name__ == "__main__":
    main()
