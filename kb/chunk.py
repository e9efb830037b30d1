"""Turn parsed sections into search chunks that keep their heading path and exact lines.

One chunk per measure (or sub-measure), goal narrative, KPI table or paragraph
section. A section longer than the size bound is split between its blocks (a bullet
or a paragraph is never cut), so every chunk stays a passage a planner can read and
an evaluation can count: its span never exceeds :data:`MAX_SPAN` lines.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from kb.domain import SourceSpan
from kb.ingest.corpus import Document
from kb.ingest.parse import ParsedDocument, parse_document
from kb.ingest.parse.model import GOAL, KPI, MEASURE, Section
from kb.ingest.text import clean_line, ends_sentence, join_wrapped, normalize, wrap_width

#: Upper bounds of one chunk: characters of display text and lines of source span.
MAX_CHARS = 900
MAX_SPAN = 50
PATH_SEPARATOR = " > "
#: A title line at least this long was probably wrapped by the PDF, not ended.
WRAP_WIDTH = 30

_LINK_NOTE = re.compile(r"\s*[(（]?(?:このリンクは)?別ウィンドウで開きます[)）]?")


@dataclass(frozen=True)
class Chunk:
    """A passage of a plan as search sees it and as a user reads it."""

    id: str
    doc: str
    city: str
    area: str
    title: str
    heading_path: tuple[str, ...]
    kind: str
    goal: str
    line_start: int
    line_end: int
    lines: tuple[int, ...]
    text: str
    search_text: str
    embed_text: str
    number: str = ""
    outline: tuple[str, ...] = field(default=())

    @property
    def section(self) -> str:
        return PATH_SEPARATOR.join(self.heading_path)

    @property
    def content_hash(self) -> str:
        """Identity of what gets embedded: unchanged text is never embedded twice."""
        return hashlib.sha256(self.embed_text.encode("utf-8")).hexdigest()


def _width_insensitive(text: str) -> str:
    parts = []
    for char in text:
        if "!" <= char <= "~":
            parts.append(f"[{re.escape(char)}{re.escape(chr(ord(char) + 0xFEE0))}]")
        elif char == " ":
            parts.append(r"\s?")
        else:
            parts.append(re.escape(char))
    return "".join(parts)


def footnote_marker_patterns(footnotes: dict[str, str]) -> list[re.Pattern[str]]:
    """Patterns for "term + footnote number" (ＵＩＪターン5, 「連携中枢都市圏17」)."""
    patterns = []
    for number, term in footnotes.items():
        tail = term.replace(" ", "")[-2:]
        if not tail:
            continue
        digits = _width_insensitive(number)
        patterns.append(
            re.compile(f"({_width_insensitive(tail)}[」）)]?)[ \u3000]?{digits}(?![0-9０-９.．])[ \u3000]?")
        )
    return patterns


def clean_display(text: str, markers: list[re.Pattern[str]]) -> str:
    text = _LINK_NOTE.sub("", text)
    for pattern in markers:
        text = pattern.sub(r"\1", text)
    return text


def _line_text(parsed: ParsedDocument, doc: Document, number: int) -> str:
    return parsed.display.get(number, doc.line(number))


def _block_text(
    parsed: ParsedDocument, doc: Document, block: list[int], width: int, *, table: bool = False
) -> str:
    texts = [_line_text(parsed, doc, n) for n in block if _line_text(parsed, doc, n).strip()]
    if table:  # KPI tables lost their tabs: keep one row per line rather than gluing
        return "\n".join(clean_line(t) for t in texts)
    return join_wrapped(texts, width)


def _heading_text(parsed: ParsedDocument, doc: Document, heading: list[int]) -> str:
    """Title lines: a line wrapped at full width continues, otherwise a new title starts."""
    out = ""
    for number in heading:
        text = clean_line(_line_text(parsed, doc, number))
        if not text:
            continue
        if out and len(out.rsplit("\n", 1)[-1]) >= WRAP_WIDTH and not ends_sentence(out):
            out += text
        else:
            out += ("\n" if out else "") + text
    return out


def _pieces(section: Section, sizes: dict[int, int]) -> list[tuple[list[int], list[list[int]]]]:
    """Greedy split of a section into (heading, blocks) pieces within the size bounds."""
    units: list[list[int]] = []
    for block in section.blocks:
        # A single block beyond the bounds (a long table) is cut between its lines.
        current: list[int] = []
        for number in block:
            if current and (
                sum(sizes[n] for n in current) + sizes[number] > MAX_CHARS
                or number - current[0] + 1 > MAX_SPAN // 2
            ):
                units.append(current)
                current = []
            current.append(number)
        if current:
            units.append(current)
    pieces: list[tuple[list[int], list[list[int]]]] = []
    heading = list(section.heading)
    current_blocks: list[list[int]] = []
    chars = sum(sizes[n] for n in heading)
    first_line = heading[0] if heading else None
    for unit in units:
        unit_chars = sum(sizes[n] for n in unit)
        start = first_line if first_line is not None else unit[0]
        too_far = unit[-1] - start + 1 > MAX_SPAN
        too_big = chars + unit_chars > MAX_CHARS or too_far
        # A title whose first text lies a page of noise away stands alone, so no span grows past MAX_SPAN.
        if (current_blocks and too_big) or (heading and not current_blocks and too_far):
            pieces.append((heading, current_blocks))
            heading, current_blocks, chars, first_line = [], [], 0, None
            start = unit[0]
        current_blocks.append(unit)
        chars += unit_chars
        if first_line is None:
            first_line = unit[0]
    if heading or current_blocks:
        pieces.append((heading, current_blocks))
    return pieces


def measure_titles(sections: list[Section]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """For every heading path, the titles of the measures directly or indirectly under it
    (first appearance order): a goal's chunk shows and searches them with the goal.

    One pass over the sections; asking each goal to scan all sections was quadratic in
    the document's size (a 50 MB file took minutes).
    """
    titles: dict[tuple[str, ...], dict[str, None]] = {}
    for section in sections:
        if section.kind != MEASURE:
            continue
        for depth in range(1, len(section.path)):
            titles.setdefault(section.path[:depth], {})[section.path[depth]] = None
    return {path: tuple(names) for path, names in titles.items()}


def chunk_document(doc: Document, parsed: ParsedDocument | None = None) -> list[Chunk]:
    parsed = parsed or parse_document(doc)
    markers = footnote_marker_patterns(parsed.footnotes)
    width = wrap_width(doc.lines)
    sizes = {n: len(_line_text(parsed, doc, n).strip()) for n in range(1, len(doc.lines) + 1)}
    chunks: list[Chunk] = []
    seen_ids: set[str] = set()
    outlines = measure_titles(parsed.sections)
    for section in parsed.sections:
        outline = outlines.get(section.path, ()) if section.kind == GOAL else ()
        for heading, blocks in _pieces(section, sizes):
            owned = sorted(heading + [n for b in blocks for n in b])
            if not owned:
                continue
            parts = []
            if heading:
                parts.append(_heading_text(parsed, doc, heading))
            parts.extend(_block_text(parsed, doc, b, width, table=section.kind == KPI) for b in blocks)
            text = clean_display("\n".join(p for p in parts if p), markers)
            if not text.strip():
                continue
            path = section.path
            context = PATH_SEPARATOR.join((doc.title,) + path)
            search_text = normalize(" ".join(path) + " " + text + " " + " ".join(outline))
            embed_text = f"{context}\n{text}" + ("\n" + "\n".join(outline) if outline else "")
            chunk_id = str(SourceSpan(doc.doc, owned[0], owned[-1]))
            while chunk_id in seen_ids:
                chunk_id += "+"
            seen_ids.add(chunk_id)
            chunks.append(
                Chunk(
                    id=chunk_id,
                    doc=doc.doc,
                    city=doc.city,
                    area=doc.area,
                    title=doc.title,
                    heading_path=path,
                    kind=section.kind,
                    goal=section.goal,
                    line_start=owned[0],
                    line_end=owned[-1],
                    lines=tuple(owned),
                    text=text,
                    search_text=search_text,
                    embed_text=embed_text,
                    number=section.number,
                    outline=outline,
                )
            )
    return chunks


def chunk_corpus(documents: list[Document]) -> list[Chunk]:
    return [chunk for doc in documents for chunk in chunk_document(doc)]
