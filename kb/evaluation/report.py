"""``kb eval``: run the query set, print and write the results, enforce the recall floor."""

from __future__ import annotations

import time
import tomllib
from pathlib import Path

from kb.evaluation.metrics import (
    SPLITS,
    TUNING_SPLITS,
    chart,
    evaluate_all,
    load_query_files,
    markdown_table,
    worst_queries,
)
from kb.search.searcher import METHODS
from kb.service import open_searcher


def run_eval(
    *,
    queries: list[Path],
    split: str,
    methods: list[str],
    out: Path | None,
    check: bool,
    floor_file: Path,
    index: Path | None,
    model: str | None,
) -> int:
    unknown = [m for m in methods if m not in METHODS]
    if unknown or split not in (*SPLITS, "all"):
        print(f"error: methods must be among {METHODS} and split one of {SPLITS + ('all',)}")
        return 2
    all_queries = load_query_files(queries)
    splits = list(SPLITS) if split == "all" else [split]
    searcher = open_searcher(index, model=model, dense="dense" in methods or "hybrid" in methods)
    started = time.perf_counter()
    by_split = {}
    sections = []
    for name in splits:
        subset = [q for q in all_queries if q.split == name]
        if not subset:  # a query file without this split: nothing to report (ranx needs queries)
            continue
        by_split[name] = evaluate_all(searcher, subset, methods)
        table = markdown_table(by_split[name], f"{name} ({len(subset)} queries)")
        print(table)
        sections.append(table)
        # Per-query lines only for splits that may be tuned on: reading the held-out splits'
        # worst queries is how they would stop being held out.
        lead = "hybrid" if "hybrid" in by_split[name] else methods[0]
        if lead in by_split[name] and name in TUNING_SPLITS:
            worst = worst_queries(subset, by_split[name][lead])
            lines = [f"Worst {name} queries ({lead}):", ""]
            lines += [f"- {q.id} [{q.type}] {q.query} — R@10 {v['recall@10']:.2f}, MRR@10 {v['mrr@10']:.2f}" for q, v in worst]
            sections.append("\n".join(lines) + "\n")
    elapsed = time.perf_counter() - started
    print(f"evaluated in {elapsed:.1f} s (model {searcher.index.model})")
    if split == "all" and out is not None:
        header = (
            "# Retrieval evaluation\n\nRegenerate with `kb eval` (writes this file and `results.png`).\n"
            f"Model: `{searcher.index.model}`; {len(all_queries)} queries from {', '.join(f'`{q}`' for q in queries)}; "
            "tune, dev and blind were used to choose settings, heldout and blind_heldout never were "
            "(their per-query results are not listed). A hit counts when its "
            "line span overlaps a relevant passage and covers at most 60 lines. Metrics computed with ranx.\n\n"
        )
        out.write_text(header + "\n".join(sections), encoding="utf-8")
        chart(by_split, out.with_suffix(".png"))
        print(f"wrote {out} and {out.with_suffix('.png')}")
    if check:
        spec = tomllib.loads(floor_file.read_text(encoding="utf-8"))
        reports = by_split.get(spec["split"])
        if reports is None or spec["method"] not in reports:
            print(f"error: --check needs split {spec['split']} and method {spec['method']}")
            return 2
        value = reports[spec["method"]].overall[spec["metric"]]
        verdict = "ok" if value >= spec["floor"] else "BELOW FLOOR"
        print(f"floor check: {spec['method']} {spec['split']} {spec['metric']} = {value:.3f} (floor {spec['floor']}) {verdict}")
        return 0 if value >= spec["floor"] else 1
    return 0
