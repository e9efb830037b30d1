"""FAISS vector indexes, chosen by corpus size and recorded in the index manifest.

Exact search (IndexFlatIP) is the right answer until brute force gets slow; past
that a graph (HNSW) or an inverted file (IVF) scans a small part of the vectors.
Memory decides between them at the top end: HNSW keeps every vector in float32
plus its graph, IVF with 8-bit scalar quantisation keeps a quarter of that.
The thresholds come from the scale benchmark (``python -m bench scale``; the
figures are in bench/results.md), not from guesses:

* flat up to :data:`FLAT_MAX` vectors (one query scans 100k × 384 floats in
  ~5 ms on one core; 1M takes ~50 ms, too slow);
* HNSW (M=32) up to :data:`HNSW_MAX`: ~1 ms per query, recall@10 ≈ 0.99, but
  4·d + 2·M·4 bytes per vector (1.8 GB at 1M), and a slow build;
* IVF + SQ8 beyond: d bytes per vector (0.4 GB at 1M), nprobe tuned for
  recall@10 >= 0.95, a build of minutes; IVF-PQ is kept for memory-starved
  deployments (48 bytes per vector, recall too low without re-ranking).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

#: Below this many vectors exact search is fast enough (see bench/results.md).
FLAT_MAX = 100_000
#: Above this many vectors HNSW's float32 vectors + graph no longer fit the memory budget.
HNSW_MAX = 500_000
#: Types :func:`build_dense` can make.
TYPES = ("flat", "hnsw", "ivfsq8", "ivfpq")


@dataclass(frozen=True)
class DenseIndexSpec:
    """What kind of FAISS index was built, with the parameters that matter for recall."""

    type: str
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 64
    nlist: int = 0
    pq_m: int = 0
    nprobe: int = 16

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def ivf_lists(count: int) -> int:
    """Number of IVF lists: ~4·sqrt(n), the usual rule, with >= 39 training points per list."""
    return max(1, min(int(4 * np.sqrt(count)), count // 39))


def choose_spec(count: int, dimension: int) -> DenseIndexSpec:
    """The index type for ``count`` vectors (thresholds measured by bench/scale.py)."""
    if count <= FLAT_MAX:
        return DenseIndexSpec(type="flat")
    if count <= HNSW_MAX:
        return DenseIndexSpec(type="hnsw", hnsw_m=32, ef_construction=80, ef_search=64)
    return DenseIndexSpec(type="ivfsq8", nlist=ivf_lists(count), nprobe=32)


def spec_for_type(kind: str, count: int, dimension: int, **overrides: int) -> DenseIndexSpec:
    """A spec of a given type with the default parameters for ``count`` vectors (benchmarks)."""
    base = {
        "flat": DenseIndexSpec(type="flat"),
        "hnsw": DenseIndexSpec(type="hnsw"),
        "ivfsq8": DenseIndexSpec(type="ivfsq8", nlist=ivf_lists(count), nprobe=32),
        "ivfpq": DenseIndexSpec(type="ivfpq", nlist=ivf_lists(count), pq_m=max(8, dimension // 8), nprobe=32),
    }[kind]
    return DenseIndexSpec(**(base.to_dict() | overrides))


def _train_sample(vectors: np.ndarray, nlist: int) -> np.ndarray:
    # 40 points per list is enough for k-means here (FAISS warns below 39) and keeps
    # training at 1M vectors to about a minute on two cores.
    size = min(len(vectors), max(40 * nlist, 10_000))
    if size >= len(vectors):
        return np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.sort(np.random.default_rng(0).choice(len(vectors), size, replace=False))
    return np.ascontiguousarray(vectors[ids], dtype=np.float32)


def build_dense(vectors: np.ndarray, spec: DenseIndexSpec):  # type: ignore[no-untyped-def]
    """A FAISS index of ``vectors`` (float32, L2-normalised; inner product = cosine).

    ``vectors`` may be a memory map: vectors are added in blocks, so building never
    needs a second full copy in memory.
    """
    import faiss

    dimension = vectors.shape[1]
    if spec.type == "flat":
        index = faiss.IndexFlatIP(dimension)
    elif spec.type == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = spec.ef_construction
        index.hnsw.efSearch = spec.ef_search
    elif spec.type in ("ivfpq", "ivfsq8"):
        nlist = min(spec.nlist or ivf_lists(len(vectors)), max(1, len(vectors)))
        quantizer = faiss.IndexFlatIP(dimension)
        if spec.type == "ivfpq":
            index = faiss.IndexIVFPQ(quantizer, dimension, nlist, spec.pq_m, 8, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFScalarQuantizer(
                quantizer, dimension, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
        index.cp.niter = 10
        index.train(_train_sample(vectors, nlist))
        index.nprobe = spec.nprobe
    else:
        raise ValueError(f"unknown dense index type {spec.type!r} (choose from {', '.join(TYPES)})")
    block = 65_536
    for start in range(0, len(vectors), block):
        index.add(np.ascontiguousarray(vectors[start : start + block], dtype=np.float32))
    return index


def configure(index, spec: DenseIndexSpec) -> None:  # type: ignore[no-untyped-def]
    """Restore search-time parameters, which FAISS does not persist for every type."""
    if spec.type == "hnsw":
        index.hnsw.efSearch = spec.ef_search
    elif spec.type in ("ivfpq", "ivfsq8"):
        index.nprobe = spec.nprobe


def save_dense(index, path: Path) -> None:  # type: ignore[no-untyped-def]
    import faiss

    faiss.write_index(index, str(path))


def load_dense(path: Path, spec: DenseIndexSpec):  # type: ignore[no-untyped-def]
    import faiss

    index = faiss.read_index(str(path))
    configure(index, spec)
    return index
