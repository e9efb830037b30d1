"""KPI lines of a generally parsed plan become KPI sections of their own.

The family parsers give each KPI table a section of kind ``kpi``, so search can filter
by 種類 KPI and boost tables for number questions. A plan added from another city often
prints its KPIs inside a measure's text instead: 「【KPI】待機児童数 基準値 35人（2024年度）→
目標値 0人（2030年度）」, 「成果指標：… 現状値 … → 目標値 …」, or a small table whose header
has 基準値/現状値 and 目標値 columns. The general detector rightly does not take such lines
for headings, so they stay in the measure's section and no chunk of kind ``kpi`` exists.

:func:`split_kpi_lines` moves each run of such blocks into a section of kind ``kpi`` under
the measure (path = the measure's path + the label word), as a family parser would. The
lines keep their numbers and their owner is still unique; only which chunk owns them
changes. The recognisers here are shared with :mod:`kb.kpi.general`, which reads the
values, so what is split off and what is read agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from kb.ingest.parse.common import fold_width
from kb.ingest.parse.model import KPI, Section

#: The label words, longest first; 重要業績評価指標 is the Japanese for KPI.
LABEL_WORDS = ("重要業績評価指標", "数値目標", "成果指標", "施策指標", "評価指標", "目標指標", "活動指標", "KPI")
_WORDS = "|".join(LABEL_WORDS)
#: A line (width-folded) that starts with a KPI label: 【KPI】, ■数値目標, 成果指標：, 重要業績評価指標(KPI) …
#: The label must end there (a bracket, a colon, a space or the line's end): 「数値目標は…」 is prose.
LABEL_RE = re.compile(
    rf"^[■◆●□◇○・]?\s*(?:[【\[<(]\s*(?P<boxed>{_WORDS})(?:\s*\(\s*KPI\s*\))?\s*[】\]>)]"
    rf"|(?P<bare>{_WORDS})(?:\s*\(\s*KPI\s*\))?(?=[\s:]|$))\s*:?\s*"
)
ARROW_RE = re.compile(r"\s*(?:→|⇒|➡|➔|=>)\s*")
_BOUNDARY = r"(?:^|(?<=[\s:、,)]))"
_AFTER = r"(?=[\s:(]|\d|約|令和|平成|R\d|H\d|$)"
#: The baseline and target markers, as words of their own (not inside an indicator's name).
BASE_RE = re.compile(rf"{_BOUNDARY}(?P<word>基準値|現状値|現況値|現在値|策定時|基準年度|基準年|現状|基準){_AFTER}")
TARGET_RE = re.compile(rf"{_BOUNDARY}(?P<word>目標値|目標水準|将来値|目標){_AFTER}")
#: Header cells of a KPI table.
BASE_CELL = re.compile(r"^(基準値|現状値|現況値|現在値|策定時|現状|基準)")
TARGET_CELL = re.compile(r"^(目標値|目標)")


def label_of(text: str) -> tuple[str, str] | None:
    """(label as kb names it, the text after the label) when a line starts with one."""
    folded = fold_width(text)
    match = LABEL_RE.match(folded)
    if match is None:
        return None
    word = match.group("boxed") or match.group("bare")
    return ("KPI" if word == "重要業績評価指標" else word), folded[match.end():].strip()


def value_halves(text: str) -> tuple[str, str] | None:
    """A KPI line cut into (name and baseline, target): at its arrow, else at 目標値 after a 基準値."""
    parts = ARROW_RE.split(text)
    if len(parts) >= 2:
        return parts[0].strip(), parts[-1].strip()
    target = TARGET_RE.search(text)
    if target and BASE_RE.search(text[: target.start()]) and text[target.end():].strip(" :"):
        return text[: target.start()].strip(), text[target.start():].strip()
    return None  # 「基準値 目標値」 alone is a table's header, not a KPI


def header_cells(cells: Sequence[str]) -> bool:
    """Column names of a KPI table: a baseline and a target column, and no figures."""
    squeezed = [fold_width(c).replace(" ", "") for c in cells]
    if any(ARROW_RE.search(c) for c in squeezed):
        return False
    return any(BASE_CELL.match(c) for c in squeezed) and any(TARGET_CELL.match(c) for c in squeezed)


def _cells(raw: str) -> list[str]:
    return [c for c in (raw.split("\t") if "\t" in raw else fold_width(raw).split()) if c.strip()]


def _header(raw: str) -> bool:
    cells = _cells(raw)
    numbers = re.sub(r"[(（][^)）]*[)）]", "", "".join(cells))  # years in brackets are not figures
    return 3 <= len(cells) <= 8 and not any(c.isdigit() for c in fold_width(numbers)) and header_cells(cells)


def kpi_line(raw: str) -> str | None:
    """The label of a line that is a KPI by itself (labelled, or 基準値 … 目標値), else None."""
    labelled = label_of(raw)
    if labelled is not None:
        return labelled[0] if labelled[1] else None  # a bare 【数値目標】 heads what follows
    folded = fold_width(raw)
    halves = value_halves(folded)
    return "KPI" if halves is not None and BASE_RE.search(halves[0]) else None


def _row(raw: str) -> bool:
    """A row under a KPI table header: it ends with a figure."""
    cells = _cells(raw)
    return len(cells) >= 2 and any(c.isdigit() for c in fold_width(cells[-1]))


def split_kpi_lines(sections: Sequence[Section], lines: Sequence[str]) -> list[Section]:
    """Each run of KPI blocks inside a non-KPI section, moved into a KPI section of its own."""
    out: list[Section] = []
    for section in sections:
        if section.kind == KPI or not section.blocks:
            out.append(section)
            continue
        kept: list[list[int]] = []
        runs: list[tuple[str, list[list[int]]]] = []
        table = False
        previous_kpi = False
        for block in section.blocks:
            raw = lines[block[0] - 1]
            label = kpi_line(raw)
            if _header(raw):
                label, table = label or "KPI", True
            elif table and _row(raw):
                label = "KPI"
            else:
                table = False
            if label is None:
                kept.append(block)
                previous_kpi = False
                continue
            if previous_kpi:
                runs[-1][1].append(block)
            else:
                runs.append((label, [block]))
            previous_kpi = True
        if not runs:
            out.append(section)
            continue
        if kept or section.heading:
            out.append(replace(section, blocks=kept))
        out.extend(Section(kind=KPI, path=(*section.path, label), blocks=blocks, goal=section.goal, style="kpi-lines")
                   for label, blocks in runs)
    return out
