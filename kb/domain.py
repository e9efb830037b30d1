"""The words every stage shares: where a passage is, what kind it is, how it was found.

These are the typed seams between the pipeline's stages. A chunk's kind, a search
method and a fusion rule are :class:`~enum.StrEnum` members, so they are plain strings
in JSON and in the index files (byte-identical to the old literals) but a typo is a
type error instead of a silent miss.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class ChunkKind(StrEnum):
    """What a chunk is in the plan's outline (the ``kind`` of the search contract)."""

    GOAL = "goal"
    MEASURE = "measure"
    KPI = "kpi"
    PARAGRAPH = "paragraph"


#: What users type for a kind (CLI ``--kind``, the app's 種類 / Type filter, URLs).
KIND_ALIASES = {
    "施策": ChunkKind.MEASURE, "measures": ChunkKind.MEASURE, "取組": ChunkKind.MEASURE,
    "目標": ChunkKind.GOAL, "goals": ChunkKind.GOAL, "基本目標": ChunkKind.GOAL,
    "指標": ChunkKind.KPI, "数値目標": ChunkKind.KPI, "kpis": ChunkKind.KPI,
    "本文": ChunkKind.PARAGRAPH, "paragraphs": ChunkKind.PARAGRAPH, "text": ChunkKind.PARAGRAPH,
}


def resolve_kind(value: str | None) -> str | None:
    """The chunk kind (``measure``) for what a user typed (施策, measures, MEASURE); unknown words unchanged."""
    if value is None or not value.strip():
        return None
    cleaned = value.strip()
    folded = cleaned.casefold()
    if folded in {k.value for k in ChunkKind}:
        return folded
    alias = KIND_ALIASES.get(folded) or KIND_ALIASES.get(cleaned)
    return alias.value if alias else cleaned


class Method(StrEnum):
    """Which signals rank the chunks."""

    HYBRID = "hybrid"
    LEXICAL = "lexical"
    DENSE = "dense"


class Signal(StrEnum):
    """One ranking that fusion combines: two lexical fields and two encoders."""

    LEXICAL = "lexical"  # BM25 over fugashi/UniDic lemmas, with the query vocabulary's expansions
    SUDACHI = "sudachi"  # BM25 over Sudachi normalised forms and synonym groups
    DENSE = "dense"  # multilingual-e5 (the index's model)
    USE = "use"  # multilingual Universal Sentence Encoder v3


#: What each method ranks with (where the index and the loaded models have it).
METHOD_SIGNALS: dict[Method, tuple[Signal, ...]] = {
    Method.HYBRID: tuple(Signal),
    Method.LEXICAL: (Signal.LEXICAL, Signal.SUDACHI),
    Method.DENSE: (Signal.DENSE, Signal.USE),
}
LEXICAL_SIGNALS = frozenset({Signal.LEXICAL, Signal.SUDACHI})


class Fusion(StrEnum):
    """How the lexical and dense rankings are combined."""

    SUM = "sum"
    RRF = "rrf"


_ADDRESS = re.compile(r"^(?P<doc>.+):(?P<start>\d+)(?:-(?P<end>\d+))?$")


@dataclass(frozen=True)
class SourceSpan:
    """The only coordinate system: 1-based inclusive lines of ``corpus/<doc>.txt``."""

    doc: str
    line_start: int
    line_end: int

    def __post_init__(self) -> None:
        if self.line_start < 1 or self.line_end < self.line_start:
            raise ValueError(f"bad span {self.doc}:{self.line_start}-{self.line_end}")

    @classmethod
    def parse(cls, address: str) -> SourceSpan:
        """``DOC:LINE`` or ``DOC:START-END``; the document name may itself contain ``:``."""
        match = _ADDRESS.match(address.strip())
        if not match:
            raise ValueError(f"not an address (DOC:LINE or DOC:START-END): {address!r}")
        start = int(match["start"])
        return cls(match["doc"], start, int(match["end"] or start))

    def overlaps(self, other: SourceSpan) -> bool:
        return (
            self.doc == other.doc
            and self.line_start <= other.line_end
            and other.line_start <= self.line_end
        )

    def __len__(self) -> int:
        return self.line_end - self.line_start + 1

    def __str__(self) -> str:
        return f"{self.doc}:{self.line_start}-{self.line_end}"
