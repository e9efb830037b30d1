"""The whole-plan mode (``kb compare --all``): every goal and measure of one city's strategy
with the closest measures of the other city.

Goals meet goals and measures meet measures. A goal row's title is the goal itself, so the
strategy's bare goal titles (【基本目標1 …】) stay rows here, unlike in the topic memo; the
strategy's 基本的視点 sections (viewpoint units) are not rows or matches: the table walks the
plan's goals and directions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kb.compare.measures import Measure, measure_of
from kb.compare.strength import THRESHOLD
from kb.compare.units import Similarity, aligner_for
from kb.ingest.corpus import KUMAMOTO, KURUME
from kb.kpi.extract import Kpi
from kb.search.searcher import Searcher

#: Plans in the order planners name them: strategy, comprehensive plan, wide-area vision.
PLAN_ORDER = ("地方創生総合戦略", "総合計画", "連携中枢都市圏ビジョン")


@dataclass(frozen=True)
class CrossRow:
    """One measure of the source plan and its closest measures in the other city."""

    source: Measure
    matches: tuple[tuple[Measure, Similarity], ...]


@dataclass
class CrossReference:
    source_city: str
    source_doc: str
    target_docs: tuple[str, ...]
    rows: list[CrossRow]
    per_doc: bool
    threshold: float = THRESHOLD
    documents: dict[str, dict[str, str]] = field(default_factory=dict)


def strategy_doc(searcher: Searcher, city: str) -> str:
    """The city's 地方創生総合戦略 (the plan whose goals the whole-plan mode walks)."""
    for doc, meta in sorted(searcher.index.documents.items()):
        if meta.get("city") == city and meta.get("area") == city and "総合戦略" in meta.get("kind", ""):
            return doc
    docs = sorted({c.doc for c in searcher.chunks if c.city == city and c.area == city})
    return docs[0] if docs else ""


def cross_reference(
    searcher: Searcher, source_city: str, *, kpis: Sequence[Kpi] = (), n: int = 3,
    threshold: float = THRESHOLD,
) -> CrossReference:
    """For each measure of ``source_city``'s strategy, its closest measures in the other city.

    Kurume → Kumamoto: the ``n`` closest measures of Kumamoto's strategy. Kumamoto →
    Kurume: the closest measure of *each* Kurume plan (strategy, comprehensive plan,
    wide-area vision), because a planner wants to know where each plan covers it.
    """
    aligner = aligner_for(searcher)
    source_doc = strategy_doc(searcher, source_city)
    target_city = KUMAMOTO if source_city == KURUME else KURUME
    targets = [u for u in aligner.units_of(target_city) if not u.is_narrative and not u.viewpoint]
    documents = dict(searcher.index.documents)
    target_docs = tuple(sorted({u.doc for u in targets}, key=lambda d: _plan_order(d, documents)))
    per_doc = source_city == KUMAMOTO
    rows = []
    for unit in aligner.units_of(source_city, [source_doc]):
        if unit.is_narrative or unit.viewpoint:
            continue  # the goal itself is a row; its 基本的方向 would repeat it
        same_kind = [t for t in targets if t.kind == unit.kind]  # goals meet goals, measures meet measures
        if per_doc:
            found = [m for doc in target_docs for m in aligner.closest(unit, [t for t in same_kind if t.doc == doc], 1)]
        else:
            found = aligner.closest(unit, same_kind, n)
        rows.append(CrossRow(
            source=measure_of(unit, 0.0, kpis, aligner),
            matches=tuple((measure_of(t, 0.0, kpis, aligner, retrieved=False), s) for t, s in found),
        ))
    rows.sort(key=lambda r: r.source.unit.line_start)
    return CrossReference(source_city=source_city, source_doc=source_doc, target_docs=target_docs, rows=rows,
                          per_doc=per_doc, threshold=threshold, documents=documents)


def _plan_order(doc: str, documents: dict[str, dict[str, str]]) -> tuple[int, str]:
    """Sort key by the manifest's ``kind`` (not the file name, so added plans sort too)."""
    kind = documents.get(doc, {}).get("kind", "")
    return (PLAN_ORDER.index(kind) if kind in PLAN_ORDER else len(PLAN_ORDER)), doc
