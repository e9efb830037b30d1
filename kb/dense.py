"""FAISS vector indexes, chosen by corpus size and recorded in the index manifest.

Exact search (IndexFlatIP) is the right answer until brute force gets slow; past
that an HNSW graph keeps recall high at a fraction of the latency, and IVF-PQ trades
recall for memory when vectors no longer fit. Thresholds come from the scale
benchmark (bench/), not from guesses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

#: Below this many vectors exact search is fast enough (see bench/results.md).
FLAT_MAX = 200_000
#: Above this many vectors HNSW's graph no longer fits the memory budget.
HNSW_MAX = 2_000_000


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


def choose_spec(count: int, dimension: int) -> DenseIndexSpec:
    if count <= FLAT_MAX:
        return DenseIndexSpec(type="flat")
    if count <= HNSW_MAX:
        return DenseIndexSpec(type="hnsw")
    nlist = int(4 * np.sqrt(count))
    return DenseIndexSpec(type="ivfpq", nlist=nlist, pq_m=max(8, dimension // 8), nprobe=32)


def build_dense(vectors: np.ndarray, spec: DenseIndexSpec):  # type: ignore[no-untyped-def]
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    dimension = vectors.shape[1]
    if spec.type == "flat":
        index = faiss.IndexFlatIP(dimension)
    elif spec.type == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, spec.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = spec.ef_construction
        index.hnsw.efSearch = spec.ef_search
    elif spec.type == "ivfpq":
        quantizer = faiss.IndexFlatIP(dimension)
        index = faiss.IndexIVFPQ(quantizer, dimension, spec.nlist, spec.pq_m, 8, faiss.METRIC_INNER_PRODUCT)
        sample = vectors[np.random.default_rng(0).choice(len(vectors), min(len(vectors), 100 * spec.nlist), replace=False)]
        index.train(sample)
        index.nprobe = spec.nprobe
    else:
        raise ValueError(f"unknown dense index type {spec.type!r}")
    if len(vectors):
        index.add(vectors)
    return index


def configure(index, spec: DenseIndexSpec) -> None:  # type: ignore[no-untyped-def]
    """Restore search-time parameters, which FAISS does not persist for every type."""
    if spec.type == "hnsw":
        index.hnsw.efSearch = spec.ef_search
    elif spec.type == "ivfpq":
        index.nprobe = spec.nprobe


def save_dense(index, path: Path) -> None:  # type: ignore[no-untyped-def]
    import faiss

    faiss.write_index(index, str(path))


def load_dense(path: Path, spec: DenseIndexSpec):  # type: ignore[no-untyped-def]
    import faiss

    index = faiss.read_index(str(path))
    configure(index, spec)
    return index
