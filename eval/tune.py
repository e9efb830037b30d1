"""Grid search over search settings on the tune, dev and blind splits only (never the held-out splits).

Usage: .venv/bin/python eval/tune.py [--index index]
Prints Recall@10 / MRR@10 per setting; the chosen defaults live in kb.search.searcher.SearchConfig.
"""

from __future__ import annotations

import argparse
import functools
import itertools
from dataclasses import replace
from pathlib import Path

from kb.evaluation.metrics import DEFAULT_QUERY_FILES, TUNING_SPLITS, evaluate_method, load_query_files
from kb.service import open_searcher


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", default="index")
    parser.add_argument("--queries", default="eval/queries.jsonl")
    args = parser.parse_args()
    searcher = open_searcher(args.index)
    searcher.embedder.encode_query = functools.lru_cache(maxsize=None)(searcher.embedder.encode_query)
    files = [Path(args.queries)] + [Path(args.queries).with_name(f.name) for f in DEFAULT_QUERY_FILES[1:]]
    queries = [q for q in load_query_files(files) if q.split in TUNING_SPLITS]
    base = searcher.config
    # The knobs that mattered when the defaults were chosen (see the issue notes); a full
    # product of these (576 settings) takes about an hour on two cores; trim it to what you test.
    grid = {
        "fusion": ["sum", "rrf"],
        "dense_weight": [0.5, 0.6, 0.8],
        "flatness_gain": [0.0, 3.0],
        "sudachi_weight": [0.0, 0.2],
        "supporting_prior": [0.5, 0.7, 1.0],
        "per_doc": [4, 6],
        "kpi_boost": [1.0, 1.6],
        "paragraph_prior": [0.85, 1.0],
    }
    rows = []
    for values in itertools.product(*grid.values()):
        config = replace(base, **dict(zip(grid, values)))
        searcher.config = config
        report = evaluate_method(searcher, queries, "hybrid")
        rows.append((report.overall["recall@10"], report.overall["mrr@10"], dict(zip(grid, values))))
        print(f"R@10 {rows[-1][0]:.3f}  MRR@10 {rows[-1][1]:.3f}  {rows[-1][2]}", flush=True)
    print("\nbest:")
    for row in sorted(rows, key=lambda r: (-r[0], -r[1]))[:5]:
        print(f"R@10 {row[0]:.3f}  MRR@10 {row[1]:.3f}  {row[2]}")


if __name__ == "__main__":
    main()
