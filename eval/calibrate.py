"""Refit the relevance calibration (kb/rank/calibration.json) on the tuning splits only.

Usage: ``.venv/bin/python -m eval.calibrate [--index index] [--k 10] [--out kb/rank/calibration.json]``

For every query of the tune, dev, blind and blind2 splits (never a held-out one) each
ranker — the shipped learned ranker and the hand-set formula — returns its top k; a hit
is relevant when it overlaps a judged passage (the same rule as ``kb eval``). An isotonic
regression (scikit-learn) of relevance on score gives each ranker's curve; the cut-offs of
高 and 中 are fixed probabilities chosen so 高 means "more likely relevant than not" and
中 "about one in four or better" (see :data:`CUTOFFS`). Re-run it after retraining the
ranker (``kb model train-ranker``): the curve is keyed by the ranker's hash, so an old
curve never labels a new ranker's scores. The file records what it was fitted on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.evaluation.metrics import DEFAULT_QUERY_FILES, TUNING_SPLITS, EvalQuery, hit_matches, load_query_files
from kb.rank.calibration import PATH
from kb.rank.model import FORMULA

#: Probability cut-offs: 高 when a hit is more likely judged relevant than not, 中 from one
#: in four (judgements are incomplete, so these are floors of the real chance).
CUTOFFS = {"high": 0.5, "medium": 0.25}


@dataclass(frozen=True)
class Labelled:
    """Each returned hit's score and whether it overlaps a judged passage, over all queries."""

    scores: np.ndarray
    relevant: np.ndarray
    queries: int


def labelled_hits(searcher: object, queries: Sequence[EvalQuery], k: int) -> tuple[Labelled, str]:
    """Run every query; returns the hits' scores and labels, and the ranker that scored them."""
    scores: list[float] = []
    relevant: list[bool] = []
    rankers: set[str] = set()
    for query in queries:
        result = searcher.search(query.query, k=k)  # type: ignore[attr-defined]
        rankers.add(result.ranker)
        for hit in result.hits:
            scores.append(hit.score)
            relevant.append(any(hit_matches(hit.chunk.doc, hit.line_start, hit.line_end, p) for p in query.relevant))
    if len(rankers) != 1:
        raise SystemExit(f"expected one ranker, got {sorted(rankers)}")
    return Labelled(np.array(scores), np.array(relevant, dtype=float), len(queries)), rankers.pop()


def fit_curve(labelled: Labelled) -> dict:
    """Isotonic P(relevant | score): its knots, and how well it fits (Brier score, base rate)."""
    from sklearn.isotonic import IsotonicRegression

    model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    model.fit(labelled.scores, labelled.relevant)
    fitted = model.predict(labelled.scores)
    base = float(labelled.relevant.mean())
    return {
        "scores": [round(float(x), 6) for x in model.X_thresholds_],
        "probabilities": [round(float(y), 4) for y in model.y_thresholds_],
        "queries": labelled.queries,
        "hits": len(labelled.scores),
        "relevant_hits": int(labelled.relevant.sum()),
        "brier": round(float(np.mean((fitted - labelled.relevant) ** 2)), 4),
        "brier_base_rate": round(float(np.mean((base - labelled.relevant) ** 2)), 4),
    }


def main(argv: list[str] | None = None) -> None:
    import sklearn

    from kb.service import open_searcher

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="index")
    parser.add_argument("--k", type=int, default=10, help="hits per query (the app's default list)")
    parser.add_argument("--out", type=Path, default=PATH)
    args = parser.parse_args(argv)
    queries = [q for q in load_query_files(DEFAULT_QUERY_FILES) if q.split in TUNING_SPLITS]
    rankers: dict[str, dict] = {}
    build = ""
    for choice in ("learned", FORMULA):
        searcher = open_searcher(args.index, ranker=choice)
        build = searcher.index.path.name
        labelled, identity = labelled_hits(searcher, queries, args.k)
        rankers[identity] = {"choice": choice, **fit_curve(labelled)}
        fit = rankers[identity]
        print(f"{choice} ({identity}): {fit['hits']} hits, {fit['relevant_hits']} relevant, "
              f"{len(fit['scores'])} knots, Brier {fit['brier']} (base rate {fit['brier_base_rate']})", file=sys.stderr)
    data = {
        "about": "P(a hit overlaps a judged relevant passage) from the ranker's score; see kb/rank/calibration.py",
        "cutoffs": CUTOFFS,
        "fitted_on": {
            "splits": list(TUNING_SPLITS),
            "files": [str(f) for f in DEFAULT_QUERY_FILES],
            "queries": len(queries),
            "hits_per_query": args.k,
            "index_build": build,
            "method": f"isotonic regression (scikit-learn {sklearn.__version__})",
            "date": dt.date.today().isoformat(),
            "command": "python -m eval.calibrate",
        },
        "rankers": rankers,
    }
    args.out.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
