"""The structure every layout family produces: labelled lines and a flat list of sections.

A section is one node of the plan's outline (goal, measure, sub-measure, KPI table,
narrative). It owns the lines it was parsed from; ownership, not contiguity, is the
invariant, because PDF extraction moves KPI tables and footnotes to the bottom of a
page, away from the measure they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kb.domain import ChunkKind

#: Chunk kinds promised by the search contract.
GOAL = ChunkKind.GOAL
MEASURE = ChunkKind.MEASURE
KPI = ChunkKind.KPI
PARAGRAPH = ChunkKind.PARAGRAPH
KINDS = tuple(ChunkKind)

#: Why a line is not text (kept so the source view can grey it out and tests can
#: check that nothing else was dropped).
BLANK = "blank"
PAGE_NUMBER = "page-number"
RUNNING_HEADER = "running-header"
TOC = "table-of-contents"
WEB_CHROME = "web-chrome"
KPI_MARKER = "kpi-marker"


@dataclass
class Section:
    """One node of a plan's outline with the lines it owns.

    ``path`` is the full heading path ending with this section's own title.
    ``heading`` holds the lines that make up the title itself; ``blocks`` groups the
    remaining lines into units that must not be split (a bullet with its wrapped
    continuation lines, a paragraph, a table).
    """

    kind: str
    path: tuple[str, ...]
    heading: list[int] = field(default_factory=list)
    blocks: list[list[int]] = field(default_factory=list)
    number: str = ""
    goal: str = ""
    style: str = ""

    @property
    def title(self) -> str:
        return self.path[-1] if self.path else ""

    @property
    def lines(self) -> list[int]:
        owned = list(self.heading)
        for block in self.blocks:
            owned.extend(block)
        return sorted(owned)


@dataclass
class ParsedDocument:
    """What a layout family made of one document."""

    doc: str
    family: str
    sections: list[Section]
    noise: dict[int, str]
    #: The text to show for each owned line: usually the stripped raw line, but
    #: vertical text joined back into words is shown once, on the run's first line.
    display: dict[int, str] = field(default_factory=dict)
    #: Footnote number → the term it explains, so "ＵＩＪターン5" can lose its marker.
    footnotes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KpiTable:
    """Where a layout family found a KPI table, for :mod:`kb.kpi` to read its rows.

    ``layout`` names the table shape (``floating``: Kumamoto's 基準値/目標値 block that
    PDF extraction moved to the page bottom; ``appendix``: the first-period review
    tables; ``indicators``: the 施策指標 lists). ``start``/``end`` are its first and
    last line; ``section`` is the parser's section for it, when it has one.
    """

    layout: str
    start: int
    end: int
    section: Section | None = None
    label: str = ""
