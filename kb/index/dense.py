"""FAISS vector indexes, chosen by corpus size and recorded in the index manifest.

The choice comes from the scale benchmark (``python -m bench scale``; figures in
bench/results.md), measured on 384-d vectors clustered like the real ones, one
query on one thread, k=100 candidates, recall@10 against exact search:

* flat (exact) up to :data:`FLAT_MAX`: p95 0.8 ms at 10k, 13 ms at 100k, 203 ms at
  1M, growing linearly, so ~26 ms at 200k;
* IVF with 8-bit scalar quantisation beyond: at 1M, nprobe 256 of 4000 lists gives
  recall@10 0.958 at p95 6.7 ms in 0.43 GB (d bytes per vector; the build takes
  ~2 min on two cores). :func:`ivf_probes` scales nprobe with the list count.
* HNSW is never chosen automatically: on this clustered data (many near-duplicate
  passages, as plans copying national templates have) M=32/efConstruction=80
  reached recall@10 of only 0.94 at 100k and 0.64 at 1M even with efSearch=512,
  while holding float32 vectors plus the graph (1.8 GB at 1M, a 6-minute build).
* IVF-PQ alone ranks too coarsely (recall@10 0.29-0.47); with its top 1000
  re-ranked exactly from memory-mapped vectors it reaches 0.97 at 100k. That
  re-ranking is not in :mod:`kb.search.searcher`; docs/scaling.md keeps it for the
  memory-starved case past one machine's RAM.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

#: A FAISS index (faiss ships no type information; its classes are SWIG proxies).
FaissIndex = Any

#: Up to this many vectors exact search stays under ~30 ms per query (see bench/results.md).
FLAT_MAX = 200_000
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


def ivf_probes(nlist: int) -> int:
    """Lists probed per query: ~1/12 of them (recall@10 >= 0.95 measured at 100k and 1M), 64 to 512."""
    return min(nlist, max(64, min(512, nlist // 12)))


def choose_spec(count: int, dimension: int) -> DenseIndexSpec:
    """The index type for ``count`` vectors (thresholds measured by bench/scale.py)."""
    return spec_for_type("flat" if count <= FLAT_MAX else "ivfsq8", count, dimension)


def spec_for_type(kind: str, count: int, dimension: int, **overrides: int) -> DenseIndexSpec:
    """A spec of a given type with the default parameters for ``count`` vectors
    (:func:`choose_spec`'s choice, or any type for the benchmarks)."""
    nlist = ivf_lists(count)
    base = {
        "flat": DenseIndexSpec(type="flat"),
        "hnsw": DenseIndexSpec(type="hnsw"),
        "ivfsq8": DenseIndexSpec(type="ivfsq8", nlist=nlist, nprobe=ivf_probes(nlist)),
        "ivfpq": DenseIndexSpec(type="ivfpq", nlist=nlist, pq_m=max(8, dimension // 8), nprobe=32),
    }[kind]
    return replace(base, **overrides)  # type: ignore[arg-type]  # only the int fields are overridden


def _train_sample(vectors: np.ndarray, nlist: int) -> np.ndarray:
    # 40 points per list is enough for k-means here (FAISS warns below 39) and keeps
    # training at 1M vectors to about a minute on two cores.
    size = min(len(vectors), max(40 * nlist, 10_000))
    if size >= len(vectors):
        return np.ascontiguousarray(vectors, dtype=np.float32)
    ids = np.sort(np.random.default_rng(0).choice(len(vectors), size, replace=False))
    return np.ascontiguousarray(vectors[ids], dtype=np.float32)


def build_dense(vectors: np.ndarray, spec: DenseIndexSpec) -> FaissIndex:
    """A FAISS index of ``vectors`` (float32, L2-normalised; inner product = cosine).

    ``vectors`` may be a memory map: vectors are added in blocks, so building never
    needs a second full copy in memory.
    """
    import faiss

    dimension = vectors.shape[1]
    index: FaissIndex
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
        sample = _train_sample(vectors, nlist)
        release_pages(vectors)  # the rows the sample was gathered from
        index.train(sample)
        del sample
        index.nprobe = spec.nprobe
    else:
        raise ValueError(f"unknown dense index type {spec.type!r} (choose from {', '.join(TYPES)})")
    block = 65_536
    for start in range(0, len(vectors), block):
        index.add(np.ascontiguousarray(vectors[start : start + block], dtype=np.float32))
        release_pages(vectors[start : start + block])
    return index


def release_pages(view: np.ndarray) -> None:
    """Drop a memory-mapped block's pages from this process's resident set once it is read.

    Read pages of a file mapping count as resident memory until the map goes: adding
    10^6 memory-mapped vectors block by block would otherwise leave all 1.5 GB of them
    resident. ``MADV_DONTNEED`` unmaps them (the page cache keeps them; a later read
    faults them back in). A no-op for an in-memory array.
    """
    import contextlib
    import mmap

    mapping = getattr(view, "_mmap", None)
    if mapping is None or not hasattr(mapping, "madvise") or not view.nbytes:
        return
    base = np.frombuffer(mapping, dtype=np.uint8).ctypes.data
    offset = view.ctypes.data - base
    begin = offset - offset % mmap.PAGESIZE
    with contextlib.suppress(OSError, ValueError):  # a platform without it: pages stay resident
        mapping.madvise(mmap.MADV_DONTNEED, begin, offset + view.nbytes - begin)


def configure(index: FaissIndex, spec: DenseIndexSpec) -> None:
    """Restore search-time parameters, which FAISS does not persist for every type."""
    if spec.type == "hnsw":
        index.hnsw.efSearch = spec.ef_search
    elif spec.type in ("ivfpq", "ivfsq8"):
        index.nprobe = spec.nprobe


def search_dense(
    index: FaissIndex, spec: DenseIndexSpec, queries: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``index.search``, restricted to the chunks the boolean mask ``allowed`` admits.

    A filter must act inside FAISS at scale: over-fetching 2,000 neighbours of 10^6 and
    filtering afterwards leaves none when the filter admits one plan. FAISS's ID selector
    (a bitmap) skips the others while it scans; passing search parameters replaces the
    index's own, so nprobe / efSearch are passed again.
    """
    if allowed is None:
        return index.search(queries, k)
    import faiss

    bitmap = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")
    selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bitmap))
    params: Any
    if spec.type in ("ivfpq", "ivfsq8"):
        params = faiss.SearchParametersIVF()
        params.nprobe = spec.nprobe
    elif spec.type == "hnsw":
        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # missing from faiss's stubs
        params.efSearch = spec.ef_search
    else:
        params = faiss.SearchParameters()
    params.sel = selector
    return index.search(queries, k, params=params)


def save_dense(index: FaissIndex, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def load_dense(path: Path, spec: DenseIndexSpec) -> FaissIndex:
    import faiss

    index = faiss.read_index(str(path))
    configure(index, spec)
    return index
