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

import codecs
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


def _walk(root: Any, out: list[str]) -> None:
    """The lines of ``root``'s content, in document order.

    A loop over a stack of child iterators, not recursion: a page of 5,000 nested
    ``<div>`` would otherwise exceed Python's recursion limit.
    """
    stack = [root.iter(include_text=True)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
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
        elif tag != "br":
            stack.append(child.iter(include_text=True))


_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
#: The character sets a web page may declare (WHATWG labels kb meets), as Python codecs. Anything
#: else (``idna``, ``punycode``, ``undefined``, ``rot13`` …) is a codec Python has, not a page encoding.
WEB_CHARSETS = {
    **dict.fromkeys(("utf-8", "utf8", "unicode-1-1-utf-8", "x-unicode20utf8"), "utf-8"),
    **dict.fromkeys(("shift_jis", "shift-jis", "sjis", "x-sjis", "windows-31j", "ms_kanji", "ms932", "cp932",
                     "csshiftjis"), "cp932"),
    **dict.fromkeys(("euc-jp", "euc_jp", "x-euc-jp", "cseucpkdfmtjapanese"), "euc_jp"),
    **dict.fromkeys(("iso-2022-jp", "csiso2022jp"), "iso2022_jp"),
    **dict.fromkeys(("utf-16", "utf-16le", "utf-16be"), "utf-16"),
    **dict.fromkeys(("us-ascii", "ascii", "iso-8859-1", "iso8859-1", "latin1", "l1", "windows-1252", "cp1252"),
                    "cp1252"),
    **dict.fromkeys(("gbk", "gb2312", "gb18030", "x-gbk"), "gb18030"),
    **dict.fromkeys(("big5", "big5-hkscs"), "big5"),
    **dict.fromkeys(("euc-kr", "ks_c_5601-1987", "windows-949"), "cp949"),
}
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _detected(data: bytes) -> tuple[str, str] | None:
    """The encoding charset-normalizer finds for the bytes and the text in it, if any is plausible."""
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    return (best.encoding, str(best)) if best is not None else None


def _mismatch(name: str, declared: str, data: bytes, detail: str) -> CorpusError:
    found = _detected(data)
    reads = f"its bytes read as {found[0]}" if found else "no character set reads its bytes cleanly"
    return CorpusError(f"{name}: declares charset {declared!r} but {reads}{detail}, so its text would be garbled: "
                       "fix the <meta charset> (or save the page as UTF-8) and add it again")


def decode_html(data: bytes, name: str = "page") -> str:
    """The page's text in the character set it declares, checked against what its bytes are.

    Many city sites still use Shift_JIS, and a page saved from a browser keeps the
    ``<meta charset>`` of the original even when it was re-encoded; reading it in the
    wrong set would index mojibake without a word. So the declared set must be a web
    page encoding, must decode the bytes, and must be one that charset-normalizer finds
    plausible (or give the same text as the set it prefers); a page that declares none
    is UTF-8 if it decodes as such, else whatever charset-normalizer finds. Otherwise
    the page is refused with what its bytes look like.
    """
    for bom, codec in _BOMS:  # a byte order mark outranks any declaration, as in browsers
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise CorpusError(f"{name}: starts with a {codec} byte order mark but is not {codec} ({exc.reason})") from None
    match = _CHARSET.search(data[:4096])
    if match is None:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            found = _detected(data)
            if found is None:
                raise CorpusError(f"{name}: declares no charset and is not UTF-8, nor any character set kb can "
                                  "recognise: save the page as UTF-8 and add it again") from None
            return found[1]
    declared = match.group(1).decode("ascii").lower()
    charset = WEB_CHARSETS.get(declared)
    if charset is None:
        found = _detected(data)
        hint = f" (its bytes look like {found[0]})" if found else ""
        raise CorpusError(f"{name}: declares charset {declared!r}, which is not a character set for web pages{hint}: "
                          "fix the <meta charset> (or save the page as UTF-8) and add it again")
    try:
        text = data.decode(charset)
    except UnicodeDecodeError as exc:
        raise _mismatch(name, declared, data, f" (byte 0x{data[exc.start]:02x} at {exc.start} is not {declared})") from None
    from charset_normalizer import from_bytes

    if from_bytes(data, cp_isolation=[charset]).best() is None:  # decodes, but into noise
        found = _detected(data)
        if found is not None and found[1] != text:
            raise _mismatch(name, declared, data, "")
    return text


def extract(path: Path) -> HtmlText:
    """The main content of an HTML file as lines; refuses a page without text."""
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(decode_html(path.read_bytes(), path.name))
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
