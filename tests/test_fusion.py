"""Fusion rules, on hand-made rankings where the right answer is known."""

from __future__ import annotations

import pytest

from kb.search.fusion import reciprocal_rank_fusion, weighted_sum


def test_rrf_rewards_agreement_and_respects_weights():
    rankings = {"lexical": [1, 2, 3], "dense": [2, 4, 1]}
    fused = reciprocal_rank_fusion(rankings, {"lexical": 1.0, "dense": 1.0}, k=60)
    assert fused[2] == pytest.approx(1 / 62 + 1 / 61)
    assert max(fused, key=fused.__getitem__) == 2  # second and first beats first and third
    assert set(fused) == {1, 2, 3, 4}
    lexical_only = reciprocal_rank_fusion(rankings, {"lexical": 1.0, "dense": 0.0}, k=60)
    assert sorted(lexical_only, key=lexical_only.__getitem__, reverse=True)[:3] == [1, 2, 3]


def test_weighted_sum_normalises_each_signal_before_weighting():
    # BM25 scores are in the tens, cosines near 1: without min-max the lexical scale would win.
    scores = {"lexical": {1: 30.0, 2: 10.0, 3: 20.0}, "dense": {1: 0.80, 2: 0.90, 4: 0.85}}
    fused = weighted_sum(scores, {"lexical": 1.0, "dense": 0.5})
    assert fused[1] == pytest.approx(1.0 + 0.5 * 0.0)
    assert fused[2] == pytest.approx(0.0 + 0.5 * 1.0)
    assert fused[3] == pytest.approx(0.5)  # missing from dense: scores 0 there
    assert fused[4] == pytest.approx(0.5 * 0.5)
    heavier_dense = weighted_sum(scores, {"lexical": 1.0, "dense": 3.0})
    assert heavier_dense[2] > heavier_dense[1]


def test_weighted_sum_of_a_constant_or_empty_signal():
    fused = weighted_sum({"lexical": {1: 5.0, 2: 5.0}, "dense": {}}, {"lexical": 1.0, "dense": 1.0})
    assert fused == {1: 0.0, 2: 0.0}
