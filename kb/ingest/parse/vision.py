"""The wide-area cooperation vision: 3 施策分野, KPI lists, 施策の方向性 and 39 連携事業.

Each 連携事業 is a small table (事業の目的と概要 / 役割分担 / 関係市町 / 事業費); its
name is the line just before "事業の 目的と概要", so those headings are recognised
by context. Their printed circled numbers are garbled past ⑳ by the extraction
(㉖ became ②⑥, ㉛ became ③), so they are renumbered 1–39 in reading order, which
matches the 事業体系 table.
"""

from __future__ import annotations

import re

from kb.ingest.corpus import Document
from kb.ingest.parse.common import blank_and_toc_noise, fold_width, is_blank
from kb.ingest.parse.model import GOAL, KPI, MEASURE, PARAGRAPH, ParsedDocument
from kb.ingest.parse.outline import build_outline, rule

FAMILY = "wide-area-vision"

PROJECT_BODY_RE = re.compile(r"^事業の\s*目的と概要")
PROJECT_NAME_RE = re.compile(r"^[\s①-⑳㉑-㊿]+|の目的と概要$")

RULES = (
    rule("chapter", r"^第(?P<num>\d+)章\s*\S"),
    rule("glossary", r"^用語解説$"),
    rule("section", r"^(?P<num>\d+)\.\s*\S", parents=("chapter",)),
    rule("field", r"^\((?P<num>\d)\)\s*(?P<title>.+分野)$", kind=GOAL, parents=("section",), is_goal=True),
    rule("paren", r"^\((?P<num>\d)\)\s*\S", parents=("section",)),
    rule("evalfield", r"^施策分野\s*(?P<num>\d)\s+\S", kind=KPI, parents=("paren",)),
    rule("subfield", r"^<.+分野>$", parents=("field",)),
    rule("kpi", r"^■KPI", kind=KPI, parents=("field", "subfield")),
    rule("direction", r"^■施策の方向性\s*(?P<num>[①-⑳])", kind=MEASURE, parents=("field", "subfield")),
    rule("project", r"^$", kind=MEASURE, parents=("direction",)),
    rule("circled", r"^(?P<num>[①-⑳])\s*\S[^。]{0,30}$", parents=("paren", "evalfield", "section"),
         kind_under={"evalfield": PARAGRAPH}),
)


def claims(doc: Document) -> bool:
    return sum(bool(PROJECT_BODY_RE.match(fold_width(x))) for x in doc.lines) >= 3


def project_headings(lines: tuple[str, ...], skip: set[int]) -> list[int]:
    """The line naming each 連携事業: the text line just above its 事業の目的と概要 row."""
    headings = []
    for number, raw in enumerate(lines, start=1):
        if PROJECT_BODY_RE.match(fold_width(raw)):
            previous = number - 1
            while previous > 0 and (is_blank(lines[previous - 1]) or previous in skip):
                previous -= 1
            if previous > 0:
                headings.append(previous)
    return headings


def parse(doc: Document) -> ParsedDocument:
    lines = doc.lines
    noise = blank_and_toc_noise(lines)
    headings = project_headings(lines, set(noise))
    forced = dict.fromkeys(headings, "project")
    titles = {
        n: f"連携事業{index} {PROJECT_NAME_RE.sub('', fold_width(lines[n - 1])).strip()}"
        for index, n in enumerate(headings, start=1)
    }
    content = [n for n in range(1, len(lines) + 1) if n not in noise]
    sections = build_outline(content, lines, RULES, root_title=doc.title, forced=forced, titles=titles)
    for section in sections:
        if section.style == "project":
            section.number = section.title.split(" ", 1)[0].removeprefix("連携事業")
    return ParsedDocument(doc=doc.doc, family=FAMILY, sections=sections, noise=noise)
