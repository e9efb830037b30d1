"""The learned ranker: its features, its model file, and the searcher's learned path."""

from __future__ import annotations

import numpy as np
import pytest

from kb.rank.features import FEATURES, ChunkFacts, QueryFacts, TermPostings, candidate_features
from kb.rank.model import DEFAULT_MODEL, FORMULA, LearnedRanker, RankerError, model_id, ranker_identity


def _facts(n: int) -> ChunkFacts:
    return ChunkFacts(kind=np.zeros(n, dtype=np.int32), kinds=("measure",), supporting=np.zeros(n, dtype=bool),
                      city=np.zeros(n, dtype=np.int32), cities=("熊本市",), chars=np.full(n, 100, dtype=np.int32),
                      span=np.full(n, 5, dtype=np.int32))


def test_feature_rows_have_the_contracted_columns():
    n = 6
    scores = {"lexical": np.arange(n, dtype=np.float32), "dense": np.linspace(0.7, 0.9, n)}
    ranks = {"lexical": {5: 1, 4: 2}, "dense": {5: 1}}
    terms = [TermPostings("空き家", 3.0, np.array([1, 5]))]
    query = QueryFacts(english=False, terms=1, vocab_coverage=1.0, flatness=0.5, wants_kpi=False,
                       wants_measures=True, wants_all=False, cities=("熊本市",), expansions=0)
    candidates = np.array([1, 4, 5])
    values = {name: array[candidates] for name, array in scores.items()}
    matrix = candidate_features(candidates, values, ranks, terms, np.zeros(3), _facts(n), query, n)
    assert matrix.shape == (3, len(FEATURES)) and matrix.dtype == np.float32
    row = dict(zip(FEATURES, matrix[2]))
    assert row["lexical_norm"] == pytest.approx(1.0) and row["term_coverage"] == 1.0
    assert row["lexical_log_rank"] == pytest.approx(np.log1p(1)) and row["named_city"] == 1.0
    assert dict(zip(FEATURES, matrix[1]))["all_terms"] == 0.0  # chunk 4 lacks the term
    assert dict(zip(FEATURES, matrix[1]))["sudachi_log_rank"] == pytest.approx(np.log1p(200))  # absent signal


def test_the_shipped_model_loads_and_names_its_features():
    ranker = LearnedRanker.load(DEFAULT_MODEL)
    assert ranker.id == model_id(DEFAULT_MODEL.read_text(encoding="utf-8")) == ranker_identity("learned")
    scores = ranker.score(np.zeros((4, len(FEATURES)), dtype=np.float32))
    assert scores.shape == (4,) and np.all(scores == scores[0])
    assert ranker_identity(FORMULA) == FORMULA


def test_numpy_and_onnx_scores_agree_with_lightgbm():
    import lightgbm

    text = DEFAULT_MODEL.read_text(encoding="utf-8")
    rows = np.random.default_rng(0).normal(size=(200, len(FEATURES))).astype(np.float32)
    rows[:, 20:27] = rows[:, 20:27] > 0  # binary features split at LightGBM's zero threshold
    expected = lightgbm.Booster(model_str=text).predict(rows)
    ranker = LearnedRanker.load(DEFAULT_MODEL)
    assert ranker.session is not None  # the shipped .onnx was made from the shipped .txt
    assert np.abs(ranker.forest.predict(rows) - expected).max() < 1e-9
    assert np.abs(ranker.score(rows) - expected).max() < 1e-4  # float32 inside onnxruntime


def test_an_onnx_file_of_another_model_is_not_used(tmp_path):
    import shutil

    shutil.copy(DEFAULT_MODEL.with_suffix(".onnx"), tmp_path / "m.onnx")
    (tmp_path / "m.txt").write_text(DEFAULT_MODEL.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    ranker = LearnedRanker.load(tmp_path / "m.txt")
    assert ranker.session is None and ranker.forest.predict(np.zeros((1, len(FEATURES)))).shape == (1,)


def test_a_model_for_other_features_is_refused(tmp_path):
    text = DEFAULT_MODEL.read_text(encoding="utf-8").replace("feature_names=lexical_score", "feature_names=other_score", 1)
    (tmp_path / "m.txt").write_text(text, encoding="utf-8")
    with pytest.raises(RankerError, match="other features"):
        LearnedRanker.load(tmp_path / "m.txt")
    with pytest.raises(RankerError, match="cannot read"):
        LearnedRanker.load(tmp_path / "missing.txt")


def test_the_default_search_is_the_learned_ranker(searcher):
    assert searcher.learned is not None and searcher.learned.ranker is not None
    result = searcher.search("若い女性の転出を抑える施策は？")
    cities = {hit.chunk.city for hit in result.hits}
    assert {"久留米市", "熊本市"} <= cities
    assert [h.rank for h in result.hits] == list(range(1, 11))


def test_an_all_mentions_question_lists_the_literal_mentions_first(searcher):
    result = searcher.search("文化財について書かれている箇所をすべて集めたい")
    assert result.mentions == {"文化財": result.mentions["文化財"]} and result.mentions["文化財"] >= 3
    count = result.mentions["文化財"]
    top = result.hits[: min(count, 5)]
    assert all("文化財" in hit.text for hit in top)


def test_a_question_not_asking_for_everything_reports_no_mentions(searcher):
    assert searcher.search("文化財の保存").mentions == {}


def test_the_jmdict_field_is_computed_only_for_a_ranker_that_reads_it(searcher):
    query = "Is there help for elderly people living alone?"
    expanded = searcher.expander.expand(query)
    assert searcher.learned.translations(expanded)  # JMdict knows words of it (独居, 一人暮らし …)
    candidates, matrix = searcher.candidate_features(query)
    column = FEATURES.index("jmdict_score")
    reads = searcher.learned.reads_jmdict
    assert reads == any(searcher.learned.ranker.uses(f) for f in FEATURES if f.startswith("jmdict"))
    assert len(candidates) == len(matrix) and (matrix[:, column].max() > 0) == reads


def test_an_index_refuses_another_ranker(real_index, tmp_path, monkeypatch):
    from kb.errors import IndexUnavailable
    from kb.service import check_ranker, open_searcher

    ranker = LearnedRanker.load(DEFAULT_MODEL)
    check_ranker(ranker.id, ranker)  # the index's own ranker passes
    with pytest.raises(IndexUnavailable, match="run `kb build`"):
        check_ranker("lambdamart-0000000000000000", ranker)
    other = tmp_path / "other.txt"
    other.write_text(DEFAULT_MODEL.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    monkeypatch.setenv("KB_RANKER", str(other))
    with pytest.raises(IndexUnavailable, match="built for ranker"):
        open_searcher(real_index)
    monkeypatch.setenv("KB_RANKER", "formula")
    assert open_searcher(real_index).learned is None
