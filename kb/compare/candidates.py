"""Which measures of each side a comparison looks at, before any pairing.

One search per side (over all of the side's chunks, so scores are on ``kb search``'s scale)
brings up its measure, goal and viewpoint units for the topic. A unit stays if it scores at
least :data:`RELATIVE_CUT` of the side's best; a plan's viewpoints stay only when none of its
measures or goals does. A side that is a city holds several plans, and
a planner asks what *the city* does: every plan with a unit above the cut gets its best one
in (before the 久留米市 side listed the comprehensive plan's 施策 alone for 若い女性の転出 and
missed the strategy's 「若者や女性にも選ばれる魅力あるまちづくり」), and no plan fills more than
half the list while another has units above the cut. Bare headings are never candidates.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace
from functools import lru_cache

from kb.compare.units import Aligner, Side, Unit
from kb.search.searcher import Searcher

#: Retrieved measures below this share of the side's best retrieval score are dropped.
RELATIVE_CUT = 0.35


def side_members(aligner: Aligner, left: Side, right: Side) -> tuple[set[int], set[int]]:
    """The units each side may show: never a bare heading; a unit both sides hold
    (久留米市 × 広域) goes to the narrower side, so no measure is compared with itself."""
    a = {u.index for u in aligner.units if left.holds(u) and not u.bare}
    b = {u.index for u in aligner.units if right.holds(u) and not u.bare}
    shared = a & b
    if len(a) >= len(b):
        a -= shared
    else:
        b -= shared
    return a, b


def retrieve(searcher: Searcher, aligner: Aligner, query: str, side: Side, members: set[int], k: int,
             candidates: int, relative_cut: float = RELATIVE_CUT) -> list[tuple[Unit, float]]:
    """The side's units for the query, best first, each once, at most ``k``."""
    result = _unmerged(searcher).search(query, k=candidates, filters=side.filters)
    best: dict[int, float] = {}
    for hit in result.hits:
        # A hit may stand for several adjacent chunks merged by the search (hit.merged):
        # each of their measures counts, with the hit's score.
        for chunk_id in (hit.chunk.id, *hit.merged):
            position = aligner.positions.get(chunk_id)
            unit = aligner.unit_of(position) if position is not None else None
            if unit is not None and unit.index in members and hit.score > best.get(unit.index, float("-inf")):
                best[unit.index] = hit.score
    if not best:
        return []
    top = max(best.values())
    ranked = sorted(((aligner.units[i], score) for i, score in best.items()), key=lambda item: (-item[1], item[0].index))
    above = [(unit, score) for unit, score in ranked if score >= relative_cut * top]
    return choose_per_plan(stand_ins(above), k)


def stand_ins(ranked: list[tuple[Unit, float]]) -> list[tuple[Unit, float]]:
    """``ranked`` without the viewpoints of plans that have a measure or goal in it: a
    基本的視点 is broader than any measure, so it only speaks for a plan whose measures do
    not (Kurume's strategy, whose directions ①–⑬ are one-line labels)."""
    covered = {unit.doc for unit, _ in ranked if not unit.viewpoint}
    return [(unit, score) for unit, score in ranked if not (unit.viewpoint and unit.doc in covered)]


def choose_per_plan(ranked: list[tuple[Unit, float]], k: int) -> list[tuple[Unit, float]]:
    """At most ``k`` of ``ranked`` (best first): each plan's best first, then by score with
    at most half the list per plan while several plans have units, then whatever is left."""
    plans = list(dict.fromkeys(unit.doc for unit, _ in ranked))
    cap = max(2, math.ceil(k / 2)) if len(plans) > 1 else k
    chosen: list[tuple[Unit, float]] = []
    per_plan: dict[str, int] = {}

    def take(item: tuple[Unit, float]) -> None:
        chosen.append(item)
        per_plan[item[0].doc] = per_plan.get(item[0].doc, 0) + 1

    for doc in plans[:k]:  # every plan that speaks to the topic, by its best unit
        take(next(item for item in ranked if item[0].doc == doc))
    for item in ranked:
        if len(chosen) >= k:
            break
        if item not in chosen and per_plan.get(item[0].doc, 0) < cap:
            take(item)
    for item in ranked:  # fill up when the cap left room
        if len(chosen) >= k:
            break
        if item not in chosen:
            take(item)
    return sorted(chosen, key=lambda item: (-item[1], item[0].index))


@lru_cache(maxsize=2)
def _unmerged(searcher: Searcher) -> Searcher:
    """The searcher with adjacent-chunk merging off: measures are compared one by one, and
    a merged hit would hide the second of two neighbouring measures behind the first. It ranks
    with the hand-set formula, not the learned ranker: the relative cut and the strength
    thresholds (eval/compare) were chosen on the formula's scores, which are ratios of a
    best match; the ranker's scores are not."""
    twin = copy.copy(searcher)
    if hasattr(twin.config, "merge_adjacent"):
        twin.config = replace(twin.config, merge_adjacent=False)
    if hasattr(twin, "learned"):
        twin.learned = None
    return twin
