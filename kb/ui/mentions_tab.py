"""The 「すべての記述 / All mentions」 tab: every passage that mentions a term, for a report writer.

:func:`add_mentions_tab` is called by :mod:`kb.ui.blocks` inside its ``gr.Tabs``. The listing
is :func:`kb.search.concordance.find_mentions`, its HTML :mod:`kb.ui.mentions_html` (pure) and
its CSV :mod:`kb.present_mentions` (the same rows as ``kb mentions --csv``); this module wires
the events, the CSV download and the shareable ``?tab=mentions&term=…`` link, which also opens
the tab on page load (the rare-term link under a search points here).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import gradio as gr

from kb.compare.render import slug
from kb.errors import KbError
from kb.present_mentions import concordance_csv
from kb.search.concordance import corpus_lines, find_mentions
from kb.search.results import Filters
from kb.ui import labels as L
from kb.ui.mentions_html import CSS, MentionsState, concordance_html, decode, encode, message_html
from kb.ui.service import SEARCH_CONCURRENCY, SEARCH_QUEUE

if TYPE_CHECKING:
    from kb.ui.service import SearchService

log = logging.getLogger(__name__)

TAB_LABEL = "すべての記述 / All mentions"
TERM_LABEL = "語（複数はスペース区切り）/ Term(s), separated by spaces"
PLACEHOLDER = "例: 空き家、文化財、男女共同参画 / e.g. 空き家"
BUTTON = "すべて表示 / Show all"
EXAMPLES = ("空き家", "文化財", "男女共同参画", "子ども", "インバウンド")
SYNONYMS = "同義語も含める / Include synonyms"
REQUIRE_ALL = "すべての語を含む / All terms (default: any)"
HINT = ("語を入力すると、その語を含む記述をすべて計画・節ごとに表示します（子ども／子供／こども などの表記ゆれも含む）。 / "
        "Type a term to list every passage that mentions it, by plan and section (spelling variants included).")
NO_INDEX = "検索インデックスがまだありません。「検索 / Search」タブで作成してください。 / There is no index yet: build it on the Search tab."


def mentions_view(service: SearchService, state: MentionsState) -> tuple[str, Path | None]:
    """The tab's HTML for one listing and its CSV file (None when there is nothing to download)."""
    session = service.current()
    if session is None:
        return message_html(NO_INDEX), None
    filters = Filters(city=state.city or None, doc=state.plan or None, kind=state.kind or None)
    try:
        concordance = find_mentions(session.searcher, corpus_lines(session.corpus_dir), state.terms, filters=filters,
                                    synonyms=state.synonyms, require_all=state.require_all)
    except KbError as exc:
        return message_html(f"表示できません / Cannot list: {exc}"), None
    except Exception:
        log.exception("mentions failed for %r", state)
        return message_html(f"{L.INTERNAL_ERROR[0]} / {L.INTERNAL_ERROR[1]}"), None
    if not concordance.passages:
        return concordance_html(concordance), None
    folder = Path(tempfile.mkdtemp(prefix="csv-", dir=service.workdir))
    path = folder / f"kb-mentions-{slug(' '.join(concordance.terms), 40)}-{time.strftime('%Y%m%d-%H%M%S')}.csv"
    path.write_bytes(concordance_csv(concordance, link=encode(state)))
    return concordance_html(concordance), path


def add_mentions_tab(service: SearchService, demo: gr.Blocks, tabs: gr.Tabs) -> None:
    """Build the tab inside the caller's ``gr.Tabs``, and open it from a shared link on page load."""
    with gr.Tab(TAB_LABEL, id="mentions"):
        with gr.Row(equal_height=False):
            term = gr.Textbox(label=TERM_LABEL, placeholder=PLACEHOLDER, max_lines=1, scale=6, elem_id="kb-mentions-term")
            button = gr.Button(BUTTON, variant="primary", scale=1, elem_id="kb-mentions-button")
        examples = gr.Examples(examples=[[e] for e in EXAMPLES], inputs=[term], label=L.EXAMPLES_LABEL)
        with gr.Row():
            city = gr.Dropdown(choices=service.city_choices(), value="", label=L.CITY_LABEL, elem_id="kb-mentions-city")
            plan = gr.Dropdown(choices=service.document_choices(), value="", label=L.PLAN_LABEL, scale=2,
                               elem_id="kb-mentions-plan")
            kind = gr.Dropdown(choices=[(L.ALL, ""), *L.KIND_CHOICES], value="", label=L.KIND_LABEL,
                               elem_id="kb-mentions-kind")
            with gr.Column(min_width=200):
                synonyms = gr.Checkbox(False, label=SYNONYMS, elem_id="kb-mentions-synonyms")
                require_all = gr.Checkbox(False, label=REQUIRE_ALL, elem_id="kb-mentions-all")
        with gr.Row():
            link = gr.Markdown("", elem_id="kb-mentions-link")
            csv_file = gr.DownloadButton(L.DOWNLOAD, visible=False, size="sm", scale=0, min_width=190,
                                         elem_id="kb-mentions-csv")
        result = gr.HTML(message_html(HINT), css_template=CSS, js_on_load=None, elem_id="kb-mentions-result")

    inputs = [term, city, plan, kind, synonyms, require_all]
    outputs = [result, csv_file, link]

    def on_find(t: str, c: str, p: str, k: str, s: bool, a: bool) -> list[Any]:
        state = MentionsState(term=(t or "").strip(), city=c or "", plan=p or "", kind=k or "", synonyms=bool(s),
                              require_all=bool(a))
        shown, path = mentions_view(service, state)
        share = f"共有リンク / Share: [{encode(state)}]({encode(state)})" if path is not None else ""
        download = gr.update(value=str(path), visible=True) if path is not None else gr.update(value=None, visible=False)
        return [shown, download, share]

    def from_url(request: gr.Request) -> list[Any]:
        """A ``?tab=mentions&term=…`` link opens this tab, fills it and lists the mentions."""
        params = dict(request.query_params) if request else {}
        state = decode(urlencode(list(params.items())))
        if state is None:
            return [gr.skip()] * (len(inputs) + 1 + len(outputs))
        shown = on_find(state.term, state.city, state.plan, state.kind, state.synonyms, state.require_all) \
            if state.term else [gr.skip()] * len(outputs)
        return [state.term, gr.update(choices=service.city_choices(), value=state.city),
                gr.update(choices=service.document_choices(), value=state.plan), state.kind, state.synonyms,
                state.require_all, gr.Tabs(selected="mentions"), *shown]

    events: dict[str, Any] = {"concurrency_id": SEARCH_QUEUE, "concurrency_limit": SEARCH_CONCURRENCY,
                              "api_visibility": "private", "show_progress_on": [result]}
    for trigger in (term.submit, button.click):
        trigger(on_find, inputs=inputs, outputs=outputs, **events)
    examples.load_input_event.then(on_find, inputs=inputs, outputs=outputs, **events)
    demo.load(from_url, inputs=None, outputs=[*inputs, tabs, *outputs],
              **{**events, "show_progress": "hidden", "show_progress_on": None})
