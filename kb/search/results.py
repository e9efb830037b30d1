"""What a search returns (Hit, SearchResult), what it filters by, and how the ranked
candidates become hits: adjacent pieces merged, sections and documents capped, both cities
kept when a question names both."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from kb.chunk import Chunk
from kb.domain import ChunkKind, Method, SourceSpan
from kb.search.expand import ExpandedQuery

#: Hits covering more lines than this are not a passage any more (the eval ignores them).
MAX_HIT_SPAN = 60


class DiversityConfig(Protocol):
    """The settings :func:`diversify` reads (kb.search.searcher.SearchConfig has them)."""

    @property
    def merge_adjacent(self) -> bool: ...
    @property
    def merge_gap(self) -> int: ...
    @property
    def per_section(self) -> int: ...
    @property
    def per_doc(self) -> int: ...


@dataclass(frozen=True)
class Filters:
    city: str | None = None
    doc: str | None = None
    goal: str | None = None
    kind: str | None = None

    def allows(self, chunk: Chunk) -> bool:
        if self.city and self.city not in (chunk.city, chunk.area):
            return False
        if self.doc and chunk.doc != self.doc:
            return False
        if self.goal and self.goal not in chunk.goal and self.goal not in chunk.section:
            return False
        return not (self.kind and chunk.kind != self.kind)


@dataclass(frozen=True)
class Hit:
    rank: int
    score: float
    chunk: Chunk
    line_start: int
    line_end: int
    text: str
    ranks: dict[str, int] = field(default_factory=dict)
    merged: tuple[str, ...] = ()

    @property
    def span(self) -> SourceSpan:
        """Where the hit is: its document and the lines it covers (merged pieces included)."""
        return SourceSpan(self.chunk.doc, self.line_start, self.line_end)


@dataclass(frozen=True)
class SearchResult:
    query: str
    expanded: ExpandedQuery
    method: Method
    hits: list[Hit]
    timings: dict[str, float]
    #: True when no signal found a passage that really matches (nonsense, or a topic the plans lack);
    #: the hits are still the best there are.
    no_clear_match: bool = False
    #: For a question asking for every mention: the term and how many chunks contain it.
    mentions: dict[str, int] = field(default_factory=dict)
    #: Whose scores the hits carry: the learned ranker's identity, ``formula``, or "" (a single
    #: signal or a non-hybrid method); kb/rank/calibration.py turns them into relevance levels.
    ranker: str = ""


def same_measure(a: Chunk, b: Chunk) -> bool:
    """Pieces of one section, or sub-measures (①②…) of one measure, read as one passage."""
    if a.doc != b.doc:
        return False
    if a.heading_path == b.heading_path:
        return True
    return a.kind == b.kind == ChunkKind.MEASURE and len(a.heading_path) > 2 and a.heading_path[:-1] == b.heading_path[:-1]


def balance_cities(hits: Sequence[Hit], k: int, cities: Sequence[str], quota: int) -> list[Hit]:
    """The best k hits such that each named city has at least ``quota`` of them (if it has that many)."""
    available = {city: sum(1 for h in hits if h.chunk.city == city) for city in cities}
    need = {city: min(quota, available[city]) for city in cities}
    count = dict.fromkeys(cities, 0)
    chosen: list[Hit] = []
    for hit in hits:
        if len(chosen) >= k:
            break
        city = hit.chunk.city
        reserved = sum(max(0, need[c] - count[c]) for c in cities if c != city)
        if len(chosen) + reserved >= k:
            continue
        chosen.append(hit)
        if city in count:
            count[city] += 1
    return [replace(hit, rank=rank) for rank, hit in enumerate(chosen, start=1)]



def diversify(
    chunks: Sequence[Chunk], ordered: Sequence[int], fused: dict[int, float], positions: dict[str, dict[int, int]],
    k: int, config: DiversityConfig,
) -> list[Hit]:
    """Top-k hits: adjacent pieces of one measure (its split pieces or its ①② sub-measures)
    merged into one passage, at most N hits per section and (softly) M per document."""
    hits: list[Hit] = []
    per_section: dict[tuple[str, str], int] = {}
    per_doc: dict[str, int] = {}
    deferred: list[int] = []
    for item in ordered:
        chunk = chunks[item]
        key = (chunk.doc, chunk.section)
        ranks = {m: p[item] for m, p in positions.items() if item in p}
        if config.merge_adjacent:
            merged = False
            for index, hit in enumerate(hits):
                if not same_measure(hit.chunk, chunk):
                    continue
                gap = config.merge_gap
                touching = chunk.line_start <= hit.line_end + gap and hit.line_start <= chunk.line_end + gap
                start, end = min(hit.line_start, chunk.line_start), max(hit.line_end, chunk.line_end)
                if touching and end - start + 1 <= MAX_HIT_SPAN:
                    first, second = (hit.text, chunk.text) if hit.line_start <= chunk.line_start else (chunk.text, hit.text)
                    hits[index] = replace(
                        hit, line_start=start, line_end=end, text=f"{first}\n{second}",
                        merged=hit.merged + (chunk.id,),
                    )
                    merged = True
                    break
            if merged:
                continue
        if per_section.get(key, 0) >= config.per_section:
            continue
        if config.per_doc and per_doc.get(chunk.doc, 0) >= config.per_doc:
            deferred.append(item)
            continue
        per_section[key] = per_section.get(key, 0) + 1
        per_doc[chunk.doc] = per_doc.get(chunk.doc, 0) + 1
        hits.append(
            Hit(rank=0, score=float(fused[item]), chunk=chunk, line_start=chunk.line_start,
                line_end=chunk.line_end, text=chunk.text, ranks=ranks)
        )
        if len(hits) >= k:
            break
    for item in deferred:  # the per-document cap defers, it never leaves slots empty
        if len(hits) >= k:
            break
        chunk = chunks[item]
        ranks = {m: p[item] for m, p in positions.items() if item in p}
        hits.append(Hit(rank=0, score=float(fused[item]), chunk=chunk, line_start=chunk.line_start,
                        line_end=chunk.line_end, text=chunk.text, ranks=ranks))
    return [replace(hit, rank=rank) for rank, hit in enumerate(hits, start=1)]
