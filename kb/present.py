"""Presentation shared by the CLI and the app: the JSON contract, snippets, highlighting, CSV.

The JSON hit fields are a contract with external evaluation scripts: ``rank, score,
doc, title, city, section, kind, line_start, line_end, text``. Extra keys may be
added; none of these may change meaning.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from kb.ingest.text import normalize
from kb.rank.calibration import Relevance, relevance
from kb.search.searcher import Hit, SearchResult

if TYPE_CHECKING:
    from kb.analysis.lemmas import JapaneseAnalyzer
    from kb.kpi.extract import Kpi

CONTRACT_FIELDS = ("rank", "score", "doc", "title", "city", "section", "kind", "line_start", "line_end", "text")


#: ``pages(hit)``: the first and last PDF page of a hit, None for documents without pages.
PageSpan = Callable[[Hit], "tuple[int, int] | None"]


def hit_relevance(result: SearchResult, hit: Hit) -> Relevance | None:
    """How relevant the hit probably is (kb/rank/calibration.py); None where its ranker has no calibration."""
    return relevance(result.ranker, hit.score, no_clear_match=result.no_clear_match)


def hit_json(hit: Hit, pages: PageSpan | None = None, judged: Relevance | None = None) -> dict:
    """One hit in the JSON contract; ``page_start``/``page_end`` only for hits in PDF-added plans.

    ``score`` stays the ranker's raw number; ``relevance`` (high, medium, low or
    no_clear_match), its ``relevance_label`` and the calibrated ``probability`` say what it
    means — null for a ranker without a calibration (a model file of one's own)."""
    chunk = hit.chunk
    out = {
        "rank": hit.rank,
        "score": round(hit.score, 6),
        "relevance": judged.level if judged else None,
        "relevance_label": judged.label if judged else None,
        "probability": round(judged.probability, 4) if judged and judged.probability is not None else None,
        "doc": chunk.doc,
        "title": chunk.title,
        "city": chunk.city,
        "section": chunk.section,
        "kind": chunk.kind,
        "line_start": hit.line_start,
        "line_end": hit.line_end,
        "text": hit.text,
        "id": chunk.id,
        "area": chunk.area,
        "goal": chunk.goal,
        "heading_path": list(chunk.heading_path),
    }
    span = pages(hit) if pages is not None else None
    if span is not None:
        out["page_start"], out["page_end"] = span
    return out


def result_json(result: SearchResult, pages: PageSpan | None = None) -> dict:
    return {
        "query": result.query,
        "method": result.method,
        "interpretation": result.expanded.describe(),
        "no_clear_match": result.no_clear_match,
        # For a question asking for every mention (すべて集めたい, "every mention of"): the
        # term and how many chunks contain it, so a front end can offer the full list.
        "mentions": dict(result.mentions),
        "hits": hits_json(result, pages),
    }


def hits_json(result: SearchResult, pages: PageSpan | None = None) -> list[dict]:
    """Every hit of ``result`` in the JSON contract, with its relevance."""
    return [hit_json(h, pages, hit_relevance(result, h)) for h in result.hits]


#: Words that say what kind of answer is wanted (施策は？), not what it is about: marking
#: every 施策 on a page of measures highlights nothing.
QUESTION_WORDS = frozenset({"施策", "取組", "取り組み", "取組み", "取り組む", "対策", "方策", "事業", "政策", "計画",
                            "どのような", "どんな", "何", "教える", "知る", "ある", "いる", "抑える"})


def highlight_terms(result: SearchResult, analyzer: JapaneseAnalyzer | None = None) -> list[str]:
    """Strings worth highlighting in hit text: the query's and its expansions' phrases,
    plus (with an analyzer) the content words of the user's own query.

    Only the user's words are split into morphemes: splitting every *expansion* lights
    up fragments such as イン (from インバウンド) all over a page.
    """
    terms: set[str] = set()
    for phrase in result.expanded.phrases():
        for part in re.split(r"[\s、。・,.?？!！「」（）()]+", phrase):
            if len(part) >= 2 and not part.isascii():
                terms.add(part)
    if analyzer is not None:
        terms.update(t for t in analyzer.terms(result.expanded.text) if len(t) >= 2 and not t.isascii())
    return sorted(terms - QUESTION_WORDS, key=len, reverse=True)


def _term_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    terms = [t for t in terms if t]
    if not terms:
        return None
    return re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)))


def highlight_html(text: str, terms: Sequence[str]) -> str:
    """HTML-escaped text with every occurrence of a term wrapped in <mark>."""
    pattern = _term_pattern(terms)
    if pattern is None:
        return html.escape(text)
    out, last = [], 0
    folded = normalize_preserving_length(text)
    for match in pattern.finditer(folded):
        out.append(html.escape(text[last : match.start()]))
        out.append(f"<mark>{html.escape(text[match.start():match.end()])}</mark>")
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def normalize_preserving_length(text: str) -> str:
    """Width-fold character by character so match offsets still index the original."""
    return "".join(normalize(c) if len(normalize(c)) == 1 else c for c in text)


def snippet(text: str, terms: Sequence[str], width: int = 140) -> str:
    """A one-line excerpt around the first matched term (or the start)."""
    flat = " ".join(text.split())
    pattern = _term_pattern(terms)
    position = 0
    if pattern is not None:
        match = pattern.search(normalize_preserving_length(flat))
        if match:
            position = max(0, match.start() - width // 3)
    excerpt = flat[position : position + width]
    return ("…" if position else "") + excerpt + ("…" if position + width < len(flat) else "")


def breadcrumb(path: Iterable[str], separator: str = " → ") -> str:
    return separator.join(path)


CSV_FIELDS = ("rank", "score", "city", "title", "section", "kind", "doc", "line_start", "line_end", "text")
#: What makes a spreadsheet read a cell as a formula (OWASP "CSV Injection"): = + - @, tab and
#: carriage return, and the full-width forms a Japanese Excel also accepts as the start of one.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def csv_cell(value: object) -> object:
    """A cell a spreadsheet shows as text: a string that could start a formula gets a leading ``'``.

    Plan text itself starts with ``- ①…`` bullets, and a query is whatever someone typed
    (``=1+1 子育て``, ``=HYPERLINK(…)``), so every text cell is checked; numbers (rank,
    score, lines) stay numbers. Excel hides the quote and shows the text as it was.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def results_csv(
    result: SearchResult, *, filters: dict[str, str] | None = None, link: str = "",
    kpis: Callable[[Hit], Sequence[Kpi]] | None = None,
) -> bytes:
    """UTF-8 with BOM so Excel opens the Japanese text correctly.

    Every row repeats the query, the filters and the link that reopens the search, so a
    sheet passed on by mail still says where it came from (give an absolute ``link``,
    :func:`kb.compare.share.absolute`: a bare ``?q=…`` opens nothing from Excel);
    ``kpis`` adds each hit's KPIs. No cell can run as a formula (:func:`csv_cell`).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    shown = "; ".join(f"{k}={v}" for k, v in (filters or {}).items() if v)
    writer.writerow([*CSV_FIELDS, "query", "filters", "link", "kpis", "relevance", "probability"])
    for hit in result.hits:
        row = hit_json(hit, judged=hit_relevance(result, hit))
        kpi_text = " / ".join(k.describe() for k in kpis(hit)) if kpis else ""
        cells = [*(row[f] for f in CSV_FIELDS), result.query, shown, link, kpi_text, row["relevance_label"] or "",
                 "" if row["probability"] is None else row["probability"]]
        writer.writerow([csv_cell(cell) for cell in cells])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
