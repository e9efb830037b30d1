"""Warm query latency of the default search (learned ranker) against the hand-set formula.

Both rankers run in one process on one loaded index, over the eval queries, with the query
encoder's embedding cache cleared before each query (so every query really embeds). The
target (issue 26): warm p95 ≤ 30 ms with embedding and ranker included.

Usage: python -m bench.learned [--index index] [--rounds 2]
"""

from __future__ import annotations

import argparse
import time

from bench.common import eval_queries, load_average, percentiles


def _clear(searcher) -> None:  # type: ignore[no-untyped-def]
    cached = getattr(searcher.embedder, "_cached", None)
    if cached is not None:
        cached.cache_clear()


def main(argv: list[str] | None = None) -> int:
    from kb.service import open_searcher

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="index")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    queries = [row["query"] for row in eval_queries()]
    print(f"{len(queries)} queries × {args.rounds} rounds; load average {load_average()}")
    for label, choice in (("learned ranker (default)", None), ("formula", "formula")):
        searcher = open_searcher(args.index, ranker=choice)
        for query in queries[:20]:
            searcher.search(query)
        seconds: list[float] = []
        ranking: list[float] = []
        for _ in range(args.rounds):
            for query in queries:
                _clear(searcher)
                start = time.perf_counter()
                result = searcher.search(query)
                seconds.append(time.perf_counter() - start)
                ranking.append(result.timings.get("fusion", 0.0))
        total, fusion = percentiles(seconds), percentiles(ranking)
        print(f"{label:26s} total p50 {total['p50']:.1f} ms  p95 {total['p95']:.1f} ms  "
              f"p99 {total['p99']:.1f} ms | ranking+diversify p50 {fusion['p50']:.1f} ms  p95 {fusion['p95']:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
