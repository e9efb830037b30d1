"""Noise detectors and line helpers shared by all layout families.

Each detector only *labels* lines (line number → reason) or groups them; nothing is
deleted, so every line of a file stays addressable and the invariant "each non-noise
line is owned by exactly one section" can be checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kb.ingest.parse.model import Section
from kb.ingest.text import clean_line

_FULLWIDTH = {i: i - 0xFEE0 for i in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20


def fold_width(text: str) -> str:
    """Full-width ASCII to half-width, spaces collapsed; circled digits are kept.

    Headings are matched on this form rather than NFKC because NFKC turns ① into 1,
    which would erase the difference between a sub-measure and a numbered chapter.
    """
    return clean_line(text.translate(_FULLWIDTH))


#: Brackets a plan's line may open and close again on the next (「…」, 【…】, （…）).
_OPEN_CLOSE = (("「", "」"), ("【", "】"), ("（", "）"), ("(", ")"))


def unclosed(text: str) -> bool:
    """A bracket opened and not yet closed: the PDF cut the line inside it (a title, a KPI's year)."""
    return any(text.count(a) > text.count(b) for a, b in _OPEN_CLOSE)


def is_blank(raw: str) -> bool:
    return not raw.strip()


#: Standalone page numbers: "12", "- 25 -", "－25－".
PAGE_NUMBER_RE = re.compile(r"^[-－‐]?\s*\d{1,3}\s*[-－‐]?$")


def is_page_number(raw: str) -> bool:
    return bool(PAGE_NUMBER_RE.match(fold_width(raw)))


def _is_vertical_item(raw: str) -> bool:
    text = raw.strip()
    if len(text) == 1:
        return not text.isdigit()
    return len(text) == 2 and text[0] == "・"


def vertical_runs(lines: Sequence[str], *, min_items: int = 3) -> list[list[int]]:
    """Runs of one-character lines: vertical text that PDF extraction split apart.

    A run may contain single blank lines (the extractor's line spacing) but ends at
    two blank lines or any longer line. Returns the 1-based line numbers of the
    non-blank items of each run, in order.
    """
    runs: list[list[int]] = []
    current: list[int] = []
    blanks = 0
    for number, raw in enumerate(lines, start=1):
        if _is_vertical_item(raw):
            if blanks >= 2 and current:
                if len(current) >= min_items:
                    runs.append(current)
                current = []
            current.append(number)
            blanks = 0
        elif is_blank(raw) and current:
            blanks += 1
        else:
            if len(current) >= min_items:
                runs.append(current)
            current = []
            blanks = 0
    if len(current) >= min_items:
        runs.append(current)
    return runs


def join_vertical(lines: Sequence[str], run: Iterable[int]) -> str:
    return "".join(lines[n - 1].strip() for n in run)


@dataclass(frozen=True)
class VerticalText:
    """Words a PDF wrote vertically, one character per line, read back as one line each.

    ``view`` is the document's lines with each run's word on its first line, ``display``
    what each run's lines show (the word, then empty lines), ``followers`` the lines a
    word's first line stands for.
    """

    view: list[str]
    display: dict[int, str]
    followers: dict[int, list[int]]

    @property
    def hidden(self) -> set[int]:
        return {n for rest in self.followers.values() for n in rest}

    def give_back(self, sections: Iterable[Section]) -> None:
        """Each section that owns a word's first line owns the rest of its lines too."""
        for section in sections:
            for block in section.blocks:
                for first in [n for n in block if n in self.followers]:
                    block.extend(self.followers[first])
                block.sort()
            for first in [n for n in section.heading if n in self.followers]:
                section.heading = sorted(section.heading + self.followers[first])


def fold_vertical(lines: Sequence[str], runs: Iterable[list[int]]) -> VerticalText:
    """Join each run of single characters (:func:`vertical_runs`) into the word it spells."""
    view = list(lines)
    display: dict[int, str] = {}
    followers: dict[int, list[int]] = {}
    for run in runs:
        word = join_vertical(lines, run)
        view[run[0] - 1] = word
        display[run[0]] = word
        display.update(dict.fromkeys(run[1:], ""))
        followers[run[0]] = run[1:]
    return VerticalText(view=view, display=display, followers=followers)


_TOC_ENTRY_RE = re.compile(r"\s*(?:…+|\.{3,}|・{3,})\s*\d*\s*$")


def table_of_contents(lines: Sequence[str]) -> set[int]:
    """Lines of a 目次 block: from the 目次 line to just before the body repeats its first entry.

    The first entry's title (e.g. はじめに, 第1章 はじめに) appears again as the real
    heading where the body starts, which is a more reliable end marker than counting
    entries, since the extraction drops page numbers from some entries.
    """
    start = None
    for number, raw in enumerate(lines, start=1):
        if fold_width(raw).replace(" ", "") in ("目次", "もくじ"):
            start = number
            break
    if start is None:
        return set()
    first_title = None
    for number in range(start + 1, len(lines) + 1):
        text = fold_width(lines[number - 1])
        if not text:
            continue
        if first_title is None:
            first_title = _TOC_ENTRY_RE.sub("", lines[number - 1].replace("\t", " ")).strip()
            first_title = fold_width(first_title)
            continue
        if text == first_title:
            return {n for n in range(start, number) if not is_blank(lines[n - 1])}
    return set()


#: A footnote separator: a long run of spaces on its own line (Word's footnote rule).
def is_footnote_rule(raw: str) -> bool:
    return len(raw) >= 20 and not raw.strip()


FOOTNOTE_RE = re.compile(r"^(?P<num>\d{1,2})\s*(?P<term>[^：:。]{1,40}?)\s*[：:]")


def blank_and_toc_noise(lines: Sequence[str]) -> dict[int, str]:
    """The noise every printed plan has: its table of contents and blank lines."""
    from kb.ingest.parse.model import BLANK, TOC

    noise: dict[int, str] = dict.fromkeys(table_of_contents(lines), TOC)
    for number, raw in enumerate(lines, start=1):
        if is_blank(raw):
            noise.setdefault(number, BLANK)
    return noise
