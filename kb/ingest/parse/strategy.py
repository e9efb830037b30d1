"""Kurume's regional-revitalisation strategy: 4 基本目標, each with ①–⑬ 基本的な方向性.

Layout: a 目次, the population vision (chapters with (1)/① headings and statistics
tables), then 【基本目標N …】 blocks whose directions are written as
"- ①title" followed by " - ・detail".
"""

from __future__ import annotations

from kb.ingest.corpus import Document
from kb.ingest.parse.common import blank_and_toc_noise
from kb.ingest.parse.model import GOAL, MEASURE, ParsedDocument
from kb.ingest.parse.outline import build_outline, rule

FAMILY = "strategy-directions"

RULES = (
    rule("chapter", r"^第(?P<num>\d+)章\s*\S"),
    rule("intro", r"^はじめに$"),
    rule("goal", r"^【基本目標\s*(?P<num>\d+)\s*.+】$", kind=GOAL, parents=("section",), is_goal=True),
    rule("directions", r"^\[基本的な方向性\]$", kind=GOAL, parents=("goal",), in_path=False),
    rule("direction", r"^-\s*(?P<num>[①-⑳])\s*\S", kind=MEASURE, parents=("goal", "directions")),
    rule("section", r"^(?P<num>\d{1,2})\s+[^\d\s][^。、]{0,40}$", parents=("chapter",)),
    rule("paren", r"^\((?P<num>\d{1,2})\)\s*\S", parents=("section",)),
    rule("circled", r"^(?P<num>[①-⑳])\s*\S[^。]{0,40}$", parents=("paren", "section")),
)


def claims(doc: Document) -> bool:
    text = "\n".join(doc.lines)
    return "[基本的な方向性]" in text and "【基本目標" in text


def parse(doc: Document) -> ParsedDocument:
    lines = doc.lines
    noise = blank_and_toc_noise(lines)
    content = [n for n in range(1, len(lines) + 1) if n not in noise]
    sections = build_outline(content, lines, RULES, root_title=doc.title)
    return ParsedDocument(doc=doc.doc, family=FAMILY, sections=sections, noise=noise)
