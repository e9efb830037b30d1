"""HTML for the search page: result cards, the source view, and the messages around them.

Pure functions from search results (and :class:`~kb.ui.state.UIState`) to HTML strings.
Every piece of text that came from a plan, a query or a URL goes through
:func:`html.escape` (or :func:`kb.present.highlight_html`, which escapes), because the
page renders these strings as HTML: a plan line or a query containing ``<script>`` must
show as text, never run.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from kb.ingest.corpus import KUMAMOTO, KURUME, WIDE_AREA
from kb.kpi.extract import Kpi
from kb.present import breadcrumb, highlight_html, hit_relevance, normalize_preserving_length
from kb.rank.calibration import Relevance
from kb.search.searcher import Hit, SearchResult
from kb.sourceview import SourceView
from kb.ui import labels as L
from kb.ui.state import UIState, encode_state

#: Characters of a hit shown before "read more"; the first highlighted term is always shown.
PREVIEW_CHARS = 220
PREVIEW_MAX = 600
#: KPI text up to this long is shown open; longer tables start folded.
KPI_OPEN_CHARS = 320
KPI_OPEN_ITEMS = 4
#: Added query terms shown before "N more".
INTERPRETATION_TERMS = 8
_BREAK = re.compile(r"[。\n]")

KpiSource = Callable[[Hit], Sequence[Kpi]]


@dataclass(frozen=True)
class DocInfo:
    """What the filters and the welcome panel say about one plan."""

    doc: str
    title: str
    city: str
    area: str
    passages: int = 0


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def city_class(city: str) -> str:
    """A CSS class per city, so the two cities' cards are told apart at a glance."""
    return {KURUME: "kb-kurume", KUMAMOTO: "kb-kumamoto", WIDE_AREA: "kb-wide"}.get(city, "kb-other")


def city_badges(city: str, area: str) -> str:
    badges = [f'<span class="kb-badge {city_class(city)}">{esc(city)}</span>']
    if area and area != city:
        badges.append(f'<span class="kb-badge {city_class(area)}">{esc(area)}</span>')
    return "".join(badges)


def _first_match_end(text: str, terms: Sequence[str]) -> int:
    folded = normalize_preserving_length(text)
    ends = [folded.find(t) + len(t) for t in terms if t and t in folded]
    return min(ends) if ends else 0


def split_preview(text: str, terms: Sequence[str] = (), limit: int = PREVIEW_CHARS) -> tuple[str, str]:
    """(shown, folded) parts of a hit's text.

    The cut falls on a sentence end or line break after ``limit`` characters, late
    enough that the first matched term is visible, so a card never hides the reason
    it was found. Short remainders are not worth a "read more" and stay shown.
    """
    text = text.strip()
    want = max(limit, min(_first_match_end(text, terms), PREVIEW_MAX))
    if len(text) <= want + 80:
        return text, ""
    match = _BREAK.search(text, want)
    cut = match.end() if match and match.end() <= want + 120 else want
    head, tail = text[:cut], text[cut:]
    if len(tail.strip()) < 40:
        return text, ""
    return head.rstrip("\n"), tail.lstrip("\n")


def source_href(state: UIState, doc: str, start: int, end: int) -> str:
    """The shareable URL of ``state`` with this passage open in the source view."""
    return encode_state(state.with_source(doc, start, end)) or "?"


def source_link(state: UIState, doc: str, start: int, end: int, text: str) -> str:
    href = source_href(state, doc, start, end)
    return f'<a class="kb-source-link" href="{esc(href)}">{text}</a>'


def _kpi_item(kpi: Kpi, state: UIState) -> str:
    """One indicator on one line (baseline → target), linking to the table it was read from."""
    span = kpi.span
    link = source_link(state, span.doc, span.line_start, span.line_end, esc(str(span)))
    return f'<li class="kb-kpi-record">{esc(kpi.describe())} <span class="kb-kpi-src">{link}</span></li>'


def kpi_html(entries: Sequence[Kpi], state: UIState) -> str:
    """The hit's indicators, each linking to its table; folded when long."""
    if not entries:
        return ""
    size = sum(len(e.describe()) for e in entries)
    opened = " open" if size <= KPI_OPEN_CHARS and len(entries) <= KPI_OPEN_ITEMS else ""
    items = "".join(_kpi_item(entry, state) for entry in entries)
    return (
        f'<details class="kb-kpi"{opened}><summary>{esc(L.KPI_SUMMARY)} ({len(entries)})</summary>'
        f'<ul class="kb-kpi-list">{items}</ul></details>'
    )


def relevance_html(score: float, judged: Relevance | None) -> str:
    """関連度 高 / 中 / 低 where the ranker is calibrated (the raw score in its tooltip, for
    whoever compares runs); the raw score itself only where it is not."""
    if judged is None:
        return f'<span class="kb-score">{esc(L.SCORE)} {score:.4f}</span>'
    chance = f" · {L.PROBABILITY} {judged.probability:.0%}" if judged.probability is not None else ""
    return (f'<span class="kb-rel kb-rel-{esc(judged.level)}" title="{esc(L.SCORE)} {score:.4f}{esc(chance)}">'
            f"{esc(judged.label)}</span>")


def card_html(
    hit: Hit, terms: Sequence[str], state: UIState, kpis: Sequence[Kpi] = (), pages: tuple[int, int] | None = None,
    judged: Relevance | None = None,
) -> str:
    """One result: plan and city, heading path, highlighted text, KPIs, relevance, source link;
    for a plan added from a PDF, the pages of the original (「p.23」) the passage stands on."""
    chunk = hit.chunk
    head, tail = split_preview(hit.text, terms)
    body = f'<div class="kb-text">{highlight_html(head, terms)}</div>'
    if tail:
        body += (
            f'<details class="kb-more"><summary>{esc(L.MORE)}</summary>'
            f'<div class="kb-text">{highlight_html(tail, terms)}</div></details>'
        )
    where = str(hit.span)
    page = ""
    if pages is not None:
        first, last = pages
        page = f'<span class="kb-page">p.{first}' + (f"–{last}" if last != first else "") + "</span>"
    kind = L.KIND_LABELS.get(chunk.kind, chunk.kind)
    active = " kb-active" if state.doc == chunk.doc and state.lines == (hit.line_start, hit.line_end) else ""
    return (
        f'<article class="kb-card {city_class(chunk.city)}{active}" data-doc="{esc(chunk.doc)}" '
        f'data-lines="{hit.line_start}-{hit.line_end}">'
        f'<header class="kb-card-head"><span class="kb-rank">{hit.rank}</span>'
        f'{city_badges(chunk.city, chunk.area)}<span class="kb-doc-title">{esc(chunk.title)}</span>'
        f'<span class="kb-kind">{esc(kind)}</span></header>'
        f'<nav class="kb-crumbs">{esc(breadcrumb(chunk.heading_path))}</nav>'
        f"{body}{kpi_html(kpis, state)}"
        f'<footer class="kb-card-foot">'
        f'{source_link(state, chunk.doc, hit.line_start, hit.line_end, esc(L.VIEW_SOURCE))}'
        f'<span class="kb-where">{esc(where)}</span>{page}'
        f'{relevance_html(hit.score, judged)}</footer></article>'
    )


def results_root(state: UIState, inner: str) -> str:
    """The results panel's root: it carries the state URL the address bar should show
    (kb.ui.style.RESULTS_JS keeps them in step); none for a query that is not text at all."""
    try:
        attribute = f' data-state-url="{esc(encode_state(state))}"'
    except UnicodeEncodeError:  # lone surrogates cannot go into a URL: leave the address as it is
        attribute = ""
    return f'<div class="kb-results"{attribute}>{inner}</div>'


def results_html(
    result: SearchResult, terms: Sequence[str], state: UIState, kpis: KpiSource | None = None,
    pages: Callable[[Hit], tuple[int, int] | None] | None = None,
) -> str:
    """The cards (or the no-results message) inside :func:`results_root`."""
    if not result.hits:
        return results_root(state, message_html(L.NO_RESULTS, L.NO_RESULTS_HINT, kind="empty"))
    cards = [card_html(hit, terms, state, kpis(hit) if kpis else (), pages(hit) if pages else None,
                       hit_relevance(result, hit))
             for hit in result.hits]
    return results_root(state, "".join(cards))


def city_counts(hits: Iterable[Hit]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for hit in hits:
        counts[hit.chunk.city] = counts.get(hit.chunk.city, 0) + 1
    return counts


def _interpretation(described: str, shown: int = INTERPRETATION_TERMS) -> str:
    """``query → expansions``: the first few added terms inline, the rest folded.

    The added terms are the engine's, not the user's, so they are set apart; an English
    question can add twenty Japanese terms, which would push the results off screen.
    """
    typed, arrow, added = described.partition(" → ")
    out = f'<span class="kb-interp-text">{esc(typed)}</span>'
    terms = [t for t in added.split(", ") if t] if arrow else []
    if terms:
        out += f' → <span class="kb-interp-added">{esc(", ".join(terms[:shown]))}</span>'
    if len(terms) > shown:
        rest = len(terms) - shown
        out += (
            f'<details class="kb-interp-more"><summary>他 {rest} 語 / {rest} more</summary>'
            f'<span class="kb-interp-added">{esc(", ".join(terms[shown:]))}</span></details>'
        )
    return out


def format_seconds(seconds: float) -> str:
    """``0.42 秒 / s``, or milliseconds when that would print as 0.00."""
    if seconds < 0.1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} {L.SECONDS}"


def status_html(result: SearchResult, seconds: float) -> str:
    """How the query was read (``expanded.describe()``), how many hits, how fast; above it a
    warning when the hits are only the nearest there are (``no_clear_match``)."""
    counts = " · ".join(f"{esc(city)} {n}" for city, n in sorted(city_counts(result.hits).items()))
    warning = message_html(L.NO_CLEAR_MATCH, L.NO_CLEAR_MATCH_HINT, kind="warning") if result.no_clear_match else ""
    return warning + (
        f'<div class="kb-status"><div class="kb-interp"><span class="kb-label">{esc(L.INTERPRETED)}</span> '
        f'{_interpretation(result.expanded.describe())}</div>'
        f'<div class="kb-count">{len(result.hits)} {esc(L.RESULTS_COUNT)}'
        + (f" ({counts})" if counts else "")
        + f" · {format_seconds(seconds)}</div>"
        f'<button type="button" class="kb-copy-link" data-done="{esc(L.LINK_COPIED)}">{esc(L.COPY_LINK)}</button>'
        "</div>"
    )


def message_html(title: tuple[str, str], detail: str = "", *, kind: str = "info", detail_is_html: bool = False) -> str:
    """A boxed message: Japanese and English title, one line of explanation."""
    ja, en = title
    text = detail if detail_is_html else esc(detail)
    return (
        f'<div class="kb-message kb-{esc(kind)}" role="status"><div class="kb-message-title">'
        f"{esc(ja)} / {esc(en)}</div>" + (f'<div class="kb-message-detail">{text}</div>' if detail else "") + "</div>"
    )


def query_error_html(message: str) -> str:
    """A :class:`~kb.search.searcher.QueryError` as the user sees it: Japanese, then the English message."""
    return message_html(L.CANNOT_SEARCH, f"{L.query_error_ja(message)} / {message[:1].upper()}{message[1:]}.",
                        kind="warning")


def welcome_html(documents: Sequence[DocInfo]) -> str:
    """The empty page: what can be searched and how to start."""
    rows = "".join(
        f'<li>{city_badges(d.city, d.area)} <span class="kb-doc-title">{esc(d.title)}</span>'
        + (f' <span class="kb-muted">{d.passages} 件 / passages</span>' if d.passages else "")
        + "</li>"
        for d in documents
    )
    ja, en = L.WELCOME_HEAD
    return (
        f'<div class="kb-welcome"><p class="kb-hint">{esc(L.WELCOME_HINT)}</p>'
        f'<div class="kb-welcome-head">{esc(ja)} / {esc(en)}</div><ul class="kb-doc-list">{rows}</ul></div>'
    )


def source_placeholder_html() -> str:
    return (
        f'<div class="kb-source kb-source-empty"><div class="kb-source-heading">{esc(L.SOURCE_HEADING)}</div>'
        f'<p class="kb-hint">{esc(L.SOURCE_HINT)}</p></div>'
    )


METADATA_LABELS = (
    ("kind", "種類 / type"),
    ("period", "期間 / period"),
    ("municipality", "策定主体 / issued by"),
    ("title_en", "English title"),
    ("doc", "ファイル / file"),
)


def _source_row(number: int, text: str, marked: bool) -> str:
    """One numbered line; blank lines (PDF extractions have many) are drawn low."""
    cell = f'<td class="kb-tx">{esc(text)}</td>' if text.strip() else '<td class="kb-tx kb-empty"></td>'
    return f'<tr class="{"kb-hit" if marked else "kb-ctx"}" data-line="{number}"><td class="kb-ln">{number}</td>{cell}</tr>'


def source_html(view: SourceView, state: UIState) -> str:
    """The passage in its plan: metadata, heading path, numbered lines, hit lines marked."""
    meta = "".join(
        f"<dt>{esc(label)}</dt><dd>{esc(view.metadata.get(key, ''))}</dd>"
        for key, label in METADATA_LABELS
        if view.metadata.get(key)
    )
    rows = "".join(_source_row(number, text, marked) for number, text, marked in view.rows)
    url = esc(encode_state(state) or "?")
    span = f"{view.line_start}" if view.line_start == view.line_end else f"{view.line_start}–{view.line_end}"
    area = view.metadata.get("area", "")
    return (
        f'<div class="kb-source" tabindex="-1" data-doc="{esc(view.doc)}" data-lines="{view.line_start}-{view.line_end}">'
        f'<button type="button" class="kb-back">{esc(L.BACK)}</button>'
        f'<div class="kb-source-heading">{esc(L.SOURCE_HEADING)}</div>'
        f'<div class="kb-source-title">{city_badges(view.city, area)} {esc(view.title)}</div>'
        f'<dl class="kb-meta">{meta}</dl>'
        + (f'<nav class="kb-crumbs">{esc(breadcrumb(view.heading_path))}</nav>' if view.heading_path else "")
        + f'<div class="kb-source-where">{esc(L.LINES)} {span} · '
        f'<a class="kb-permalink" href="{url}">{esc(L.LINK_HERE)}</a></div>'
        f'<div class="kb-lines-box"><table class="kb-lines">{rows}</table></div></div>'
    )
