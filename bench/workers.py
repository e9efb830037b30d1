"""Embedding on many workers (issue 17): in-process vs Dask with 1 and N workers.

Embeds the real corpus's chunks (their ``embed_text``, in the build's order: length-sorted
groups of 64, through :func:`kb.index.reuse.embed_with_reuse` with nothing cached) with

* the in-process :class:`~kb.embed.sentence.SentenceEmbedder` (torch's default threads),
* the same with one torch thread (what one core does: the per-core baseline),
* :class:`~kb.embed.parallel.DaskEmbedder` on a local cluster of 1 and of N workers
  (``cores // N`` torch threads each),

and prints chunks/s, the speed-up over in-process, the cluster's start-up seconds (processes
plus one model load per worker) and whether the vectors equal the in-process ones.
``--reference INDEX`` also compares them with that index's ``vectors.npy`` (a `kb build`).

Usage: python -m bench.workers [--workers 1,2] [--limit N] [--reference INDEX]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from bench.common import ROOT, load_average, save


def corpus_chunks(limit: int | None) -> list:
    from kb.chunk import chunk_document
    from kb.ingest.corpus import load_corpus
    from kb.ingest.parse import parse_document

    chunks = [c for doc in load_corpus(ROOT / "corpus") for c in chunk_document(doc, parse_document(doc))]
    return chunks[:limit] if limit else chunks


def embed(chunks: list, embedder) -> tuple[np.ndarray, float]:  # type: ignore[no-untyped-def]
    from kb.index.reuse import embed_with_reuse

    started = time.perf_counter()
    vectors, _ = embed_with_reuse(chunks, embedder, {}, lambda done, total: None)
    return vectors, time.perf_counter() - started


def compare(vectors: np.ndarray, reference: np.ndarray) -> dict:
    return {"identical": bool(np.array_equal(vectors, reference)),
            "max_abs_diff": float(np.abs(vectors - reference).max()) if vectors.shape == reference.shape else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="Dask cluster sizes to measure")
    parser.add_argument("--limit", type=int, default=None, help="only the first N chunks")
    parser.add_argument("--reference", type=Path, default=None, help="an index whose vectors.npy to compare with")
    args = parser.parse_args(argv)
    import torch

    from kb.embed.e5q4 import DEFAULT_MODEL_NAME
    from kb.embed.parallel import DaskEmbedder
    from kb.embed.sentence import SentenceEmbedder

    chunks = corpus_chunks(args.limit)
    n = len(chunks)
    runs: list[dict] = []
    load_before = load_average()

    started = time.perf_counter()
    local = SentenceEmbedder(DEFAULT_MODEL_NAME, device="cpu")
    load_s = time.perf_counter() - started
    threads = torch.get_num_threads()
    baseline, seconds = embed(chunks, local)
    runs.append({"mode": f"in-process, {threads} torch threads", "workers": 0, "threads": threads,
                 "startup_s": load_s, "embed_s": seconds, "identical": True, "max_abs_diff": 0.0})
    torch.set_num_threads(1)
    try:
        vectors, seconds = embed(chunks, local)
    finally:
        torch.set_num_threads(threads)
    runs.append({"mode": "in-process, 1 torch thread", "workers": 0, "threads": 1, "startup_s": load_s,
                 "embed_s": seconds, **compare(vectors, baseline)})
    del local

    for size in (int(x) for x in args.workers.split(",") if x.strip()):
        started = time.perf_counter()
        with DaskEmbedder(DEFAULT_MODEL_NAME, workers=size, device="cpu") as embedder:
            startup = time.perf_counter() - started
            vectors, seconds = embed(chunks, embedder)
        from kb.embed.parallel import worker_threads

        runs.append({"mode": f"Dask, {size} worker(s)", "workers": size, "threads": worker_threads(size),
                     "startup_s": startup, "embed_s": seconds, **compare(vectors, baseline)})

    for run in runs:
        run["chunks_per_s"] = n / run["embed_s"]
        run["speedup"] = runs[0]["embed_s"] / run["embed_s"]
    result: dict = {"chunks": n, "runs": runs, "load_before": load_before, "load_after": load_average()}
    if args.reference:
        reference = np.load(args.reference / "current" / "vectors.npy")
        result["reference"] = {"index": str(args.reference), **compare(baseline, reference)}
    for run in runs:
        print(f"{run['mode']:<32} {run['chunks_per_s']:6.2f} chunks/s  ×{run['speedup']:.2f}  "
              f"start-up {run['startup_s']:5.1f} s  identical: {run['identical']} (max |Δ| {run['max_abs_diff']})")
    if "reference" in result:
        print(f"in-process vs {args.reference}/current/vectors.npy: identical {result['reference']['identical']}")
    print(f"saved {save('workers', result)}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
