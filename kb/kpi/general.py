"""KPIs of any plan: the common ways Japanese plans print an indicator with its target.

The five shipped plans have readers written for their layouts (:mod:`kb.kpi.layouts`).
A plan a user adds from another city has none, yet its targets are what a planner
compares first. Most plans print them in a few conventional forms, which this module
reads from the text of any document the ``general`` family parses:

* a labelled line: 【KPI】/【数値目標】/重要業績評価指標/成果指標/施策指標, then the
  indicator and ``基準値/現状値 … → 目標値 …`` (arrow, or the two markers alone);
* an unlabelled ``name base → target`` line inside a KPI section (under a ■数値目標
  heading), or a line that names both 基準値/現状値 and 目標値;
* a line the PDF wrapped, and a label or 指標名 line followed by 基準値 … / 目標値 … lines
  (joined, up to :data:`REACH` lines, never across a heading or another KPI);
* a table (tab-separated cells, as kb's HTML import writes rows) whose header has a
  基準値/現状値 column and a 目標値 column, years in the header or the cells; the same
  table printed with spaces (PDF import), read from the right;
* a labelled name with no values at all (「施策指標：…」): a name-only record.

Values, units and years are read by :mod:`kb.kpi.amounts` (令和/平成/R/H/西暦 years with
年/年度/年度末; 人, 件, %, 千人, 億円 …; 「増加」「維持」「減少」 as qualitative targets).
Each record hangs on the measure whose section owns its first line (KPI label headings
are dropped from the path, as for the family plans), so a search hit of that measure
shows it. A line that looks like a KPI but cannot be read is returned as a problem,
never silently dropped and never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from kb.ingest.corpus import Document
from kb.ingest.parse.common import fold_width, unclosed
from kb.ingest.parse.general import FAMILY  # noqa: F401 - the family this reader serves
from kb.ingest.parse.kpi_lines import (
    ARROW_RE,
    BASE_CELL,
    BASE_RE,
    LABEL_WORDS,
    TARGET_CELL,
    TARGET_RE,
    label_of,
    value_halves,
)
from kb.ingest.parse.model import KPI, ParsedDocument, Section
from kb.kpi.amounts import MISSING, Amount, parse_amount, split_year, year_label
from kb.kpi.layouts import Problem, Row

#: 指標名：待機児童数 — the name line of a block whose values follow on their own lines.
_NAME_LINE_RE = re.compile(r"^(?:指標名?|項目|名称)\s*[:\s]\s*(?P<name>\S.*)$")
_NAME_PREFIX_RE = re.compile(r"^(?:指標名?|項目|名称)\s*:\s*")
_BULLET_RE = re.compile(r"^(?:[・○◇◆●■□\-]|[①-⑳]|\(\d{1,2}\)|\d{1,2}[.)])\s*")
_REPRINT_RE = re.compile(r"^\((?:再掲)\)\s*|\s*\((?:再掲)\)$")
_UNIT_CELL = re.compile(r"^単位")
#: A header cell that names a year column: 基準年度, 目標年次, 現状(時点).
_YEAR_COLUMN = re.compile(r"(年度|年次|年|時点)$")
_NAME_CELL = re.compile(rf"指標|項目|名称|{'|'.join(LABEL_WORDS)}")
#: A name has words: two letters or kanji in a row (not "☞", not "-").
_WORDY = re.compile(r"[^\W\d_]{2}")
#: A table's column names, printed after a label (「数値目標 単位」): not an indicator.
_COLUMN_WORDS = re.compile(r"^(?:単位|基準値|現状値|目標値|指標名?|項目|名称)(?:\s|$)")
#: Sub-headings that describe a measure rather than name one: 【施策の目的】, ■現状と課題 ….
_DESCRIPTIVE = re.compile(r"^[【\[■◆●]?(?:施策の目的|目的|現状と課題|現状|課題|主な取組み?|主な取り組み|取組内容|具体的な取組|"
                          r"施策の方向性?|施策の内容|目指す姿|めざす姿|関連する?計画)[】\]]?$")
#: How many following lines a wrapped KPI line (or a block's 基準値/目標値 lines) may take.
REACH = 3
#: A name this long is a sentence that happens to start with a label word.
MAX_NAME = 80

LINE, TABLE, NAMES = "general-line", "general-table", "general-names"


@dataclass(frozen=True)
class Found:
    """One KPI row read from a plan, with what it is called there and the measure it serves."""

    row: Row
    label: str
    layout: str
    path: tuple[str, ...]


@dataclass
class GeneralReading:
    found: list[Found] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def kpi_path(section: Section) -> tuple[str, ...]:
    """The measure a KPI serves: the section's path without trailing KPI label headings and
    the measure's own descriptive sub-headings (【施策の目的】, 【現状と課題】), so the KPI
    shows on every card of the measure, not only on one part of its page."""
    path = tuple(section.path)
    while len(path) > 1 and (label_of(path[-1].lstrip("#").strip()) is not None
                             or _DESCRIPTIVE.match(fold_width(path[-1]).replace(" ", ""))):
        path = path[:-1]
    return path


def _clean_name(text: str) -> tuple[str, bool]:
    """The indicator's name without list marks and separators, and whether it is a (再掲)."""
    name = _NAME_PREFIX_RE.sub("", _BULLET_RE.sub("", text.strip())).strip(" :、,")
    reprint = bool(_REPRINT_RE.search(name))
    return _REPRINT_RE.sub("", name).strip(" :、,"), reprint


def _split_name(left: str) -> tuple[str, Amount | None] | None:
    """(name, baseline) of the text before the arrow; None when no reading fits.

    The name may be empty: the values line of a block whose name stands on the line before.
    """
    base = BASE_RE.search(left)
    if base:
        amount = parse_amount(left[base.end():])
        return (left[: base.start()], amount) if amount is not None else None
    whole = parse_amount(left)
    if whole is not None:
        return "", whole
    # No marker: the name is everything before the shortest tail that reads as a figure
    # (never cutting inside a number: "16,443" is not "1" + "6,443").
    for position in range(1, len(left)):
        before, char = left[position - 1], left[position]
        if before == " " or (char.isdigit() and not (before.isdigit() or before in ",.")) or char in "約(":
            amount = parse_amount(left[position:])
            if amount is not None and amount.value is not None:
                return left[:position], amount
    name, _, last = left.rpartition(" ")
    if name and last and all(c in MISSING for c in last):  # 「大学等との連携事業数 -」: no baseline printed
        return name, Amount(None)
    return left, None


def has_values(text: str) -> bool:
    return value_halves(fold_width(text)) is not None


def parse_line(text: str) -> tuple[Row | None, str]:
    """One KPI line (label already removed): a Row without lines, or None and why not."""
    halves = value_halves(text)
    if halves is None:
        return None, "no 基準値 → 目標値 on the line"
    left, right = halves
    right = TARGET_RE.sub("", right, count=1) if TARGET_RE.match(right) else right
    note = ""
    if "※" in right:
        right, _, note = right.partition("※")
        note = "※" + note.strip()
    target = parse_amount(right)
    if target is None or target.value is None:
        return None, f"target {right.strip()!r} is not a value with its unit and year"
    split = _split_name(left)
    if split is None:
        return None, f"baseline in {left!r} is not a value with its unit and year"
    name, reprint = _clean_name(split[0])
    base = split[1]
    return Row(name=name, lines=[], unit=target.unit or (base.unit if base else ""),
               base=base.value if base else None, base_year=base.year if base else "",
               target=target.value, target_year=target.year, reprint=reprint, note=note), ""


def _own_kpi(text: str) -> bool:
    """A line with both a name and values: a KPI of its own, never the rest of another."""
    row, _ = parse_line(text) if has_values(text) else (None, "")
    return row is not None and bool(row.name)


class _Reader:
    """Walks one document's content lines once, collecting rows and problems."""

    def __init__(self, doc: Document, parsed: ParsedDocument) -> None:
        self.doc = doc
        self.owners = {line: s for s in parsed.sections for line in s.lines}
        self.content = [n for n in range(1, len(doc.lines) + 1) if n not in parsed.noise and doc.lines[n - 1].strip()]
        self.out = GeneralReading()
        #: The label of a bare 【数値目標】 line and its section: the lines after it are its KPIs.
        self.context: tuple[str, Section | None] | None = None
        #: The header of a space-separated KPI table whose rows are being read.
        self.grid: _Header | None = None

    def text(self, number: int) -> str:
        return fold_width(self.doc.lines[number - 1])

    def section(self, number: int) -> Section | None:
        return self.owners.get(number)

    def in_kpi(self, number: int) -> bool:
        section = self.section(number)
        return section is not None and section.kind == KPI

    def section_label(self, number: int) -> str:
        section = self.section(number)
        found = label_of(section.title.lstrip("#").strip()) if section is not None else None
        return found[0] if found else "KPI"

    def emit(self, row: Row, label: str, layout: str) -> None:
        section = self.section(row.lines[0])
        path = kpi_path(section) if section is not None else (self.doc.title,)
        self.out.found.append(Found(row=row, label=label, layout=layout, path=path))

    def problem(self, number: int, reason: str) -> None:
        self.out.problems.append(Problem(number, self.doc.lines[number - 1].strip(), reason))

    # -- lines ----------------------------------------------------------------------

    def read(self) -> GeneralReading:
        consumed = self.tables()
        index = 0
        while index < len(self.content):
            index += 1 if self.content[index] in consumed else self.line(index)
        return self.out

    def line(self, index: int) -> int:
        """Read the line at ``index`` (and any it continues on); how many lines it took."""
        number = self.content[index]
        if self.context is not None and self.context[1] is not self.section(number):
            self.context = None
        if self.grid is not None and self.grid_row(number):
            return 1
        self.grid = None
        cells = self.text(number).split()
        if 3 <= len(cells) <= 6 and all(len(c) <= 16 for c in cells):
            header = _Header.of(cells, number)
            if header is not None:  # 「指標名 現状値（R6） 目標値（R12）」: a table the PDF printed with spaces
                header.label = header.label or (self.context[0] if self.context else self.section_label(number))
                self.grid = header
                return 1
        labelled = label_of(self.text(number))
        body = labelled[1] if labelled else self.text(number)
        if labelled is not None and not body:  # a bare 【数値目標】: what follows are its KPIs
            self.context = (labelled[0], self.section(number))
            return 1
        in_context = labelled is not None or self.in_kpi(number) or self.context is not None
        label = labelled[0] if labelled else self.context[0] if self.context else self.section_label(number)
        lines, joined = self.joined(index, body) if in_context else ([number], body)
        if has_values(joined):
            row, why = parse_line(joined)
            if row is not None and row.name:
                row.lines = lines
                self.emit(row, label, LINE)
            elif in_context:
                self.problem(number, why or "values with no indicator name")
            return len(lines)
        named = _NAME_LINE_RE.match(body) if in_context else None
        if labelled is not None or named is not None:  # 「施策指標：…」 with no values: a name-only KPI
            self.names_only(number, named.group("name") if named else body, label)
        return 1

    def names_only(self, number: int, name: str, label: str) -> None:
        cleaned, reprint = _clean_name(name)
        if cleaned and len(cleaned) <= MAX_NAME and not cleaned.endswith("。") and not _COLUMN_WORDS.match(cleaned):
            self.emit(Row(name=cleaned, lines=[number], reprint=reprint), label, NAMES)

    def grid_row(self, number: int) -> bool:
        """One row under a space-separated header: cells taken from the right, the name is the rest."""
        assert self.grid is not None
        header, tokens = self.grid, self.text(number).split()
        values: dict[int, Amount] = {}
        unit = ""
        years = {header.base: header.base_year, header.target: header.target_year}
        for column in range(header.width - 1, 0, -1):
            if column in (header.base, header.target):
                year = years[column]
                # The longest tail that reads as one figure ("35人 (R6)"), or one token when the
                # years have columns of their own (「4件 R5 12件 R11」: "R5 12件" is not a figure).
                cuts = [len(tokens) - 1] if header.base_year_at is not None or header.target_year_at is not None \
                    else range(1, len(tokens))
                cut = next((k for k in cuts if k > 0 and parse_amount(" ".join(tokens[k:]), year)), None)
                if cut is None:
                    return False
                amount = parse_amount(" ".join(tokens[cut:]), year)
                assert amount is not None
                values[column], tokens = amount, tokens[:cut]
            elif len(tokens) > 1:  # a unit or year column (years stand right of their values)
                token = tokens.pop()
                unit = token if column == header.unit else unit
                if column in (header.base_year_at, header.target_year_at):
                    years[header.base if column == header.base_year_at else header.target] = split_year(token)[1]
            else:
                return False
        target, base = values[header.target], values[header.base]
        if header.name != 0 or not tokens or target.value is None:
            return False
        name, reprint = _clean_name(" ".join(tokens))
        self.emit(Row(name=name, lines=[number], unit=unit or target.unit or base.unit, base=base.value,
                      base_year=base.year, target=target.value, target_year=target.year, reprint=reprint),
                  header.label, TABLE)
        return True

    def joined(self, index: int, body: str) -> tuple[list[int], str]:
        """A KPI line with its continuation: the PDF wrapped its name or its values.

        Up to :data:`REACH` following lines of the same section join while none of them is
        a KPI of its own (a label, or a line with a name and values) and the text so far
        does not end a sentence; the shortest join that has values wins.
        """
        number = self.content[index]
        lines, joined = [number], body
        for following in self.content[index + 1 : index + 1 + REACH]:
            if has_values(joined) and not unclosed(joined):  # 「…（令和12年」 + 「度）」: the year goes on
                return lines, joined
            more = self.text(following)
            if (label_of(more) or following - lines[-1] > REACH or joined.endswith("。")
                    or self.section(following) is not self.section(number) or _own_kpi(more)):
                break
            halves = value_halves(more)
            figures = halves is not None and (not halves[0] or parse_amount(halves[0]) is not None)
            separator = " " if figures or BASE_RE.match(more) or TARGET_RE.match(more) or ARROW_RE.match(more) else ""
            lines.append(following)
            joined += separator + more
        return (lines, joined) if has_values(joined) else ([number], body)

    # -- tables ---------------------------------------------------------------------

    def tables(self) -> set[int]:
        """Read every tab-separated KPI table; the lines they took."""
        consumed: set[int] = set()
        header: _Header | None = None
        for number in self.content:
            raw = self.doc.lines[number - 1].strip()
            if "\t" not in raw:
                header = None
                continue
            cells = [fold_width(c) for c in raw.split("\t")]
            cells = [c for c in cells if c]
            found = _Header.of(cells, number)
            if found is not None:
                header = found
                consumed.add(number)
                continue
            joined = " ".join(cells)
            if header is None:
                if has_values(joined) and (self.in_kpi(number) or label_of(joined) or BASE_RE.search(joined)):
                    self.table_arrow_row(number, joined)
                    consumed.add(number)
                continue
            if header.years(cells):
                consumed.add(number)
                continue
            consumed.add(number)
            self.table_row(header, number, cells)
        return consumed

    def table_arrow_row(self, number: int, joined: str) -> None:
        labelled = label_of(joined)
        row, why = parse_line(labelled[1] if labelled else joined)
        if row is None or not row.name:
            self.problem(number, why or "values with no indicator name")
            return
        row.lines = [number]
        self.emit(row, labelled[0] if labelled else self.section_label(number), TABLE)

    def table_row(self, header: _Header, number: int, cells: Sequence[str]) -> None:
        """One row under a tab-separated header. The row may have more cells than the header
        (a group's label in front, a ☞ or progress columns after): its name is the first cell
        whose baseline and target cells, at the header's distances from it, read as values."""
        offset = next((start - header.name for start in range(len(cells))
                       if start + header.target - header.name < len(cells)
                       and start + header.base - header.name < len(cells)
                       and _WORDY.search(cells[start]) and parse_amount(cells[start]) is None
                       and parse_amount(cells[start + header.base - header.name], header.base_year) is not None
                       and parse_amount(cells[start + header.target - header.name], header.target_year) is not None),
                      None)
        if offset is None or header.name + offset < 0:
            self.problem(number, f"KPI table row whose {header.width} cells do not read as name, 基準値 and 目標値")
            return
        base_year, target_year = header.year_cells(cells, offset)
        base = parse_amount(cells[header.base + offset], base_year)
        target = parse_amount(cells[header.target + offset], target_year)
        assert base is not None and target is not None
        if target.value is None:
            self.problem(number, "KPI table row without a target value")
            return
        # 「生活関連機能サービスの向上 ⑥病院群…」: a group's label ran into the numbered name's cell
        name, reprint = _clean_name(re.sub(r"^.*\s(?=[①-⑳])", "", cells[header.name + offset]))
        unit_at = header.unit + offset if header.unit is not None else -1
        unit = cells[unit_at] if 0 <= unit_at < len(cells) else (target.unit or base.unit)
        row = Row(name=name, lines=[number], unit=unit, base=base.value, base_year=base.year, target=target.value,
                  target_year=target.year, reprint=reprint)
        self.emit(row, header.label or self.section_label(number), TABLE)


@dataclass
class _Header:
    """Which cells of a KPI table's rows hold the name, unit, baseline and target."""

    width: int
    name: int
    base: int
    target: int
    unit: int | None
    base_year: str
    target_year: str
    label: str
    line: int
    #: Columns of their own for the years (「基準年度」「目標年度」), when the table has them.
    base_year_at: int | None = None
    target_year_at: int | None = None

    def year_cells(self, cells: Sequence[str], offset: int = 0) -> tuple[str, str]:
        """(base year, target year) of a row: its year cells, else the header's."""
        def cell(at: int | None, default: str) -> str:
            if at is None or not 0 <= at + offset < len(cells):
                return default
            return split_year(cells[at + offset])[1] or default

        return cell(self.base_year_at, self.base_year), cell(self.target_year_at, self.target_year)

    @classmethod
    def of(cls, cells: Sequence[str], line: int) -> _Header | None:
        squeezed = [c.replace(" ", "") for c in cells]
        if any(ARROW_RE.search(c) or any(ch.isdigit() for ch in split_year(c)[0]) for c in squeezed):
            return None  # a row of values (or a KPI line), not the column names
        def column(pattern: re.Pattern[str], year: bool) -> int | None:
            return next((i for i, c in enumerate(squeezed) if pattern.match(c) and bool(_YEAR_COLUMN.search(c)) == year),
                        None)
        base, target = column(BASE_CELL, False), column(TARGET_CELL, False)
        if base is None or target is None:
            return None
        base_year_at, target_year_at = column(BASE_CELL, True), column(TARGET_CELL, True)
        unit = next((i for i, c in enumerate(squeezed) if _UNIT_CELL.match(c)), None)
        others = [i for i in range(len(cells)) if i not in (base, target, unit, base_year_at, target_year_at)]
        name = next((i for i in others if _NAME_CELL.search(squeezed[i])), others[0] if others else None)
        if name is None:
            return None
        labelled = label_of(cells[name])
        return cls(width=len(cells), name=name, base=base, target=target, unit=unit,
                   base_year=year_label(cells[base]), target_year=year_label(cells[target]),
                   label=labelled[0] if labelled else "", line=line, base_year_at=base_year_at,
                   target_year_at=target_year_at)

    def years(self, cells: Sequence[str]) -> bool:
        """A row of years under the header (「令和6年度」「令和12年度」): they date the two columns."""
        years = [split_year(c) for c in cells]
        if len(years) != 2 or any(rest or not year for rest, year in years):
            return False
        self.base_year, self.target_year = years[0][1], years[1][1]
        return True


def read_general(doc: Document, parsed: ParsedDocument) -> GeneralReading:
    """Every KPI of one generally parsed plan, in line order, and the KPI lines it could not read."""
    reading = _Reader(doc, parsed).read()
    reading.found.sort(key=lambda f: (min(f.row.lines), f.row.name))
    reading.problems.sort(key=lambda p: p.line)
    return reading
