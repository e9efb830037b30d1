"""The best few of N scores without sorting N: what every ranker and the fusion weights need.

At 10^6 chunks a full argsort costs 150–230 ms and even ``np.partition`` over all scores
(most of them 0) up to 50 ms; these functions touch all N scores only with vectorised
comparisons and partition a few hundred.
"""

from __future__ import annotations

import numpy as np

#: From this many chunks on, :func:`top_ids` first cuts the scores at a threshold
#: estimated from every 16th usable score and only partitions the chunks above it.
PARTITION_FIRST_MIN = 50_000
SAMPLE_STEP = 16


def top_ids(
    scores: np.ndarray, limit: int, *, allowed: np.ndarray | None = None, require: str | None = "positive"
) -> np.ndarray:
    """The ``limit`` best ids by score, best first (ties by position), among the chunks
    ``allowed`` admits whose score is usable: ``require`` "positive" (BM25: 0 is no match),
    "finite" (dense: -inf is not returned by FAISS) or None (any).

    Small arrays: argpartition over all usable ids. From :data:`PARTITION_FIRST_MIN` on, a
    cut is taken first: the (4·limit/16)-th best of every 16th usable score, so that some
    ~4·limit chunks score at or above it. When at least ``limit`` usable chunks do, the best
    ``limit`` are all among them (any chunk below the cut has ``limit`` better ones), and
    only those are partitioned. Usability is tested only on the sample and on the chunks
    above the cut, so all N scores are read just once (one comparison): ~1 ms at 10^6.
    Otherwise (an unlucky sample, a narrow filter) the plain path. (np.partition over all N
    scores is no shortcut: with most of them 0 it takes up to 50 ms.)
    """

    def usable_at(ids: np.ndarray | slice) -> np.ndarray:
        values = scores[ids]
        ok = values > 0 if require == "positive" else np.isfinite(values) if require == "finite" else \
            np.ones(len(values), dtype=bool)
        return ok & allowed[ids] if allowed is not None else ok

    ids = None
    if len(scores) >= PARTITION_FIRST_MIN and limit < len(scores):
        sample = scores[::SAMPLE_STEP]
        sample = sample[usable_at(slice(None, None, SAMPLE_STEP))]
        depth = max(1, 4 * limit // SAMPLE_STEP)
        if len(sample) > depth:
            cut = np.partition(sample, len(sample) - depth)[len(sample) - depth]
            ids = np.flatnonzero(scores >= cut)
            ids = ids[usable_at(ids)]
            if len(ids) < limit:
                ids = None
    if ids is None:
        ids = np.flatnonzero(usable_at(slice(None)))
    if len(ids) > limit:
        ids = ids[np.argpartition(-scores[ids], limit - 1)[:limit]]
    return ids[np.lexsort((ids, -scores[ids]))]


def kth_best(scores: np.ndarray, depth: int) -> tuple[float, float]:
    """(best, ``depth``-th best) of ``scores``, as a partition of all of them would give.

    Non-positive scores are ranked only when fewer than ``depth`` scores are positive (then
    by the plain partition, which is exact and, with so few positives, rare at scale).
    """
    values = np.asarray(scores, dtype=np.float32)
    depth = min(depth, values.size)
    top = top_ids(values, depth)
    if len(top) >= depth:
        return float(values[top[0]]), float(values[top[-1]])
    top_values = np.partition(values, values.size - depth)[values.size - depth :]
    return float(top_values.max()), float(top_values.min())
