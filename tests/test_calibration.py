"""Relevance labels (kb/rank/calibration.py): fitted on the tuning splits only, kept beside the
ranker without touching it, and giving 高 / 中 / 低 where a planner needs them."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from eval.calibrate import Labelled, fit_curve, labelled_hits
from kb.evaluation.metrics import DEFAULT_QUERY_FILES, TUNING_SPLITS, load_query_files
from kb.present import result_json
from kb.rank import calibration
from kb.rank.calibration import HIGH, LOW, MEDIUM, NO_CLEAR, from_json
from kb.rank.model import FORMULA, ranker_identity

SHIPPED = json.loads(calibration.PATH.read_text(encoding="utf-8"))


def toy(**cutoffs: float) -> calibration.Calibration:
    return from_json({"cutoffs": {"high": 0.5, "medium": 0.25, **cutoffs},
                      "rankers": {"toy": {"scores": [0.0, 1.0, 2.0], "probabilities": [0.1, 0.3, 0.9]}}})


def test_levels_follow_the_curve_and_the_cutoffs():
    table = toy()
    assert table.relevance("toy", 0.0).level == LOW  # type: ignore[union-attr]
    assert table.relevance("toy", 1.0).level == MEDIUM  # type: ignore[union-attr]
    assert table.relevance("toy", 1.5).probability == pytest.approx(0.6)  # type: ignore[union-attr]
    assert table.relevance("toy", 9.0).level == HIGH  # past the fitted range: the top knot's value
    assert table.relevance("toy", 9.0, no_clear_match=True).level == NO_CLEAR  # type: ignore[union-attr]
    assert table.relevance("another-model", 1.0) is None  # a ranker without a curve gets no label …
    assert table.relevance("another-model", 1.0, no_clear_match=True).level == NO_CLEAR  # type: ignore[union-attr]
    assert "高" in table.relevance("toy", 2.0).label  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="ascending"):
        from_json({"cutoffs": {"high": 0.5, "medium": 0.2},
                   "rankers": {"bad": {"scores": [1.0, 0.0], "probabilities": [0.1, 0.2]}}})


def test_fit_is_monotone_and_reads_the_labels():
    scores = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
    relevant = np.array([0, 0, 0, 1, 0, 1, 1, 1], dtype=float)
    fit = fit_curve(Labelled(scores, relevant, queries=2))
    assert fit["probabilities"] == sorted(fit["probabilities"])
    assert fit["probabilities"][0] == 0.0 and fit["probabilities"][-1] == 1.0
    assert fit["hits"] == 8 and fit["relevant_hits"] == 4 and fit["brier"] < fit["brier_base_rate"]


def test_shipped_file_is_fitted_on_tuning_splits_for_the_shipped_ranker_and_formula():
    fitted = SHIPPED["fitted_on"]
    assert set(fitted["splits"]) <= set(TUNING_SPLITS) and not any("heldout" in s for s in fitted["splits"])
    assert ranker_identity("learned") in SHIPPED["rankers"]  # ranker.txt unchanged: its hash still has a curve
    assert FORMULA in SHIPPED["rankers"]
    for fit in SHIPPED["rankers"].values():
        assert fit["probabilities"] == sorted(fit["probabilities"]) and fit["probabilities"][0] >= 0
        assert fit["probabilities"][-1] <= 1 and fit["scores"] == sorted(fit["scores"])
        assert fit["brier"] < fit["brier_base_rate"]  # the curve says more than the base rate


def test_labelling_runs_the_shipped_ranker_on_tuning_queries(searcher):
    queries = [q for q in load_query_files(DEFAULT_QUERY_FILES) if q.split in TUNING_SPLITS][:4]
    labelled, identity = labelled_hits(searcher, queries, k=5)
    assert identity in SHIPPED["rankers"] and labelled.queries == 4 and len(labelled.scores) == 20
    assert 0 < labelled.relevant.sum() < 20


def test_real_queries_get_labels_and_nonsense_gets_no_clear_match(searcher):
    flagship = result_json(searcher.search("若い女性の転出を防ぐ施策", k=5))
    top = flagship["hits"][0]
    assert isinstance(top["score"], float)  # the raw number stays
    assert top["relevance"] == HIGH and 0.5 <= top["probability"] <= 1 and "High" in top["relevance_label"]
    nonsense = result_json(searcher.search("qzxwvkjh", k=5))
    assert nonsense["no_clear_match"] and nonsense["hits"]
    assert {h["relevance"] for h in nonsense["hits"]} == {NO_CLEAR}


def test_the_formula_ranker_is_labelled_by_its_own_curve(searcher):
    formula = copy.copy(searcher)
    formula.learned = None  # KB_RANKER=formula: no model, the hand-set fusion ranks
    result = formula.search("子育て支援", k=5)
    assert result.ranker == FORMULA
    hits = result_json(result)["hits"]
    assert all(h["relevance"] in (HIGH, MEDIUM, LOW) and h["probability"] is not None for h in hits)
    curve = calibration.shipped().curves[FORMULA]
    assert hits[0]["probability"] == pytest.approx(curve.probability(result.hits[0].score), abs=1e-4)
