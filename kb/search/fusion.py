"""Combining ranked lists from lexical and dense search.

Reciprocal rank fusion needs no score calibration between BM25 and cosine, which
is why it is the usual default elsewhere. Here a weighted sum of min-max normalised
scores is the default (``SearchConfig.fusion = "sum"``): it keeps how far ahead a
strong lexical match is, and it beat RRF (k = 10, 30, 60) on the tune and dev splits.
RRF stays selectable for comparison.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from kb.search.topk import kth_best

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[int]], weights: Mapping[str, float], k: int = RRF_K
) -> dict[int, float]:
    """score(d) = Σ_method weight / (k + rank_method(d)), ranks starting at 1."""
    fused: dict[int, float] = {}
    for method, ranking in rankings.items():
        weight = weights.get(method, 1.0)
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


def weighted_sum(
    scores: Mapping[str, Mapping[int, float]], weights: Mapping[str, float]
) -> dict[int, float]:
    """Σ_method weight × min-max-normalised score; items missing from a list score 0 there."""
    fused: dict[int, float] = {}
    for method, values in scores.items():
        if not values:
            continue
        low, high = min(values.values()), max(values.values())
        span = (high - low) or 1.0
        weight = weights.get(method, 1.0)
        for item, value in values.items():
            fused[item] = fused.get(item, 0.0) + weight * (value - low) / span
    return fused


def flatness(scores: np.ndarray, depth: int = 10) -> float:
    """How little the best lexical match stands out: the ``depth``-th best BM25 score over the best.

    Near 0 one passage (or a few) shares the query's rare words; near 1 the query's words
    are common or absent and BM25 only counts generic overlap (対策, 支援, 市), so its
    order carries little. 1.0 when nothing matches at all.
    """
    if len(scores) == 0:
        return 1.0
    best, kth = kth_best(scores, depth)
    return 1.0 if best <= 0 else kth / best
