"""Which KPI tables belong to a search hit: the KPI chunks of the same measure or goal.

The plans put a measure's indicators in a table right after (or, in Kumamoto's
appendix, far away from) its text. The chunker keeps such a table as a ``kpi`` chunk
whose heading path is the measure's path plus a label (``… > (１) 魅力あるしごとの創出
… > KPI``), so "the measure's KPIs" is a question about heading paths, answered here
from the chunks alone: the KPI chunks of the same document whose *scope* (their path
without the label) is a prefix of the hit's path, most specific scope first. A
Kumamoto measure under 基本目標１ › (１) gets the (１) table, not 基本目標１'s 数値目標.

When ``kb.kpi.extract`` (structured KPI records, issue 7) is present the app prefers its
records; this lookup is the fallback. See :func:`kb.ui.service.kpi_provider`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kb.chunk import Chunk
from kb.domain import ChunkKind

KPI_KIND = ChunkKind.KPI
#: A heading that labels a table of indicators rather than naming a measure.
KPI_LABEL = re.compile(r"KPI|ＫＰＩ|数値目標|指標")
#: Scopes shorter than this are whole parts of a plan (a summary table at the end).
MIN_SCOPE = 2


@dataclass(frozen=True)
class KpiEntry:
    """One KPI table (or record) to show under a hit, with the lines it comes from."""

    text: str
    doc: str
    line_start: int
    line_end: int
    label: str = ""
    #: One indicator on one line (a ``kb.kpi.extract`` record) rather than a table's raw rows.
    record: bool = False


def kpi_scope(chunk: Chunk) -> tuple[str, ...]:
    """The heading path a KPI chunk applies to: its own path minus a trailing KPI label."""
    path = tuple(chunk.heading_path)
    if path and KPI_LABEL.search(path[-1]):
        return path[:-1]
    return path


def kpi_chunks_for(chunk: Chunk, chunks: Iterable[Chunk]) -> list[Chunk]:
    """The KPI chunks of ``chunk``'s measure or goal, the most specific scope only.

    Pure and order-preserving (document order), so the same hit always shows the same
    tables. A KPI chunk has no KPIs of its own: it *is* the table.
    """
    if chunk.kind == KPI_KIND:
        return []
    path = tuple(chunk.heading_path)
    best: list[Chunk] = []
    best_length = 0
    for other in chunks:
        if other.kind != KPI_KIND or other.doc != chunk.doc or other.id == chunk.id:
            continue
        scope = kpi_scope(other)
        if len(scope) < MIN_SCOPE or path[: len(scope)] != scope:
            continue
        if len(scope) > best_length:
            best, best_length = [other], len(scope)
        elif len(scope) == best_length:
            best.append(other)
    return best


class KpiLookup:
    """:func:`kpi_chunks_for` over one index's chunks, grouped by document once."""

    def __init__(self, chunks: Sequence[Chunk]) -> None:
        self._by_doc: dict[str, list[Chunk]] = {}
        for chunk in chunks:
            if chunk.kind == KPI_KIND:
                self._by_doc.setdefault(chunk.doc, []).append(chunk)

    def __call__(self, chunk: Chunk) -> list[KpiEntry]:
        found = kpi_chunks_for(chunk, self._by_doc.get(chunk.doc, ()))
        return [
            KpiEntry(text=c.text, doc=c.doc, line_start=c.line_start, line_end=c.line_end,
                     label=c.heading_path[-1] if c.heading_path else "")
            for c in found
        ]
