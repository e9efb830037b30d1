"""The relevance floor and query-adaptive fusion on the real index."""

from __future__ import annotations

import numpy as np
import pytest

from kb.evaluation.metrics import DEFAULT_QUERY_FILES, TUNING_SPLITS, load_query_files
from kb.search.fusion import flatness
from kb.search.searcher import SearchConfig

NONSENSE = ("qzxwvkjh", "' OR 1=1 --", "asdfghjkl", "<script>alert(1)</script>", "SELECT * FROM users", "ｘｙｚ１２３")


@pytest.mark.parametrize("query", NONSENSE)
def test_nonsense_has_no_clear_match_but_still_lists_hits(searcher, query):
    result = searcher.search(query)
    assert result.no_clear_match
    assert result.hits  # the nearest passages are still shown, with the warning


def test_real_questions_have_a_clear_match(searcher):
    """Every tuning query (Japanese, English, keywords, paraphrases) passes the floor."""
    queries = [q for q in load_query_files(DEFAULT_QUERY_FILES) if q.split in TUNING_SPLITS]
    assert len(queries) > 300
    flagged = [q.id for q in queries if searcher.search(q.query, k=1).no_clear_match]
    assert flagged == []


def test_flatness_is_low_when_one_passage_stands_out_and_one_when_nothing_matches():
    assert flatness(np.array([10.0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0])) == pytest.approx(0.1)
    assert flatness(np.array([2.0] * 12)) == 1.0
    assert flatness(np.zeros(20)) == 1.0
    assert flatness(np.array([3.0, 1.5])) == pytest.approx(0.5)


def test_flatness_without_a_full_partition_equals_the_partition_it_replaced():
    rng = np.random.default_rng(7)
    for trial in range(40):
        n = int(rng.integers(5, 200_000))
        share = (0.00002, 0.001, 0.3, 1.0)[trial % 4]  # from "fewer than ten match" to "all do"
        scores = (rng.random(n) * 10 * (rng.random(n) < share)).astype(np.float32)
        if trial % 5 == 0:
            scores[: min(n, 20)] = 4.0  # ties
        top = np.partition(scores, n - min(10, n))[n - min(10, n):]
        expected = 1.0 if top.max() <= 0 else float(np.sort(top)[0]) / float(top.max())
        assert flatness(scores) == expected


def test_dense_weight_rises_with_flat_lexical_scores_and_for_number_questions(searcher):
    from kb.domain import Signal

    expanded = searcher.expander.expand("空き家対策")
    peaked = {Signal.LEXICAL: np.array([10.0] + [1.0] * 20)}
    flat = {Signal.LEXICAL: np.array([2.0] * 21)}
    low, high = searcher.weights(expanded, peaked), searcher.weights(expanded, flat)
    assert low[Signal.DENSE] < searcher.config.dense_weight < high[Signal.DENSE]
    assert low[Signal.LEXICAL] == high[Signal.LEXICAL] == 1.0
    kpi = searcher.weights(searcher.expander.expand("空き家の目標値は？"), peaked)
    assert kpi[Signal.DENSE] == pytest.approx(low[Signal.DENSE] * searcher.config.kpi_dense_factor)
    english = searcher.weights(searcher.expander.expand("vacant houses"), peaked)
    assert english[Signal.SUDACHI] > low[Signal.SUDACHI] > 0


def test_the_default_fuses_both_lexical_fields_and_e5(searcher):
    from kb.domain import Method, Signal

    assert searcher.signals(Method.HYBRID) == (Signal.LEXICAL, Signal.SUDACHI, Signal.DENSE)
    assert searcher.signals(Method.LEXICAL) == (Signal.LEXICAL, Signal.SUDACHI)
    assert searcher.signals(Method.DENSE) == (Signal.DENSE,)
    result = searcher.search("起業したい人への支援")
    assert set(result.hits[0].ranks) <= {"lexical", "sudachi", "dense"}
    assert "sudachi" in result.timings


def test_sudachi_synonyms_reach_a_plan_word_the_query_does_not_use(searcher):
    """開業 (the user's word) and 創業 (the plans') share a Sudachi group: passages that say only
    創業 are found for 開業."""
    alone = searcher.search("開業", signals=("sudachi",), k=5)
    assert any("創業" in hit.text and "開業" not in hit.text for hit in alone.hits)


def test_config_without_sudachi_leaves_it_out(searcher):
    from dataclasses import replace

    from kb.domain import Method

    original = searcher.config
    try:
        searcher.config = replace(original, sudachi_weight=0.0)
        assert "sudachi" not in searcher.signals(Method.HYBRID)
    finally:
        searcher.config = original
    assert SearchConfig().use_weight == 0.0  # the second encoder did not pay: off by default
