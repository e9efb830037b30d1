"""PDF → corpus text with the page of every line, via pypdfium2.

Why pypdfium2 and not pdfplumber: both were tried on a Japanese plan printed to PDF by
Chromium (IPA Gothic, three pages with ①, ■, full-width brackets and a → arrow) and gave
the same lines in the same order; pypdfium2 did it in 4 ms against pdfplumber's 35 ms
and is one self-contained wheel (pdfplumber pulls in pdfminer.six and cryptography).
pdfplumber's strength, word and table geometry, is not used here: kb reads tables as
lines like the rest of the corpus. A password-protected file is recognised by PDFium's
own error code (``FPDF_ERR_PASSWORD``).

The text goes through the cleaning the corpus texts had: print furniture is removed
(page numbers and running headers/footers, recognised because the same line, digits
aside, opens or closes most pages), lines are whitespace-cleaned with
:func:`kb.ingest.text.clean_line`, and wrapped lines stay as the PDF wrapped them,
because chunking joins them (:func:`kb.ingest.text.join_wrapped`) with the document's
measured wrap width, exactly as for the five plans. A blank line separates pages.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from kb.errors import CorpusError
from kb.ingest.parse.common import fold_width, is_page_number
from kb.ingest.text import clean_line

NO_TEXT = "no text layer; OCR is not supported"
#: Lines at each end of a page that may be a running header or footer.
EDGE_LINES = 3
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff\u00ad]")
_DIGITS = re.compile(r"\d+")
_PAGE_OF = re.compile(r"^\d{1,4}\s*/\s*\d{1,4}$")  # "3/12", as browsers print it


@dataclass(frozen=True)
class PdfText:
    """The lines of a PDF as the corpus stores them, with each line's page and the title."""

    lines: list[str]
    pages: list[int]
    title: str = ""


def page_lines(path: Path) -> tuple[list[list[str]], str]:
    """The raw text lines of every page, and the title in the PDF's metadata."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            raise CorpusError(f"{path.name}: encrypted PDF (password required): {NO_TEXT}") from None
        raise CorpusError(f"{path.name}: not a readable PDF ({exc})") from None
    try:
        pages = []
        for page in document:
            text = page.get_textpage().get_text_bounded()
            pages.append([_CONTROL.sub("", x) for x in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")])
        try:
            title = str(document.get_metadata_dict().get("Title", "")).strip()
        except (pdfium.PdfiumError, ValueError, UnicodeError):  # decoration: never stops an add
            title = ""
    finally:
        document.close()
    return pages, title


def _shape(text: str) -> str:
    return _DIGITS.sub("#", fold_width(text))


def furniture(pages: list[list[str]]) -> list[set[int]]:
    """Per page, the indexes of lines that are page numbers or running headers/footers.

    A line near a page's top or bottom whose shape (digits replaced) recurs at an edge
    of at least half the pages, and of two pages or more, is a running header; a bare
    page number ("12", "- 12 -", "3/12") at an edge is a page number.
    """
    edges: list[list[int]] = []
    for lines in pages:
        filled = [i for i, x in enumerate(lines) if x.strip()]
        edges.append(sorted(set(filled[:EDGE_LINES] + filled[-EDGE_LINES:])))
    counts = Counter(shape for lines, idx in zip(pages, edges) for shape in {_shape(lines[i]) for i in idx})
    needed = max(2, (len(pages) + 1) // 2)
    found: list[set[int]] = []
    for lines, idx in zip(pages, edges):
        found.append({
            i for i in idx
            if counts[_shape(lines[i])] >= needed or is_page_number(lines[i]) or _PAGE_OF.match(fold_width(lines[i]))
        })
    return found


def extract(path: Path) -> PdfText:
    """The cleaned lines of a PDF and their pages; refuses a PDF without a text layer."""
    pages, title = page_lines(path)
    if not any(x.strip() for lines in pages for x in lines):
        raise CorpusError(f"{path.name}: {NO_TEXT}")
    drop = furniture(pages)
    out: list[str] = []
    numbers: list[int] = []
    for page_no, (lines, skip) in enumerate(zip(pages, drop), start=1):
        kept = [clean_line(x) for i, x in enumerate(lines) if i not in skip and clean_line(x)]
        if not kept:
            continue
        if out:
            out.append("")
            numbers.append(page_no)
        out.extend(kept)
        numbers.extend([page_no] * len(kept))
    if not out:
        raise CorpusError(f"{path.name}: {NO_TEXT}")
    return PdfText(out, numbers, title)
