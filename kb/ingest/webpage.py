"""HTML → corpus text: the page's main content, with h1–h6 kept as outline headings.

Why selectolax and not trafilatura: a city's plan page is a known shape (one ``<main>``
or ``#contents`` block inside site chrome), so a few explicit rules (:data:`MAIN_SELECTORS`,
:data:`CHROME_SELECTORS`) find the content and keep every heading and list item, and a
staff member can see why a line was kept or dropped. trafilatura's scoring is built for
articles and was not tried here; it also brings lxml, justext, htmldate and courlan for
features (crawling, dates) kb does not need, while selectolax is one small wheel.

Headings are written as Markdown-style lines (``## 基本目標1 …``): the level is explicit,
so the general outline detector (:mod:`kb.ingest.parse.general`) nests them exactly as
the page does, and the web-page family leaves such a document to it. Table rows become
tab-separated lines, which the parsers keep whole and never take for headings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kb.errors import CorpusError
from kb.ingest.text import clean_line

#: Where the main content is, most specific first; the body if none matches.
MAIN_SELECTORS = ("main", "[role=main]", "article", "#main", "#contents", "#content", "#main-content",
                  ".main", ".contents", ".content")
#: Site chrome removed before reading.
CHROME_SELECTORS = ("script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
                    "iframe", "svg", "button", "[role=navigation]", "[role=banner]", "[role=contentinfo]",
                    "[aria-hidden=true]", ".breadcrumb", "#breadcrumb", ".pankuzu", "#pankuzu")
HEADINGS = {f"h{n}": n for n in range(1, 7)}
#: Elements read as one line each (their inline markup is flattened).
LINE_BLOCKS = frozenset({"p", "li", "dt", "dd", "caption", "figcaption", "blockquote", "pre", "address"})


@dataclass(frozen=True)
class HtmlText:
    lines: list[str]
    title: str = ""


def _text(node: Any) -> str:
    return clean_line(node.text(deep=True, separator="", strip=False).replace("\n", " "))


def _walk(node: Any, out: list[str]) -> None:
    for child in node.iter(include_text=True):
        tag = child.tag
        if tag == "-text":
            text = clean_line(child.text(deep=False) or "")
            if text:
                out.append(text)
        elif tag in HEADINGS:
            text = _text(child)
            if text:
                if out and out[-1]:
                    out.append("")
                out.append("#" * HEADINGS[tag] + " " + text)
        elif tag in LINE_BLOCKS:
            text = _text(child)
            if text:
                out.append(text)
        elif tag == "tr":
            cells = [_text(c) for c in child.iter() if c.tag in ("td", "th")]
            cells = [c for c in cells if c]
            if cells:
                out.append("\t".join(cells) if len(cells) > 1 else cells[0])
        elif tag == "br":
            continue
        else:
            _walk(child, out)


_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_-]+)""", re.IGNORECASE)


def decode_html(data: bytes) -> str:
    """The page's text in the charset its <meta> declares (many city sites still use Shift_JIS)."""
    match = _CHARSET.search(data[:4096])
    name = match.group(1).decode("ascii").lower() if match else "utf-8"
    name = {"shift_jis": "cp932", "sjis": "cp932", "x-sjis": "cp932", "windows-31j": "cp932"}.get(name, name)
    try:
        return data.decode(name, errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def extract(path: Path) -> HtmlText:
    """The main content of an HTML file as lines; refuses a page without text."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(decode_html(path.read_bytes()))
    title_node = tree.css_first("title")
    title = _text(title_node) if title_node is not None else ""
    root = next((n for n in (tree.css_first(s) for s in MAIN_SELECTORS) if n is not None), None) or tree.body
    if root is None:
        raise CorpusError(f"{path.name}: no text in this HTML file")
    for selector in CHROME_SELECTORS:
        for node in root.css(selector):
            node.decompose()
    lines: list[str] = []
    _walk(root, lines)
    while lines and not lines[0]:
        lines.pop(0)
    if not any(x.strip() for x in lines):
        raise CorpusError(f"{path.name}: no text in this HTML file")
    first_h1 = next((x[2:] for x in lines if x.startswith("# ")), "")
    return HtmlText(lines, title or first_h1)
