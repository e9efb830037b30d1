"""A municipal web page saved as text: short headings over paragraphs, plus site chrome.

Chrome (breadcrumbs, "このページの先頭へ", chatbot buttons, link-only lines and photo
alt text) is labelled noise; "このリンクは別ウィンドウで開きます" inside a sentence is
removed from display and search text by :func:`kb.ingest.text` cleaning downstream.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kb.ingest.corpus import Document
from kb.ingest.parse.common import fold_width, is_blank
from kb.ingest.parse.model import BLANK, WEB_CHROME, ParsedDocument
from kb.ingest.parse.outline import build_outline, rule

FAMILY = "web-page"

CHROME_RE = re.compile(
    r"^(トップ\s*>.*|▲?このページの先頭へ|チャットボットを閉じる|AIチャットボット.*|.*このリンクは別ウィンドウで開きます|.+の写真)$"
)
RULES = (
    rule("title", r"^$"),
    rule("heading", r"^[^\s。、,.:()（）]{4,30}$", parents=("title",)),
    rule("subheading", r"^[アイウエオカキク]\s+\S[^。]{2,40}$", parents=("heading",)),
)


#: Heading lines that ``kb add`` writes for an HTML page's h1–h6: such a page has its
#: outline already and goes to the general detector.
MARKDOWN_HEADING_RE = re.compile(r"^#{1,6}\s+\S")


def claims(doc: Document) -> bool:
    if any(MARKDOWN_HEADING_RE.match(x) for x in doc.lines):
        return False
    return any(fold_width(x).startswith("トップ >") for x in doc.lines[:5]) or any(
        "このページ" in x for x in doc.lines
    )


def chrome_noise(lines: Sequence[str]) -> dict[int, str]:
    """Blank lines and site chrome of a saved municipal web page, labelled (the general detector uses it too)."""
    noise: dict[int, str] = {}
    previous_alt = ""
    for number, raw in enumerate(lines, start=1):
        text = fold_width(raw)
        if is_blank(raw):
            noise[number] = BLANK
        elif CHROME_RE.match(text) and len(text) < 60:
            noise[number] = WEB_CHROME
            previous_alt = text.removesuffix("の写真") if text.endswith("の写真") else ""
        elif previous_alt and text == previous_alt:
            noise[number] = WEB_CHROME  # the caption repeating a photo's alt text
            previous_alt = ""
    return noise


def parse(doc: Document) -> ParsedDocument:
    lines = doc.lines
    noise = chrome_noise(lines)
    content = [n for n in range(1, len(lines) + 1) if n not in noise]
    forced = {content[0]: "title"} if content else {}
    sections = build_outline(content, lines, RULES, root_title=doc.title, forced=forced)
    return ParsedDocument(doc=doc.doc, family=FAMILY, sections=sections, noise=noise)
