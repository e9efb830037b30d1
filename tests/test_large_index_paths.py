"""The paths a 10^5–10^6-chunk index takes, forced on the real corpus: same answers."""

from __future__ import annotations

import numpy as np

from kb.search import searcher as module
from kb.search.searcher import Filters

QUERIES = ("若い女性の転出を抑える施策は？", "子育て支援の目標値", "how does Kumamoto attract companies", "公共交通")


def _answers(searcher, filters=None):
    return [[(h.chunk.id, h.line_start, h.line_end, round(h.score, 6)) for h in searcher.search(q, filters=filters).hits]
            for q in QUERIES]


def test_signals_computed_concurrently_give_the_same_hits(searcher, monkeypatch):
    sequential = _answers(searcher)
    monkeypatch.setattr(module, "PARALLEL_SIGNALS_MIN", 0)
    assert _answers(searcher) == sequential
    assert searcher._pool is not None  # the concurrent path really ran
    result = searcher.search(QUERIES[0])
    assert {"lexical", "sudachi", "dense"} <= set(result.timings)


def test_concurrent_searches_on_the_concurrent_path_agree(searcher, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    expected = _answers(searcher, Filters(city="熊本市"))
    monkeypatch.setattr(module, "PARALLEL_SIGNALS_MIN", 0)
    with ThreadPoolExecutor(4) as pool:
        runs = list(pool.map(lambda _: _answers(searcher, Filters(city="熊本市")), range(4)))
    assert all(run == expected for run in runs)


def test_a_large_index_ranks_from_columns_and_a_few_records(searcher, monkeypatch):
    """Filters and priors read the integer columns; records are read for the ranked candidates only."""
    reads: list[int] = []
    original = type(searcher.chunks)._read

    def counting(store, index):
        reads.append(index)
        return original(store, index)

    monkeypatch.setattr(type(searcher.chunks), "_read", counting)
    searcher.chunks._cache.clear()
    searcher.search("子育て支援", filters=Filters(kind="measure"))
    assert 0 < len(reads) < 60 < len(searcher.chunks)
    assert np.array_equal(searcher.allowed(Filters(kind="measure")),
                          np.array([c.kind == "measure" for c in searcher.chunks]))
