"""Kumamoto's strategy: 基本目標 → 【施策】 (１)… → ①… → ・bullets, KPI tables at page bottoms.

The PDF extraction separates every wrapped line with a blank line, drops each KPI
table to the bottom of its page (after the footnotes, sometimes in the middle of the
next sentence), and leaves only a "KPI" marker where the table stood. We pull the
tables and footnotes out of the reading flow first, build the outline from what is
left, then hang each table on the measure of its marker (markers and tables pair
up in order) and each footnote block on the section it interrupts.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Sequence

from kb.ingest.corpus import Document
from kb.ingest.parse.common import (
    FOOTNOTE_RE,
    fold_width,
    is_blank,
    is_footnote_rule,
    join_vertical,
    vertical_runs,
)
from kb.ingest.parse.model import (
    BLANK,
    GOAL,
    KPI,
    KPI_MARKER,
    MEASURE,
    PAGE_NUMBER,
    PARAGRAPH,
    RUNNING_HEADER,
    KpiTable,
    ParsedDocument,
    Section,
)
from kb.ingest.parse.outline import build_outline, rule

FAMILY = "kumamoto-strategy"

#: Heading of a first-period KPI table in the appendix ("数値目標 単位" / "KPI 単位").
APPENDIX_KPI_RE = re.compile(r"^(?P<label>数値目標|KPI)\s*単位$")
#: Heading style of the appendix KPI tables (kb.kpi.extract reads their rows from these sections).
APPENDIX_KPI_STYLE = "appx-kpi"

_MEASURE_PARENTS = {"measures": MEASURE, "project": MEASURE}
RULES = (
    rule("chapter", r"^(?P<num>[1-4])\s+[^\s。、]{2,20}$", max_indent=1),
    rule("appendix", r"^参考資料$"),
    rule("goal", r"^基本目標\s*(?P<num>\d)$", kind=GOAL, parents=("chapter",), is_goal=True, until=r"」$"),
    rule("measures", r"^【施策】$", parents=("goal",), in_path=False),
    rule("label", r"^[【\[](?P<title>[^】\]]+)[】\]]$", kind=GOAL, parents=("goal", "chapter", "paren")),
    rule("project", r"^(?P<num>[ⅠⅡⅢⅣ])「", kind=GOAL, parents=("chapter",), is_goal=True,
         until=r"プロジェクト$", max_lines=3),
    rule("overview", r"^概要$", kind=GOAL, parents=("project",)),
    rule("measure", r"^\((?P<num>\d{1,2})\)\s*\S", parents=("measures", "project", "chapter", "appendix"),
         kind_under=_MEASURE_PARENTS, max_indent=1),
    rule("sub", r"^(?P<num>[①-⑳])\s*\S", kind=MEASURE, parents=("measure", "appx-measure"),
         kind_under={"appx-measure": PARAGRAPH}, until=r"[。」]$", wrap_min=30, max_lines=3,
         allow_sentence_end=True),
    rule("appx-measure", r"^施策\s*(?P<num>\d+)\s+\S", parents=("appendix",)),
    rule(APPENDIX_KPI_STYLE, APPENDIX_KPI_RE.pattern, kind=KPI, parents=("appx-measure", "appendix")),
    rule("appx-label", r"^(方向性|課題・検証)$", parents=("appx-measure",)),
)

DASHED_PAGE_RE = re.compile(r"^-\s*\d{1,3}\s*-$")
KPI_MARKER_RE = re.compile(r"^(KPI\s*\d*|\[数値目標\])$")
TABLE_START_RE = re.compile(r"^基準値\s*目標値$")
TABLE_END_RE = re.compile(r"^単位$")
APPENDIX_HEADER_RE = re.compile(r"^(基本目標\s*\d|参考資料)$")
MEASURE_TITLE_RE = re.compile(r"^\(\d{1,2}\)")
GOAL_TITLE_RE = re.compile(r"^基本目標\s*\d")


def claims(doc: Document) -> bool:
    text = "\n".join(doc.lines)
    return "【施策】" in text and "基準値 目標値" in text


def floating_tables(lines: Sequence[str]) -> list[list[int]]:
    """Lines of each KPI table that the extraction moved to the bottom of its page."""
    tables: list[list[int]] = []
    current: list[int] | None = None
    for number, raw in enumerate(lines, start=1):
        text = fold_width(raw)
        if current is None and TABLE_START_RE.match(text):
            current = [number]
        elif current is not None:
            if text:
                current.append(number)
            if TABLE_END_RE.match(text):
                tables.append(current)
                current = None
    return tables


def _footnote_blocks(lines: tuple[str, ...], skip: set[int]) -> list[list[list[int]]]:
    """Footnote areas: after a long all-space rule, numbered notes until the page ends.

    Each area is a list of notes, each note the lines of one numbered definition.
    The page ends where a table starts or a line begins with the single space that
    the extractor puts at the top of each page.
    """
    areas: list[list[list[int]]] = []
    number = 1
    while number <= len(lines):
        if not is_footnote_rule(lines[number - 1]):
            number += 1
            continue
        notes: list[list[int]] = []
        cursor = number + 1
        while cursor <= len(lines):
            raw = lines[cursor - 1]
            text = fold_width(raw)
            if is_blank(raw):
                cursor += 1
                continue
            if cursor in skip or TABLE_START_RE.match(text) or raw.startswith(" "):
                break
            if FOOTNOTE_RE.match(text):
                notes.append([cursor])
            elif notes:
                notes[-1].append(cursor)
            else:
                break
            cursor += 1
        if notes:
            areas.append(notes)
        number = cursor
    return areas


def footnote_terms(lines: tuple[str, ...], areas: list[list[list[int]]]) -> dict[str, str]:
    terms: dict[str, str] = {}
    for notes in areas:
        for note in notes:
            match = FOOTNOTE_RE.match(fold_width(lines[note[0] - 1]))
            if match:
                terms[match.group("num")] = match.group("term").strip()
    return terms


def _section_at(sections: list[Section], line: int) -> Section | None:
    """The section owning the last content line before ``line``."""
    best: tuple[int, Section] | None = None
    for section in sections:
        before = [n for n in section.lines if n < line]
        if before and (best is None or before[-1] > best[0]):
            best = (before[-1], section)
    return best[1] if best else None


def _anchor_path(section: Section, label: str) -> tuple[str, ...]:
    """Cut a path back to its measure (or goal) and name the KPI table under it."""
    for pattern in (MEASURE_TITLE_RE, GOAL_TITLE_RE):
        for index in range(len(section.path) - 1, -1, -1):
            if pattern.match(fold_width(section.path[index])):
                return section.path[: index + 1] + (label,)
    return section.path + (label,)


def parse(doc: Document) -> ParsedDocument:
    lines = doc.lines
    noise: dict[int, str] = {}
    appendix_start = next(
        (n for n, raw in enumerate(lines, start=1) if fold_width(raw) == "参考資料"), len(lines)
    )
    for number, raw in enumerate(lines, start=1):
        text = fold_width(raw)
        if is_blank(raw):
            noise[number] = BLANK
        elif DASHED_PAGE_RE.match(text):  # bare numbers here are KPI values, not pages
            noise[number] = PAGE_NUMBER
        elif KPI_MARKER_RE.match(text):
            noise[number] = KPI_MARKER
        elif number > appendix_start and APPENDIX_HEADER_RE.match(text):
            noise[number] = RUNNING_HEADER

    tables = floating_tables(lines)
    table_lines = {n for table in tables for n in table}
    areas = _footnote_blocks(lines, table_lines)
    footnote_lines = {n for notes in areas for note in notes for n in note}

    # Vertical labels (方/向/性) read as one word on the run's first line.
    view = list(lines)
    display: dict[int, str] = {}
    followers: dict[int, list[int]] = {}
    for run in vertical_runs(lines):
        word = join_vertical(lines, run)
        view[run[0] - 1] = word
        display[run[0]] = word
        for number in run[1:]:
            display[number] = ""
        followers[run[0]] = run[1:]
    hidden = {n for rest in followers.values() for n in rest}

    content = [
        n
        for n in range(1, len(lines) + 1)
        if n not in noise and n not in table_lines and n not in footnote_lines and n not in hidden
    ]
    sections = build_outline(content, view, RULES, root_title=doc.title)
    for section in sections:
        for block in section.blocks:
            for first, rest in followers.items():
                if first in block:
                    block.extend(rest)
                    block.sort()
        for first, rest in followers.items():
            if first in section.heading:
                section.heading = sorted(section.heading + rest)

    extra: list[Section] = []
    markers = deque(n for n, reason in sorted(noise.items()) if reason == KPI_MARKER)
    for table in tables:
        marker = markers.popleft() if markers and markers[0] < table[0] else None
        owner = _section_at(sections, marker if marker else table[0])
        label = "数値目標" if marker and "数値目標" in fold_width(lines[marker - 1]) else "KPI"
        path = _anchor_path(owner, label) if owner else (doc.title, label)
        extra.append(
            Section(kind=KPI, path=path, blocks=[table], goal=owner.goal if owner else "", style="kpi-table")
        )
    for notes in areas:
        owner = _section_at(sections, notes[0][0])
        path = (owner.path if owner else (doc.title,)) + ("脚注",)
        extra.append(
            Section(kind=PARAGRAPH, path=path, blocks=[list(n) for n in notes],
                    goal=owner.goal if owner else "", style="footnotes")
        )
    sections = sorted(sections + extra, key=lambda s: s.lines[0])
    return ParsedDocument(
        doc=doc.doc,
        family=FAMILY,
        sections=sections,
        noise=noise,
        display=display,
        footnotes=footnote_terms(lines, areas),
    )



def kpi_tables(doc: Document, parsed: ParsedDocument) -> list[KpiTable]:
    """Floating 基準値/目標値 tables and the appendix's first-period tables (with their label)."""
    tables = [KpiTable("floating", lines[0], lines[-1]) for lines in floating_tables(doc.lines)]
    for section in parsed.sections:
        if section.style == APPENDIX_KPI_STYLE and section.lines:
            header = section.lines[0]
            match = APPENDIX_KPI_RE.match(fold_width(doc.lines[header - 1]))
            label = match.group("label") if match else ""
            tables.append(KpiTable("appendix", header, section.lines[-1], section, label))
    return tables
