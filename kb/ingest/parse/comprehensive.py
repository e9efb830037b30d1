"""Kurume's comprehensive plan (未来デザイン計画2035): 10 基本目標, 施策 01–33 one page each.

Three layouts in one file:

* 基本構想 (vision): numbered chapters "１ … – 副題 –", the 10 goals described in prose.
* 基本計画 overview and 全体図 (a diagram whose labels were extracted as vertical
  text, one character per line) and the 施策指標 list.
* 基本計画 pages: a goal page (目指す姿, 施策分野) then one page per 施策, pages
  separated by three blank lines. Inside a page the extraction order is scrambled
  (a sub-heading may follow its bullets), so a 施策 page is kept whole as one
  measure; its title is the line just before the page's running header, and its
  number is the page's ordinal because the printed number is missing on some pages.
"""

from __future__ import annotations

import re

from kb.ingest.corpus import Document
from kb.ingest.parse.common import fold_vertical, fold_width, is_blank, vertical_runs
from kb.ingest.parse.model import (
    BLANK,
    GOAL,
    KPI,
    MEASURE,
    PAGE_NUMBER,
    RUNNING_HEADER,
    KpiTable,
    ParsedDocument,
    Section,
)
from kb.ingest.parse.outline import build_outline, group_blocks, rule
from kb.ingest.text import BULLET_START, clean_line

FAMILY = "comprehensive-plan"
PLAN_PART = "基本計画"

#: Heading of each page of the 施策指標 list (基本目標 / 目指す成果 / 施策指標 columns).
INDICATORS_RE = re.compile(r"^基本目標\s*目指す成果\s*施策指標$")
#: Heading style of those pages (kb.kpi.extract reads the 施策指標 entries from these sections).
INDICATORS_STYLE = "indicators"

RULES = (
    rule("chapter", r"^(?P<num>[1-9])\s+.+–.*–$"),
    rule("part", r"^(基本計画の\S{2,6}|\S{2,16}の目標達成に向けて)$"),
    rule("goal", r"^(?P<num>\d{1,2})\s+「.+」.*【", kind=GOAL, parents=("chapter",), is_goal=True, max_len=90),
    rule("viewpoint", r"^(?P<num>[①-⑨])\S[^。]*$", parents=("chapter",)),
    rule("item", r"^(?P<num>\d)\.\s*\S{2,20}$", parents=("part",)),
    rule("paren", r"^\((?P<num>\d)\)\S", parents=("part",)),
    rule("point", r"^●\S[^。、]{2,30}$", parents=("paren", "part")),
    rule(INDICATORS_STYLE, INDICATORS_RE.pattern, kind=KPI, parents=("part",)),
)

GOAL_PAGE_RE = re.compile(r"^(?P<num>\d{1,2})\s+「(?P<name>.+?)」")
HEADER_RE = re.compile(r"^(\d{1,2}\s+「.+」.*|施策)$")
NUMBER_RE = re.compile(r"^\d{1,3}$")
GOAL_TAGS_RE = re.compile(r"\s*【.*$")


def claims(doc: Document) -> bool:
    text = "\n".join(doc.lines)
    return "目指す姿" in text and "施策分野" in text and "基本計画" in text


def goal_key(title: str) -> str:
    """The goal name shared by the vision and plan parts: 「安全・安心な暮らし」を守る."""
    text = GOAL_TAGS_RE.sub("", fold_width(title))
    match = GOAL_PAGE_RE.match(text)
    return text[match.start(2) - 1 :].strip() if match else text


def _plan_start(lines: tuple[str, ...]) -> int:
    for number, raw in enumerate(lines, start=1):
        if GOAL_PAGE_RE.match(fold_width(raw)):
            window = [fold_width(x) for x in lines[number : number + 4]]
            if "目指す姿" in window:
                return number
    return len(lines) + 1


def _pages(lines: tuple[str, ...], start: int) -> list[list[int]]:
    """Line numbers of each page, split at runs of three or more blank lines."""
    pages: list[list[int]] = [[]]
    blanks = 0
    for number in range(start, len(lines) + 1):
        if is_blank(lines[number - 1]):
            blanks += 1
            continue
        if blanks >= 3 and pages[-1]:
            pages.append([])
        blanks = 0
        pages[-1].append(number)
    return [page for page in pages if page]


def _title_line(page: list[int], texts: dict[int, str], first_header: int) -> int:
    """The 施策 title: the line just before the running header, or else the first
    plain line after the header and its numbers (pages differ in extraction order)."""
    before = [n for n in page if n < first_header]
    if before and not BULLET_START.match(texts[before[-1]]):
        return before[-1]
    for n in page:
        plain = not (HEADER_RE.match(texts[n]) or NUMBER_RE.match(texts[n]) or BULLET_START.match(texts[n]))
        if n > first_header and plain:
            return n
    return page[0]


def _plan_sections(
    lines: tuple[str, ...], start: int, noise: dict[int, str]
) -> list[Section]:
    sections: list[Section] = []
    goal_title = ""
    measure_no = 0
    for page in _pages(lines, start):
        texts = {n: fold_width(lines[n - 1]) for n in page}
        if "目指す姿" in texts.values():
            goal_title = clean_line(lines[page[0] - 1])
            for n in page[1:]:
                if NUMBER_RE.match(texts[n]):
                    noise[n] = PAGE_NUMBER
                elif texts[n] == "基本目標":
                    noise[n] = RUNNING_HEADER
            content = [n for n in page[1:] if n not in noise]
            sections.append(
                Section(kind=GOAL, path=(PLAN_PART, goal_title), heading=[page[0]],
                        blocks=group_blocks(content, lines), goal=goal_key(goal_title), style="goal-page")
            )
            continue
        measure_no += 1
        headers = [n for n in page if HEADER_RE.match(texts[n])]
        first_header = headers[0] if headers else page[0]
        title_line = _title_line(page, texts, first_header)
        heading = [title_line]
        for n in headers:
            noise[n] = RUNNING_HEADER
        for n in page:
            if NUMBER_RE.match(texts[n]):
                if int(texts[n]) == measure_no and len(heading) == 1 and n > first_header:
                    heading.append(n)
                else:
                    noise[n] = PAGE_NUMBER
        content = [n for n in page if n not in noise and n not in heading]
        title = f"施策{measure_no:02d} {clean_line(lines[title_line - 1])}"
        sections.append(
            Section(kind=MEASURE, path=(PLAN_PART, goal_title, title), heading=sorted(heading),
                    blocks=group_blocks(content, lines), number=f"{measure_no:02d}",
                    goal=goal_key(goal_title), style="measure-page")
        )
    return sections


def unstack_headings(sections: list[Section]) -> None:
    """Give stacked sibling headings back their paragraphs (in place).

    The 基本計画の概要 page is set in two columns, and extraction emits the headings of a
    column pair first: 「５．目標人口」「６．政策評価制度」, then the 目標人口 paragraph, then
    the 政策評価制度 ones. Each heading of such a run (same style and parent, nothing under
    it) takes the next paragraph, in order; the run's last heading keeps the rest (the
    １．目的/２．性格/３．構成と期間 run leaves 構成と期間 with its title only: its diagram
    was extracted after ４．区域 and stays there).
    """
    index = 0
    while index < len(sections):
        run = [index]
        while (
            run[-1] + 1 < len(sections)
            and not sections[run[-1]].blocks
            and sections[run[-1] + 1].style == sections[index].style
            and sections[run[-1] + 1].path[:-1] == sections[index].path[:-1]
        ):
            run.append(run[-1] + 1)
        *empty, last = (sections[i] for i in run)
        if empty and len(last.blocks) >= len(empty):
            for section in empty:
                section.blocks = [last.blocks.pop(0)]
        index = run[-1] + 1


def parse(doc: Document) -> ParsedDocument:
    lines = doc.lines
    noise: dict[int, str] = {n: BLANK for n, raw in enumerate(lines, start=1) if is_blank(raw)}
    start = _plan_start(lines)

    vertical = fold_vertical(lines, vertical_runs(lines[: start - 1]))
    view, display, hidden = vertical.view, vertical.display, vertical.hidden
    for number in range(1, start):
        text = fold_width(lines[number - 1])
        if NUMBER_RE.match(text) and int(text) > 10:  # 1–10 are goal labels in the diagram
            noise[number] = PAGE_NUMBER

    content = [n for n in range(1, start) if n not in noise and n not in hidden]
    sections = build_outline(content, view, RULES, root_title=doc.title)
    for section in sections:
        if section.style == "goal":
            section.goal = goal_key(section.title)
    vertical.give_back(sections)
    unstack_headings(sections)
    sections += _plan_sections(lines, start, noise)
    return ParsedDocument(doc=doc.doc, family=FAMILY, sections=sections, noise=noise, display=display)


def kpi_tables(doc: Document, parsed: ParsedDocument) -> list[KpiTable]:
    """The 施策指標 lists (indicator names without values, one table per measure page)."""
    return [KpiTable("indicators", s.lines[0], s.lines[-1], s) for s in parsed.sections
            if s.style == INDICATORS_STYLE and s.lines]
