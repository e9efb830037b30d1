"""Any other document: paragraphs separated by blank lines, with exact spans.

A plan that no layout family claims is still searchable; it just has no outline.
"""

from __future__ import annotations

from kb.ingest.corpus import Document
from kb.ingest.parse.common import is_blank, is_page_number
from kb.ingest.parse.model import BLANK, PAGE_NUMBER, PARAGRAPH, ParsedDocument, Section
from kb.ingest.parse.outline import group_blocks

FAMILY = "paragraphs"


def claims(doc: Document) -> bool:
    return True


def parse(doc: Document) -> ParsedDocument:
    lines = doc.lines
    noise: dict[int, str] = {}
    for number, raw in enumerate(lines, start=1):
        if is_blank(raw):
            noise[number] = BLANK
        elif is_page_number(raw):
            noise[number] = PAGE_NUMBER
    content = [n for n in range(1, len(lines) + 1) if n not in noise]
    sections = []
    if content:
        sections.append(Section(kind=PARAGRAPH, path=(doc.title,), blocks=group_blocks(content, lines), style="text"))
    return ParsedDocument(doc=doc.doc, family=FAMILY, sections=sections, noise=noise)
