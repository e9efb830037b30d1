"""Cross-referencing two sides (cities or plans): which measures of one answer the other's.

A planner asks "what does each side do about X, and what does one do that the other
does not?". A :class:`Side` is a city (久留米市 = its strategy, comprehensive plan and the
wide-area vision; 熊本市 = its strategy; 広域 = the wide-area vision) or one plan, chosen
by the caller; the default is 久留米市 × 熊本市. :func:`compare` retrieves the measures of
each side with :meth:`Searcher.search`, then pairs measures across the sides by meaning:
cosine of their embeddings (the index's own vectors) blended with the overlap of their
lemma terms (TF-IDF cosine, so a one-line strategy direction and a full 施策 page can
still match). The embeddings of all plan text are close to each other (every measure
is "about the city"), so a pair is judged on its *contrast*: the blend minus the two
measures' mean blend with every measure of other plans. Contrast at or above
:data:`STRONG` is 強い対応, at or above :data:`THRESHOLD` 部分的, below it 対応なし; a
retrieved measure with no counterpart *anywhere* on the other side is listed as only on
its side. The weight and thresholds are not guessed: they maximise F0.5 (precision
counts double, because a false match hides a real "only in" difference) on hand-labelled
cross-city pairs (``eval/compare/pairs.jsonl``; ``eval/compare/results.md``, recomputed
by ``eval/compare/tune.py``).

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
from kb.errors import QueryError
from kb.ingest.corpus import KUMAMOTO, KURUME, WIDE_AREA, resolve_city
from kb.kpi.extract import Kpi, kpis_for_chunk
from kb.search.searcher import Filters, Searcher

#: Chunk kinds compared: measures (施策, 連携事業, 基本的な方向性, sub-measures ①②…) and
#: goals (a goal's title and its narrative: 基本的方向, 概要, the 基本構想's goal text).
KINDS = (ChunkKind.MEASURE, ChunkKind.GOAL)
#: Goal narratives that review the previous plan period are not something the city does.
_NOT_POLICY = re.compile(r"検証|イメージ図")
#: Share of the blended similarity that comes from the embeddings (the rest: lemma overlap).
DENSE_WEIGHT = 0.70
#: Pairs whose contrast reaches this are a match (部分的 or better): F0.5-best on
#: eval/compare/pairs.jsonl (eval/compare/tune.py).
THRESHOLD = 0.1473
#: Contrast of a 強い対応: the median contrast of the labelled matches kept by THRESHOLD.
STRONG = 0.2133
#: Retrieved measures below this share of the side's best retrieval score are dropped.
RELATIVE_CUT = 0.35
#: Counterparts listed in one memo row at most (the best first).
COUNTERPARTS = 3
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



@dataclass(frozen=True)
class Side:
    """One side of a comparison: a city (``city``: its plans, by city or area) or one plan (``doc``)."""

    label: str
    city: str | None = None
    doc: str | None = None

    def holds(self, unit: Unit) -> bool:
        if self.doc is not None and unit.doc != self.doc:
            return False
        return self.city is None or self.city in (unit.city, unit.area)

    @property
    def filters(self) -> Filters:
        return Filters(city=self.city, doc=self.doc)

    @property
    def key(self) -> str:
        """What a URL or the CLI says for this side (the city's name or the document id)."""
        return self.doc or self.city or self.label


LEFT = Side(KURUME, city=KURUME)
RIGHT = Side(KUMAMOTO, city=KUMAMOTO)


class SideError(QueryError):
    """A side names neither a city nor a document of the index."""


def side_choices(documents: dict[str, dict[str, str]]) -> list[Side]:
    """Every side the index can compare: its cities and areas, then each plan."""
    cities: list[str] = []
    for meta in documents.values():
        for name in (meta.get("city", ""), meta.get("area", "")):
            if name and name not in cities:
                cities.append(name)
    order = {KURUME: 0, KUMAMOTO: 1, WIDE_AREA: 2}
    cities.sort(key=lambda c: (order.get(c, 9), c))
    plans = [Side(meta.get("title", doc), doc=doc) for doc, meta in sorted(documents.items())]
    return [Side(city, city=city) for city in cities] + plans


def resolve_side(value: str, documents: dict[str, dict[str, str]]) -> Side:
    """The side a user means: a city or its alias (kurume, 熊本, kouiki) or a document id."""
    cleaned = value.strip()
    city = resolve_city(cleaned)
    for side in side_choices(documents):
        if (side.city is not None and side.city == city) or side.doc == cleaned:
            return side
    known = ", ".join(s.key for s in side_choices(documents))
    raise SideError(f"unknown side {value!r}: give a city (kurume, kumamoto, kouiki) or a document ({known})")


@dataclass(frozen=True)
class Similarity:
    combined: float
    dense: float
    lexical: float
    #: ``combined`` minus the two measures' mean blend with the measures of other plans.
    contrast: float = 0.0


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
        self.dense_background = _background(self.dense_sim, self.units)
        self.lexical_background = _background(self.lexical_sim, self.units)

    def unit_of(self, chunk_index: int) -> Unit | None:
        unit = self._by_chunk.get(chunk_index)
        return None if unit is None else self.units[unit]

    def similarity(self, a: int, b: int, dense_weight: float | None = None) -> Similarity:
        weight = self.dense_weight if dense_weight is None else dense_weight
        dense, lexical = float(self.dense_sim[a, b]), float(self.lexical_sim[a, b])
        combined = weight * dense + (1 - weight) * lexical
        return Similarity(combined=combined, dense=dense, lexical=lexical,
                          contrast=combined - (self.background(a, weight) + self.background(b, weight)) / 2)

    def background(self, a: int, weight: float | None = None) -> float:
        """The unit's mean blended similarity with the measures of other plans."""
        weight = self.dense_weight if weight is None else weight
        return weight * float(self.dense_background[a]) + (1 - weight) * float(self.lexical_background[a])

    def contrast_row(self, a: int) -> np.ndarray:
        w = self.dense_weight
        combined = w * self.dense_sim[a] + (1 - w) * self.lexical_sim[a]
        background = w * self.dense_background + (1 - w) * self.lexical_background
        return combined - (background[a] + background) / 2

    def units_of(self, side: Side | str, docs: Sequence[str] | None = None) -> list[Unit]:
        chosen = side if isinstance(side, Side) else Side(side, city=side)
        return [u for u in self.units if chosen.holds(u) and (docs is None or u.doc in docs)]

    def closest(self, unit: Unit, candidates: Sequence[Unit], n: int = 1) -> list[tuple[Unit, Similarity]]:
        if not candidates:
            return []
        row = self.contrast_row(unit.index)
        ranked = sorted(candidates, key=lambda c: (-row[c.index], c.index))[:n]
        return [(c, self.similarity(unit.index, c.index)) for c in ranked]


def _unit_terms(terms: Terms, chunks: Sequence[Chunk], unit: Unit) -> list[str]:
    text = "\n".join([unit.heading_path[-1]] + [chunks[i].text for i in unit.chunk_ids])
    return [t for t in terms(text) if not t.isdigit() and len(t) > 1]


def _background(similarity: np.ndarray, units: Sequence[Unit]) -> np.ndarray:
    """Each unit's mean similarity with the units of other documents (its own plan's
    neighbours are left out: they share its vocabulary by construction)."""
    docs = np.array([u.doc for u in units])
    other = docs[:, None] != docs[None, :]
    counts = np.maximum(other.sum(axis=1), 1)
    return np.asarray((similarity * other).sum(axis=1) / counts, dtype=np.float32)


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

#: How a pair reads in words, strongest first; below THRESHOLD a pair is 対応なし.
STRONG_LABEL, PARTIAL_LABEL, NONE_LABEL = "強い対応", "部分的", "対応なし"


def strength(similarity: Similarity, strong: float = STRONG, partial: float = THRESHOLD) -> str:
    """強い対応 / 部分的 / 対応なし for a pair's contrast (thresholds from the labelled pairs)."""
    if similarity.contrast >= strong:
        return STRONG_LABEL
    return PARTIAL_LABEL if similarity.contrast >= partial else NONE_LABEL


@dataclass(frozen=True)
class Measure:
    """A measure as the comparison shows it: its unit, retrieval score, KPIs and first line of body."""

    unit: Unit
    score: float
    kpis: tuple[Kpi, ...] = ()
    retrieved: bool = True
    summary: str = ""


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


def _retrieve(searcher: Searcher, aligner: Aligner, query: str, side: Side, members: set[int], k: int,
              candidates: int, relative_cut: float) -> list[tuple[Unit, float]]:
    """The side's measures and goals for the query, best first, each unit once.

    The search runs over all of the side's chunks (so its scores are on the same scale
    as ``kb search``) and keeps the measure and goal units of ``members``. A unit stays
    if it scores at least ``relative_cut`` of the side's best. When a side has several
    plans, none may fill more than half the list while another has units above the cut.
    """
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


_SUMMARY_LIMIT = 90


def summary_line(unit: Unit, chunks: Sequence[Chunk]) -> str:
    """The first line of the measure's body that is not its heading, cut to one line."""
    heading = clean_title(unit.heading_path[-1])
    for chunk_id in unit.chunk_ids:
        for line in chunks[chunk_id].text.splitlines():
            text = clean_title(line).lstrip("・●○■□◆◇")
            if len(text) >= 6 and text not in heading and not any(text in h for h in unit.heading_path):
                return text if len(text) <= _SUMMARY_LIMIT else text[: _SUMMARY_LIMIT - 1] + "…"
    return ""


def _measure(unit: Unit, score: float, kpis: Sequence[Kpi], aligner: Aligner, retrieved: bool = True) -> Measure:
    primary = aligner.chunks[unit.chunk_ids[0]]
    return Measure(unit=unit, score=score, kpis=tuple(kpis_for_chunk(primary, kpis)), retrieved=retrieved,
                   summary=summary_line(unit, aligner.chunks))


def side_members(aligner: Aligner, left: Side, right: Side) -> tuple[set[int], set[int]]:
    """The units of each side; a unit both sides hold (久留米市 × 広域) goes to the narrower
    side, so no measure is compared with itself."""
    a = {u.index for u in aligner.units if left.holds(u)}
    b = {u.index for u in aligner.units if right.holds(u)}
    shared = a & b
    if len(a) >= len(b):
        a -= shared
    else:
        b -= shared
    return a, b


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
    found = [_retrieve(searcher, aligner, query, side, m, k, candidates, relative_cut)
             for side, m in zip((left, right), members, strict=True)]
    lefts = [_measure(u, s, kpis, aligner) for u, s in found[0]]
    rights = [_measure(u, s, kpis, aligner) for u, s in found[1]]
    everyone = [[aligner.units[i] for i in sorted(m)] for m in members]
    judged = {"strong": strong, "partial": threshold}

    def counterpart(unit: Unit, partner: Measure, outside: bool = False) -> Counterpart | None:
        """A counterpart, or None below 部分的; outside the top results (※) only a
        強い対応 counts: the topic did not bring it up, so near-the-line is noise."""
        similarity = aligner.similarity(unit.index, partner.unit.index)
        label = strength(similarity, **judged)
        if label == NONE_LABEL or (outside and label != STRONG_LABEL):
            return None
        return Counterpart(partner, similarity, label)

    rows: dict[int, list[Counterpart]] = {}
    extra: dict[int, Measure] = {}  # left units outside the top results that a right measure points to
    for measure in lefts:
        found_here = [c for r in rights if (c := counterpart(measure.unit, r)) is not None]
        if not found_here:  # the closest anywhere on the right, marked ※
            best = aligner.closest(measure.unit, everyone[1], 1)
            if best:
                c = counterpart(measure.unit, _measure(best[0][0], 0.0, kpis, aligner, retrieved=False), outside=True)
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
            extra.setdefault(unit.index, _measure(unit, 0.0, kpis, aligner, retrieved=False))
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
    documents = dict(searcher.index.documents)
    target_docs = tuple(sorted({u.doc for u in targets}, key=lambda d: _plan_order(d, documents)))
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
                          per_doc=per_doc, threshold=threshold, documents=documents)


#: Plans in the order planners name them: strategy, comprehensive plan, wide-area vision.
PLAN_ORDER = ("地方創生総合戦略", "総合計画", "連携中枢都市圏ビジョン")


def _plan_order(doc: str, documents: dict[str, dict[str, str]]) -> tuple[int, str]:
    """Sort key by the manifest's ``kind`` (not the file name, so added plans sort too)."""
    kind = documents.get(doc, {}).get("kind", "")
    return (PLAN_ORDER.index(kind) if kind in PLAN_ORDER else len(PLAN_ORDER)), doc
