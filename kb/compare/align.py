"""Cross-referencing Kurume and Kumamoto: which measures of one city answer the other's.

A planner asks "what does each city do about X, and what does one do that the other
does not?". :func:`compare` retrieves the measures of each side with
:meth:`Searcher.search` (Kurume = its strategy, comprehensive plan and the wide-area
vision; Kumamoto = its strategy), then pairs measures across the cities by meaning:
cosine of their embeddings (the index's own vectors) blended with the overlap of
their lemma terms (TF-IDF cosine, so a one-line strategy direction and a full 施策
page can still match). Pairs at or above :data:`THRESHOLD` are "the same topic";
a retrieved measure with no counterpart at that level *anywhere* in the other city's
plans is listed as only in its city. The weight and threshold are not guessed: they
maximise F1 on hand-labelled cross-city pairs (``eval/compare/pairs.jsonl``; the
numbers are in ``eval/compare/results.md``, recomputed by ``eval/compare/tune.py``).

:func:`cross_reference` is the whole-plan mode: for every measure of one city's
strategy, the closest measures of the other city's plans.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from kb.chunk import Chunk
from kb.domain import ChunkKind, SourceSpan
from kb.ingest.corpus import KUMAMOTO, KURUME
from kb.kpi.extract import Kpi, kpis_for_chunk
from kb.search.searcher import Filters, Searcher

#: Chunk kinds compared: measures (施策, 連携事業, 基本的な方向性, sub-measures ①②…) and
#: goals (a goal's title and its narrative: 基本的方向, 概要, the 基本構想's goal text).
KINDS = (ChunkKind.MEASURE, ChunkKind.GOAL)
#: Goal narratives that review the previous plan period are not something the city does.
_NOT_POLICY = re.compile(r"検証|イメージ図")
#: Share of the blended similarity that comes from the embeddings (the rest: lemma overlap).
DENSE_WEIGHT = 0.7
#: Pairs at or above this blended similarity are the same topic. Both constants were
#: chosen on eval/compare/pairs.jsonl by eval/compare/tune.py (F1-maximising).
THRESHOLD = 0.6583
#: Retrieved measures below this share of the side's best retrieval score are dropped.
RELATIVE_CUT = 0.35
SIDES = (KURUME, KUMAMOTO)
#: How a measure's text becomes lemma terms (the searcher's analyzer).
Terms = Callable[[str], list[str]]

_CJK_GAP = re.compile(r"(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])")
_LIST_MARK = re.compile(r"^-\s*")
_SUBTITLE = re.compile(r"～[^～]*～")
_NARRATIVE = re.compile(r"^(【(?!基本目標)[^】]+】|概要)$")
_GOAL_LABEL = re.compile(r"^基本目標\s*\S")
#: Headings that only structure a document (chapters, numbered parts, sub-field labels).
_STRUCTURAL = re.compile(
    r"^第\d+章|^\d+\.\s|^<.+>$|^[0-9０-９]+\s*(基本戦略|基本目標|リーディングプロジェクト)$|–基本目標–|総合戦略総論$|具体的な取組$"
)


def clean_title(text: str) -> str:
    """A heading as a planner writes it: no "- " list mark, no space left by a line wrap."""
    return _CJK_GAP.sub("", _LIST_MARK.sub("", text.strip()))


def short_title(text: str) -> str:
    """Goal titles without their "～…～" subtitle (「…する。～少子化の克服～」→「…する。」)."""
    return clean_title(_SUBTITLE.sub("", text)).replace("。」", "。」").strip()


@dataclass(frozen=True)
class Unit:
    """One measure: all chunks that share a document and heading path."""

    index: int
    doc: str
    city: str
    area: str
    title: str
    heading_path: tuple[str, ...]
    kind: str
    chunk_ids: tuple[int, ...]
    line_start: int
    line_end: int

    @property
    def name(self) -> str:
        """The measure's own title; a goal narrative (【基本的方向】, 概要) says whose it is."""
        own = clean_title(self.heading_path[-1]).lstrip("■")
        if _NARRATIVE.match(own) and len(self.heading_path) >= 2:
            parent = short_title(self.heading_path[-2])
            label = _GOAL_LABEL.match(parent)
            return f"{label.group(0) if label else parent} {own}"
        return own

    @property
    def context(self) -> tuple[str, ...]:
        """The headings above the measure that a planner reads as its place in the plan:
        without the document title, the 基本計画 root and structural headings
        (第4章…, 3. 具体的な取組, <…分野>, ２ 基本戦略)."""
        path = [short_title(p).lstrip("■") for p in self.heading_path[:-1]]
        if path and path[0] in (self.title, "基本計画"):
            path = path[1:]
        return tuple(p for p in path if not _STRUCTURAL.search(p))

    @property
    def source(self) -> str:
        return str(SourceSpan(self.doc, self.line_start, self.line_end))

    @property
    def is_narrative(self) -> bool:
        """A goal's explanatory text (【基本的方向】, 概要) rather than the goal or a measure."""
        return bool(_NARRATIVE.match(clean_title(self.heading_path[-1])))

    @property
    def side(self) -> str:
        return KUMAMOTO if self.city == KUMAMOTO else KURUME


@dataclass(frozen=True)
class Similarity:
    combined: float
    dense: float
    lexical: float


class Aligner:
    """Measures of the index and their pairwise similarity, computed once per index.

    Dense: the mean of a measure's chunk vectors (the index stores L2-normalised
    vectors), renormalised. Lexical: binary TF-IDF over lemma terms of the measure's
    text, L2-normalised, so the cosine does not grow with page length.
    """

    def __init__(
        self, chunks: Sequence[Chunk], vectors: np.ndarray, terms: Terms, dense_weight: float = DENSE_WEIGHT
    ) -> None:
        groups: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        for position, chunk in enumerate(chunks):
            if chunk.kind in KINDS and not _NOT_POLICY.search(chunk.heading_path[-1] if chunk.heading_path else ""):
                groups.setdefault((chunk.doc, tuple(chunk.heading_path)), []).append(position)
        self.chunks = chunks
        self.positions = {chunk.id: i for i, chunk in enumerate(chunks)}
        self.units: list[Unit] = []
        self._by_chunk: dict[int, int] = {}
        for (doc, path), ids in groups.items():
            first = chunks[ids[0]]
            unit = Unit(index=len(self.units), doc=doc, city=first.city, area=first.area, title=first.title,
                        heading_path=path, kind=first.kind, chunk_ids=tuple(ids),
                        line_start=min(chunks[i].line_start for i in ids),
                        line_end=max(chunks[i].line_end for i in ids))
            self.units.append(unit)
            self._by_chunk.update(dict.fromkeys(ids, unit.index))
        dense = np.stack([vectors[list(u.chunk_ids)].mean(axis=0) for u in self.units]).astype(np.float32)
        self.dense = dense / np.maximum(np.linalg.norm(dense, axis=1, keepdims=True), 1e-12)
        self.lexical = _tfidf([set(_unit_terms(terms, chunks, u)) for u in self.units])
        self.dense_weight = dense_weight
        self.dense_sim = self.dense @ self.dense.T
        self.lexical_sim = self.lexical @ self.lexical.T

    def unit_of(self, chunk_index: int) -> Unit | None:
        unit = self._by_chunk.get(chunk_index)
        return None if unit is None else self.units[unit]

    def similarity(self, a: int, b: int, dense_weight: float | None = None) -> Similarity:
        weight = self.dense_weight if dense_weight is None else dense_weight
        dense, lexical = float(self.dense_sim[a, b]), float(self.lexical_sim[a, b])
        return Similarity(combined=weight * dense + (1 - weight) * lexical, dense=dense, lexical=lexical)

    def combined_row(self, a: int) -> np.ndarray:
        return self.dense_weight * self.dense_sim[a] + (1 - self.dense_weight) * self.lexical_sim[a]

    def units_of(self, side: str, docs: Sequence[str] | None = None) -> list[Unit]:
        return [u for u in self.units if u.side == side and (docs is None or u.doc in docs)]

    def closest(self, unit: Unit, candidates: Sequence[Unit], n: int = 1) -> list[tuple[Unit, Similarity]]:
        if not candidates:
            return []
        row = self.combined_row(unit.index)
        ranked = sorted(candidates, key=lambda c: (-row[c.index], c.index))[:n]
        return [(c, self.similarity(unit.index, c.index)) for c in ranked]


def _unit_terms(terms: Terms, chunks: Sequence[Chunk], unit: Unit) -> list[str]:
    text = "\n".join([unit.heading_path[-1]] + [chunks[i].text for i in unit.chunk_ids])
    return [t for t in terms(text) if not t.isdigit() and len(t) > 1]


def _tfidf(documents: Sequence[set[str]]) -> np.ndarray:
    vocabulary = {term: i for i, term in enumerate(sorted(set().union(*documents)))} if documents else {}
    matrix = np.zeros((len(documents), max(1, len(vocabulary))), dtype=np.float32)
    frequency = np.zeros(max(1, len(vocabulary)), dtype=np.float32)
    for terms in documents:
        for term in terms:
            frequency[vocabulary[term]] += 1
    idf = np.log((1 + len(documents)) / (1 + frequency)) + 1.0
    for row, terms in enumerate(documents):
        for term in terms:
            matrix[row, vocabulary[term]] = idf[vocabulary[term]]
    norms = np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return matrix / norms


@lru_cache(maxsize=2)
def aligner_for(searcher: Searcher) -> Aligner:
    """The searcher's measures and similarity matrices (built once, ~1 s, then cached)."""
    return Aligner(searcher.chunks, searcher.index.vectors, searcher.analyzer.terms)


# ----------------------------------------------------------------------------- comparison


@dataclass(frozen=True)
class Measure:
    """A measure as the comparison shows it: its unit, retrieval score and KPIs."""

    unit: Unit
    score: float
    kpis: tuple[Kpi, ...] = ()
    retrieved: bool = True


@dataclass(frozen=True)
class Pair:
    kurume: Measure
    kumamoto: Measure
    similarity: Similarity


@dataclass
class Comparison:
    query: str
    kurume: list[Measure]
    kumamoto: list[Measure]
    pairs: list[Pair]
    only_kurume: list[Measure]
    only_kumamoto: list[Measure]
    threshold: float = THRESHOLD
    dense_weight: float = DENSE_WEIGHT
    documents: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The topic shares no word with the plans (kb.search.floor): nothing is listed or paired.
    no_clear_match: bool = False


def _retrieve(searcher: Searcher, aligner: Aligner, query: str, side: str, k: int, candidates: int,
              relative_cut: float) -> list[tuple[Unit, float]]:
    """The side's measures and goals for the query, best first, each unit once.

    The search runs over all of the side's chunks (so its scores are on the same scale
    as ``kb search``) and keeps the measure and goal units. A unit stays if it scores at
    least ``relative_cut`` of the side's best. Kurume's three plans are searched
    together; when a side has several plans, none may fill more than half the list
    while another has units above the cut.
    """
    result = _unmerged(searcher).search(query, k=candidates, filters=Filters(city=side))
    best: dict[int, float] = {}
    for hit in result.hits:
        # A hit may stand for several adjacent chunks merged by the search (hit.merged):
        # each of their measures counts, with the hit's score.
        for chunk_id in (hit.chunk.id, *hit.merged):
            position = aligner.positions.get(chunk_id)
            unit = aligner.unit_of(position) if position is not None else None
            if unit is not None and hit.score > best.get(unit.index, float("-inf")):
                best[unit.index] = hit.score
    if not best:
        return []
    top = max(best.values())
    ranked = sorted(((aligner.units[i], score) for i, score in best.items()), key=lambda item: (-item[1], item[0].index))
    above = [(unit, score) for unit, score in ranked if score >= relative_cut * top]
    cap = max(2, math.ceil(k / 2)) if len({unit.doc for unit, _ in above}) > 1 else k
    chosen: list[tuple[Unit, float]] = []
    per_doc: dict[str, int] = {}
    for unit, score in above:
        if per_doc.get(unit.doc, 0) < cap and len(chosen) < k:
            chosen.append((unit, score))
            per_doc[unit.doc] = per_doc.get(unit.doc, 0) + 1
    for unit, score in above:  # fill up when the cap left room
        if len(chosen) >= k:
            break
        if (unit, score) not in chosen:
            chosen.append((unit, score))
    chosen.sort(key=lambda item: (-item[1], item[0].index))
    return chosen


@lru_cache(maxsize=2)
def _unmerged(searcher: Searcher) -> Searcher:
    """The searcher with adjacent-chunk merging off: measures are compared one by one, and
    a merged hit would hide the second of two neighbouring measures behind the first."""
    twin = copy.copy(searcher)
    if hasattr(twin.config, "merge_adjacent"):
        twin.config = replace(twin.config, merge_adjacent=False)
    return twin


def _measure(unit: Unit, score: float, kpis: Sequence[Kpi], aligner: Aligner, retrieved: bool = True) -> Measure:
    primary = aligner.chunks[unit.chunk_ids[0]]
    return Measure(unit=unit, score=score, kpis=tuple(kpis_for_chunk(primary, kpis)), retrieved=retrieved)


def compare(
    searcher: Searcher,
    query: str,
    *,
    kpis: Sequence[Kpi] = (),
    k: int = 8,
    candidates: int = 80,
    threshold: float = THRESHOLD,
    relative_cut: float = RELATIVE_CUT,
) -> Comparison:
    """Both cities' measures for ``query``, paired by meaning, with their KPIs.

    A topic with no clear match in the plans (nonsense, a word they never use) gets no
    measures and no pairs: pairing the nearest noise of each city would look like an answer.
    """
    if searcher.search(query, k=1).no_clear_match:
        return Comparison(query=query, kurume=[], kumamoto=[], pairs=[], only_kurume=[], only_kumamoto=[],
                          threshold=threshold, documents=dict(searcher.index.documents), no_clear_match=True)
    aligner = aligner_for(searcher)
    sides = {side: _retrieve(searcher, aligner, query, side, k, candidates, relative_cut) for side in SIDES}
    measures = {side: [_measure(u, s, kpis, aligner) for u, s in found] for side, found in sides.items()}
    retrieved = {side: {m.unit.index: m for m in ms} for side, ms in measures.items()}

    pairs: dict[tuple[int, int], Pair] = {}
    matched: dict[str, set[int]] = {side: set() for side in SIDES}
    for side in SIDES:
        other = KUMAMOTO if side == KURUME else KURUME
        everyone = aligner.units_of(other)
        for measure in measures[side]:
            listed = [m.unit for m in measures[other]]
            best_listed = aligner.closest(measure.unit, listed, 1)
            best_all = aligner.closest(measure.unit, everyone, 1)
            choice = None
            if best_listed and best_listed[0][1].combined >= threshold:
                choice = best_listed[0]
            elif best_all and best_all[0][1].combined >= threshold:
                choice = best_all[0]
            if choice is None:
                continue
            partner_unit, similarity = choice
            partner = retrieved[other].get(partner_unit.index) or _measure(
                partner_unit, 0.0, kpis, aligner, retrieved=False)
            kurume, kumamoto = (measure, partner) if side == KURUME else (partner, measure)
            key = (kurume.unit.index, kumamoto.unit.index)
            pairs.setdefault(key, Pair(kurume=kurume, kumamoto=kumamoto, similarity=similarity))
            matched[side].add(measure.unit.index)
    # Rows read as "this Kurume measure ↔ its Kumamoto counterparts": grouped by the
    # Kurume measure in retrieval order (counterparts found from the Kumamoto side last).
    rank = {m.unit.index: r for r, m in enumerate(measures[KURUME])}
    ordered = sorted(pairs.values(), key=lambda p: (rank.get(p.kurume.unit.index, len(rank)),
                                                   p.kurume.unit.index, -p.similarity.combined))
    return Comparison(
        query=query,
        kurume=measures[KURUME],
        kumamoto=measures[KUMAMOTO],
        pairs=ordered,
        only_kurume=[m for m in measures[KURUME] if m.unit.index not in matched[KURUME]],
        only_kumamoto=[m for m in measures[KUMAMOTO] if m.unit.index not in matched[KUMAMOTO]],
        threshold=threshold,
        dense_weight=aligner.dense_weight,
        documents=dict(searcher.index.documents),
    )


# ----------------------------------------------------------------------------- whole plans


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
    targets = [u for u in aligner.units_of(target_city) if not u.is_narrative]
    target_docs = tuple(sorted({u.doc for u in targets}, key=_plan_order))
    per_doc = source_city == KUMAMOTO
    rows = []
    for unit in aligner.units_of(source_city, [source_doc]):
        if unit.is_narrative:
            continue  # the goal itself is a row; its 基本的方向 would repeat it
        same_kind = [t for t in targets if t.kind == unit.kind]  # goals meet goals, measures meet measures
        if per_doc:
            found = [m for doc in target_docs for m in aligner.closest(unit, [t for t in same_kind if t.doc == doc], 1)]
        else:
            found = aligner.closest(unit, same_kind, n)
        rows.append(CrossRow(
            source=_measure(unit, 0.0, kpis, aligner),
            matches=tuple((_measure(t, 0.0, kpis, aligner, retrieved=False), s) for t, s in found),
        ))
    rows.sort(key=lambda r: r.source.unit.line_start)
    return CrossReference(source_city=source_city, source_doc=source_doc, target_docs=target_docs, rows=rows,
                          per_doc=per_doc, threshold=threshold, documents=dict(searcher.index.documents))


def _plan_order(doc: str) -> tuple[int, str]:
    """Kurume's plans in the order planners name them: strategy, comprehensive plan, vision."""
    for rank, word in enumerate(("sousei", "mirai", "kouiki")):
        if word in doc:
            return rank, doc
    return 9, doc
