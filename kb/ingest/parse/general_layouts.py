"""Whole-document passes of the general detector: headings that only the layout around a line reveals.

:func:`kb.ingest.parse.general.detect` reads a plan line by line; some headings cannot be
told that way and are found here first, as :class:`~kb.ingest.parse.general.Hints`:

* **vertical labels**: a word the PDF wrote one character a line (方/向/性) that recurs
  is the label of a box in a repeated table layout, and titles what sits beside it;
* **施策 pages**: comprehensive plans print one measure a page, numbered 01, 02 … with no
  label word and, in the extraction, the number and title on lines of their own; the
  zero-padded series (page numbers are never padded) finds the pages, and a page whose
  number the extraction lost still fills the gap it leaves in the series;
* **record sheets**: a numbered line directly above a table (事業の目的と概要 | …) is the
  name of the record the table describes, whatever its (often garbled) number;
* **plain headings** of a page saved from the web as text: short lines on their own
  between one-line paragraphs;
* **captions**: a ■/【】 line with no text of its own and nothing under it titles a chart
  or table, not a part of the plan (found after a first detection, see ``general.parse``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from itertools import pairwise

from kb.ingest.parse.common import VerticalText, fold_width, is_blank
from kb.ingest.parse.general_schemes import PAGE_MEASURE, PLAIN, VERTICAL, Candidate, candidate
from kb.ingest.parse.model import WEB_CHROME
from kb.ingest.parse.web import chrome_noise
from kb.ingest.text import BULLET_START

#: A printed measure number on its own line: 01, 02 … 33.
PADDED_NUMBER = re.compile(r"^\d{2}$")
#: Blank lines in a row that the extraction leaves between pages.
PAGE_BREAK = 3
#: Fewest numbers that make a series of 施策 pages (two padded numbers can be a date).
MIN_PAGE_SERIES = 3
#: Share of sentences over 80 characters that marks one-line paragraphs: nine in ten on a
#: page saved from the web, two in three in a PDF whose extraction kept long lines.
ONE_LINE_SHARE = 0.8
#: Lines that cite a source or add a note: they are not prose a heading would title.
NOTE = re.compile(r"^[(（]?(資料|出典|注|※)")
_DIGIT = re.compile(r"\d")


def vertical_labels(vertical: VerticalText) -> dict[int, Candidate]:
    """First lines of vertical words that occur more than once: headings of their boxes."""
    words = Counter(vertical.display[first] for first in vertical.followers)
    return {first: Candidate(VERTICAL, 0) for first in vertical.followers if words[vertical.display[first]] > 1}


def web_chrome(lines: Sequence[str]) -> dict[int, str]:
    """Site chrome (breadcrumbs, 「このページの先頭へ」, photo captions) of a page saved as text."""
    return {n: reason for n, reason in chrome_noise(lines).items() if reason == WEB_CHROME}


def title_like(text: str) -> bool:
    """A line that could be a measure's title: short, no sentence, no bullet, no number."""
    return (4 <= len(text) <= 40 and not text.endswith("。") and not BULLET_START.match(text)
            and not text.isdigit() and candidate(text) is None and "\t" not in text)


def page_blocks(lines: Sequence[str]) -> list[list[int]]:
    """Non-blank line numbers of each page, split where PAGE_BREAK or more blank lines run."""
    pages: list[list[int]] = [[]]
    blanks = 0
    for number, raw in enumerate(lines, start=1):
        if is_blank(raw):
            blanks += 1
            continue
        if blanks >= PAGE_BREAK and pages[-1]:
            pages.append([])
        blanks = 0
        pages[-1].append(number)
    return [page for page in pages if page]


def _numbered_pages(pages: list[list[int]], texts: Mapping[int, str]) -> dict[int, tuple[int, int]]:
    """Page index → (measure number, its line) for the padded series 01, 02 … (gaps of a page or two allowed)."""
    found: dict[int, tuple[int, int]] = {}
    expected = 1
    for index, page in enumerate(pages):
        numbers = {int(texts[n]): n for n in page if PADDED_NUMBER.match(texts[n]) and (found or texts[n] == "01")}
        hit = next((k for k in (expected, expected + 1, expected + 2) if k in numbers), None)
        if hit is not None:
            found[index] = (hit, numbers[hit])
            expected = hit + 1
    return found if len(found) >= MIN_PAGE_SERIES else {}


def _page_title(page: list[int], number_line: int, texts: Mapping[int, str]) -> int | None:
    """The title of a numbered 施策 page.

    The number sits in a cluster of page furniture (the page number, the goal the page
    belongs to, repeated as a running label); the title is the line just above that
    cluster, or, where the extraction put the cluster first, the first title after it.
    """
    def furniture(n: int) -> bool:
        return n == number_line or texts[n].isdigit() or candidate(texts[n]) is not None or len(texts[n]) <= 3

    cluster = [i for i, n in enumerate(page) if furniture(n)]
    first = cluster[0]
    if first > 0 and title_like(texts[page[first - 1]]):
        return page[first - 1]
    end = page.index(number_line)
    while end + 1 < len(page) and furniture(page[end + 1]):
        end += 1
    return next((n for n in page[end + 1:] if title_like(texts[n])), None)


def page_measures(lines: Sequence[str]) -> tuple[dict[int, Candidate], dict[int, list[int]]]:
    """Titles of 施策 pages (→ their candidate) and the number line each title carries."""
    pages = page_blocks(lines)
    texts = {n: fold_width(lines[n - 1]) for page in pages for n in page}
    numbered = _numbered_pages(pages, texts)
    forced: dict[int, Candidate] = {}
    attached: dict[int, list[int]] = {}
    ordered = sorted(numbered.items())
    for (index, (value, line)), following in zip(ordered, [*ordered[1:], None], strict=False):
        title = _page_title(pages[index], line, texts)
        if title is not None:
            forced[title] = Candidate(PAGE_MEASURE, value)
            attached[title] = [line]
        if following is None:
            continue
        # Pages between two numbered ones that open with a title are the measures whose
        # numbers the extraction lost, if they are exactly as many as the numbers missing.
        gap = [i for i in range(index + 1, following[0]) if title_like(texts[pages[i][0]])]
        if len(gap) == following[1][0] - value - 1:
            forced.update({pages[i][0]: Candidate(PAGE_MEASURE, value + k) for k, i in enumerate(gap, start=1)})
    return forced, attached


def record_titles(numbers: Sequence[int], lines: Sequence[str]) -> dict[int, Candidate]:
    """Numbered lines whose next content line is a table row: each names the record the table describes."""
    forced: dict[int, Candidate] = {}
    for number, following in pairwise(numbers):
        if "\t" in lines[following - 1].strip() and "\t" not in lines[number - 1].strip():
            found = candidate(fold_width(lines[number - 1]))
            if found is not None and found.scheme.numbered:
                forced[number] = found
    return forced


def one_line_paragraphs(numbers: Sequence[int], texts: Mapping[int, str]) -> bool:
    """Whether the text keeps each paragraph on one line (a web page), not wrapped to a page width."""
    prose = [texts[n] for n in numbers if texts[n].endswith("。")]
    return bool(prose) and sum(len(t) > 80 for t in prose) >= ONE_LINE_SHARE * len(prose)


def plain_headings(numbers: Sequence[int], lines: Sequence[str]) -> dict[int, Candidate]:
    """Short unmarked lines set apart by blank lines above a paragraph or another heading, on web text.

    Only where paragraphs are one line each: in a PDF extraction a short line is as often
    the end of a wrapped sentence or a chart label.
    """
    texts = {n: fold_width(lines[n - 1]) for n in numbers}
    if not one_line_paragraphs(numbers, texts):
        return {}

    def plain(n: int) -> bool:
        text = texts[n]
        alone = n == 1 or is_blank(lines[n - 2])
        return (alone and 4 <= len(text) <= 30 and not re.search(r"[。、，,()（）「」:：]", text)
                and not BULLET_START.match(text) and not text[0].isdigit() and candidate(text) is None)

    found: dict[int, Candidate] = {}
    for index in range(len(numbers) - 1, -1, -1):  # from the end: a heading may stand above another
        number = numbers[index]
        following = numbers[index + 1] if index + 1 < len(numbers) else None
        if not plain(number) or (following is None and index):
            continue
        after = texts[following] if following is not None else ""
        first = index == 0  # the page's own title, above its date line
        if first or following in found or candidate(after) is not None or len(after) >= 40 or after.endswith("。"):
            found[number] = Candidate(PLAIN, 0)
    return found


def prose(text: str, raw: str) -> bool:
    """A line of running text (a sentence, a long line, a bullet in words), not a chart label, table row or note."""
    if "\t" in raw.strip() or NOTE.match(text):
        return False
    worded_bullet = bool(BULLET_START.match(text)) and len(text) >= 6 and len(_DIGIT.findall(text)) * 4 < len(text)
    return text.endswith("。") or len(text) >= 40 or worded_bullet


def kpi_entries(numbers: Sequence[int], lines: Sequence[str]) -> set[int]:
    """Marked lines (◇ …) directly above a 「baseline → target」 line: the names of KPIs, not headings."""
    found: set[int] = set()
    for number, following in pairwise(numbers):
        after = fold_width(lines[following - 1])
        if "→" in after and _DIGIT.search(after):
            marked = candidate(fold_width(lines[number - 1]))
            if marked is not None and marked.scheme.marker:
                found.add(number)
    return found
