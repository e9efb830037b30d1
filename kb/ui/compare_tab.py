"""The 比較 / Compare tab: two sides (cities or plans, default Kurume × Kumamoto) for one topic.

:func:`add_compare_tab` is called by :mod:`kb.ui.blocks` inside its ``gr.Tabs``. The
comparison itself is :func:`kb.compare.align.compare`; this module only turns it into HTML
(pure :func:`comparison_html`, testable without a browser) and wires the events.
Every measure links to its source with the app's URL convention ``?q=…&doc=…&line=…``,
which opens the search tab with that passage in the source view (in a new browser tab,
so the comparison stays open).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from kb.compare.align import LEFT, RIGHT, Comparison, Measure, Row, Side, resolve_side, side_choices
from kb.compare.render import formula_note, kpi_text, number, plan_name, side_name, strength_note
from kb.compare.share import CompareState, absolute, decode, encode
from kb.domain import SourceSpan
from kb.errors import QueryError
from kb.kpi.extract import Kpi
from kb.search.searcher import Searcher
from kb.ui.links import base_url
from kb.ui.render import esc, source_href
from kb.ui.service import SEARCH_CONCURRENCY, SEARCH_QUEUE
from kb.ui.state import UIState

if TYPE_CHECKING:
    from kb.ui.service import SearchService

TAB_LABEL = "比較 / Compare"
QUERY_LABEL = "比べたいテーマ・質問 / Topic to compare"
PLACEHOLDER = "例: 若い女性の転出、子育て支援、観光振興 / e.g. young women moving away, child-rearing"
BUTTON = "比較する / Compare"
EXAMPLES = ("若い女性の転出", "子育て支援", "新卒者の地元就職", "観光振興", "防災・災害への備え", "DX・デジタル化")
K_LABEL = "各市の件数 / Measures per city"
MATCHED = ("対応する施策", "Matched measures")
LISTS = ("検索された施策（関連順）", "Measures found, most relevant first")
NOTHING = "該当なし / none"
OUTSIDE = "※ 検索上位外の対応施策 / counterpart outside the top results"
SAME = "同上 / same as above"
FORMULA = "数値の計算方法 / How the numbers are computed"
NO_INDEX = ("検索インデックスがまだありません。「検索 / Search」タブの「インデックスを作成」で作成してから比較してください。 / "
            "There is no index yet: build it on the Search tab, then compare.")
CSS = """
.kbc { display: flex; flex-direction: column; gap: 0.9rem; }
.kbc h3 { margin: 0.4rem 0 0.2rem; font-size: 1.02rem; }
.kbc-note { font-size: 0.82rem; color: var(--body-text-color-subdued); }
.kbc-grid { display: grid; grid-template-columns: minmax(0, 1fr) 4.6rem minmax(0, 1fr); gap: 0.5rem; align-items: stretch; }
.kbc-two { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 0.8rem; align-items: start; }
.kbc-two.kbc-split { grid-template-columns: repeat(auto-fit, minmax(min(100%, 15rem), 1fr)); }
.kbc-head { font-weight: 700; font-size: 0.9rem; padding: 0.2rem 0.4rem; border-radius: 6px; color: #fff; }
.kbc-head.kbc-kurume { background: #2b6cb0; } .kbc-head.kbc-kumamoto { background: #2f855a; }
.kbc-card { border: 1px solid var(--border-color-primary); border-left: 5px solid #8a94a6; border-radius: 8px;
  padding: 0.45rem 0.6rem; background: var(--block-background-fill); font-size: 0.9rem; line-height: 1.5; }
.kbc-card.kbc-kurume { border-left-color: #2b6cb0; } .kbc-card.kbc-kumamoto { border-left-color: #2f855a; }
.kbc-name { font-weight: 600; }
.kbc-where { font-size: 0.8rem; color: var(--body-text-color-subdued); }
.kbc-kpis { margin: 0.25rem 0 0; padding-left: 1.1rem; font-size: 0.82rem; }
.kbc-score { display: flex; align-items: center; justify-content: center; font-weight: 700; font-size: 0.95rem;
  color: var(--body-text-color); }
.kbc-same { display: flex; align-items: center; padding-left: 0.8rem; color: var(--body-text-color-subdued);
  font-size: 0.85rem; border-left: 5px solid #2b6cb0; border-radius: 8px; }
.kbc-list { display: flex; flex-direction: column; gap: 0.4rem; }
.kbc a { color: #2b6cb0; }
"""


def _link(query: str, doc: str, start: int, end: int) -> str:
    label = str(SourceSpan(doc, start, end))
    href = source_href(UIState(q=query), doc, start, end)  # ?q=…&doc=…&line=…, as search cards link
    return f'<a href="{esc(href)}" target="_blank" rel="noopener" title="原文を見る / View source">{esc(label)}</a>'


def measure_card(measure: Measure, comparison: Comparison, note: str = "") -> str:
    unit = measure.unit
    side = "kbc-kumamoto" if comparison.right.holds(unit) and not comparison.left.holds(unit) else "kbc-kurume"
    where = " › ".join([plan_name(unit.doc, comparison.documents), *unit.context])
    mark = " ※" if not measure.retrieved else ""
    kpis = "".join(
        f"<li>{esc(kpi_text(k))} <span class=\"kbc-where\">({_link(comparison.query, k.doc, k.line_start, k.line_end)})</span></li>"
        for k in measure.kpis
    )
    return (
        f'<div class="kbc-card {side}"><div class="kbc-name">{esc(unit.name)}{mark}</div>'
        f'<div class="kbc-where">{esc(where)} · {_link(comparison.query, unit.doc, unit.line_start, unit.line_end)}</div>'
        + (f'<div class="kbc-note">{esc(note)}</div>' if note else "")
        + (f'<div>{esc(measure.summary)}</div>' if measure.summary else "")
        + (f'<ul class="kbc-kpis">{kpis}</ul>' if kpis else "")
        + "</div>"
    )


def _memo_row(row: Row, comparison: Comparison) -> str:
    """One left measure and, in the same row, its counterparts on the right (best first)."""
    right = "".join(
        measure_card(c.measure, comparison,
                     f"{c.strength}（対比 {number(c.similarity.contrast, sign=True)}）")
        for c in row.counterparts)
    return measure_card(row.measure, comparison) + f'<div class="kbc-list">{right}</div>'


def _list(measures: Sequence[Measure], comparison: Comparison) -> str:
    if not measures:
        return f'<div class="kbc-note">{esc(NOTHING)}</div>'
    return '<div class="kbc-list">' + "".join(measure_card(m, comparison) for m in measures) + "</div>"


def _heading(pair: tuple[str, str], count: int | None = None) -> str:
    suffix = f" ({count})" if count is not None else ""
    return f"<h3>{esc(pair[0])} / {esc(pair[1])}{suffix}</h3>"


def comparison_html(comparison: Comparison) -> str:
    """The whole comparison: matched pairs in two columns, then what only one city does,
    then each city's measures for the topic; every plan text and query is escaped."""
    names = [side_name(s, comparison.documents) for s in (comparison.left, comparison.right)]
    heads = (f'<div class="kbc-head kbc-kurume">{esc(names[0])}</div>',
             f'<div class="kbc-head kbc-kumamoto">{esc(names[1])}</div>')
    parts = ['<div class="kbc">', f'<div class="kbc-note kbc-legend">{esc(strength_note(comparison))}</div>',
             (f'<details class="kbc-note kbc-formula"><summary>{esc(FORMULA)}</summary>'
              f'{esc(formula_note(comparison))}</details>'),
             _heading(MATCHED, len(comparison.rows))]
    if comparison.rows:
        rows = [_memo_row(r, comparison) for r in comparison.rows]
        parts.append(f'<div class="kbc-two">{heads[0]}{heads[1]}' + "".join(rows) + "</div>")
        if any(not (p.left.retrieved and p.right.retrieved) for p in comparison.pairs):
            parts.append(f'<div class="kbc-note">{esc(OUTSIDE)}</div>')
    else:
        parts.append(f'<div class="kbc-note">{esc(NOTHING)}</div>')
    # Lists side by side where there is room, one under the other on a phone (matched pairs stay in two columns).
    parts.append('<div class="kbc-two kbc-split"><div>' + _heading((f"{names[0]}のみ", f"Only in {names[0]}"), len(comparison.only_left))
                 + _list(comparison.only_left, comparison) + "</div><div>"
                 + _heading((f"{names[1]}のみ", f"Only in {names[1]}"), len(comparison.only_right))
                 + _list(comparison.only_right, comparison) + "</div></div>")
    parts.append(_heading(LISTS))
    parts.append(f'<div class="kbc-two kbc-split"><div>{heads[0]}{_list(comparison.left_measures, comparison)}</div>'
                 f'<div>{heads[1]}{_list(comparison.right_measures, comparison)}</div></div>')
    parts.append("</div>")
    return "".join(parts)


def message_html(text: str) -> str:
    return f'<div class="kbc"><div class="kbc-note">{esc(text)}</div></div>'


def _downloads(comparison: Comparison, workdir: Path | None) -> tuple[str, str]:
    from kb.compare.render import comparison_csv, comparison_markdown, slug

    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="kb-compare-", dir=workdir))
    name = f"compare-{slug(comparison.query)}"
    (folder / f"{name}.md").write_text(comparison_markdown(comparison), encoding="utf-8")
    (folder / f"{name}.csv").write_bytes(comparison_csv(comparison))
    return str(folder / f"{name}.csv"), str(folder / f"{name}.md")


def side_options(searcher: Searcher | None) -> list[tuple[str, str]]:
    """(label, key) for the side dropdowns: the index's cities, then its plans."""
    if searcher is None:
        return [(LEFT.label, LEFT.key), (RIGHT.label, RIGHT.key)]
    documents = dict(searcher.index.documents)
    return [(side_name(s, documents) if s.doc else s.label, s.key) for s in side_choices(documents)]


def default_sides(options: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """Kurume and Kumamoto where the index has both; otherwise its first two sides (an index of one
    city's plans compares that city with one of its plans), so neither dropdown starts on a missing side."""
    keys = [key for _, key in options]
    left = LEFT.key if LEFT.key in keys else (keys[0] if keys else LEFT.key)
    others = [key for key in keys if key != left]
    right = RIGHT.key if RIGHT.key in others else (others[0] if others else left)
    return left, right


def compare_view(
    searcher: Searcher | None, query: str, kpis: Sequence[Kpi], k: int, workdir: Path | None = None,
    left: str = LEFT.key, right: str = RIGHT.key,
) -> tuple[str, tuple[str, str] | None]:
    """The tab's HTML for one comparison and its CSV/Markdown files (None when there is none).

    ``searcher`` is None until an index exists: the page may have been opened before
    the index was built, and the tab says so instead of failing.
    """
    from kb.compare.align import compare

    if searcher is None:
        return message_html(NO_INDEX), None
    try:
        documents = dict(searcher.index.documents)
        sides: list[Side] = [resolve_side(left or LEFT.key, documents), resolve_side(right or RIGHT.key, documents)]
        comparison = compare(searcher, query, left=sides[0], right=sides[1], kpis=kpis, k=k)
    except QueryError as exc:
        return message_html(f"比較できません / Cannot compare: {exc}"), None
    return comparison_html(comparison), _downloads(comparison, workdir)


@dataclass(frozen=True)
class CompareTab:
    """What kb.ui.blocks needs to open this tab from a shared link on page load."""

    inputs: list[Any]
    outputs: list[Any]
    from_url: Callable[[dict[str, str], float, Any], list[Any]]
    events: dict[str, Any]


def add_compare_tab(service: SearchService) -> CompareTab:
    """Build the tab's components inside the caller's ``gr.Tabs`` context.

    The service is asked for its searcher and KPIs at every comparison, so an index
    built from the page (after the app started without one) serves this tab without a
    restart.
    """
    import gradio as gr

    with gr.Tab(TAB_LABEL, id="compare"):
        with gr.Row(equal_height=False):
            topic = gr.Textbox(label=QUERY_LABEL, placeholder=PLACEHOLDER, max_lines=1, scale=6,
                               elem_id="kb-compare-query")
            button = gr.Button(BUTTON, variant="primary", scale=1, elem_id="kb-compare-button")
        with gr.Row():
            examples = gr.Examples(examples=[[e] for e in EXAMPLES], inputs=[topic], label="比較の例 / Examples")
            k = gr.Slider(2, 15, value=8, step=1, label=K_LABEL, elem_id="kb-compare-k")
        with gr.Row():
            options = side_options(service.searcher)
            first, second = default_sides(options)
            left = gr.Dropdown(options, value=first, label="左 / Left", elem_id="kb-compare-left")
            right = gr.Dropdown(options, value=second, label="右 / Right", elem_id="kb-compare-right")
        link = gr.Markdown("", elem_id="kb-compare-link")
        with gr.Row():
            csv_file = gr.DownloadButton("CSVで保存 / Download CSV", visible=False, size="sm", scale=0,
                                         elem_id="kb-compare-csv")
            md_file = gr.DownloadButton("Markdownで保存 / Download Markdown", visible=False, size="sm", scale=0,
                                        elem_id="kb-compare-md")
        result = gr.HTML(message_html("テーマを入力して「比較する」を押してください。 / Type a topic and press Compare."),
                         css_template=CSS, js_on_load=None, elem_id="kb-compare-result")

        def on_compare(query: str, n: float, a: str, b: str, request: Any = None) -> list[Any]:
            shown, files = compare_view(service.searcher, query, service.kpi_records, int(n), service.workdir, a, b)
            url = absolute(encode(CompareState(query, a, b)), base_url(request))  # works from an e-mail too
            share = f"共有リンク / Share: [{_readable(url)}]({url})"
            if files is None:
                hidden = gr.update(visible=False)
                return [shown, hidden, hidden, ""]
            return [shown, gr.update(value=files[0], visible=True), gr.update(value=files[1], visible=True), share]

        on_compare.__annotations__["request"] = gr.Request  # gradio is imported here, not at module level

        def from_url(params: dict[str, str], n: float, request: Any = None) -> list[Any]:
            """A shared ``?tab=compare&topic=…&left=…&right=…`` link opens this tab, fills it and compares."""
            state = decode(urlencode(list(params.items())))
            if state is None:
                return [gr.skip()] * 8
            shown = on_compare(state.topic, n, state.left, state.right, request) if state.topic.strip() \
                else [gr.skip()] * 4
            return [state.topic, state.left, state.right, gr.Tabs(selected="compare"), *shown]

        events: dict[str, Any] = {"concurrency_id": SEARCH_QUEUE, "concurrency_limit": SEARCH_CONCURRENCY,
                                  "api_visibility": "private", "show_progress_on": [result]}
        outputs = [result, csv_file, md_file, link]
        for trigger in (topic.submit, button.click):
            trigger(on_compare, inputs=[topic, k, left, right], outputs=outputs, **events)
        examples.load_input_event.then(on_compare, inputs=[topic, k, left, right], outputs=outputs, **events)
    return CompareTab(inputs=[k], outputs=[topic, left, right, *outputs], from_url=from_url, events=events)


def _readable(url: str) -> str:
    """The link as a planner reads it (「…topic=子育て支援…」, not %E5%AD…), escaped for Markdown link text."""
    from urllib.parse import unquote

    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", unquote(url))
