"""The 「すべての記述 / All mentions」 tab as HTML, and its shareable URL (no gradio here).

Pure functions, tested without a browser: :func:`concordance_html` lists a concordance
(:mod:`kb.search.concordance`) grouped by plan and section, with counts per plan as plain CSS
bars; every mention links to the search tab's source view (``?q=…&doc=…&line=…``, the URL
convention of search cards and the compare tab). :func:`rare_link_html` is the line a search
for a rare term gets in its status area.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode

from kb.search.concordance import MAX_TERM_CHARS, MAX_TERMS, Concordance, LineSource, Occurrence, rare_mention
from kb.search.results import Filters
from kb.ui.render import esc, source_href
from kb.ui.state import UIState, format_lines

if TYPE_CHECKING:
    from kb.search.searcher import Searcher

TAB = "mentions"
#: Terms in one box: separated by spaces, 、 or commas.
_SEPARATORS = re.compile(r"[\s、,，]+")

CSS = """
.kbm { display: flex; flex-direction: column; gap: 0.7rem; }
.kbm-summary { font-weight: 700; }
.kbm-note { font-size: 0.84rem; color: var(--body-text-color-subdued); }
.kbm-bars { display: grid; grid-template-columns: minmax(8rem, 22rem) minmax(6rem, 1fr) auto; gap: 0.25rem 0.6rem;
  align-items: center; font-size: 0.84rem; }
.kbm-bar { height: 0.8rem; background: var(--background-fill-secondary); border-radius: 4px; overflow: hidden; }
.kbm-bar > span { display: block; height: 100%; background: #2b6cb0; border-radius: 4px; }
.kbm-bar.kbm-kumamoto > span { background: #2f855a; }
.kbm-plan h3 { margin: 0.5rem 0 0.2rem; font-size: 1rem; }
.kbm-count { font-weight: 400; font-size: 0.85rem; color: var(--body-text-color-subdued); }
.kbm-path { font-size: 0.82rem; color: var(--body-text-color-subdued); margin: 0.35rem 0 0.1rem; }
.kbm-row { display: flex; gap: 0.6rem; padding: 0.15rem 0.3rem; border-radius: 4px; text-decoration: none;
  color: var(--body-text-color); font-size: 0.9rem; line-height: 1.5; }
.kbm-row:hover { background: var(--background-fill-secondary); }
.kbm-lines { flex: 0 0 5rem; text-align: right; color: #2b6cb0; font-variant-numeric: tabular-nums; }
.kbm-context { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.kbm mark { background: #fde68a; color: inherit; padding: 0 1px; }
"""


@dataclass(frozen=True)
class MentionsState:
    """What a shared ``?tab=mentions&term=…`` link carries."""

    term: str = ""
    city: str = ""
    plan: str = ""
    kind: str = ""
    synonyms: bool = False
    require_all: bool = False

    @property
    def terms(self) -> list[str]:
        return [t for t in _SEPARATORS.split(self.term) if t]


def encode(state: MentionsState) -> str:
    pairs = [("tab", TAB), ("term", state.term)]
    pairs += [(key, value) for key, value in (("city", state.city), ("plan", state.plan), ("kind", state.kind)) if value]
    if state.synonyms:
        pairs.append(("synonyms", "1"))
    if state.require_all:
        pairs.append(("all", "1"))
    return "?" + urlencode(pairs)


def decode(query: str) -> MentionsState | None:
    """The state of a ``?tab=mentions…`` query string; None for any other page. Overlong or
    unprintable values are dropped (the search refuses what is still wrong, on the page)."""
    params = parse_qs(query.lstrip("?"), keep_blank_values=True)
    if params.get("tab", [""])[0] != TAB:
        return None

    def value(name: str, limit: int = 200) -> str:
        text = params.get(name, [""])[0].strip()
        return text if len(text) <= limit and text.isprintable() else ""

    return MentionsState(term=value("term", MAX_TERMS * (MAX_TERM_CHARS + 1)), city=value("city", 40),
                         plan=value("plan"), kind=value("kind", 20), synonyms=value("synonyms") == "1",
                         require_all=value("all") == "1")


def _row(occurrence: Occurrence, doc: str) -> str:
    lines = format_lines((occurrence.line_start, occurrence.line_end))
    # The search tab's shareable state with this mention open in the source view, as cards link it.
    href = source_href(UIState(q=occurrence.term), doc, occurrence.line_start, occurrence.line_end)
    context = f"{esc(occurrence.before)}<mark>{esc(occurrence.found)}</mark>{esc(occurrence.after)}"
    return (f'<a class="kbm-row" href="{esc(href)}" target="_blank" rel="noopener" data-doc="{esc(doc)}" '
            f'data-lines="{esc(lines)}" title="原文を見る / View source"><span class="kbm-lines">{esc(lines)}</span>'
            f'<span class="kbm-context">{context}</span></a>')


def _city_class(city: str) -> str:
    return "kbm-kumamoto" if "熊本" in city else "kbm-kurume"


def bars_html(concordance: Concordance) -> str:
    """Mentions per plan as bars (width relative to the plan with most), with both counts."""
    plans = concordance.plans()
    most = max((p.occurrences for p in plans), default=0) or 1
    cells = []
    for plan in plans:
        width = round(100 * plan.occurrences / most)
        cells.append(
            f'<span class="kbm-bar-label" title="{esc(plan.doc)}">{esc(plan.title)}（{esc(plan.city)}）</span>'
            f'<span class="kbm-bar {_city_class(plan.city)}" data-doc="{esc(plan.doc)}"><span style="width:{width}%"></span></span>'
            f'<span class="kbm-bar-n" data-doc="{esc(plan.doc)}">{plan.occurrences} か所 · {plan.passages} 件</span>'
        )
    return f'<div class="kbm-bars">{"".join(cells)}</div>'


def concordance_html(concordance: Concordance) -> str:
    """The whole listing: summary, synonyms added, bars, then plan → section → mentions."""
    found, places = len(concordance.passages), concordance.occurrences
    parts = ['<div class="kbm">',
             (f'<div class="kbm-summary" data-passages="{found}" data-mentions="{places}">'
              f'{esc(concordance.describe())}: {found} 件・{places} か所 / {found} passages, {places} mentions</div>')]
    for term, forms in concordance.synonyms.items():
        parts.append(f'<div class="kbm-note">同義語も検索 / synonyms of {esc(term)} added: {esc("、".join(forms))}</div>')
    if not concordance.passages:
        parts.append('<div class="kbm-note">見つかりませんでした。別の表記や --synonyms（同義語）を試してください。 / '
                     'No passage mentions it; try another spelling or include synonyms.</div></div>')
        return "".join(parts)
    parts.append(bars_html(concordance))
    counts = {p.doc: p for p in concordance.plans()}
    current = ""
    for doc, section, passages in concordance.sections():
        if doc != current:
            if current:
                parts.append("</section>")
            plan = counts[doc]
            parts.append(f'<section class="kbm-plan" data-doc="{esc(doc)}"><h3>{esc(plan.title)} '
                         f'<span class="kbm-count">{esc(plan.city)} · {plan.passages} 件・{plan.occurrences} か所</span></h3>')
            current = doc
        rows = "".join(_row(o, doc) for p in passages for o in p.occurrences)
        parts.append(f'<div class="kbm-section"><div class="kbm-path">{esc(section)}</div>{rows}</div>')
    parts.append("</section></div>")
    return "".join(parts)


def message_html(text: str) -> str:
    return f'<div class="kbm"><div class="kbm-note">{esc(text)}</div></div>'


def rare_link_html(found: tuple[str, int, str] | None) -> str:
    """「文化財 を含む記述 9 件をすべて表示」 under a search about a rare term; empty otherwise.

    ``found`` is (term, passages, link) from :func:`kb.search.concordance.rare_mention`'s caller.
    """
    if found is None:
        return ""
    term, count, href = found
    return (f'<div class="kb-mentions-link"><a href="{esc(href)}" data-count="{count}">'
            f'{esc(term)} を含む記述 {count} 件をすべて表示 / show all {count} passages mentioning {esc(term)}</a></div>')


def search_link_html(searcher: Searcher, lines: LineSource, query: str, mentions: dict[str, int] | None,
                     city: str = "", plan: str = "", kind: str = "") -> str:
    """The rare-term link for a search (the hook in its status area); empty when it does not apply."""
    filters = Filters(city=city or None, doc=plan or None, kind=kind or None)
    found = rare_mention(searcher, lines, query, mentions, filters)
    if found is None:
        return ""
    term, count = found
    return rare_link_html((term, count, encode(MentionsState(term=term, city=city, plan=plan, kind=kind))))
