"""Relevance a planner can read: 高 / 中 / 低 from a calibrated score, not the raw number.

A ranker's score orders one query's passages but means nothing across queries (the
flagship question's top hit scores 1.93, an exact phrase 0.16, nonsense 3.12). The
calibration maps a ranker's score to the probability that a hit overlaps a passage judged
relevant, fitted (isotonic, :mod:`eval.calibrate`) on the *tuning* splits' judgements only
(tune, dev, blind, blind2 — never a held-out split). It is kept in ``calibration.json``
beside the ranker, one curve per ranker identity (the LambdaMART model's hash, or
``formula`` for ``KB_RANKER=formula``), so retraining the ranker without refitting leaves
its hits unlabelled instead of mislabelled; ``ranker.txt`` itself never changes.

Judgements list only the passages their writers found, so the probability is a floor:
an unjudged passage may be relevant too. The label cut-offs live in the same file.
A query with ``no_clear_match`` (no word of it occurs in the plans) is labelled 低 /
no clear match whatever its scores, because the ranker's scores do not separate
nonsense from hard questions (docs/architecture.md) but the lexical floor does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

PATH = Path(__file__).with_name("calibration.json")

HIGH, MEDIUM, LOW, NO_CLEAR = "high", "medium", "low", "no_clear_match"
#: How each level reads on the page (Japanese first, like every label of the app).
LABELS = {HIGH: "関連度 高 / High", MEDIUM: "関連度 中 / Medium", LOW: "関連度 低 / Low",
          NO_CLEAR: "関連度 低 / No clear match"}


@dataclass(frozen=True)
class Curve:
    """An isotonic step function: ``probability(score)`` interpolates between its knots."""

    scores: tuple[float, ...]
    probabilities: tuple[float, ...]

    def probability(self, score: float) -> float:
        """P(relevant) at ``score``; scores beyond the fitted range take the nearest end's value."""
        return float(np.interp(score, self.scores, self.probabilities))


@dataclass(frozen=True)
class Relevance:
    """What a hit says about its relevance: level (``high`` …), probability (None when the
    ranker has no calibration) and the label shown."""

    level: str
    probability: float | None

    @property
    def label(self) -> str:
        return LABELS[self.level]


@dataclass(frozen=True)
class Calibration:
    """The curves of every ranker fitted, and the probability cut-offs of 高 and 中."""

    curves: dict[str, Curve]
    high: float
    medium: float

    def relevance(self, ranker: str, score: float, *, no_clear_match: bool = False) -> Relevance | None:
        """The level of one hit ranked by ``ranker``; None for a ranker this file has no curve for."""
        curve = self.curves.get(ranker)
        if curve is None:
            return Relevance(NO_CLEAR, None) if no_clear_match else None
        probability = curve.probability(score)
        if no_clear_match:
            return Relevance(NO_CLEAR, probability)
        return Relevance(self.level(probability), probability)

    def level(self, probability: float) -> str:
        return HIGH if probability >= self.high else MEDIUM if probability >= self.medium else LOW


def from_json(data: dict) -> Calibration:
    """The calibration in ``data`` (the file's layout: ``cutoffs`` and ``rankers.<id>.scores/probabilities``)."""
    curves = {}
    for ranker, fit in data["rankers"].items():
        scores, probabilities = tuple(map(float, fit["scores"])), tuple(map(float, fit["probabilities"]))
        if not scores or len(scores) != len(probabilities) or list(scores) != sorted(scores):
            raise ValueError(f"calibration of {ranker}: scores must be ascending, one probability each")
        curves[ranker] = Curve(scores, probabilities)
    return Calibration(curves, high=float(data["cutoffs"]["high"]), medium=float(data["cutoffs"]["medium"]))


@cache
def shipped(path: Path = PATH) -> Calibration:
    """The calibration shipped beside the ranker (empty when the file is absent: no labels)."""
    if not path.is_file():
        return Calibration({}, high=1.0, medium=1.0)
    return from_json(json.loads(path.read_text(encoding="utf-8")))


def relevance(ranker: str, score: float, *, no_clear_match: bool = False) -> Relevance | None:
    """:meth:`Calibration.relevance` with the shipped calibration."""
    return shipped().relevance(ranker, score, no_clear_match=no_clear_match)
