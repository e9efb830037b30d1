"""Choosing the alignment weight and threshold from hand-labelled cross-city pairs.

``eval/compare/pairs.jsonl`` holds pairs (a Kurume measure or goal, a Kumamoto one)
labelled "same" (a planner would put them on one row of a cross-reference table) or
"different", read from the plans. Each side names a document and a line inside the
unit, so the file survives re-chunking. :func:`grid_search` picks the dense weight
and threshold that maximise F1; :func:`cross_validate` says how well that choice
generalises (parameters chosen on the other folds).
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kb.compare.align import Aligner, Unit

WEIGHTS = tuple(round(0.05 * i, 2) for i in range(21))


@dataclass(frozen=True)
class LabelledPair:
    id: str
    kurume: Unit
    kumamoto: Unit
    same: bool
    dense: float
    lexical: float

    def score(self, weight: float) -> float:
        return weight * self.dense + (1 - weight) * self.lexical


@dataclass(frozen=True)
class Choice:
    weight: float
    threshold: float
    precision: float
    recall: float
    f1: float
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
        a = resolve(aligner, record["kurume"]["doc"], int(record["kurume"]["line"]))
        b = resolve(aligner, record["kumamoto"]["doc"], int(record["kumamoto"]["line"]))
        similarity = aligner.similarity(a.index, b.index)
        pairs.append(LabelledPair(id=record.get("id", str(number)), kurume=a, kumamoto=b,
                                  same=record["label"] == "same", dense=similarity.dense,
                                  lexical=similarity.lexical))
    return pairs


def evaluate(pairs: Sequence[LabelledPair], weight: float, threshold: float) -> Choice:
    tp = sum(p.same and p.score(weight) >= threshold for p in pairs)
    fp = sum((not p.same) and p.score(weight) >= threshold for p in pairs)
    fn = sum(p.same and p.score(weight) < threshold for p in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Choice(weight, threshold, precision, recall, f1, tp, fp, fn)


def best_threshold(pairs: Sequence[LabelledPair], weight: float) -> Choice:
    """The F1-best threshold for one weight: midpoints between neighbouring scores, so
    the chosen value does not sit on one labelled pair (ties: the higher precision)."""
    scores = sorted({round(p.score(weight), 6) for p in pairs})
    candidates = [(a + b) / 2 for a, b in itertools.pairwise(scores)] or scores
    best = None
    for threshold in candidates:
        choice = evaluate(pairs, weight, round(threshold, 4))
        if best is None or (choice.f1, choice.precision) > (best.f1, best.precision):
            best = choice
    assert best is not None
    return best


def grid_search(pairs: Sequence[LabelledPair], weights: Sequence[float] = WEIGHTS) -> list[Choice]:
    """The best threshold for each weight, best F1 first."""
    return sorted((best_threshold(pairs, w) for w in weights), key=lambda c: (-c.f1, -c.precision, c.weight))


#: F1 differences below this are noise: one pair more or less right moves F1 by about
#: 1/(2 × positives) ≈ 0.005 on the labelled set.
F1_TOLERANCE = 0.005


def choose(pairs: Sequence[LabelledPair], tolerance: float = F1_TOLERANCE) -> Choice:
    """The F1-best (weight, threshold); among choices within ``tolerance`` of the best F1,
    the most precise, because a false match hides a real "only in one city" difference."""
    ranked = grid_search(pairs)
    near = [c for c in ranked if c.f1 >= ranked[0].f1 - tolerance]
    return max(near, key=lambda c: (c.precision, c.f1, -c.weight))


def cross_validate(pairs: Sequence[LabelledPair], folds: int = 5, seed: int = 7) -> Choice:
    """F1 on held-out folds with weight and threshold chosen on the rest (stratified)."""
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
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Choice(float("nan"), float("nan"), precision, recall, f1, tp, fp, fn)
