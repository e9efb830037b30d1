"""Train the LambdaMART ranker from questions with judged passages.

One group per question: its candidates (the union of each signal's top 100, exactly what
a search scores) with label 1 where the chunk overlaps a judged passage, else 0. Questions
none of whose positives is a candidate teach nothing and are left out (counted). LightGBM's
``lambdarank`` optimises NDCG@10 over the groups; a tenth of the training questions
(chosen by a seeded hash of their source passage, so one passage's questions stay on one
side) stops the boosting early. The model is saved in LightGBM's text format.

Feature rows are cached per question (``.npz`` beside the output) so that ablations and
leave-one-plan-out runs retrain in seconds.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.evaluation.metrics import EvalQuery, Passage, hit_matches
from kb.rank.features import FEATURES
from kb.search.searcher import Searcher

#: LightGBM settings: small trees, strong regularisation (a few thousand groups).
PARAMS: dict[str, object] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "eval_at": [10],
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "lambdarank_truncation_level": 20,
    "verbose": -1,
    "num_threads": 2,
    "deterministic": True,
    "force_row_wise": True,
}
MAX_TREES = 300
EARLY_STOP = 30


@dataclass
class Group:
    """One question's candidates: feature rows and labels."""

    id: str
    features: np.ndarray
    labels: np.ndarray


def labels_for(searcher: Searcher, candidates: np.ndarray, relevant: Sequence[Passage]) -> np.ndarray:
    out = np.zeros(len(candidates), dtype=np.int32)
    for row, item in enumerate(candidates):
        chunk = searcher.chunks[int(item)]
        if any(hit_matches(chunk.doc, chunk.line_start, chunk.line_end, p) for p in relevant):
            out[row] = 1
    return out


def group_key(query: EvalQuery) -> str:
    """A question's cache key: its text and judged passages (ids are renumbered when files change)."""
    spans = sorted((p.doc, p.start, p.end) for p in query.relevant)
    return hashlib.sha256(json.dumps([query.query, spans], ensure_ascii=False).encode()).hexdigest()[:24]


def build_groups(searcher: Searcher, queries: Sequence[EvalQuery], cache: Path | None = None,
                 say: Callable[[str], None] = print) -> list[Group]:
    """Feature rows and labels of every question (read from ``cache`` where present)."""
    stored: dict[str, Group] = {}
    if cache is not None and cache.is_file():
        with np.load(cache, allow_pickle=False) as data:
            ids = [str(i) for i in data["ids"]]
            offsets = data["offsets"]
            if tuple(str(n) for n in data["features"]) == FEATURES:
                x, y = data["x"], data["y"]  # each data[...] reads the whole array again: once only
                for n, qid in enumerate(ids):
                    a, b = int(offsets[n]), int(offsets[n + 1])
                    stored[qid] = Group(qid, x[a:b], y[a:b])
    groups: list[Group] = []
    start = time.perf_counter()
    for n, query in enumerate(queries, start=1):
        key = group_key(query)
        group = stored.get(key)
        if group is None:
            candidates, matrix = searcher.candidate_features(query.query)
            group = Group(key, matrix, labels_for(searcher, candidates, query.relevant))
        group = Group(query.id, group.features, group.labels)
        groups.append(group)
        if n % 500 == 0:
            say(f"  features: {n}/{len(queries)} questions ({time.perf_counter() - start:.0f} s)")
    if cache is not None:
        sizes = np.cumsum([0] + [len(g.labels) for g in groups])
        np.savez(cache, ids=np.array([group_key(q) for q in queries]), offsets=sizes,
                 x=np.concatenate([g.features for g in groups]) if groups else np.zeros((0, len(FEATURES))),
                 y=np.concatenate([g.labels for g in groups]) if groups else np.zeros(0),
                 features=np.array(FEATURES))
    return groups


def _zeroed(features: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    out = features.copy()
    out[:, columns] = 0.0
    return out


def _held_back(key: str, seed: int) -> bool:
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest(), 16) % 10 == 0


def train(groups: Sequence[Group], keys: dict[str, str], *, seed: int = 13, trees: int = MAX_TREES,
          drop: Sequence[str] = ()) -> tuple[str, dict]:
    """Train on the groups with a positive; returns the model text and a summary. ``drop``:
    features held constant (an ablation: the trees never split on them)."""
    import lightgbm

    if drop:
        columns = [FEATURES.index(name) for name in drop]
        groups = [Group(g.id, _zeroed(g.features, columns), g.labels) for g in groups]
    useful = [g for g in groups if g.labels.any() and not g.labels.all()]
    train_groups = [g for g in useful if not _held_back(keys.get(g.id, g.id), seed)]
    valid_groups = [g for g in useful if _held_back(keys.get(g.id, g.id), seed)]

    def dataset(part: Sequence[Group]) -> lightgbm.Dataset:
        return lightgbm.Dataset(np.concatenate([g.features for g in part]), np.concatenate([g.labels for g in part]),
                                group=[len(g.labels) for g in part], feature_name=list(FEATURES), free_raw_data=False)

    train_set = dataset(train_groups)
    valid_set = dataset(valid_groups) if valid_groups else None
    params = dict(PARAMS, seed=seed)
    start = time.perf_counter()
    booster = lightgbm.train(
        params, train_set, num_boost_round=trees,
        valid_sets=[valid_set] if valid_set is not None else None,
        callbacks=[lightgbm.early_stopping(EARLY_STOP, verbose=False)] if valid_set is not None else None,
    )
    seconds = time.perf_counter() - start
    summary = {"questions": len(groups), "used": len(useful), "train": len(train_groups), "valid": len(valid_groups),
               "trees": booster.best_iteration or booster.current_iteration(), "seconds": round(seconds, 1),
               "rows": int(sum(len(g.labels) for g in train_groups))}
    text = booster.model_to_string(num_iteration=booster.best_iteration or None)
    return text, summary


def importance(text: str) -> list[tuple[str, float]]:
    import lightgbm

    booster = lightgbm.Booster(model_str=text)
    gains = booster.feature_importance(importance_type="gain")
    total = float(gains.sum()) or 1.0
    return sorted(((n, float(g) / total) for n, g in zip(booster.feature_name(), gains)), key=lambda x: -x[1])


def source_keys(queries: Sequence[EvalQuery]) -> dict[str, str]:
    """Training question id → the passage it was written from (held-back questions share
    passages); the evaluation splits' questions have none and are held back by their own id."""
    return {q.id: f"{q.relevant[0].doc}:{[q.relevant[0].start, q.relevant[0].end]}"
            for q in queries if q.split == "train" and q.relevant}
