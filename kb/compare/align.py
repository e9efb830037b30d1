"""Cross-referencing two sides (cities or plans): which measures of one answer the other's.

A planner asks "what does each side do about X, and what does one do that the other
does not?". A :class:`Side` is a city (久留米市 = its strategy, comprehensive plan and the
wide-area vision; 熊本市 = its strategy; 広域 = the wide-area vision) or one plan, chosen
by the caller; the default is 久留米市 × 熊本市. :func:`compare` takes each side's
candidates (:mod:`kb.compare.candidates`: one search per side, every plan of a city drawn
on, never a bare heading), then pairs measures across the sides by *contrast*
(:mod:`kb.compare.units`: embeddings blended with lemma overlap, minus each measure's
similarity with everything else) and words it with :mod:`kb.compare.strength`; a retrieved
measure with no counterpart *anywhere* on the other side is listed as only on its side.

The pieces live in their own modules; this one re-exports the names callers have always
imported from ``kb.compare.align``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from kb.compare.candidates import RELATIVE_CUT, retrieve, side_members
from kb.compare.crossref import PLAN_ORDER, CrossReference, CrossRow, cross_reference, strategy_doc
from kb.compare.measures import Measure, measure_of, summary_line
from kb.compare.strength import (
    DENSE_WEIGHT,
    NONE_LABEL,
    PARTIAL_LABEL,
    STRONG,
    STRONG_LABEL,
    THRESHOLD,
    label,
)
from kb.compare.units import (
    KINDS,
    LEFT,
    RIGHT,
    Aligner,
    Side,
    SideError,
    Similarity,
    Unit,
    aligner_for,
    clean_title,
    resolve_side,
    short_title,
    side_choices,
)
from kb.kpi.extract import Kpi
from kb.search.searcher import Searcher

__all__ = [
    "COUNTERPARTS", "DENSE_WEIGHT", "KINDS", "LEFT", "NONE_LABEL", "PARTIAL_LABEL", "PLAN_ORDER", "RELATIVE_CUT",
    "RIGHT", "STRONG", "STRONG_LABEL", "THRESHOLD", "Aligner", "Comparison", "Counterpart", "CrossReference",
    "CrossRow", "Measure", "Pair", "Row", "Side", "SideError", "Similarity", "Unit", "aligner_for", "clean_title",
    "compare", "cross_reference", "resolve_side", "short_title", "side_choices", "side_members", "strategy_doc",
    "strength", "summary_line",
]

#: Counterparts listed in one memo row at most (the best first).
COUNTERPARTS = 3


def strength(similarity: Similarity, strong: float = STRONG, partial: float = THRESHOLD) -> str:
    """強い対応 / 部分的 / 対応なし for a pair, decided on its contrast as printed."""
    return label(similarity.contrast, strong, partial)


@dataclass(frozen=True)
class Counterpart:
    """A measure of the right side that answers a row's left measure."""

    measure: Measure
    similarity: Similarity
    strength: str


@dataclass(frozen=True)
class Row:
    """One row of the memo: a left measure and its counterparts on the right, best first."""

    measure: Measure
    counterparts: tuple[Counterpart, ...]


@dataclass(frozen=True)
class Pair:
    """A row flattened to one counterpart (CSV and JSON want one line per pair)."""

    left: Measure
    right: Measure
    similarity: Similarity
    strength: str


@dataclass
class Comparison:
    query: str
    left: Side
    right: Side
    left_measures: list[Measure]
    right_measures: list[Measure]
    rows: list[Row]
    only_left: list[Measure]
    only_right: list[Measure]
    threshold: float = THRESHOLD
    strong: float = STRONG
    dense_weight: float = DENSE_WEIGHT
    documents: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The topic shares no word with the plans (kb.search.floor): nothing is listed or paired.
    no_clear_match: bool = False

    @property
    def pairs(self) -> list[Pair]:
        return [Pair(row.measure, c.measure, c.similarity, c.strength) for row in self.rows for c in row.counterparts]


def compare(
    searcher: Searcher,
    query: str,
    *,
    left: Side = LEFT,
    right: Side = RIGHT,
    kpis: Sequence[Kpi] = (),
    k: int = 8,
    candidates: int = 80,
    threshold: float = THRESHOLD,
    strong: float = STRONG,
    relative_cut: float = RELATIVE_CUT,
) -> Comparison:
    """Both sides' measures for ``query`` as a memo: one row per left measure with its
    counterparts on the right, and what only one side does.

    A topic with no clear match in the plans (nonsense, a word they never use) gets no
    measures and no pairs: pairing the nearest noise of each side would look like an answer.
    """
    if left == right:
        raise SideError(f"compare two different sides (both are {left.label})")
    empty = Comparison(query=query, left=left, right=right, left_measures=[], right_measures=[], rows=[],
                       only_left=[], only_right=[], threshold=threshold, strong=strong,
                       documents=dict(searcher.index.documents))
    if searcher.search(query, k=1).no_clear_match:
        empty.no_clear_match = True
        return empty
    aligner = aligner_for(searcher)
    empty.dense_weight = aligner.dense_weight
    members = side_members(aligner, left, right)
    found = [retrieve(searcher, aligner, query, side, m, k, candidates, relative_cut)
             for side, m in zip((left, right), members, strict=True)]
    lefts = [measure_of(u, s, kpis, aligner) for u, s in found[0]]
    rights = [measure_of(u, s, kpis, aligner) for u, s in found[1]]
    everyone = [[aligner.units[i] for i in sorted(m)] for m in members]
    judged = {"strong": strong, "partial": threshold}

    def counterpart(unit: Unit, partner: Measure, outside: bool = False) -> Counterpart | None:
        """A counterpart, or None below 部分的; outside the top results (※) only a
        強い対応 counts: the topic did not bring it up, so near-the-line is noise."""
        similarity = aligner.similarity(unit.index, partner.unit.index)
        word = strength(similarity, **judged)
        if word == NONE_LABEL or (outside and word != STRONG_LABEL):
            return None
        return Counterpart(partner, similarity, word)

    rows: dict[int, list[Counterpart]] = {}
    extra: dict[int, Measure] = {}  # left units outside the top results that a right measure points to
    for measure in lefts:
        found_here = [c for r in rights if (c := counterpart(measure.unit, r)) is not None]
        if not found_here:  # the closest anywhere on the right, marked ※
            best = aligner.closest(measure.unit, everyone[1], 1)
            if best:
                c = counterpart(measure.unit, measure_of(best[0][0], 0.0, kpis, aligner, retrieved=False), outside=True)
                found_here = [c] if c is not None else []
        rows[measure.unit.index] = found_here
    listed = {m.unit.index for m in lefts}
    for measure in rights:
        if any(c.measure.unit.index == measure.unit.index for cs in rows.values() for c in cs):
            continue
        best = aligner.closest(measure.unit, everyone[0], 1)
        if not best:
            continue
        unit = best[0][0]
        c = counterpart(unit, measure, outside=unit.index not in listed)
        if c is None:
            continue
        if unit.index not in listed:
            extra.setdefault(unit.index, measure_of(unit, 0.0, kpis, aligner, retrieved=False))
        rows.setdefault(unit.index, []).append(c)
    ordered = [*lefts, *extra.values()]
    memo = [Row(m, tuple(sorted(rows[m.unit.index], key=lambda c: -c.similarity.contrast)[:COUNTERPARTS]))
            for m in ordered if rows.get(m.unit.index)]
    shown = {c.measure.unit.index for row in memo for c in row.counterparts}
    return replace(
        empty,
        left_measures=lefts,
        right_measures=rights,
        rows=memo,
        only_left=[m for m in lefts if not rows.get(m.unit.index)],
        only_right=[m for m in rights if m.unit.index not in shown
                    and not any(c.measure.unit.index == m.unit.index for cs in rows.values() for c in cs)],
    )
