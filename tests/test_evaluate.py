"""The recall evaluation: span overlap, the 60-line rule, and ranx metrics."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kb.evaluation.metrics import (
    DEFAULT_QUERY_FILES,
    SPLITS,
    TUNING_SPLITS,
    EvalQuery,
    Passage,
    load_queries,
    load_query_files,
    run_entries,
    score,
)


@dataclass
class _Chunk:
    doc: str


@dataclass
class _Hit:
    rank: int
    chunk: _Chunk
    line_start: int
    line_end: int


def _hit(rank, doc, start, end):
    return _Hit(rank, _Chunk(doc), start, end)


def test_overlap_counts_and_long_hits_do_not():
    relevant = (Passage("a", 10, 20), Passage("b", 100, 110))
    hits = [_hit(1, "a", 30, 40), _hit(2, "a", 20, 25), _hit(3, "b", 1, 200), _hit(4, "b", 105, 106)]
    entries = run_entries(hits, relevant)
    assert list(entries) == ["miss-1", "p0", "miss-3", "p1"]
    values = score([EvalQuery("q", "x", "ja", "t", "tune", relevant)], {"q": entries})["q"]
    assert values["recall@10"] == 1.0
    assert values["recall@5"] == 1.0
    assert values["mrr@10"] == pytest.approx(0.5)


def test_per_query_values_belong_to_their_query_whatever_the_id_order():
    """ranx orders queries by id internally; "q2" listed before "d1" must keep its own values."""
    relevant = (Passage("a", 10, 20),)
    queries = [EvalQuery(qid, "x", "ja", "t", "tune", relevant) for qid in ("q2", "d1", "m3")]
    found, missed = run_entries([_hit(1, "a", 10, 12)], relevant), run_entries([_hit(1, "a", 50, 60)], relevant)
    values = score(queries, {"q2": found, "d1": missed, "m3": found})
    assert {qid: v["recall@10"] for qid, v in values.items()} == {"q2": 1.0, "d1": 0.0, "m3": 1.0}


def test_a_hit_found_twice_counts_once():
    relevant = (Passage("a", 10, 20),)
    entries = run_entries([_hit(1, "a", 10, 12), _hit(2, "a", 15, 18)], relevant)
    assert list(entries) == ["p0", "miss-2"]


def test_query_file_is_valid_and_split(tmp_path):
    queries = load_queries("eval/queries.jsonl")
    assert len(queries) >= 80
    assert {q.split for q in queries} == {"tune", "heldout"}
    types = {q.type for q in queries}
    assert {"ja_natural", "en", "keyword", "cross_city", "kpi", "synonym"} <= types
    for split in ("tune", "heldout"):
        assert types == {q.type for q in queries if q.split == split}
    assert all(p.end - p.start < 60 for q in queries for p in q.relevant)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "query": "y", "relevant": [{"doc": "a"}]}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        load_queries(bad)


def test_held_out_splits_are_never_tuning_splits():
    assert set(TUNING_SPLITS) == {"tune", "dev", "blind", "blind2"}
    assert not {"heldout", "blind_heldout", "blind2_heldout"} & set(TUNING_SPLITS)
    assert set(TUNING_SPLITS) < set(SPLITS)


def test_every_query_file_points_at_real_lines(documents):
    """All query files: unique ids, the README's types, tight spans on non-blank lines of real documents."""
    queries = load_query_files(DEFAULT_QUERY_FILES)
    assert len(queries) >= 430
    assert {q.split for q in queries} == set(SPLITS)
    for split in SPLITS:
        # The second blind set adds "collect every mention of X" questions (eval/README.md).
        extra = {"collect"} if split.startswith("blind2") else set()
        assert {q.type for q in queries if q.split == split} == {
            "ja_natural", "en", "keyword", "cross_city", "kpi", "synonym"} | extra
    for q in queries:
        assert q.relevant, q.id
        for p in q.relevant:
            doc = documents[p.doc]
            assert 1 <= p.start <= p.end <= len(doc.lines), (q.id, p)
            assert p.end - p.start < 60, (q.id, p)
            assert doc.line(p.start).strip(), (q.id, p)
