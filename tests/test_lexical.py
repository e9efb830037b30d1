"""BM25 scoring over lemma terms with weights; the streamed build against bm25s itself."""

import filecmp

import bm25s
import numpy as np
import pytest

from kb.index.lexical import EMPTY, LexicalIndex


def bm25s_reference(term_lists) -> bm25s.BM25:
    """What LexicalIndex.build did before it streamed: bm25s over a sorted vocabulary."""
    retriever = bm25s.BM25(k1=1.2, b=0.75)
    corpus = [list(terms) or [EMPTY] for terms in term_lists]
    vocabulary = {t: i for i, t in enumerate(sorted({t for terms in corpus for t in terms}))}
    ids = [[vocabulary[t] for t in terms] for terms in corpus]
    retriever.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocabulary), show_progress=False)
    return retriever


def synthetic(count: int, seed: int = 7) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    words = [f"語{i}" for i in range(400)] + ["子育て", "支援", "移住"]
    docs = [[words[int(j) % len(words)] for j in rng.zipf(1.3, rng.integers(0, 40))] for _ in range(count)]
    docs[3] = []
    return docs


def test_weighted_scores_equal_bm25s_sums(tmp_path):
    docs = [["子育て", "支援"], ["支援", "移住"], ["観光"], ["子育て", "子育て", "保育"]]
    index = LexicalIndex.build(docs)
    ref = bm25s_reference(docs)
    reference = np.asarray(ref.get_scores(["子育て"])) + 0.5 * np.asarray(ref.get_scores(["移住"]))
    assert np.allclose(index.scores({"子育て": 1.0, "移住": 0.5, "未知語": 1.0}), reference)
    index.save(tmp_path / "lex")
    again = LexicalIndex.load(tmp_path / "lex", 4)
    assert np.allclose(again.scores({"子育て": 1.0, "移住": 0.5}), reference)


def test_empty_documents_are_indexable():
    index = LexicalIndex.build([[], ["観光"]])
    scores = index.scores({"観光": 1.0})
    assert scores[0] == 0 and scores[1] > 0


@pytest.mark.parametrize("batch", [1, 97, 5000])
def test_streamed_build_writes_bm25s_files_byte_for_byte(tmp_path, batch):
    docs = synthetic(2500)
    bm25s_reference(docs).save(str(tmp_path / "bm25s"), show_progress=False)
    count = LexicalIndex.build_to(iter(docs), tmp_path / "streamed", batch=batch)
    LexicalIndex.build(docs).save(tmp_path / "one-shot")
    assert count == len(docs)
    names = sorted(p.name for p in (tmp_path / "bm25s").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "streamed").iterdir())
    for name in names:
        assert filecmp.cmp(tmp_path / "bm25s" / name, tmp_path / "streamed" / name, shallow=False), name
        assert filecmp.cmp(tmp_path / "bm25s" / name, tmp_path / "one-shot" / name, shallow=False), name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("kb-bm25-")]  # spill files removed


def test_streamed_build_in_small_windows(tmp_path, monkeypatch):
    from kb.index import lexical

    monkeypatch.setattr(lexical.StreamingBM25Builder, "WINDOW", 101)
    docs = synthetic(800, seed=3)
    LexicalIndex.build_to(docs, tmp_path / "a", batch=64)
    ref = bm25s_reference(docs)
    again = LexicalIndex.load(tmp_path / "a", len(docs))
    for name in ("data", "indices", "indptr"):
        assert np.array_equal(again.retriever.scores[name], ref.scores[name])


def test_compiled_column_sum_equals_numpy_bit_for_bit(monkeypatch):
    from kb.index import lexical

    docs = synthetic(3000, seed=11)
    index = LexicalIndex.build(docs)
    rng = np.random.default_rng(5)
    vocabulary = sorted({t for d in docs for t in d})
    queries = [{vocabulary[int(i)]: float(w) for i, w in zip(rng.integers(0, len(vocabulary), 20),
                                                                rng.choice([1.0, 0.6, 0.5, 0.3, 0.1234567], 20))}
               for _ in range(30)] + [{"子育て": 1.0, "支援": 0.5, "未知語": 1.0}, {}]
    plain = [index.scores(q) for q in queries]
    monkeypatch.setattr(lexical, "COMPILED_MIN_DOCS", 0)
    assert lexical._compiled_sum() is not None
    for q, expected in zip(queries, plain):
        got = index.scores(q)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)
        top = np.argsort(-expected, kind="stable")[:100]
        assert np.array_equal(np.argsort(-got, kind="stable")[:100], top)


def test_top_ids_cut_first_equals_plain_argpartition(monkeypatch):
    from kb.search import topk as searcher

    rng = np.random.default_rng(2)
    for trial in range(60):
        n = int(rng.integers(150, 30000))
        scores = rng.random(n).astype(np.float32) * (rng.random(n) < 0.7)  # distinct positives, many zeros
        if trial % 4 == 0:
            scores[rng.random(n) < 0.5] = -np.inf
        usable = (rng.random(n) < (0.02 if trial % 3 == 0 else 0.9)) & (scores > 0)
        monkeypatch.setattr(searcher, "PARTITION_FIRST_MIN", 10**9)
        plain = searcher.top_ids(scores, 100, allowed=usable, require=None)
        monkeypatch.setattr(searcher, "PARTITION_FIRST_MIN", 0)
        assert np.array_equal(searcher.top_ids(scores, 100, allowed=usable, require=None), plain)


def test_top_ids_tests_usability_lazily_and_equals_the_plain_mask(monkeypatch):
    from kb.search import topk

    rng = np.random.default_rng(5)
    for trial in range(48):
        n = int(rng.integers(200, 120_000))
        require = ("positive", "finite")[trial % 2]
        scores = rng.random(n).astype(np.float32)  # distinct usable scores: ties at the cut are arbitrary
        scores[rng.random(n) < 0.4] = 0.0 if require == "positive" else -np.inf
        allowed = None if trial % 3 == 0 else rng.random(n) < (0.001, 0.5)[trial % 2]
        usable = (scores > 0 if require == "positive" else np.isfinite(scores)) & (True if allowed is None else allowed)
        plain = np.flatnonzero(usable)
        expected = plain[np.lexsort((plain, -scores[plain]))][:100]
        for first in (10**9, 0):
            monkeypatch.setattr(topk, "PARTITION_FIRST_MIN", first)
            assert np.array_equal(topk.top_ids(scores, 100, allowed=allowed, require=require), expected)
