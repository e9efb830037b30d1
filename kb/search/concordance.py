"""Every mention of a term in the plans: the concordance behind ``kb mentions`` and the app's
「すべての記述 / All mentions」 tab.

A planner writing a report on 空き家 or 文化財 needs *all* the places the plans say it, not a
ranked top ten. Search (:mod:`kb.search.learned`) already notices such questions and ranks the
chunks that contain the topic first (its :class:`~kb.search.learned.Mention`), but it still
returns k hits; this module lists every passage and every place in it.

What counts as a mention (the definition the tests check against a grep of ``corpus/*.txt``):

* The text searched is a passage's *own* lines of ``corpus/<doc>.txt`` (``Chunk.lines``: every
  non-noise line belongs to exactly one passage; page numbers, running headers and tables of
  contents belong to none), joined in order with all whitespace removed, so a term that the PDF
  wrapped across two lines (or across a page number) is found once, on both lines.
* A term matches where its characters occur there after width folding (NFKC) and case folding,
  **or** where the Sudachi normalised forms (:mod:`kb.analysis.sudachi`) of the term occur in the
  normalised forms of the passage: 子ども / 子供 / こども all read 子供, 空家 / 空き家 read 空き家.
  The forms are compared as strings, so 文化財 is found inside 文化財保護法 too.
* Occurrences are counted without overlap; overlapping matches of several terms are one place.

Candidates come from the index's Sudachi field without reading records: every vocabulary entry
that contains a word of the term gives its posting list (so 空家 reaches chunks indexed under
空き家, 文化財 those under 文化財保護法). An index small enough to read whole
(:data:`LITERAL_SCAN_MAX` chunks) also has its records scanned for the literal spelling, so a
word Sudachi cut differently in context is not lost. Each candidate is then verified on its lines.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kb.analysis.sudachi import CONTENT_POS, DICTIONARY, NOISY_GROUPS, STOP_FORMS, SudachiAnalyzer
from kb.chunk import Chunk
from kb.domain import resolve_kind
from kb.errors import QueryError
from kb.ingest.corpus import decode_text, resolve_city, split_lines
from kb.ingest.text import normalize
from kb.search.learned import fold
from kb.search.results import Filters

if TYPE_CHECKING:
    from kb.index.lexical import LexicalIndex
    from kb.search.searcher import Searcher

#: Most terms one concordance takes (each is one pass over the candidates).
MAX_TERMS = 20
#: Longest term, in characters: a concordance looks for words, not sentences.
MAX_TERM_CHARS = 50
#: Up to this many chunks the records are also scanned for the literal spelling (~10 ms for the
#: five plans); above it candidates come from the Sudachi field alone.
LITERAL_SCAN_MAX = 50_000
#: Characters of context on each side of a mention in its one-line excerpt.
CONTEXT_CHARS = 32
#: A term found in at most this many passages is "rare": a search offers the full list.
RARE_PASSAGES = 30
#: Verified analyses kept (one per passage text): a second query over the same passages is free.
ANALYSIS_CACHE = 4096

log = logging.getLogger(__name__)

#: ``lines(doc)``: the raw lines of ``corpus/<doc>.txt`` (index 0 is line 1).
LineSource = Callable[[str], Sequence[str]]


@dataclass(frozen=True)
class Needle:
    """One spelling to look for: what the user typed, or a form its synonym group added."""

    text: str
    #: Width- and case-folded, without whitespace: compared with the passage's folded characters.
    literal: str
    #: The Sudachi normalised forms of the text, concatenated: compared with the passage's forms.
    form: str
    #: Its content words' normalised forms: how candidates are found in the Sudachi field.
    words: tuple[str, ...]
    #: The user's term this needle stands for (itself for the user's own terms).
    term: str


@dataclass(frozen=True)
class Occurrence:
    """One place a term occurs: its lines and a one-line excerpt around it."""

    term: str
    #: The characters as written in the plan (e.g. 空家 for the term 空き家).
    found: str
    line_start: int
    line_end: int
    before: str
    after: str

    @property
    def context(self) -> str:
        return self.before + self.found + self.after


@dataclass(frozen=True)
class Passage:
    """A chunk that mentions a term, with every place it does."""

    chunk: Chunk
    occurrences: tuple[Occurrence, ...]

    @property
    def terms(self) -> frozenset[str]:
        return frozenset(o.term for o in self.occurrences)


@dataclass(frozen=True)
class PlanCount:
    doc: str
    title: str
    city: str
    passages: int
    occurrences: int


@dataclass(frozen=True)
class Concordance:
    """Every passage that mentions the terms (any of them, or all with ``require_all``)."""

    terms: tuple[str, ...]
    passages: tuple[Passage, ...]
    require_all: bool = False
    #: For ``synonyms=True``: the forms each term's Sudachi synonym groups added (shown to the user).
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    filters: Filters = field(default_factory=Filters)

    @property
    def occurrences(self) -> int:
        return sum(len(p.occurrences) for p in self.passages)

    def plans(self) -> list[PlanCount]:
        """Passages and occurrences per plan, in the order the passages are listed."""
        counts: dict[str, PlanCount] = {}
        for passage in self.passages:
            chunk = passage.chunk
            old = counts.get(chunk.doc) or PlanCount(chunk.doc, chunk.title, chunk.city, 0, 0)
            counts[chunk.doc] = replace(old, passages=old.passages + 1,
                                        occurrences=old.occurrences + len(passage.occurrences))
        return list(counts.values())

    def sections(self) -> list[tuple[str, str, list[Passage]]]:
        """(doc, section, passages) in listing order: a plan's pieces of one section stay together."""
        groups: dict[tuple[str, str], list[Passage]] = {}
        for passage in self.passages:
            groups.setdefault((passage.chunk.doc, passage.chunk.section), []).append(passage)
        return [(doc, section, passages) for (doc, section), passages in groups.items()]

    def describe(self) -> str:
        """How the terms were combined, in words (shown above every listing)."""
        quoted = "、".join(f"「{t}」" for t in self.terms)
        if len(self.terms) == 1:
            return f"{quoted}を含む記述 / passages containing {self.terms[0]}"
        if self.require_all:
            return f"{quoted}をすべて含む記述 / passages containing all of them"
        return f"{quoted}のいずれかを含む記述 / passages containing any of them"


# -- reading the plans -----------------------------------------------------------------------

@lru_cache(maxsize=32)
def _read_lines(path: str, mtime_ns: int, size: int) -> tuple[str, ...]:
    data = Path(path).read_bytes()
    return split_lines(decode_text(data, Path(path).name))


def corpus_lines(corpus_dir: Path | str) -> LineSource:
    """The raw lines of each plan in ``corpus_dir``, read once per file version."""
    folder = Path(corpus_dir)

    def lines(doc: str) -> Sequence[str]:
        path = folder / f"{doc}.txt"
        try:
            stat = path.stat()
        except OSError:
            return ()
        return _read_lines(str(path), stat.st_mtime_ns, stat.st_size)

    return lines


# -- terms -----------------------------------------------------------------------------------

def validate_terms(terms: Iterable[str]) -> tuple[str, ...]:
    """The terms, trimmed and without repeats, or a :class:`QueryError` saying what to type."""
    cleaned: list[str] = []
    for term in terms:
        if not isinstance(term, str):
            raise QueryError("a term must be text")
        text = " ".join(term.split())
        if not text or not fold(text):
            raise QueryError("empty term: give a word to find, e.g. 空き家 or 文化財")
        if any(unicodedata.category(c) in ("Cc", "Cs") for c in text):
            raise QueryError(f"the term {text[:20]!r} contains control characters; type plain text")
        if len(text) > MAX_TERM_CHARS:
            raise QueryError(f"the term {text[:20]}… is too long ({len(text)} characters; at most {MAX_TERM_CHARS}): "
                             "give a word or a short phrase")
        if not any(c.isalnum() for c in text):
            raise QueryError(f"the term {text!r} has no letters or digits to find")
        if text not in cleaned:
            cleaned.append(text)
    if not cleaned:
        raise QueryError("give at least one term to find, e.g. 空き家")
    if len(cleaned) > MAX_TERMS:
        raise QueryError(f"too many terms ({len(cleaned)}; at most {MAX_TERMS})")
    return tuple(cleaned)


def _fold_char(char: str) -> str:
    """One character as compared: NFKC (kb's normalize), lower case where that keeps its length."""
    folded = normalize(char)
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in folded)


def needle(analyzer: SudachiAnalyzer, text: str, term: str | None = None) -> Needle:
    tokens = analyzer.tokens(text)
    words = tuple(t.form for t in tokens if t.pos[0] in CONTENT_POS and t.form not in STOP_FORMS and t.form.strip())
    literal = "".join(_fold_char(c) for c in text if not c.isspace())
    form = "".join(t.form for t in tokens if not t.surface.isspace()).replace(" ", "")
    return Needle(text=text, literal=literal, form=form or literal, words=words, term=term or text)


@lru_cache(maxsize=1)
def _group_members() -> dict[int, tuple[str, ...]]:
    """Normalised forms per Sudachi synonym group, read once from the dictionary (~3 s: 1.6 M entries)."""
    from sudachipy import Dictionary

    members: dict[int, set[str]] = {}
    for morpheme in Dictionary(dict=DICTIONARY).entries():
        for group in morpheme.synonym_group_ids():
            members.setdefault(group, set()).add(morpheme.normalized_form())
    return {group: tuple(sorted({normalize(f) for f in forms})) for group, forms in members.items()}


def synonym_forms(analyzer: SudachiAnalyzer, term: str) -> tuple[str, ...]:
    """The other normalised forms of a one-word term's synonym groups (子供 → 児童, キッズ …).

    Only a term Sudachi reads as one word has groups; the groups whose members are unrelated
    homographs in these plans (:data:`~kb.analysis.sudachi.NOISY_GROUPS`) add nothing.
    """
    tokens = [t for t in analyzer.tokens(term) if not t.surface.isspace()]
    if len(tokens) != 1:
        return ()
    own = tokens[0].form
    members = _group_members()
    forms: list[str] = []
    for group in tokens[0].groups:
        if group in NOISY_GROUPS:
            continue
        for form in members.get(group, ()):
            if form.lower() != own and form not in forms:
                forms.append(form)
    return tuple(forms)


# -- one passage -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Text:
    """A passage's lines as compared: folded characters and Sudachi forms, each mapped back."""

    display: str  # the lines joined, whitespace runs as one space: what an excerpt shows
    folded: str  # folded characters, no whitespace
    source: tuple[int, ...]  # per folded character: its index in ``display``
    lines: tuple[int, ...]  # per folded character: its line number
    forms: str  # concatenated normalised forms of ``folded``
    form_start: tuple[int, ...]  # per forms character: the first folded character it stands for
    form_end: tuple[int, ...]  # ... and one past the last


@lru_cache(maxsize=ANALYSIS_CACHE)
def _analyse(numbered: tuple[tuple[int, str], ...], analyzer: SudachiAnalyzer) -> _Text:
    display: list[str] = []
    folded: list[str] = []
    source: list[int] = []
    lines: list[int] = []
    for number, line in numbered:
        for char in line:
            if char.isspace():
                if display and display[-1] != " ":
                    display.append(" ")
                continue
            for out in _fold_char(char):
                folded.append(out)
                source.append(len(display))
                lines.append(number)
            display.append(char)
    text = "".join(folded)
    tokens = analyzer.tokens(text) if text else []
    forms: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    if "".join(t.surface for t in tokens).lower() == text.lower():
        position = 0
        for token in tokens:
            end = position + len(token.surface)
            form = token.form.replace(" ", "")
            exact = form == token.surface.lower()
            for offset, char in enumerate(form):
                forms.append(char)
                starts.append(position + offset if exact else position)
                ends.append(position + offset + 1 if exact else end)
            position = end
    # else: Sudachi's normalisation changed the text (never seen in the plans): literal matches only
    return _Text("".join(display), text, tuple(source), tuple(lines), "".join(forms), tuple(starts), tuple(ends))


def _find_all(haystack: str, needle: str) -> Iterable[int]:
    if not needle:
        return
    start = haystack.find(needle)
    while start >= 0:
        yield start
        start = haystack.find(needle, start + len(needle))


def _spans(text: _Text, needles: Sequence[Needle]) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, term) in folded characters, first the earliest, then the longest."""
    found: list[tuple[int, int, str]] = []
    lowered = text.folded.lower()
    for item in needles:
        for start in _find_all(lowered, item.literal):
            found.append((start, start + len(item.literal), item.term))
        for start in _find_all(text.forms, item.form):
            end = start + len(item.form) - 1
            found.append((text.form_start[start], text.form_end[end], item.term))
    found.sort(key=lambda s: (s[0], -(s[1] - s[0])))
    out: list[tuple[int, int, str]] = []
    for span in found:
        if out and span[0] < out[-1][1]:
            continue
        out.append(span)
    return out


def _occurrence(text: _Text, start: int, end: int, term: str) -> Occurrence:
    first, last = text.source[start], text.source[end - 1] + 1
    before = text.display[max(0, first - CONTEXT_CHARS):first].lstrip()
    after = text.display[last:last + CONTEXT_CHARS].rstrip()
    if first > CONTEXT_CHARS:
        before = "…" + before
    if last + CONTEXT_CHARS < len(text.display):
        after += "…"
    return Occurrence(term=term, found=text.display[first:last], line_start=text.lines[start],
                      line_end=text.lines[end - 1], before=before, after=after)


def passage_occurrences(chunk: Chunk, lines: Sequence[str], needles: Sequence[Needle],
                        analyzer: SudachiAnalyzer) -> tuple[Occurrence, ...]:
    """Every place in a chunk's own lines where one of the needles occurs."""
    numbered = tuple((n, lines[n - 1]) for n in chunk.lines if 0 < n <= len(lines))
    text = _analyse(numbered, analyzer)
    return tuple(_occurrence(text, start, end, term) for start, end, term in _spans(text, needles))


# -- candidates -------------------------------------------------------------------------------

@lru_cache(maxsize=2)
def _vocabulary(field: LexicalIndex) -> tuple[str, ...]:
    return tuple(sorted(field.vocabulary()))


def _field_candidates(field: LexicalIndex, item: Needle) -> np.ndarray | None:
    """Chunks whose Sudachi terms contain each content word of the needle (None: it has none)."""
    if not item.words:
        return None
    vocabulary = _vocabulary(field)
    chunks: np.ndarray | None = None
    for word in item.words:
        entries = [v for v in vocabulary if word in v]
        found = np.unique(np.concatenate([field.chunks_with(v) for v in entries])) if entries \
            else np.zeros(0, dtype=np.int64)
        chunks = found if chunks is None else np.intersect1d(chunks, found)
    return chunks


def candidates(searcher: Searcher, needles: Sequence[Needle], allowed: np.ndarray) -> np.ndarray:
    """Chunk ids that may mention a needle, among those ``allowed`` admits, in id order."""
    size = len(searcher.chunks)
    field = searcher.index.sudachi
    pool = np.zeros(size, dtype=bool)
    scan = size <= LITERAL_SCAN_MAX
    for item in needles:
        found = _field_candidates(field, item) if field is not None else None
        if found is None:
            scan = True
            if size > LITERAL_SCAN_MAX:  # no word to look up and too many records to read: every chunk
                pool[:] = True
        else:
            pool[found] = True
    if scan and size <= LITERAL_SCAN_MAX:
        literals = [n.literal.lower() for n in needles]
        for chunk_id in np.flatnonzero(allowed & ~pool):
            text = fold(searcher.chunks[int(chunk_id)].search_text).lower()
            if any(literal in text for literal in literals):
                pool[chunk_id] = True
    return np.flatnonzero(pool & allowed)


# -- the concordance ---------------------------------------------------------------------------

def resolved_filters(searcher: Searcher, filters: Filters | None) -> Filters:
    """The filters with city and kind aliases resolved (kurume, 施策), checked like a search's."""
    filters = filters or Filters()
    filters = replace(filters, city=resolve_city(filters.city) or None, kind=resolve_kind(filters.kind) or None)
    searcher.check_filters(filters)
    return filters


def find_mentions(
    searcher: Searcher, lines: LineSource, terms: Iterable[str], *, filters: Filters | None = None,
    synonyms: bool = False, require_all: bool = False,
) -> Concordance:
    """Every passage that mentions any of ``terms`` (all of them with ``require_all``), in plan
    order and line order, each with every place it does; ``synonyms`` adds the forms of each
    one-word term's Sudachi synonym groups (listed in the result)."""
    wanted = validate_terms(terms)
    filters = resolved_filters(searcher, filters)
    analyzer = searcher.sudachi
    needles = [needle(analyzer, term) for term in wanted]
    added: dict[str, tuple[str, ...]] = {}
    if synonyms:
        for term in wanted:
            forms = synonym_forms(analyzer, term)
            if forms:
                added[term] = forms
                needles += [needle(analyzer, form, term) for form in forms]
    allowed = searcher.allowed(filters)
    order = {doc: rank for rank, doc in enumerate(searcher.columns.values("doc"))}
    passages: list[Passage] = []
    for item in candidates(searcher, needles, allowed):
        chunk = searcher.chunks[int(item)]
        found = passage_occurrences(chunk, lines(chunk.doc), needles, analyzer)
        if not found:
            continue
        if require_all and {o.term for o in found} != set(wanted):
            continue
        passages.append(Passage(chunk, found))
    passages.sort(key=lambda p: (order.get(p.chunk.doc, len(order)), p.chunk.line_start))
    return Concordance(terms=wanted, passages=tuple(passages), require_all=require_all, synonyms=added,
                       filters=filters)


def mention_term(query: str, mentions: dict[str, int] | None, analyzer: SudachiAnalyzer) -> str | None:
    """The term a search is about, when it is one: the topic of an all-mentions question
    (``SearchResult.mentions``), else the query itself when it is a noun or noun compound
    (文化財, 男女共同参画) rather than a question."""
    if mentions:
        return next(iter(mentions))
    text = query.strip()
    if not text or len(text) > 20 or any(c.isspace() for c in text):
        return None
    tokens = analyzer.tokens(text)
    nominal = {"名詞", "接尾辞", "接頭辞", "形状詞"}
    if tokens and all(t.pos[0] in nominal or t.surface == "・" for t in tokens):
        return text
    return None


def rare_count(searcher: Searcher, lines: LineSource, term: str, filters: Filters | None = None,
               limit: int = RARE_PASSAGES) -> int | None:
    """How many passages mention ``term`` when that is 1..limit (a list worth offering), else None.

    Cheap for a common word: when even its candidates are far more than ``limit`` (the field's
    postings over-count by little), nothing is verified.
    """
    try:
        wanted = validate_terms([term])
        filters = resolved_filters(searcher, filters)
    except QueryError:
        return None
    needles = [needle(searcher.sudachi, wanted[0])]
    pool = candidates(searcher, needles, searcher.allowed(filters))
    if not len(pool) or len(pool) > 4 * limit:
        return None
    count = sum(1 for item in pool
                if passage_occurrences(searcher.chunks[int(item)], lines(searcher.chunks[int(item)].doc), needles,
                                       searcher.sudachi))
    return count if 0 < count <= limit else None


def rare_mention(searcher: Searcher, lines: LineSource, query: str, mentions: dict[str, int] | None,
                 filters: Filters | None = None) -> tuple[str, int] | None:
    """(term, passages) when a search is about one term that few passages mention, else None.

    Never raises: it decorates a search that has already succeeded.
    """
    try:
        term = mention_term(query, mentions, searcher.sudachi)
        count = rare_count(searcher, lines, term, filters) if term else None
    except Exception:  # a decoration must not break the search it decorates
        log.exception("rare-term check failed for %r", query)
        return None
    return (term, count) if term and count else None
