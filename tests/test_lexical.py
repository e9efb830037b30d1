"""BM25 scoring over lemma terms with weights."""

import numpy as np

from kb.index.lexical import LexicalIndex


def test_weighted_scores_equal_bm25s_sums(tmp_path):
    index = LexicalIndex.build([["子育て", "支援"], ["支援", "移住"], ["観光"], ["子育て", "子育て", "保育"]])
    reference = np.asarray(index.retriever.get_scores(["子育て"])) + 0.5 * np.asarray(index.retriever.get_scores(["移住"]))
    assert np.allclose(index.scores({"子育て": 1.0, "移住": 0.5, "未知語": 1.0}), reference)
    index.save(tmp_path / "lex")
    again = LexicalIndex.load(tmp_path / "lex", 4)
    assert np.allclose(again.scores({"子育て": 1.0, "移住": 0.5}), reference)


def test_empty_documents_are_indexable():
    index = LexicalIndex.build([[], ["観光"]])
    scores = index.scores({"観光": 1.0})
    assert scores[0] == 0 and scores[1] > 0
