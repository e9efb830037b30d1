"""Choosing the alignment weight and thresholds from hand-labelled cross-plan pairs.

``eval/compare/pairs.jsonl`` holds pairs (a Kurume measure or goal, a Kumamoto one;
the keys ``left``/``right`` work too) labelled "same" (a planner would put them on one
row of a cross-reference table) or "different", read from the plans. Each side names a
document and a line inside the unit, so the file survives re-chunking. A pair's score
is its contrast (:class:`kb.compare.align.Similarity`). :func:`grid_search` picks the
dense weight and threshold that maximise F-beta with beta = 0.5 (precision counts
double: a false match hides a real "only in" difference); :func:`strong_threshold`
the 強い対応 level (beta = 0.25); :func:`cross_validate` says how well the choice
generalises. The precision/recall curve is scikit-learn's when it is installed.

Scores and thresholds are compared as the memo prints them (:func:`kb.compare.strength.shown`,
4 decimals), and thresholds are chosen on that grid: the rule tuned here is exactly the rule
the memo applies, so a printed contrast and the printed threshold never disagree with the label.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kb.compare.strength import shown
from kb.compare.units import Aligner, Unit

WEIGHTS = tuple(round(0.05 * i, 2) for i in range(21))


#: Precision weighs 1/BETA² times recall: 0.5 for a match, 0.25 for a 強い対応.
BETA = 0.5
STRONG_BETA = 0.25


@dataclass(frozen=True)
class LabelledPair:
    id: str
    left: Unit
    right: Unit
    same: bool
    dense: float
    lexical: float
    #: Mean of the two units' dense / lexical similarity with other plans (the contrast's baseline).
    dense_background: float = 0.0
    lexical_background: float = 0.0

    def score(self, weight: float) -> float:
        combined = weight * self.dense + (1 - weight) * self.lexical
        return combined - (weight * self.dense_background + (1 - weight) * self.lexical_background)


@dataclass(frozen=True)
class Choice:
    weight: float
    threshold: float
    precision: float
    recall: float
    f1: float
    #: F-beta of the rule that chose it (F0.5 for matches).
    fbeta: float
    true_positives: int
    false_positives: int
    false_negatives: int


class PairError(ValueError):
    """A labelled pair does not resolve to a measure of the index."""


def resolve(aligner: Aligner, doc: str, line: int) -> Unit:
    for unit in aligner.units:
        if unit.doc == doc and unit.line_start <= line <= unit.line_end:
            return unit
    raise PairError(f"no measure or goal of {doc} contains line {line}")


def load_pairs(path: Path | str, aligner: Aligner) -> list[LabelledPair]:
    pairs = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        if record["label"] not in ("same", "different"):
            raise PairError(f"{path}:{number}: label must be 'same' or 'different'")
        left, right = record.get("left", record.get("kurume")), record.get("right", record.get("kumamoto"))
        a = resolve(aligner, left["doc"], int(left["line"]))
        b = resolve(aligner, right["doc"], int(right["line"]))
        similarity = aligner.similarity(a.index, b.index)
        pairs.append(LabelledPair(
            id=record.get("id", str(number)), left=a, right=b, same=record["label"] == "same",
            dense=similarity.dense, lexical=similarity.lexical,
            dense_background=float(aligner.dense_background[a.index] + aligner.dense_background[b.index]) / 2,
            lexical_background=float(aligner.lexical_background[a.index] + aligner.lexical_background[b.index]) / 2))
    return pairs


def fbeta(precision: float, recall: float, beta: float = BETA) -> float:
    b2 = beta * beta
    return (1 + b2) * precision * recall / (b2 * precision + recall) if precision + recall else 0.0


def evaluate(pairs: Sequence[LabelledPair], weight: float, threshold: float, beta: float = BETA) -> Choice:
    kept = [shown(p.score(weight)) >= shown(threshold) for p in pairs]
    tp = sum(p.same and keep for p, keep in zip(pairs, kept, strict=True))
    fp = sum((not p.same) and keep for p, keep in zip(pairs, kept, strict=True))
    fn = sum(p.same and not keep for p, keep in zip(pairs, kept, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return Choice(weight, threshold, precision, recall, fbeta(precision, recall, 1.0), fbeta(precision, recall, beta),
                  tp, fp, fn)


def _cut_points(pairs: Sequence[LabelledPair], weight: float) -> list[float]:
    """Candidate thresholds: the printed scores (scikit-learn's precision_recall_curve cut
    points when it is installed, else the same by hand), then between each two neighbours
    their midpoint as printed, so the chosen value does not sit on one labelled pair where
    the grid leaves room."""
    printed = [shown(p.score(weight)) for p in pairs]
    try:
        from sklearn.metrics import precision_recall_curve

        _, _, cuts = precision_recall_curve([p.same for p in pairs], printed)
        scores = sorted({shown(float(c)) for c in cuts})
    except ImportError:  # pragma: no cover - scikit-learn is in the dev environment
        scores = sorted(set(printed))
    return sorted({shown((a + b) / 2) for a, b in itertools.pairwise(scores)}) or scores


def best_threshold(pairs: Sequence[LabelledPair], weight: float, beta: float = BETA) -> Choice:
    """The F-beta-best threshold for one weight (ties: the higher precision)."""
    best = None
    for threshold in _cut_points(pairs, weight):
        choice = evaluate(pairs, weight, threshold, beta)
        if best is None or (choice.fbeta, choice.precision) > (best.fbeta, best.precision):
            best = choice
    assert best is not None
    return best


def grid_search(pairs: Sequence[LabelledPair], weights: Sequence[float] = WEIGHTS, beta: float = BETA) -> list[Choice]:
    """The best threshold for each weight, best F-beta first."""
    return sorted((best_threshold(pairs, w, beta) for w in weights), key=lambda c: (-c.fbeta, -c.precision, c.weight))


#: F-beta differences below this are noise (about one pair more or less right).
F1_TOLERANCE = 0.005


def choose(pairs: Sequence[LabelledPair], tolerance: float = F1_TOLERANCE, beta: float = BETA) -> Choice:
    """The F0.5-best (weight, threshold); among choices within ``tolerance`` of the best,
    the most precise, because a false match hides a real "only in one side" difference."""
    ranked = grid_search(pairs, beta=beta)
    near = [c for c in ranked if c.fbeta >= ranked[0].fbeta - tolerance]
    return max(near, key=lambda c: (c.precision, c.fbeta, -c.weight))


def strong_threshold(pairs: Sequence[LabelledPair], weight: float, threshold: float) -> Choice:
    """The 強い対応 level: the median score of the labelled matches the threshold keeps.

    Precision on these labels plateaus near 0.88 (no cut reaches 0.9 with useful recall),
    so an F0.25 optimum sits a hair above the match threshold and says nothing; the
    median splits the kept matches into a clearly-above half (強い対応) and a near-the-line
    half (部分的), and its precision is reported next to it.
    """
    kept = sorted(p.score(weight) for p in pairs if p.same and shown(p.score(weight)) >= shown(threshold))
    if not kept:
        return evaluate(pairs, weight, threshold, STRONG_BETA)
    middle = len(kept) // 2
    median = kept[middle] if len(kept) % 2 else (kept[middle - 1] + kept[middle]) / 2
    return evaluate(pairs, weight, shown(median), STRONG_BETA)


def cross_validate(pairs: Sequence[LabelledPair], folds: int = 5, seed: int = 7) -> Choice:
    """F1 and F0.5 on held-out folds with weight and threshold chosen on the rest (stratified)."""
    rng = random.Random(seed)
    buckets: list[list[LabelledPair]] = [[] for _ in range(folds)]
    for label in (True, False):
        group = [p for p in pairs if p.same == label]
        rng.shuffle(group)
        for i, pair in enumerate(group):
            buckets[i % folds].append(pair)
    tp = fp = fn = 0
    for i in range(folds):
        train = [p for j, b in enumerate(buckets) if j != i for p in b]
        chosen = choose(train)
        held = evaluate(buckets[i], chosen.weight, chosen.threshold)
        tp, fp, fn = tp + held.true_positives, fp + held.false_positives, fn + held.false_negatives
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return Choice(float("nan"), float("nan"), precision, recall, fbeta(precision, recall, 1.0),
                  fbeta(precision, recall), tp, fp, fn)
