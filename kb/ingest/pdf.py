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

A PDF is untrusted input: a few hundred KB of deflated content stream can expand to
gigabytes (a decompression bomb), and PDFium inflates a page's streams whole. So the
text is read in a child process whose address space is capped (:data:`MEMORY_LIMIT`), with a
character budget per page and per file (:data:`PAGE_CHARS`, :data:`TOTAL_CHARS`; a real plan
page has a few thousand); a PDF over either is refused with a message, and the app or
``kb add`` that asked is never the process that runs out of memory.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from kb.errors import CorpusError
from kb.ingest.parse.common import fold_width, is_page_number
from kb.ingest.text import clean_line

log = logging.getLogger(__name__)

NO_TEXT = "no text layer; OCR is not supported"
#: Lines at each end of a page that may be a running header or footer.
EDGE_LINES = 3
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffe\uffff\u00ad]")
_DIGITS = re.compile(r"\d+")
_PAGE_OF = re.compile(r"^\d{1,4}\s*/\s*\d{1,4}$")  # "3/12", as browsers print it


#: Characters one page may hold, and one PDF: far above any plan (a dense A4 page has ~3,000).
PAGE_CHARS = 200_000
TOTAL_CHARS = 20_000_000
#: Address space of the process that reads a PDF (Python and PDFium take ~0.3 GB of it).
MEMORY_LIMIT = 2 * 1024**3
TOO_BIG = "is too large to read safely (a decompression bomb?)"


@dataclass(frozen=True)
class PdfText:
    """The lines of a PDF as the corpus stores them, with each line's page and the title."""

    lines: list[str]
    pages: list[int]
    title: str = ""


def page_lines(path: Path, *, memory_limit: int | None = None, page_chars: int = PAGE_CHARS,
               total_chars: int = TOTAL_CHARS, timeout: float = 600.0) -> tuple[list[list[str]], str]:
    """The raw text lines of every page, and the title in the PDF's metadata.

    Read by a child process (``python -m kb.ingest.pdf``; not multiprocessing, which
    would re-import the app's main module in the child) that caps its own address space
    at ``memory_limit`` bytes and answers in JSON; a child that runs out of memory and
    dies is a refusal, not a crash of the caller.
    """
    limit = MEMORY_LIMIT if memory_limit is None else memory_limit
    root = str(Path(__file__).resolve().parents[2])  # the folder holding the kb package
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(x for x in (root, os.environ.get("PYTHONPATH")) if x)}
    command = [sys.executable, "-m", "kb.ingest.pdf", str(path), str(limit), str(page_chars), str(total_chars)]
    try:
        child = subprocess.run(command, capture_output=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise CorpusError(f"{path.name}: {TOO_BIG}: reading it took more than {timeout:.0f} s") from None
    try:
        answer = json.loads(child.stdout) if child.returncode == 0 else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        log.warning("reading %s failed (exit %s): %s", path, child.returncode, child.stderr.decode(errors="replace")[-2000:])
        raise CorpusError(f"{path.name}: {TOO_BIG}: reading it needs more than {limit // 2**20} MB of memory")
    if "error" in answer:
        raise CorpusError(str(answer["error"]))
    return [list(map(str, lines)) for lines in answer["pages"]], str(answer["title"])


def _child_main(arguments: list[str]) -> None:
    """``python -m kb.ingest.pdf PATH MEMORY PAGE_CHARS TOTAL_CHARS``: JSON pages (or error) on stdout."""
    import resource

    path, limit, page_chars, total_chars = arguments[0], *map(int, arguments[1:4])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    answer = _read_pages(path, page_chars, total_chars)
    if isinstance(answer, str):
        result: dict[str, object] = {"error": answer}
    else:
        result = {"pages": answer[0], "title": answer[1]}
    sys.stdout.write(json.dumps(result, ensure_ascii=True))


def _read_pages(path: str, page_chars: int, total_chars: int) -> tuple[list[list[str]], str] | str:
    """In the child: the pages' lines and the title, or why the PDF is refused (a message)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    name = Path(path).name
    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) == pdfium_c.FPDF_ERR_PASSWORD:
            return f"{name}: encrypted PDF (password required): {NO_TEXT}"
        return f"{name}: not a readable PDF ({exc})"
    try:
        pages = []
        total = 0
        for number, page in enumerate(document, start=1):
            textpage = page.get_textpage()
            count = textpage.count_chars()
            total += max(count, 0)
            if count > page_chars:
                return f"{name}: {TOO_BIG}: page {number} holds {count:,} characters (at most {page_chars:,})"
            if total > total_chars:
                return f"{name}: {TOO_BIG}: more than {total_chars:,} characters by page {number}"
            text = textpage.get_text_bounded()
            pages.append([_CONTROL.sub("", x) for x in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")])
        try:
            title = str(document.get_metadata_dict().get("Title", "")).strip()
        except (pdfium.PdfiumError, ValueError, UnicodeError):  # decoration: never stops an add
            title = ""
    except MemoryError:
        return f"{name}: {TOO_BIG}: reading it ran out of memory"
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


if __name__ == "__main__":
    _child_main(sys.argv[1:])
