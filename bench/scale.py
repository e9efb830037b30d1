"""Scale benchmark: synthetic corpora of 10^4, 10^5, 10^6 chunks, dense and lexical.

Data (made once into ``$KB_SCALE_DIR``, default /tmp/kb-scale, and reused):

* vectors: 384-d like the real model's, generated around the real index's chunk
  vectors so they are clustered like real data, not uniform noise: each is a
  real vector moved part-way towards one of its 8 nearest real neighbours, plus
  a random multiple of the difference of two other real vectors, plus a little
  isotropic noise, re-normalised. The statistics (mean pairwise cosine,
  nearest-neighbour cosine) are reported next to the real ones.
* queries: the 125 eval queries embedded by the real model (ONNX fp32 export);
  ground truth is exact inner-product top-100 over the first N vectors.
* lexical documents: term lists built from the real chunks' lemma lists: a
  length drawn from the real lengths, 60% of the terms from one real chunk (topic
  co-occurrence), 30% from the real corpus-wide term frequencies, 10% from a
  Zipf-distributed tail of 300k rare terms (vocabulary keeps growing with the
  corpus, as Heaps' law says); the queries are the eval queries' weighted lemmas
  exactly as :meth:`kb.search.searcher.Searcher.lexical_scores` builds them.

Each index is built in one child process (build time, peak memory) and searched
in another (load time, resident memory, latency of single queries on one
thread, recall@10 against exact search), so the memory figures are clean.

Usage: python -m bench.scale [--sizes 10000,100000,1000000] [--types flat,hnsw,ivfsq8,ivfpq]
                             [--skip-lexical] [--skip-dense]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from bench.common import ROOT, dispatch, load_average, peak_rss_mb, percentiles, rss_mb, run_child, save

DATA = Path(os.environ.get("KB_SCALE_DIR", "/tmp/kb-scale"))
DIM = 384
SEED = 20261123
SIGMA, MIX = 0.15, 0.3
#: Search-time parameters swept per type (the index is built once).
SWEEPS = {"flat": [{}], "hnsw": [{"ef_search": 64}, {"ef_search": 128}, {"ef_search": 256}, {"ef_search": 512}],
          "ivfsq8": [{"nprobe": 16}, {"nprobe": 32}, {"nprobe": 64}, {"nprobe": 128}, {"nprobe": 256}],
          "ivfpq": [{"nprobe": 32}, {"nprobe": 64}, {"nprobe": 128}]}
#: IVF-PQ alone ranks too coarsely; re-ranking its top candidates exactly from the
#: memory-mapped float32 vectors (page cache, not RSS) is the memory-starved option.
RERANK = (200, 1000)
CANDIDATES = 100  # what fusion takes from each ranker (SearchConfig.candidates)


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------


def real_vectors() -> np.ndarray:
    from kb.index.storage import load_index

    return np.asarray(load_index(ROOT / "index").vectors, dtype=np.float32)


def generate_vectors(real: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    sims = real @ real.T
    np.fill_diagonal(sims, -np.inf)
    neighbours = np.argsort(-sims, axis=1)[:, :8]
    n = len(real)
    a = rng.integers(0, n, count)
    b = neighbours[a, rng.integers(0, 8, count)]
    c, d = rng.integers(0, n, count), rng.integers(0, n, count)
    lam = rng.uniform(0, 0.5, (count, 1)).astype(np.float32)
    mu = rng.normal(0, MIX, (count, 1)).astype(np.float32)
    noise = rng.standard_normal((count, real.shape[1]), dtype=np.float32) * (SIGMA / np.sqrt(real.shape[1]))
    v = real[a] + lam * (real[b] - real[a]) + mu * (real[c] - real[d]) + noise
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v.astype(np.float32)


def vector_stats(x: np.ndarray, sample: int = 2000) -> dict:
    y = x[:sample]
    sims = y @ x[: min(len(x), 20_000)].T
    for i in range(len(y)):
        sims[i, i] = -np.inf
    top = -np.sort(-sims, axis=1)
    pairs = y @ x[sample : 2 * sample].T if len(x) >= 2 * sample else y @ y.T
    return {"mean_pair_cos": float(pairs.mean()), "nn1_cos": float(top[:, 0].mean()), "nn10_cos": float(top[:, 9].mean()),
            "over": int(min(len(x), 20_000))}


def prepare(max_size: int) -> dict:
    DATA.mkdir(parents=True, exist_ok=True)
    info_path = DATA / "info.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    real = real_vectors()
    vec_path = DATA / "vectors.npy"
    if info.get("vectors") != max_size or not vec_path.is_file():
        rng = np.random.default_rng(SEED)
        out = np.lib.format.open_memmap(vec_path, mode="w+", dtype=np.float32, shape=(max_size, DIM))
        for start in range(0, max_size, 50_000):
            out[start : start + 50_000] = generate_vectors(real, min(50_000, max_size - start), rng)
        out.flush()
        del out
        info["vectors"] = max_size
        for stale in DATA.glob("gt_*.npy"):  # ground truth of the previous vectors
            stale.unlink()
    if not (DATA / "queries.npy").is_file():
        from bench.common import eval_queries
        from kb.embed.onnx.runtime import QueryEncoder

        encoder = QueryEncoder(json.loads((ROOT / "index" / "current" / "manifest.json").read_text())["model"]["name"], variant="fp32")
        np.save(DATA / "queries.npy", encoder.encode_queries([r["query"] for r in eval_queries()]))
    vectors = np.load(vec_path, mmap_mode="r")
    info["stats_real"] = vector_stats(real, sample=min(len(real) // 2, 2000))
    info["stats_synthetic"] = vector_stats(np.asarray(vectors[:50_000]))
    info_path.write_text(json.dumps(info, indent=2))
    return info


def ground_truth(size: int, k: int = 100) -> np.ndarray:
    path = DATA / f"gt_{size}.npy"
    if path.is_file():
        return np.load(path)
    vectors = np.load(DATA / "vectors.npy", mmap_mode="r")
    queries = np.load(DATA / "queries.npy")
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, size, 100_000):
        block = np.asarray(vectors[start : min(size, start + 100_000)])
        scores = queries @ block.T
        ids = np.arange(start, start + len(block))[None, :].repeat(len(queries), 0)
        scores = np.concatenate([best_scores, scores], axis=1)
        ids = np.concatenate([best_ids, ids], axis=1)
        keep = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(scores, keep, 1)
        best_ids = np.take_along_axis(ids, keep, 1)
    np.save(path, best_ids)
    return best_ids


# --------------------------------------------------------------------------
# dense children
# --------------------------------------------------------------------------


def dense_build(size: int, kind: str) -> dict:
    import faiss

    from kb.index.dense import build_dense, save_dense, spec_for_type

    vectors = np.load(DATA / "vectors.npy", mmap_mode="r")[:size]
    spec = spec_for_type(kind, size, DIM)
    started = time.perf_counter()
    index = build_dense(vectors, spec)
    build_s = time.perf_counter() - started
    path = DATA / f"dense_{size}_{kind}.faiss"
    save_dense(index, path)
    return {"build_s": build_s, "peak_mb": peak_rss_mb(), "file_mb": path.stat().st_size / 2**20,
            "spec": spec.to_dict(), "threads": faiss.omp_get_max_threads()}


def dense_serve(size: int, kind: str) -> dict:
    import faiss

    from kb.index.dense import DenseIndexSpec, configure, load_dense, spec_for_type

    faiss.omp_set_num_threads(1)  # one request = one thread; the app serves several at once
    base = rss_mb()
    spec = spec_for_type(kind, size, DIM)
    started = time.perf_counter()
    index = load_dense(DATA / f"dense_{size}_{kind}.faiss", spec)
    load_s = time.perf_counter() - started
    loaded_mb = rss_mb()
    queries = np.load(DATA / "queries.npy")
    truth = np.load(DATA / f"gt_{size}.npy")[:, :10]
    runs = []
    sweep = list(SWEEPS[kind])
    if kind == "ivfsq8" and {"nprobe": spec.nprobe} not in sweep:  # what choose_spec would use
        sweep.append({"nprobe": spec.nprobe})
        sweep.sort(key=lambda p: p["nprobe"])
    for params in sweep:
        configure(index, DenseIndexSpec(**(spec.to_dict() | params)))
        for q in queries[:10]:
            index.search(q[None], CANDIDATES)
        latencies, hits = [], 0
        for round_ in range(2):
            for i, q in enumerate(queries):
                started = time.perf_counter()
                _, ids = index.search(q[None], CANDIDATES)
                latencies.append(time.perf_counter() - started)
                if round_ == 0:
                    hits += len(set(ids[0][:10].tolist()) & set(truth[i].tolist()))
        runs.append({"params": params, "latency_ms": percentiles(latencies), "recall@10": hits / (10 * len(queries))})
        if kind == "ivfpq" and params.get("nprobe") == 64:
            vectors = np.load(DATA / "vectors.npy", mmap_mode="r")
            for depth in RERANK:
                latencies, hits = [], 0
                for round_ in range(2):
                    for i, q in enumerate(queries):
                        started = time.perf_counter()
                        _, ids = index.search(q[None], depth)
                        found = np.sort(ids[0][ids[0] >= 0])
                        exact = np.asarray(vectors[found]) @ q
                        best = found[np.argsort(-exact, kind="stable")[:CANDIDATES]]
                        latencies.append(time.perf_counter() - started)
                        if round_ == 0:
                            hits += len(set(best[:10].tolist()) & set(truth[i].tolist()))
                runs.append({"params": params | {"rerank": depth}, "latency_ms": percentiles(latencies),
                             "recall@10": hits / (10 * len(queries))})
    # What kb.search.searcher does around FAISS today at this size (a score array over all chunks,
    # a full argsort), next to taking the top candidates only.
    limit = size if size <= 5000 else min(size, max(CANDIDATES * 20, 1000))
    overhead, lean = [], []
    configure(index, spec)
    for q in queries[:40]:
        started = time.perf_counter()
        scores, ids = index.search(q[None], limit)
        out = np.full(size, -np.inf, dtype=np.float32)
        valid = ids[0] >= 0
        out[ids[0][valid]] = scores[0][valid]
        order = np.argsort(-out, kind="stable")
        _ = order[np.isfinite(out[order])][:CANDIDATES]
        overhead.append(time.perf_counter() - started)
        started = time.perf_counter()
        index.search(q[None], CANDIDATES)
        lean.append(time.perf_counter() - started)
    return {"load_s": load_s, "rss_mb": loaded_mb, "index_mb": loaded_mb - base, "peak_mb": peak_rss_mb(), "runs": runs,
            "kb_search_path_ms": percentiles(overhead), "topk_only_ms": percentiles(lean), "kb_limit": limit}


# --------------------------------------------------------------------------
# lexical
# --------------------------------------------------------------------------


def lexical_inputs() -> dict:
    path = DATA / "lexical_inputs.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    from bench.common import eval_queries
    from kb.analysis.lemmas import JapaneseAnalyzer
    from kb.index.storage import load_index
    from kb.search.expand import QueryExpander, QueryVocabulary
    from kb.search.searcher import validate_query

    analyzer = JapaneseAnalyzer()
    index = load_index(ROOT / "index")
    term_lists = [analyzer.terms(chunk.search_text) for chunk in index.chunks]
    expander = QueryExpander(QueryVocabulary.load())
    queries = []
    for row in eval_queries():
        expanded = expander.expand(validate_query(row["query"]))
        weights: dict[str, float] = {}
        for phrase, weight in expanded.phrases().items():
            for term in analyzer.terms(phrase):
                weights[term] = max(weights.get(term, 0.0), weight)
        queries.append(weights)
    data = {"term_lists": term_lists, "queries": queries}
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return data


def synthetic_term_lists(size: int, inputs: dict, rng: np.random.Generator) -> Iterator[list[str]]:
    """The documents one at a time (generated in blocks of 10k), so a streamed build never holds them all."""
    real = [t for t in inputs["term_lists"] if t]
    vocabulary = sorted({t for terms in real for t in terms})
    index_of = {t: i for i, t in enumerate(vocabulary)}
    counts = np.zeros(len(vocabulary))
    for terms in real:
        for t in terms:
            counts[index_of[t]] += 1
    unigram = counts / counts.sum()
    tail = [f"稀語{i}" for i in range(300_000)]
    zipf = 1.0 / np.arange(1, len(tail) + 1) ** 1.1
    zipf /= zipf.sum()
    lengths = np.array([len(t) for t in real])
    for start in range(0, size, 10_000):
        block = min(10_000, size - start)
        templates = rng.integers(0, len(real), block)
        n_terms = np.maximum(1, (lengths[templates] * rng.uniform(0.7, 1.3, block)).astype(int))
        total = int(n_terms.sum())
        source = rng.random(total)
        global_terms = rng.choice(len(vocabulary), total, p=unigram)
        tail_terms = rng.choice(len(tail), total, p=zipf)
        own = rng.random(total)
        offset = 0
        for template, count in zip(templates.tolist(), n_terms.tolist()):
            own_terms = real[template]
            doc = []
            for j in range(offset, offset + count):
                if source[j] < 0.6:
                    doc.append(own_terms[int(own[j] * len(own_terms))])
                elif source[j] < 0.9:
                    doc.append(vocabulary[global_terms[j]])
                else:
                    doc.append(tail[tail_terms[j]])
            yield doc
            offset += count


def lexical_build(size: int) -> dict:
    from kb.index.lexical import LexicalIndex

    inputs = lexical_inputs()
    target = DATA / f"lexical_{size}"
    tokens = 0
    generate_s = 0.0

    def documents() -> Iterator[list[str]]:  # counts tokens and generation time on the way
        nonlocal tokens, generate_s
        source = synthetic_term_lists(size, inputs, np.random.default_rng(SEED + size))
        while True:
            started = time.perf_counter()
            doc = next(source, None)
            generate_s += time.perf_counter() - started
            if doc is None:
                return
            tokens += len(doc)
            yield doc

    gc.collect()
    before_mb = rss_mb()
    started = time.perf_counter()
    # Streamed (kb.index.lexical.StreamingBM25Builder): documents are generated, indexed in
    # batches and spilled; only the final CSC arrays are ever whole in memory.
    LexicalIndex.build_to(documents(), target)
    build_s = time.perf_counter() - started - generate_s
    vocabulary = len(json.loads((target / "vocab.index.json").read_text(encoding="utf-8")))
    return {"build_s": build_s, "generate_s": generate_s, "peak_mb": peak_rss_mb(), "before_mb": before_mb,
            "tokens": tokens, "vocabulary": vocabulary, "builder": "streamed",
            "disk_mb": sum(p.stat().st_size for p in target.iterdir()) / 2**20}


def lexical_serve(size: int) -> dict:
    from kb.index import lexical
    from kb.index.lexical import LexicalIndex
    from kb.search.topk import top_ids

    base = rss_mb()
    started = time.perf_counter()
    index = LexicalIndex.load(DATA / f"lexical_{size}", size)
    load_s = time.perf_counter() - started
    loaded_mb = rss_mb()
    queries = [q for q in lexical_inputs()["queries"] if q]
    started = time.perf_counter()
    index.scores(queries[0])  # the compiled path's one-off import + compile, where it applies
    first_s = time.perf_counter() - started
    compiled = size >= lexical.COMPILED_MIN_DOCS
    for q in queries[:5]:
        index.scores(q)
    score_t, argsort_t, partition_t, numpy_t = [], [], [], []
    for _ in range(2):
        for q in queries:
            started = time.perf_counter()
            scores = index.scores(q)
            score_t.append(time.perf_counter() - started)
            started = time.perf_counter()
            order = np.argsort(-scores, kind="stable")  # kb.search.searcher._ranking's first version, for comparison
            _ = order[scores[order] > 0][:CANDIDATES]
            argsort_t.append(time.perf_counter() - started)
            started = time.perf_counter()
            # as kb.search.searcher._ranking does it, with an all-true filter mask
            _ = top_ids(scores, CANDIDATES)
            partition_t.append(time.perf_counter() - started)
    if compiled:  # the numpy slices the compiled loop replaced, on the same queries
        saved = lexical.COMPILED_MIN_DOCS
        lexical.COMPILED_MIN_DOCS = size + 1
        for _ in range(2):
            for q in queries:
                started = time.perf_counter()
                index.scores(q)
                numpy_t.append(time.perf_counter() - started)
        lexical.COMPILED_MIN_DOCS = saved
    voc, indptr = index.retriever.vocab_dict, index.retriever.scores["indptr"]
    postings = [sum(int(indptr[voc[t] + 1] - indptr[voc[t]]) for t in q if t in voc) for q in queries]
    return {"load_s": load_s, "rss_mb": loaded_mb, "index_mb": loaded_mb - base, "scores_ms": percentiles(score_t),
            "argsort_ms": percentiles(argsort_t), "argpartition_ms": percentiles(partition_t),
            "scores_numpy_ms": percentiles(numpy_t) if numpy_t else None, "compiled": compiled,
            "first_query_s": first_s, "postings_per_query": percentiles(np.asarray(postings) / 1000.0),
            "terms_per_query": float(np.mean([len(q) for q in queries]))}


# --------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--types", default="flat,hnsw,ivfsq8,ivfpq")
    parser.add_argument("--skip-lexical", action="store_true")
    parser.add_argument("--skip-dense", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    previous = {}
    from bench.common import load as load_section

    previous = load_section("scale") or {}
    result: dict = {"dense": previous.get("dense", {}), "lexical": previous.get("lexical", {}),
                    "load_before": load_average()}
    info = prepare(max(sizes + [int(previous.get("max_size", 0))]))
    result["max_size"] = info["vectors"]
    result["stats"] = {"real": info["stats_real"], "synthetic": info["stats_synthetic"],
                       "generator": {"sigma": SIGMA, "mix": MIX, "seed": SEED}}
    for size in sizes:
        if not args.skip_dense:
            ground_truth(size)
            for kind in args.types.split(","):
                key = f"{size}/{kind}"
                try:
                    built = run_child("bench.scale", ["dense-build", str(size), kind], timeout=5400)
                    served = run_child("bench.scale", ["dense-serve", str(size), kind])
                    result["dense"][key] = {"size": size, "type": kind, "build": built, "serve": served}
                    best = max(served["runs"], key=lambda r: r["recall@10"])
                    print(f"dense {key}: build {built['build_s']:.1f}s peak {built['peak_mb']:.0f}MB; "
                          f"serve rss {served['rss_mb']:.0f}MB; best recall {best['recall@10']:.3f} "
                          f"p95 {best['latency_ms']['p95']:.2f}ms", flush=True)
                except Exception as exc:  # noqa: BLE001 - record and go on with the other sizes
                    result["dense"][key] = {"size": size, "type": kind, "error": str(exc)[-500:]}
                    print(f"dense {key}: FAILED {exc}", flush=True)
                (DATA / f"dense_{size}_{kind}.faiss").unlink(missing_ok=True)
                save("scale", result)
        if not args.skip_lexical:
            key = str(size)
            try:
                built = run_child("bench.scale", ["lexical-build", str(size)], timeout=5400)
                served = run_child("bench.scale", ["lexical-serve", str(size)])
                result["lexical"][key] = {"size": size, "build": built, "serve": served}
                print(f"lexical {size}: build {built['build_s']:.1f}s peak {built['peak_mb']:.0f}MB; "
                      f"scores p95 {served['scores_ms']['p95']:.1f}ms argsort p95 {served['argsort_ms']['p95']:.1f}ms",
                      flush=True)
            except Exception as exc:  # noqa: BLE001
                result["lexical"][key] = {"size": size, "error": str(exc)[-500:]}
                print(f"lexical {size}: FAILED {exc}", flush=True)
            save("scale", result)
    from kb.index.dense import choose_spec

    result["choices"] = {str(size): choose_spec(size, DIM).to_dict() for size in (10_000, 100_000, 500_000, 1_000_000, 10_000_000)}
    result["load_after"] = load_average()
    save("scale", result)
    return result


if __name__ == "__main__":
    dispatch({"dense-build": lambda size, kind: dense_build(int(size), kind),
              "dense-serve": lambda size, kind: dense_serve(int(size), kind),
              "lexical-build": lambda size: lexical_build(int(size)),
              "lexical-serve": lambda size: lexical_serve(int(size))}, main)
