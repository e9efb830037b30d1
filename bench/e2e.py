"""End to end at scale: a real kb index of N synthetic chunks, searched by the real Searcher.

bench.scale measures the dense and lexical parts on their own; this puts them together the
way a user's query meets them: ``kb.index.storage.load_index`` opens an index folder of N
chunks (chunk store, IVF/flat FAISS index, lemma and Sudachi BM25 fields, manifest with
checksums), and ``kb.search.searcher.Searcher.search`` answers the 125 eval queries with the
real ONNX query encoder, expansion, both lexical fields, dense search, fusion, priors and
diversification. Reported: p50/p95 of every stage the searcher times and of the whole call,
load time (with and without checksum verification), resident memory of the searching
process, and the build's peak memory per stage.

Synthetic content (from bench.scale, reused from ``$KB_SCALE_DIR``): vectors clustered like
the real ones; lemma and Sudachi term lists drawn from the real chunks' terms with a
growing rare-term tail; chunk records are the real chunks' records repeated under new
document names (so records have the real size, ~3 KB, and filters have real values).

Usage: python -m bench.e2e [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np

from bench.common import ROOT, MemorySampler, dispatch, load_average, percentiles, rss_mb, rss_parts_mb, run_child, save
from bench.scale import DATA, DIM, SEED, lexical_inputs, prepare, synthetic_term_lists

QUERY_ROUNDS = 2


def folder(size: int) -> Path:
    return DATA / f"e2e_{size}"


def real_chunks() -> list:
    from kb.index.storage import load_index

    return list(load_index(ROOT / "index").chunks)


def sudachi_inputs() -> dict:
    """The real chunks' Sudachi term lists (pruned as the build prunes them), cached."""
    path = DATA / "sudachi_inputs.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    from kb.analysis.sudachi import SudachiAnalyzer, prune_groups

    analyzer = SudachiAnalyzer()
    lists = prune_groups([analyzer.terms(c.search_text) for c in real_chunks()])
    data = {"term_lists": lists}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return data


def synthetic_chunks(size: int) -> Iterator:
    """The real chunks over and over, each copy under its own document name (unique ids)."""
    real = real_chunks()
    for i in range(size):
        template = real[i % len(real)]
        doc = f"{template.doc}~{i // len(real)}"
        yield replace(template, doc=doc, id=f"{doc}:{template.line_start}-{template.line_end}")


def assemble(size: int) -> dict:
    """Write a complete index folder of ``size`` chunks, timing and sampling memory per stage."""
    from kb import __version__
    from kb.analysis.lemmas import ANALYZER_VERSION
    from kb.index.chunkstore import write_chunk_store
    from kb.index.dense import build_dense, choose_spec, save_dense
    from kb.index.lexical import LexicalIndex
    from kb.index.manifest import FORMAT_VERSION, LexicalInfo, ModelInfo
    from kb.index.signals import SUDACHI_DIR
    from kb.index.storage import MANIFEST, artefact_checksums, load_index
    from kb.ingest.parse import PARSER_VERSION

    target = folder(size)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    real_manifest = load_index(ROOT / "index").manifest
    lemma_inputs, sudachi = lexical_inputs(), sudachi_inputs()
    seconds: dict[str, float] = {}
    with MemorySampler() as memory:
        for stage, make in (
            ("chunks", lambda: write_chunk_store(synthetic_chunks(size), target)),
            ("vectors", lambda: np.save(target / "vectors.npy", np.load(DATA / "vectors.npy", mmap_mode="r")[:size])),
            ("dense", lambda: save_dense(build_dense(np.load(target / "vectors.npy", mmap_mode="r"),
                                                     choose_spec(size, DIM)), target / "dense.faiss")),
            ("lexical", lambda: LexicalIndex.build_to(
                synthetic_term_lists(size, lemma_inputs, np.random.default_rng(SEED + size)), target / "lexical")),
            ("sudachi", lambda: LexicalIndex.build_to(
                synthetic_term_lists(size, sudachi, np.random.default_rng(SEED + size + 1)), target / SUDACHI_DIR)),
        ):
            memory.stage = stage
            started = time.perf_counter()
            make()
            seconds[stage] = time.perf_counter() - started
        memory.stage = "manifest"
        started = time.perf_counter()
        with (target / "hashes.jsonl").open("w", encoding="utf-8") as out:
            for i in range(size):
                out.write(json.dumps({"id": str(i), "content_hash": f"{i:064x}"}) + "\n")
        manifest = replace(
            real_manifest, format_version=FORMAT_VERSION, kb_version=__version__, parser_version=PARSER_VERSION,
            built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), model=ModelInfo(real_manifest.model.name, DIM),
            dense_index=choose_spec(size, DIM),
            lexical=LexicalInfo("bm25s", "synthetic lemma lists", ANALYZER_VERSION),
            chunk_count=size, chunk_counts={}, build_seconds={k: round(v, 3) for k, v in seconds.items()},
            embedded=0, reused_embeddings=size, artefacts=artefact_checksums(target),
        )
        (target / MANIFEST).write_text(json.dumps(manifest.to_json(), ensure_ascii=False), encoding="utf-8")
        seconds["manifest"] = time.perf_counter() - started
    return {"size": size, "seconds": seconds, "peak_mb": memory.peaks,
            "disk_mb": sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) / 2**20}


def serve(size: int) -> dict:
    """Load the index as the app does and answer the eval queries; one thread, as one request."""
    import faiss

    from bench.common import eval_queries
    from kb.embed.sentence import query_embedder
    from kb.index.storage import load_index
    from kb.search.searcher import Filters, Searcher

    faiss.omp_set_num_threads(1)
    base = rss_mb()
    started = time.perf_counter()
    load_index(folder(size), verify=True)
    verified_s = time.perf_counter() - started
    started = time.perf_counter()
    index = load_index(folder(size), verify=False)
    load_s = time.perf_counter() - started
    encoder = query_embedder(index.model)
    searcher = Searcher(index, encoder)
    queries = [row["query"] for row in eval_queries()]
    for query in queries[:5]:  # compiled BM25 loop, ONNX session warm-up
        searcher.search(query)
    loaded_mb = rss_mb()
    stages: dict[str, list[float]] = {}
    total: list[float] = []
    filtered: list[float] = []
    for _ in range(QUERY_ROUNDS):
        for query in queries:
            clear = getattr(encoder, "clear_cache", None)
            if clear:  # every query embedded afresh, as a new question is
                clear()
            started = time.perf_counter()
            result = searcher.search(query)
            total.append(time.perf_counter() - started)
            for stage, value in result.timings.items():
                stages.setdefault(stage, []).append(value)
    for query in queries[:40]:
        started = time.perf_counter()
        searcher.search(query, filters=Filters(city="熊本市", kind="measure"))
        filtered.append(time.perf_counter() - started)
    return {"size": size, "load_s": load_s, "load_verified_s": verified_s, "rss_mb": rss_mb(), "rss_parts_mb": rss_parts_mb(),
            "loaded_mb": loaded_mb, "base_mb": base, "total_ms": percentiles(total),
            "filtered_ms": percentiles(filtered), "stages_ms": {k: percentiles(v) for k, v in stages.items()},
            "dense_index": index.manifest.dense_index.type}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--keep", action="store_true", help="keep the assembled index folders")
    parser.add_argument("--reuse", action="store_true", help="search a kept folder again instead of assembling it")
    args = parser.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    prepare(max(sizes))
    from bench.common import load as load_section

    previous = (load_section("e2e") or {}).get("runs", {})
    result: dict = {"load_before": load_average(), "runs": dict(previous)}
    for size in sizes:
        kept = args.reuse and (folder(size) / "manifest.json").is_file() and str(size) in previous
        built = previous[str(size)]["build"] if kept else run_child("bench.e2e", ["assemble", str(size)], timeout=7200)
        served = run_child("bench.e2e", ["serve", str(size)], timeout=3600)
        result["runs"][str(size)] = {"build": built, "serve": served}
        print(f"e2e {size}: search p95 {served['total_ms']['p95']:.1f} ms, rss {served['rss_mb']:.0f} MB, "
              f"build peak {max(built['peak_mb'].values()):.0f} MB", flush=True)
        save("e2e", result)
        if not args.keep:
            shutil.rmtree(folder(size), ignore_errors=True)
    result["load_after"] = load_average()
    save("e2e", result)
    return result


if __name__ == "__main__":
    dispatch({"assemble": lambda size: assemble(int(size)), "serve": lambda size: serve(int(size))}, main)
