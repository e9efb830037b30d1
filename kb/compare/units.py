"""What a comparison compares: measure units, the two sides, and their pairwise similarity.

A :class:`Unit` is one measure or goal of a plan (all chunks that share a document and
heading path). Two kinds of unit are special:

* a *bare* unit has no text of its own, only headings (「３ リーディングプロジェクト」 with
  its first project's title, 【基本目標1 …】 whose directions follow as separate measures).
  The memo never shows or pairs one: a title alone is not something the city does, and its
  embedding matches any page that shares a word of it. The whole-plan table keeps goals,
  whose title *is* the row.
* a *viewpoint* unit is a numbered section under a plan's 基本的視点 / まちづくりの視点: the
  strategy's own statements of what it will do (「(2) 若者や女性にも選ばれる魅力あるまちづくり」),
  chunked as paragraphs. Kurume's strategy states its directions ①–⑬ as one-line labels and
  its substance in these viewpoints, so without them a topic like 若い女性の転出 drew on the
  comprehensive plan alone. They are compared like goals.

:class:`Aligner` scores every pair once per index: cosine of the units' mean vectors blended
with the TF-IDF cosine of their lemma sets, minus the two units' mean blend with the other
plans' measures (*contrast*). IDF and that background are taken over the measure and goal
units only, so adding viewpoints leaves every measure pair's contrast, and the thresholds
tuned on them, exactly as they were.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from kb.chunk import Chunk
from kb.compare.strength import DENSE_WEIGHT
from kb.domain import ChunkKind, SourceSpan
from kb.errors import QueryError
from kb.ingest.corpus import KUMAMOTO, KURUME, WIDE_AREA, resolve_city
from kb.search.searcher import Filters, Searcher

#: Chunk kinds compared: measures (施策, 連携事業, 基本的な方向性, sub-measures ①②…) and
#: goals (a goal's title and its narrative: 基本的方向, 概要, the 基本構想's goal text).
KINDS = (ChunkKind.MEASURE, ChunkKind.GOAL)
#: Goal narratives that review the previous plan period are not something the city does.
_NOT_POLICY = re.compile(r"検証|イメージ図")
#: A heading whose sections are the plan's policy viewpoints (基本的視点, まちづくりの視点).
_VIEWPOINTS = re.compile(r"視点")
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


def _bare_form(text: str) -> str:
    return re.sub(r"\s+", "", clean_title(text)).lstrip("■")


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
    #: Only headings, no text of its own (see the module docstring): never in a memo.
    bare: bool = False
    #: A section of the plan's 基本的視点 (a paragraph the memo treats as a goal).
    viewpoint: bool = False

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


def is_bare(heading_path: Sequence[str], texts: Sequence[str]) -> bool:
    """True when every line of the unit's text is one of its own headings."""
    headings = {_bare_form(h) for h in heading_path}
    return all(_bare_form(line) in headings for text in texts for line in text.splitlines() if line.strip())


def is_viewpoint(chunk: Chunk) -> bool:
    """A paragraph section under a 基本的視点 / まちづくりの視点 heading (not the heading's own text)."""
    return chunk.kind == ChunkKind.PARAGRAPH and any(_VIEWPOINTS.search(h) for h in chunk.heading_path[:-1])


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
    from kb.ingest.names import resolve_name

    cleaned = value.strip()
    city = resolve_city(cleaned)
    doc = resolve_name(cleaned, documents) or cleaned  # x.txt, full-width or NFD spellings of a plan
    for side in side_choices(documents):
        if (side.city is not None and side.city == city) or side.doc == doc:
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
    text, L2-normalised, so the cosine does not grow with page length. Measure and goal
    units come first (their indices, IDF and background are those the thresholds were
    tuned on); viewpoint units follow.
    """

    def __init__(
        self, chunks: Sequence[Chunk], vectors: np.ndarray, terms: Terms, dense_weight: float = DENSE_WEIGHT
    ) -> None:
        groups: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        viewpoints: dict[tuple[str, tuple[str, ...]], list[int]] = {}
        for position, chunk in enumerate(chunks):
            key = (chunk.doc, tuple(chunk.heading_path))
            if chunk.kind in KINDS and not _NOT_POLICY.search(chunk.heading_path[-1] if chunk.heading_path else ""):
                groups.setdefault(key, []).append(position)
            elif is_viewpoint(chunk):
                viewpoints.setdefault(key, []).append(position)
        self.chunks = chunks
        self.positions = {chunk.id: i for i, chunk in enumerate(chunks)}
        self.units: list[Unit] = []
        self._by_chunk: dict[int, int] = {}
        for (doc, path), ids in [*groups.items(), *viewpoints.items()]:
            first = chunks[ids[0]]
            viewpoint = (doc, path) in viewpoints
            unit = Unit(index=len(self.units), doc=doc, city=first.city, area=first.area, title=first.title,
                        heading_path=path, kind=ChunkKind.GOAL if viewpoint else first.kind, chunk_ids=tuple(ids),
                        line_start=min(chunks[i].line_start for i in ids),
                        line_end=max(chunks[i].line_end for i in ids),
                        bare=is_bare(path, [chunks[i].text for i in ids]), viewpoint=viewpoint)
            self.units.append(unit)
            self._by_chunk.update(dict.fromkeys(ids, unit.index))
        reference = np.array([not u.viewpoint for u in self.units])
        dense = np.stack([vectors[list(u.chunk_ids)].mean(axis=0) for u in self.units]).astype(np.float32)
        self.dense = dense / np.maximum(np.linalg.norm(dense, axis=1, keepdims=True), 1e-12)
        self.lexical = _tfidf([set(_unit_terms(terms, chunks, u)) for u in self.units], reference)
        self.dense_weight = dense_weight
        self.dense_sim = self.dense @ self.dense.T
        self.lexical_sim = self.lexical @ self.lexical.T
        self.dense_background = _background(self.dense_sim, self.units, reference)
        self.lexical_background = _background(self.lexical_sim, self.units, reference)

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


def _background(similarity: np.ndarray, units: Sequence[Unit], reference: np.ndarray) -> np.ndarray:
    """Each unit's mean similarity with the reference units of other documents (its own
    plan's neighbours are left out: they share its vocabulary by construction)."""
    docs = np.array([u.doc for u in units])
    other = (docs[:, None] != docs[None, :]) & reference[None, :]
    counts = np.maximum(other.sum(axis=1), 1)
    return np.asarray((similarity * other).sum(axis=1) / counts, dtype=np.float32)


def _tfidf(documents: Sequence[set[str]], reference: np.ndarray) -> np.ndarray:
    """Binary TF-IDF rows, L2-normalised; document frequency counts the reference rows only."""
    vocabulary = {term: i for i, term in enumerate(sorted(set().union(*documents)))} if documents else {}
    matrix = np.zeros((len(documents), max(1, len(vocabulary))), dtype=np.float32)
    frequency = np.zeros(max(1, len(vocabulary)), dtype=np.float32)
    for terms, counted in zip(documents, reference, strict=True):
        if counted:
            for term in terms:
                frequency[vocabulary[term]] += 1
    idf = np.log((1 + int(reference.sum())) / (1 + frequency)) + 1.0
    for row, terms in enumerate(documents):
        for term in terms:
            matrix[row, vocabulary[term]] = idf[vocabulary[term]]
    norms = np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    return matrix / norms


@lru_cache(maxsize=2)
def aligner_for(searcher: Searcher) -> Aligner:
    """The searcher's measures and similarity matrices (built once, ~1 s, then cached)."""
    return Aligner(searcher.chunks, searcher.index.vectors, searcher.analyzer.terms)
