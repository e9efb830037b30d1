"""Warm query latency over the eval queries, split by stage, and recall per query encoder.

Every query encoder a searcher can use is measured on one loaded index in one
process (so ranking code cannot change between the rows):

* ``torch``: sentence-transformers fp32 (what ``kb build`` embeds passages with);
* ``onnx-fp32``: the ONNX export, same precision, no torch;
* ``onnx-int8``: the ONNX export with dynamic int8 weights (the default).

Stages: expand (query understanding), lexical (BM25), embed (query embedding,
split out of SearchResult.timings["dense"]), dense (FAISS search and score
array), fusion (fuse, diversify); total is the wall time of ``Searcher.search``.
The ONNX encoders cache embeddings (LRU); the cache is cleared before each
query so "embed" is a real forward pass, and the cached case is reported apart.

Usage: python -m bench.query [--index index] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from bench.common import ROOT, eval_queries, load_average, percentiles, save

STAGES = ("expand", "lexical", "embed", "dense", "fusion", "total")


class TimedEmbedder:
    """Wraps an embedder and records how long each ``encode_query`` took."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.last = 0.0
        self.clear_cache = getattr(inner, "clear_cache", lambda: None)

    def encode_query(self, text: str) -> np.ndarray:
        started = time.perf_counter()
        vector = self.inner.encode_query(text)
        self.last = time.perf_counter() - started
        return vector

    def encode_queries(self, texts, **kwargs):  # type: ignore[no-untyped-def]
        return self.inner.encode_queries(texts, **kwargs)


def make_embedder(variant: str, model: str):  # type: ignore[no-untyped-def]
    if variant == "torch":
        from kb.embed.sentence import SentenceEmbedder

        return SentenceEmbedder(model)
    from kb.embed.onnx.runtime import QueryEncoder

    return QueryEncoder(model, variant=variant.removeprefix("onnx-"))


def measure_latency(searcher, embedder: TimedEmbedder, queries: list[str], rounds: int) -> dict:  # type: ignore[no-untyped-def]
    for text in queries[:5]:  # warm-up: first calls allocate
        searcher.search(text)
    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for _ in range(rounds):
        for text in queries:
            embedder.clear_cache()
            started = time.perf_counter()
            result = searcher.search(text)
            total = time.perf_counter() - started
            timings = result.timings
            samples["expand"].append(timings.get("expand", 0.0))
            samples["lexical"].append(timings.get("lexical", 0.0))
            samples["embed"].append(embedder.last)
            samples["dense"].append(max(0.0, timings.get("dense", 0.0) - embedder.last))
            samples["fusion"].append(timings.get("fusion", 0.0))
            samples["total"].append(total)
    cached = []
    for text in queries:  # the same query again: the app re-runs it when a filter changes
        searcher.search(text)
        started = time.perf_counter()
        searcher.search(text)
        cached.append(time.perf_counter() - started)
    return {stage: percentiles(values) for stage, values in samples.items()} | {"total_cached": percentiles(cached)}


def measure_recall(searcher, methods=("hybrid", "dense")) -> dict:  # type: ignore[no-untyped-def]
    from kb.evaluation.metrics import load_queries

    queries = load_queries(ROOT / "eval" / "queries.jsonl")
    from kb.evaluation.metrics import evaluate_method

    out = {}
    for split in ("tune", "heldout"):
        subset = [q for q in queries if q.split == split]
        for method in methods:
            report = evaluate_method(searcher, subset, method)
            out[f"{split}/{method}"] = {k: round(v, 4) for k, v in report.overall.items()}
    return out


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variants", default="torch,onnx-fp32,onnx-int8")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from kb.index.storage import load_index
    from kb.search.searcher import Searcher

    index = load_index(args.index)
    queries = [row["query"] for row in eval_queries()]
    result: dict = {"index": str(args.index), "chunks": len(index.chunks), "queries": len(queries),
                    "rounds": args.rounds, "variants": {}, "load_before": load_average()}
    lexical_recall = None
    for variant in args.variants.split(","):
        started = time.perf_counter()
        embedder = TimedEmbedder(make_embedder(variant, index.model))
        load_s = time.perf_counter() - started
        searcher = Searcher(index, embedder)
        latency = measure_latency(searcher, embedder, queries, args.rounds)
        recall = measure_recall(searcher)
        if lexical_recall is None:
            lexical_recall = measure_recall(searcher, methods=("lexical",))
        result["variants"][variant] = {"load_s": load_s, "latency_ms": latency, "recall": recall}
        print(f"{variant}: load {load_s:.2f}s total p50 {latency['total']['p50']:.1f} ms "
              f"p95 {latency['total']['p95']:.1f} ms; embed p50 {latency['embed']['p50']:.1f} ms; "
              f"tune hybrid R@10 {recall['tune/hybrid']['recall@10']:.3f}", flush=True)
        del searcher, embedder
    result["lexical_recall"] = lexical_recall
    result["load_after"] = load_average()
    save("query", result)
    return result


if __name__ == "__main__":
    main()
