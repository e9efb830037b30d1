"""Chunk records on disk (kb/index/chunkstore.py): what a searcher reads instead of a list."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from kb.errors import IndexUnavailable
from kb.index.chunkstore import CHUNKS, OFFSETS, ChunkStore, chunk_record, is_supporting, write_chunk_store
from kb.search.searcher import Filters


@pytest.fixture(scope="module")
def all_chunks(chunks):
    return [c for name in sorted(chunks) for c in chunks[name]]


@pytest.fixture(scope="module")
def store(all_chunks, tmp_path_factory):
    folder = tmp_path_factory.mktemp("store")
    assert write_chunk_store(all_chunks, folder) == len(all_chunks)
    return ChunkStore(folder, cache_size=8)


def test_records_read_back_equal_the_chunks_one_at_a_time_and_in_order(store, all_chunks):
    assert len(store) == len(all_chunks)
    for i in (0, 1, len(all_chunks) // 2, len(all_chunks) - 1, -1):
        assert store[i] == all_chunks[i]
    assert list(store) == all_chunks
    assert store[3:6] == all_chunks[3:6]
    with pytest.raises(IndexError):
        store[len(all_chunks)]


def test_the_file_is_the_records_as_json_lines(store, all_chunks):
    lines = (store.folder / CHUNKS).read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [json.loads(json.dumps(chunk_record(c))) for c in all_chunks]


def test_the_cache_stays_bounded_and_concurrent_readers_agree(store, all_chunks):
    order = list(range(len(all_chunks))) * 2
    with ThreadPoolExecutor(4) as pool:
        read = list(pool.map(lambda i: store[i].id, order))
    assert read == [all_chunks[i].id for i in order]
    assert len(store._cache) <= 8


def test_columns_hold_every_filter_field(store, all_chunks):
    columns = store.columns
    for name in ("city", "area", "doc", "kind", "goal", "section"):
        assert [columns.value(name, i) for i in range(len(all_chunks))] == [getattr(c, name) for c in all_chunks]
    assert columns.supporting.tolist() == [is_supporting(c) for c in all_chunks]
    assert not columns.equals("doc", "no-such-plan").any()
    assert set(columns.values("city")) == {c.city for c in all_chunks}


@pytest.mark.parametrize("filters", [
    Filters(city="久留米市"), Filters(city="広域"), Filters(doc="kumamoto-sousei-senryaku-2"),
    Filters(kind="kpi"), Filters(goal="基本目標"), Filters(goal="子ども"), Filters(city="熊本市", kind="measure"),
])
def test_the_searchers_mask_is_the_per_chunk_filter(searcher, filters):
    expected = np.array([filters.allows(c) for c in searcher.chunks], dtype=bool)
    assert expected.any()
    assert np.array_equal(searcher.allowed(filters), expected)


def test_records_and_offsets_that_disagree_are_refused(all_chunks, tmp_path):
    write_chunk_store(all_chunks[:5], tmp_path)
    with (tmp_path / CHUNKS).open("ab") as out:
        out.write(b'{"id": "extra"}\n')
    with pytest.raises(IndexUnavailable, match="offsets disagree"):
        ChunkStore(tmp_path)
    np.save(tmp_path / OFFSETS, np.arange(3, dtype=np.int64))
    with pytest.raises(IndexUnavailable, match="kb build"):
        ChunkStore(tmp_path)


def test_a_damaged_record_names_the_fix(all_chunks, tmp_path):
    write_chunk_store(all_chunks[:3], tmp_path)
    path = tmp_path / CHUNKS
    data = bytearray(path.read_bytes())
    data[1] = ord("#")
    path.write_bytes(bytes(data))
    store = ChunkStore(tmp_path)
    with pytest.raises(IndexUnavailable, match="record 0 .*kb build"):
        store[0]
    assert store[1] == all_chunks[1]


def test_distinct_combinations_come_in_plan_order_with_counts(store, all_chunks):
    plans = store.columns.distinct(("doc",))
    assert [values[0] for _, _, values in plans] == list(dict.fromkeys(c.doc for c in all_chunks))
    assert [count for _, count, _ in plans] == [sum(c.doc == v[0] for c in all_chunks) for _, _, v in plans]
    assert all(all_chunks[first].doc == values[0] for first, _, values in plans)
    goals = [values for _, _, values in store.columns.distinct(("goal", "city", "area", "doc"))]
    assert goals == list(dict.fromkeys((c.goal, c.city, c.area, c.doc) for c in all_chunks))
