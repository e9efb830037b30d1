"""FAISS index types and the size-based choice (thresholds from bench/scale.py)."""

from __future__ import annotations

import numpy as np
import pytest

from kb.index.dense import (
    FLAT_MAX,
    TYPES,
    DenseIndexSpec,
    build_dense,
    choose_spec,
    load_dense,
    save_dense,
    spec_for_type,
)


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, 32)).astype(np.float32)
    x = centres[rng.integers(0, 20, 4000)] + 0.3 * rng.standard_normal((4000, 32)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", TYPES)
def test_every_type_builds_saves_loads_and_finds_itself(tmp_path, vectors, kind):
    spec = spec_for_type(kind, len(vectors), vectors.shape[1], **({"pq_m": 8} if kind == "ivfpq" else {}))
    index = build_dense(vectors, spec)
    save_dense(index, tmp_path / "d.faiss")
    loaded = load_dense(tmp_path / "d.faiss", spec)
    assert loaded.ntotal == len(vectors) and loaded.d == vectors.shape[1]
    _, ids = loaded.search(vectors[:20], 10)
    found = np.mean([i in row for i, row in enumerate(ids)])
    assert found >= (0.5 if kind == "ivfpq" else 0.9)


def test_building_from_a_memory_map(tmp_path, vectors):
    path = tmp_path / "v.npy"
    np.save(path, vectors)
    index = build_dense(np.load(path, mmap_mode="r"), spec_for_type("ivfsq8", len(vectors), vectors.shape[1]))
    assert index.ntotal == len(vectors)


def test_choice_by_size():
    assert choose_spec(449, 384).type == "flat"
    assert choose_spec(FLAT_MAX, 384).type == "flat"
    big = choose_spec(1_000_000, 384)
    assert big.type == "ivfsq8" and 0 < big.nprobe <= big.nlist
    assert DenseIndexSpec(**big.to_dict()) == big  # what the manifest records round-trips


def test_unknown_type_is_refused(vectors):
    with pytest.raises(ValueError, match="unknown dense index type"):
        build_dense(vectors, DenseIndexSpec(type="annoy"))


def test_release_pages_keeps_a_memory_mapped_build_identical(tmp_path):
    import numpy as np

    from kb.index.dense import build_dense, release_pages, spec_for_type

    rng = np.random.default_rng(4)
    vectors = rng.standard_normal((3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    np.save(tmp_path / "v.npy", vectors)
    mapped = np.load(tmp_path / "v.npy", mmap_mode="r")
    release_pages(vectors)  # an in-memory array: nothing to do
    release_pages(mapped[100:2000])
    assert np.array_equal(np.asarray(mapped), vectors)  # released pages read back the same
    for kind in ("flat", "ivfsq8"):
        spec = spec_for_type(kind, len(vectors), 32)
        a, b = build_dense(vectors, spec), build_dense(mapped, spec)
        assert np.array_equal(a.search(vectors[:20], 10)[1], b.search(vectors[:20], 10)[1])


@pytest.mark.parametrize("kind", TYPES)
def test_a_filter_acts_inside_faiss(vectors, kind):
    from kb.index.dense import search_dense

    spec = spec_for_type(kind, len(vectors), vectors.shape[1], **({"pq_m": 8} if kind == "ivfpq" else {}))
    index = build_dense(vectors, spec)
    allowed = np.zeros(len(vectors), dtype=bool)
    allowed[np.random.default_rng(1).choice(len(vectors), 300, replace=False)] = True
    query = vectors[np.flatnonzero(allowed)[:5]]
    _, ids = search_dense(index, spec, query, 20, allowed)
    found = ids[ids >= 0]
    assert len(found) and allowed[found].all()  # nothing outside the filter comes back
    if kind == "flat":  # and for exact search it is the exact top 20 of the admitted vectors
        admitted = np.flatnonzero(allowed)
        exact = admitted[np.argsort(-(vectors[admitted] @ query.T), axis=0, kind="stable")[:20].T]
        assert np.array_equal(ids, exact)
    _, unfiltered = search_dense(index, spec, query[:1], 20)
    assert not allowed[unfiltered[0]].all()


def test_a_large_index_ranks_a_filtered_query_inside_the_filter(searcher, monkeypatch):
    """What a 10^6-chunk index does (forced here on the real one): exact scores from the
    stored vectors for a narrow filter, FAISS's ID selector for a wide one."""
    from kb.search import searcher as module
    from kb.search.searcher import Filters

    filters = Filters(doc="kurume-mirai-design-2035")
    allowed = searcher.allowed(filters)
    expanded = searcher.expander.expand("子育て支援")
    vector = searcher.query_vector(expanded)
    whole = searcher.dense_scores(expanded, vector)
    monkeypatch.setattr(module, "SEARCH_WHOLE_MAX", 0)
    exact = searcher.dense_scores(expanded, vector, allowed)
    assert np.isfinite(exact[allowed]).all() and not np.isfinite(exact[~allowed]).any()
    assert np.allclose(exact[allowed], whole[allowed], atol=1e-5)
    monkeypatch.setattr(module, "EXACT_FILTERED_MAX", 0)
    selected = searcher.dense_scores(expanded, vector, allowed)
    assert not np.isfinite(selected[~allowed]).any()
    assert np.array_equal(np.isfinite(selected), allowed)  # flat: every admitted chunk within 20 × candidates
    assert np.allclose(selected[allowed], whole[allowed], atol=1e-5)
