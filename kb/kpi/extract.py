"""Structured KPIs: every 数値目標 / KPI / 成果指標 / 施策指標 / population target of the plans.

Planners compare targets ("which targets each set"), so a KPI is a record, not a
passage: indicator, unit, baseline and target with their years, the measure or goal
it belongs to (its heading path, in the same coordinates as chunk heading paths) and
its source lines. Tables with a heading of their own (Kumamoto's appendix KPI tables, the
comprehensive plan's 施策指標 pages) are the parser's sections of that heading style;
tables without one (floating 基準値/目標値 tables, ◇ lines, progress tables) are found
by their printed shape. Rows are read by kb.kpi.layouts, and each record is attached to
the section the parser says owns its lines, so search results and comparisons can show
the KPIs of the measures they return (:func:`kpis_for_chunk`).

Nothing is invented: a value the plan does not print stays ``None`` (the comprehensive
plan's 施策指標 are names only), and every line inside a KPI table that could not be
read is returned as a :class:`KpiProblem`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from kb.chunk import Chunk
from kb.domain import SourceSpan
from kb.ingest.corpus import Document, load_corpus
from kb.ingest.parse import KpiTable, kpi_tables, parse_document
from kb.ingest.parse.common import fold_width
from kb.ingest.parse.model import MEASURE, ParsedDocument, Section
from kb.kpi import general, layouts
from kb.kpi.coverage import Coverage, GoldRow, coverage, coverage_markdown, read_gold  # noqa: F401 - re-exported
from kb.kpi.layouts import Progress, Row

PATH_SEPARATOR = " > "

#: Labels a KPI can carry (what the plan calls the figure).
NUMERIC_TARGET = "数値目標"
KPI_LABEL = "KPI"
OUTCOME = "成果指標"
INDICATOR = "施策指標"
TARGET_POPULATION = "目標人口"
POPULATION_FRAME = "人口フレーム"
POPULATION_OUTLOOK = "人口の将来展望"

#: Periods other than the plan's own: figures reported about an earlier plan.
FIRST_PERIOD_REVIEW = "第1期の検証（参考資料）"
SECOND_VISION_RESULTS = "第2期ビジョンの実績"

_PROGRESS_RE = re.compile(r"^成果指標\s*\(KPI\)")
#: Trailing path elements that name a KPI table rather than the measure it serves.
_LABEL_ELEMENT_RE = re.compile(r"^(KPI|数値目標|■KPI.*|(?:KPI|数値目標)\s*単位|<.+分野>|脚注)$")
_MEASURE_NUMBER_RE = re.compile(r"^施策\s*(?P<num>\d{1,2})\s")
_GOAL_NUMBER_RE = re.compile(r"^(?P<num>\d{1,2})\s")


@dataclass(frozen=True)
class Kpi:
    """One indicator of one plan, with the values exactly as printed (width-folded)."""

    doc: str
    city: str
    area: str
    title: str
    name: str
    unit: str
    base_value: str | None
    base_year: str
    target_value: str | None
    target_year: str
    path: tuple[str, ...]
    line_start: int
    line_end: int
    label: str
    layout: str
    period: str = ""
    reprint: bool = False
    progress: tuple[Progress, ...] = ()
    note: str = ""

    @property
    def section(self) -> str:
        return PATH_SEPARATOR.join(self.path)

    @property
    def has_values(self) -> bool:
        return self.target_value is not None

    @property
    def span(self) -> SourceSpan:
        return SourceSpan(self.doc, self.line_start, self.line_end)

    @property
    def source(self) -> str:
        return str(self.span)

    def describe(self) -> str:
        """One line a planner can paste: "市内総生産額: 2,496 十億円 (H27(2015)) → 2,692 十億円 (R5(2023))"."""
        if not self.has_values:
            return f"{self.name}（{self.label}: 目標値の記載なし / no values in the plan）"
        def figure(value: str) -> str:  # 「増加」 is a direction, not a figure with a unit
            return value + self.unit if any(c.isdigit() for c in value) else value

        base = "—" if self.base_value is None else figure(self.base_value) + (
            f" ({self.base_year})" if self.base_year else "")
        target = figure(str(self.target_value)) + (f" ({self.target_year})" if self.target_year else "")
        reprint = "（再掲）" if self.reprint else ""
        return f"{reprint}{self.name}: {base} → {target}"

    def to_json(self) -> dict:
        return {
            "doc": self.doc, "city": self.city, "area": self.area, "title": self.title,
            "name": self.name, "unit": self.unit,
            "base_value": self.base_value, "base_year": self.base_year,
            "target_value": self.target_value, "target_year": self.target_year,
            "base_number": number(self.base_value), "target_number": number(self.target_value),
            "label": self.label, "period": self.period, "reprint": self.reprint,
            "section": self.section, "heading_path": list(self.path),
            "line_start": self.line_start, "line_end": self.line_end, "layout": self.layout,
            "progress": [{"column": p.column, "value": p.value, "year": p.year} for p in self.progress],
            "note": self.note,
        }


@dataclass(frozen=True)
class KpiProblem:
    """A line inside a KPI table that could not be read (shown, never silently dropped)."""

    doc: str
    line: int
    text: str
    reason: str


@dataclass
class KpiExtraction:
    kpis: list[Kpi] = field(default_factory=list)
    problems: list[KpiProblem] = field(default_factory=list)

    def for_doc(self, doc: str) -> list[Kpi]:
        return [k for k in self.kpis if k.doc == doc]


# ----------------------------------------------------------------------------- numbers

_KANJI_NUMBER_RE = re.compile(r"^(?P<man>[\d.]+)万(?:(?P<sen>\d+)千)?$")


def number(value: str | None) -> float | None:
    """The numeric value of a printed figure: "2,496"→2496, "7,000以上"→7000, "29万5千"→295000."""
    if value is None:
        return None
    text = fold_width(value).replace(",", "").replace(" ", "").removeprefix("約")
    text = re.sub(r"(以上|以下|未満)$", "", text).replace("△", "-").replace("▲", "-")
    match = _KANJI_NUMBER_RE.match(text)
    try:
        if match:
            return float(match.group("man")) * 10000 + float(match.group("sen") or 0) * 1000
        return float(text)
    except ValueError:
        return None


_ERA_RE = re.compile(r"(?P<era>令和|平成|R|H)\s*(?P<num>\d{1,2})")
_AD_RE = re.compile(r"(?<!\d)(?P<ad>(?:19|20)\d{2})(?!\d)")


def year_ad(label: str) -> int | None:
    """The Western year a label names: "H30(2018)"→2018, "R4年度"→2022, "令和12年度末"→2030, "令和元年度"→2019."""
    ad = _AD_RE.findall(label)
    if ad:
        return int(ad[-1])
    eras = list(_ERA_RE.finditer(re.sub(r"(?<=令和|平成)元", "1", fold_width(label))))  # 令和元年度 = 2019
    if not eras:
        return None
    era = eras[-1]
    offset = 2018 if era.group("era") in ("令和", "R") else 1988
    return offset + int(era.group("num"))


# ----------------------------------------------------------------------------- extraction


def _owner_map(parsed: ParsedDocument) -> dict[int, Section]:
    owners: dict[int, Section] = {}
    for section in parsed.sections:
        for line in section.lines:
            owners[line] = section
    return owners


def measure_path(path: Sequence[str]) -> tuple[str, ...]:
    """Drop trailing table labels ("KPI", "■KPI…", "<…分野>") so the path names the measure."""
    out = tuple(path)
    while len(out) > 1 and _LABEL_ELEMENT_RE.match(fold_width(out[-1])):
        out = out[:-1]
    return out


def _owner_path(owners: dict[int, Section], lines: Iterable[int], fallback: tuple[str, ...]) -> tuple[str, ...]:
    for line in lines:
        if line in owners:
            return owners[line].path
    return fallback


def _numbered(doc: Document, start: int, end: int) -> list[tuple[int, str]]:
    return [(n, doc.lines[n - 1]) for n in range(start, end + 1)]


class _Builder:
    """Collects Kpi records of one document from the layout parsers' rows."""

    def __init__(self, doc: Document, parsed: ParsedDocument) -> None:
        self.doc = doc
        self.parsed = parsed
        self.owners = _owner_map(parsed)
        self.tables = kpi_tables(doc, parsed)
        self.kpis: list[Kpi] = []
        self.problems: list[KpiProblem] = []

    def add(self, rows: Sequence[Row], problems: Sequence[layouts.Problem], *, label: str, layout: str,
            path: tuple[str, ...], period: str = "") -> None:
        for row in rows:
            self.kpis.append(
                Kpi(doc=self.doc.doc, city=self.doc.city, area=self.doc.area, title=self.doc.title,
                    name=row.name, unit=row.unit, base_value=row.base, base_year=row.base_year,
                    target_value=row.target, target_year=row.target_year, path=path,
                    line_start=min(row.lines), line_end=max(row.lines), label=label, layout=layout,
                    period=period, reprint=row.reprint, progress=tuple(row.progress), note=row.note)
            )
        self.problems.extend(KpiProblem(self.doc.doc, p.line, p.text, p.reason) for p in problems)

    def path_of(self, lines: Iterable[int]) -> tuple[str, ...]:
        return _owner_path(self.owners, lines, (self.doc.title,))


def _floating(builder: _Builder) -> None:
    for start, end in ((t.start, t.end) for t in _tables(builder, "floating")):
        rows, problems = layouts.floating_table(_numbered(builder.doc, start, end))
        owner = builder.path_of([start])
        label = NUMERIC_TARGET if owner and fold_width(owner[-1]) == NUMERIC_TARGET else KPI_LABEL
        builder.add(rows, problems, label=label, layout="floating", path=measure_path(owner))


def _tables(builder: _Builder, layout: str) -> list[KpiTable]:
    """The KPI tables of one layout that the document's family found."""
    return [t for t in builder.tables if t.layout == layout]


def _appendix(builder: _Builder) -> None:
    doc = builder.doc
    for table in _tables(builder, "appendix"):
        rows, problems = layouts.appendix_table(_numbered(doc, table.start, table.end))
        label = NUMERIC_TARGET if table.label == "数値目標" else KPI_LABEL
        path = table.section.path if table.section else builder.path_of([table.start])
        builder.add(rows, problems, label=label, layout="appendix", path=measure_path(path),
                    period=FIRST_PERIOD_REVIEW)


def _diamonds(builder: _Builder) -> None:
    doc = builder.doc
    groups: dict[tuple[str, ...], list[int]] = {}
    for number, raw in enumerate(doc.lines, start=1):
        if fold_width(raw).startswith("◇"):
            owner = builder.path_of([number])
            groups.setdefault(owner, []).append(number)
    for owner, numbers in groups.items():
        lines = []
        for number in numbers:
            following = next((n for n in range(number + 1, min(number + 4, len(doc.lines) + 1))
                              if doc.lines[n - 1].strip()), None)
            lines.append((number, doc.lines[number - 1]))
            if following and not fold_width(doc.lines[following - 1]).startswith(("◇", "■")):
                lines.append((following, doc.lines[following - 1]))
        rows, problems = layouts.diamond_kpis(lines)
        builder.add(rows, problems, label=KPI_LABEL, layout="diamond", path=measure_path(owner))


def _progress_tables(builder: _Builder) -> None:
    doc = builder.doc
    for number, raw in enumerate(doc.lines, start=1):
        if "\t" not in raw or not _PROGRESS_RE.match(fold_width(raw)):
            continue
        end = number
        while end < len(doc.lines) and ("\t" in doc.lines[end] or not doc.lines[end].strip()):
            if not doc.lines[end].strip() and end + 1 < len(doc.lines) and "\t" not in doc.lines[end + 1]:
                break
            end += 1
        rows, problems = layouts.progress_table(_numbered(doc, number, end))
        owner = builder.path_of([number])
        builder.add(rows, problems, label=OUTCOME, layout="progress", path=measure_path(owner),
                    period=SECOND_VISION_RESULTS)


def _measure_number(section: Section) -> int:
    """施策N's N (the caller kept only sections whose title matches)."""
    match = _MEASURE_NUMBER_RE.match(fold_width(section.path[-1]))
    return int(match.group("num")) if match else 0


def _measures_by_goal(parsed: ParsedDocument) -> dict[int, list[Section]]:
    """Numbered 施策 sections grouped by the number of their goal (comprehensive plan)."""
    goals: dict[int, list[Section]] = {}
    for section in parsed.sections:
        if section.kind != MEASURE or len(section.path) < 2:
            continue
        measure = _MEASURE_NUMBER_RE.match(fold_width(section.path[-1]))
        goal = _GOAL_NUMBER_RE.match(fold_width(section.path[-2]))
        if measure and goal:
            goals.setdefault(int(goal.group("num")), []).append(section)
    for sections in goals.values():
        sections.sort(key=_measure_number)
    return goals


def _indicators(builder: _Builder) -> None:
    doc, parsed = builder.doc, builder.parsed
    measures = _measures_by_goal(parsed)
    for table in _tables(builder, "indicators"):
        header = table.start
        own_path = table.section.path if table.section else builder.path_of([header])
        entries, goals, problems = layouts.indicator_entries(_numbered(doc, header, table.end))
        targets = [m for goal in sorted(goals) for m in measures.get(goal, [])]
        if len(targets) != len(entries):
            builder.problems.append(KpiProblem(
                doc.doc, header, fold_width(doc.lines[header - 1]),
                f"{len(entries)} 施策指標 entries for goals {sorted(goals)} with {len(targets)} 施策: "
                "entries kept without their 施策"))
            targets = []
        for position, entry in enumerate(entries):
            path = measure_path(targets[position].path) if targets else measure_path(own_path)
            rows = [Row(name=name, lines=entry.lines if len(entry.lines) == 1 else _line_of(doc, entry.lines, name))
                    for name in layouts.split_indicators(entry.name)]
            builder.add(rows, problems, label=INDICATOR, layout="indicators", path=path)
            problems = []


def _line_of(doc: Document, lines: Sequence[int], name: str) -> list[int]:
    """The line(s) of a wrapped entry that hold this indicator's name."""
    held = [n for n in lines if fold_width(doc.lines[n - 1]).rstrip("、").strip() and
            (fold_width(doc.lines[n - 1]).rstrip("、") in name or name in fold_width(doc.lines[n - 1]))]
    return held or list(lines)


_POPULATION_LABELS = ((POPULATION_FRAME, "人口フレーム"), (TARGET_POPULATION, "目標人口"))
#: How far above a population sentence its heading may sit (the PDF puts the figure
#: "29万人" and blank lines between them).
_HEADING_REACH = 8


def _population(builder: _Builder) -> None:
    """Population targets in prose; labelled by the words of the sentence and the heading
    just above it (目標人口 / 人口フレーム / otherwise a 将来展望), not by the parsed
    section, because the extraction sometimes puts a heading after its text."""
    doc = builder.doc
    for section in builder.parsed.sections:
        for block in section.blocks:
            lines = [(n, doc.lines[n - 1]) for n in block]
            for row in layouts.population_targets(lines):
                context = "".join(fold_width(doc.lines[n - 1]).replace(" ", "")
                                  for n in range(max(1, row.lines[0] - _HEADING_REACH), row.lines[-1] + 1))
                label = next((label for label, word in _POPULATION_LABELS if word in context), POPULATION_OUTLOOK)
                sentence = "".join(fold_width(doc.lines[n - 1]).replace(" ", "") for n in row.lines)
                basis = "住民基本台帳" if "住民基本台帳" in sentence else ""
                row.name = {POPULATION_FRAME: "将来人口", TARGET_POPULATION: "目標人口"}.get(label, "人口（将来展望）")
                row.note = basis
                builder.add([row], [], label=label, layout="population", path=measure_path(section.path))


def _general(builder: _Builder) -> None:
    """Plans no family parser knows: the common printed forms (kb.kpi.general)."""
    reading = general.read_general(builder.doc, builder.parsed)
    for found in reading.found:
        builder.add([found.row], [], label=found.label, layout=found.layout, path=measure_path(found.path))
    builder.add([], reading.problems, label="", layout="", path=())


def extract_document(doc: Document, parsed: ParsedDocument | None = None) -> KpiExtraction:
    """All KPI records of one document, in line order, and the lines that could not be read."""
    builder = _Builder(doc, parsed or parse_document(doc))
    family = builder.parsed.family == general.FAMILY
    for step in (_general, _population) if family else (_floating, _appendix, _diamonds, _progress_tables,
                                                         _indicators, _population):
        step(builder)
    kpis = sorted(builder.kpis, key=lambda k: (k.line_start, k.name))
    return KpiExtraction(kpis=kpis, problems=sorted(builder.problems, key=lambda p: p.line))


def extract_kpis(documents: Iterable[Document]) -> KpiExtraction:
    result = KpiExtraction()
    for doc in documents:
        one = extract_document(doc)
        result.kpis.extend(one.kpis)
        result.problems.extend(one.problems)
    return result


@lru_cache(maxsize=4)
def _cached(corpus_dir: str, stamp: tuple[tuple[str, float], ...]) -> KpiExtraction:
    return extract_kpis(load_corpus(Path(corpus_dir)))


def load_kpis(corpus_dir: Path | str = "corpus") -> KpiExtraction:
    """Extraction of a corpus folder, cached until one of its files changes (~0.3 s cold)."""
    folder = Path(corpus_dir)
    files = [*folder.glob("*.txt"), *folder.glob("manifest.toml")] if folder.is_dir() else []
    stamp = tuple(sorted((p.name, p.stat().st_mtime) for p in files))  # a manifest edit can rename a city
    return _cached(str(folder.resolve()), stamp)


# ----------------------------------------------------------------------------- lookup


def path_key(path: Sequence[str]) -> tuple[str, ...]:
    """A heading path compared loosely: width-folded, no spaces, no "- " list mark, so an
    index built by an older parser ("8 「…」", "- ①…") still meets today's records."""
    return tuple(re.sub(r"^-", "", fold_width(p).replace(" ", "")) for p in path)


def _is_prefix(prefix: Sequence[str], path: Sequence[str]) -> bool:
    return len(prefix) <= len(path) and path_key(path[: len(prefix)]) == path_key(prefix)


def kpis_for_chunk(chunk: Chunk, kpis: Sequence[Kpi], *, inherit: bool = False) -> list[Kpi]:
    """The KPIs of the measure or goal a chunk belongs to.

    A KPI belongs to a heading path (its measure or goal); it applies to a chunk of
    the same document whose heading path starts with that path. Only the deepest
    level is returned (a sub-measure shows its measure's KPI table, not also its
    goal's 数値目標) unless ``inherit``. A KPI on a line the chunk owns (the chunk
    *is* the KPI table) always applies. Paths of one element (the document
    title alone) never match by prefix: they would attach a KPI to everything.
    """
    doc = chunk.doc
    path = tuple(chunk.heading_path)
    # Owned lines, not the span: Kumamoto's floating tables sit inside the span of
    # the *next* measure's chunk without belonging to it.
    owned = set(chunk.lines or range(chunk.line_start, chunk.line_end + 1))
    inside = [k for k in kpis if k.doc == doc and k.line_start in owned]
    matched = [k for k in kpis if k.doc == doc and len(k.path) >= 2 and _is_prefix(k.path, path)]
    if matched and not inherit:
        deepest = max(len(k.path) for k in matched)
        matched = [k for k in matched if len(k.path) == deepest]
    seen: set[tuple[str, int, str]] = set()
    out = []
    for kpi in sorted(inside + matched, key=lambda k: (k.line_start, k.name)):
        key = (kpi.doc, kpi.line_start, kpi.name)
        if key not in seen:
            seen.add(key)
            out.append(kpi)
    return out


def filter_kpis(
    kpis: Iterable[Kpi], *, city: str | None = None, doc: str | None = None, query: str | None = None
) -> list[Kpi]:
    """KPIs of a city (久留米市 / 熊本市 / 広域), a document, and/or whose name or section contains a word."""
    words = [fold_width(w).lower() for w in (query or "").split() if w.strip()]
    out = []
    for kpi in kpis:
        if city and city not in (kpi.city, kpi.area):
            continue
        if doc and kpi.doc != doc:
            continue
        haystack = fold_width(f"{kpi.name} {kpi.section} {kpi.unit}").lower()
        if words and not all(w in haystack for w in words):
            continue
        out.append(kpi)
    return out
