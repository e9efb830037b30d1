"""Training the ranker: labels from judged spans, seeded and reproducible, a loadable text model."""

from __future__ import annotations

import numpy as np

from kb.rank.features import FEATURES
from kb.rank.model import LearnedRanker
from kb.training.ranker import Group, train


def _groups(seed: int, count: int = 60) -> list[Group]:
    rng = np.random.default_rng(seed)
    groups = []
    for n in range(count):
        x = rng.normal(size=(30, len(FEATURES))).astype(np.float32)
        y = np.zeros(30, dtype=np.int32)
        best = int(rng.integers(30))  # the relevant row stands out on the first feature
        x[best, 0] += 6.0
        y[best] = 1
        groups.append(Group(f"q{n}", x, y))
    return groups


def test_training_is_reproducible_and_learns_the_signal(tmp_path):
    groups = _groups(0)
    first, summary = train(groups, {}, seed=3, trees=80)
    second, _ = train(groups, {}, seed=3, trees=80)
    assert first == second
    assert summary["used"] == 60 and summary["train"] + summary["valid"] == 60
    (tmp_path / "m.txt").write_text(first, encoding="utf-8")
    ranker = LearnedRanker.load(tmp_path / "m.txt")
    test = _groups(1, 20)
    hits = sum(int(np.argmax(ranker.score(g.features)) == int(np.argmax(g.labels))) for g in test)
    assert hits >= 15


def test_groups_without_a_positive_are_left_out():
    groups = _groups(0, 20)
    groups.append(Group("none", np.zeros((5, len(FEATURES)), dtype=np.float32), np.zeros(5, dtype=np.int32)))
    _, summary = train(groups, {}, seed=1, trees=10)
    assert summary["questions"] == 21 and summary["used"] == 20
