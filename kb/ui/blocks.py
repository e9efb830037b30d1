"""The Gradio layout and its events: the only module of ``kb.ui`` that imports gradio.

Handlers are thin: they turn component values into a :class:`~kb.ui.state.UIState`,
ask :class:`~kb.ui.service.SearchService`, and map the answer onto components. The
URL is the state: a search or an opened source updates the address bar (the results
panel's script does it from ``data-state-url``), and opening the page with a query
string restores that state in ``demo.load``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import gradio as gr

from kb.ingest.add import SUPPORTED
from kb.ui import labels as L
from kb.ui import render
from kb.ui.add_summary import is_summary
from kb.ui.compare_tab import add_compare_tab
from kb.ui.links import base_url
from kb.ui.mentions_tab import add_mentions_tab
from kb.ui.service import MAX_ADD_BYTES, SEARCH_CONCURRENCY, SEARCH_QUEUE, SearchService, SearchView
from kb.ui.state import DEFAULT_K, MAX_K, UIState, clamp_k, decode_query_string, decode_state
from kb.ui.style import CSS, KEYBOARD_JS, RESULTS_JS, SOURCE_JS

log = logging.getLogger(__name__)

#: Sessions whose component state Gradio keeps in memory (its default is 10,000, which
#: at ~80 KB a session grew the app by ~800 MB under an API load test); the oldest go first.
STATE_SESSIONS = 256


def _header_html(service: SearchService) -> str:
    return (
        f"<h1>{render.esc(L.TITLE)}</h1><p>{render.esc(L.SUBTITLE)}</p>" + service.notice_html()
    )


def _download_update(view: SearchView) -> Any:
    if view.csv_path is None:
        return gr.update(value=None, visible=False)
    return gr.update(value=str(view.csv_path), visible=True)


def _state(q: str | None, city: str | None, plan: str | None, goal: str | None, kind: str | None,
           k: float | None) -> UIState:
    return UIState(q=q or "", city=city or "", plan=plan or "", goal=(goal or "").strip(), kind=kind or "",
                   k=clamp_k(k))


def _filter_updates(service: SearchService, state: UIState) -> tuple[Any, Any, UIState]:
    """Plan and goal choices narrowed to the city (and plan); a value no longer offered is cleared.

    A goal the user typed (not one of the listed goals) is kept: it is a word to filter by.
    """
    if state.city not in {value for _, value in service.city_choices()}:
        state = replace(state, city="")  # a hand-edited link naming a city no plan has
    plans = service.document_choices(state.city)
    plan = state.plan if state.plan in {value for _, value in plans} else ""
    goals = service.goal_choices(state.city, plan)
    offered = {value for _, value in goals}
    everywhere = {value for _, value in service.goal_choices()}
    goal = state.goal if state.goal in offered or state.goal not in everywhere else ""
    narrowed = replace(state, plan=plan, goal=goal)
    return gr.update(choices=plans, value=plan), gr.update(choices=goals, value=goal), narrowed


def build_app(service: SearchService) -> gr.Blocks:
    """The whole page: header, 検索 / Search and 比較 / Compare tabs, JSON API."""
    with gr.Blocks(title=L.TITLE, analytics_enabled=False, delete_cache=(3600, 7200)) as demo:
        gr.HTML(_header_html(service), elem_id="kb-header", js_on_load=KEYBOARD_JS)
        # Tabs wrap onto a second row on a phone: a "…" menu hid two of them, and the hidden
        # buttons widened the page past the screen.
        with gr.Tabs(overflow_behavior="wrap", elem_id="kb-tabs") as tabs:
            with gr.Tab(L.SEARCH_TAB, id="search"):
                _search_tab(service, demo)
            compare_tab = add_compare_tab(service)
            add_mentions_tab(service, demo, tabs)  # すべての記述 / All mentions (kb/ui/mentions_tab.py)
            with gr.Tab(L.ADD_TAB, id="add"):
                _add_tab(service)

        def open_shared_comparison(n: float, request: gr.Request) -> list[Any]:
            return compare_tab.from_url(dict(request.query_params) if request else {}, n, request)

        # Outputs: the tab's topic and sides, the Tabs (to select 比較 / Compare), its result.
        outputs = compare_tab.outputs[:3] + [tabs] + compare_tab.outputs[3:]
        demo.load(open_shared_comparison, inputs=compare_tab.inputs, outputs=outputs,
                  **{**compare_tab.events, "show_progress": "hidden", "show_progress_on": None})

        def search(query: str, city: str = "", doc: str = "", goal: str = "", k: int = DEFAULT_K) -> dict:
            """Search the plans; returns the JSON contract of `kb search --json` (or an error)."""
            return service.api_search(query, city=city, doc=doc, goal=goal, k=k)

        gr.api(search, api_name="search", concurrency_id=SEARCH_QUEUE, concurrency_limit=SEARCH_CONCURRENCY)
    return demo


def _add_tab(service: SearchService) -> None:
    """計画を追加 / Add a plan: upload one or several files, describe, add; progress while the index is rebuilt.

    Several files are one batch (one rebuild); the answer is a table with a row per file, after
    which the form is cleared so the next batch does not resend this one (a refusal of the whole
    request keeps it, to be corrected).
    """
    gr.Markdown(L.ADD_HINT)
    upload = gr.File(label=L.ADD_FILE, file_types=sorted(SUPPORTED), file_count="multiple", type="filepath",
                     elem_id="kb-add-file")
    with gr.Row():
        title = gr.Textbox(label=L.ADD_TITLE, max_lines=1, scale=3, elem_id="kb-add-title")
        city = gr.Textbox(label=L.ADD_CITY, max_lines=1, scale=1, elem_id="kb-add-city")
        kind = gr.Textbox(label=L.ADD_KIND, max_lines=1, scale=1, elem_id="kb-add-kind")
        period = gr.Textbox(label=L.ADD_PERIOD, max_lines=1, scale=1, elem_id="kb-add-period")
    button = gr.Button(L.ADD_BUTTON, variant="primary", elem_id="kb-add-button")
    message = gr.HTML("", elem_id="kb-add-message", js_on_load=None)

    def on_add(paths: list[str] | str | None, t: str, c: str, kd: str, pd: str, request: gr.Request,
               progress: gr.Progress = gr.Progress()) -> list[Any]:
        def report(stage: str, done: int, total: int) -> None:
            progress((done, max(total, 1)), desc=stage)

        host = request.client.host if request is not None and request.client is not None else None
        # No request (never from the page): no headers to vouch for it either, so none pass.
        headers = dict(request.headers) if request is not None else {}
        answer = service.add_plan(paths, title=t or "", city=c or "", kind=kd or "", period=pd or "",
                                  progress=report, client_host=host, headers=headers)
        if not is_summary(answer):
            return [answer, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()]  # keep the form to correct it
        return [answer, None, "", "", "", ""]  # the summary, and an empty form for the next batch

    button.click(on_add, inputs=[upload, title, city, kind, period], outputs=[message, upload, title, city, kind, period],
                 concurrency_id="kb-add", concurrency_limit=1, api_visibility="private")


def _search_tab(service: SearchService, demo: gr.Blocks) -> None:
    with gr.Row(equal_height=False, elem_id="kb-query-row"):
        # No label block above the box (the placeholder and the box's aria-label say it): the
        # first screen after a search has room for two result cards at 1440×900.
        query = gr.Textbox(label=L.QUERY_LABEL, show_label=False, placeholder=L.QUERY_PLACEHOLDER, max_lines=1,
                           scale=6, autofocus=True, elem_id="kb-query")
        button = gr.Button(L.SEARCH_BUTTON, variant="primary", scale=1, elem_id="kb-search-button")
    examples = gr.Examples(examples=[[e] for e in L.EXAMPLES], inputs=[query], label=L.EXAMPLES_LABEL,
                           elem_id="kb-examples")
    with gr.Row(elem_id="kb-filter-row"):
        city = gr.Dropdown(choices=service.city_choices(), value="", label=L.CITY_LABEL,
                           scale=1, elem_id="kb-city")
        plan = gr.Dropdown(choices=service.document_choices(), value="", label=L.PLAN_LABEL, scale=2,
                           elem_id="kb-plan")
        goal = gr.Dropdown(choices=service.goal_choices(), value="", label=L.GOAL_LABEL,
                           allow_custom_value=True, scale=2, elem_id="kb-goal")
        # Wide enough for 「KPI・数値目標 / KPIs」 beside its arrow.
        kind = gr.Dropdown(choices=[(L.ALL, ""), *L.KIND_CHOICES], value="", label=L.KIND_LABEL, scale=1,
                           min_width=210, elem_id="kb-kind")
        k = gr.Slider(1, MAX_K, value=DEFAULT_K, step=1, label=L.K_LABEL, scale=1, elem_id="kb-k")
    if not service.ready:
        with gr.Row():
            build_button = gr.Button(L.BUILD_BUTTON, variant="primary", elem_id="kb-build")
    with gr.Row(equal_height=False, elem_id="kb-status-row"):
        status = gr.HTML("", elem_id="kb-status", js_on_load=None, scale=1)
        download = gr.DownloadButton(L.DOWNLOAD, visible=False, size="sm", scale=0, min_width=190,
                                     elem_id="kb-download")
    with gr.Row():
        with gr.Column(scale=3, min_width=420):
            results = gr.HTML(service.welcome_html(), js_on_load=RESULTS_JS, elem_id="kb-results")
        with gr.Column(scale=2, min_width=360, elem_id="kb-source-col"):
            source = gr.HTML(render.source_placeholder_html(), js_on_load=SOURCE_JS, elem_id="kb-source")

    filters = [query, city, plan, goal, kind, k]
    shown = [status, results, source, download]

    def show(view: SearchView) -> list[Any]:
        return [view.status_html, view.results_html, service.source(view.state), _download_update(view)]

    def on_search(q: str, c: str, p: str, g: str, t: str, n: float, request: gr.Request) -> list[Any]:
        return show(service.search(_state(q, c, p, g, t, n), base_url(request)))

    def on_filter(q: str, c: str, p: str, g: str, t: str, n: float, request: gr.Request) -> list[Any]:
        plan_update, goal_update, state = _filter_updates(service, _state(q, c, p, g, t, n))
        searched = show(service.search(state, base_url(request))) if state.q.strip() else [gr.skip()] * len(shown)
        return [plan_update, goal_update, *searched]

    def on_open_source(event: gr.EventData) -> str:
        data = event._data if isinstance(event._data, dict) else {}
        return service.source(decode_query_string(str(data.get("href", "")), service.document_names()))

    def on_load(request: gr.Request) -> list[Any]:
        service.current()  # a plan added or removed since the last request (any process) shows now
        state = decode_state(dict(request.query_params) if request else {}, service.document_names())
        if not state.q and not state.has_source:
            # The plans and choices as they are now, not as they were when the page was built.
            return [gr.skip(), gr.update(choices=service.city_choices()), gr.update(choices=service.document_choices()),
                    gr.update(choices=service.goal_choices()), gr.skip(), gr.skip(),
                    gr.skip(), service.welcome_html(), gr.skip(), gr.skip()]
        plan_update, goal_update, state = _filter_updates(service, state)
        if state.q.strip():
            searched = show(service.search(state, base_url(request)))
        else:
            searched = [gr.skip(), gr.skip(), service.source(state), gr.skip()]
        city_update = gr.update(choices=service.city_choices(), value=state.city)
        return [state.q, city_update, plan_update, goal_update, state.kind, state.k, *searched]

    # The spinner covers the results only: filters and the source panel stay readable meanwhile.
    search_options: dict[str, Any] = {"concurrency_id": SEARCH_QUEUE, "concurrency_limit": SEARCH_CONCURRENCY,
                                      "api_visibility": "private", "show_progress_on": [results]}
    for trigger in (query.submit, button.click):
        trigger(on_search, inputs=filters, outputs=shown, **search_options)
    examples.load_input_event.then(on_search, inputs=filters, outputs=shown, **search_options)
    for dropdown in (city, plan, goal, kind):
        dropdown.input(on_filter, inputs=filters, outputs=[plan, goal, *shown], **search_options)
    k.release(on_search, inputs=filters, outputs=shown, **search_options)
    results.click(on_open_source, inputs=None, outputs=[source], api_visibility="private",
                  show_progress="hidden")
    # No spinner on page load: most loads have nothing to restore, and a flash of "loading" misleads.
    demo.load(on_load, inputs=None, outputs=[*filters, *shown],
              **{**search_options, "show_progress": "hidden", "show_progress_on": None})

    if not service.ready:

        def on_build(progress: gr.Progress = gr.Progress()) -> list[Any]:
            def report(stage: str, done: int, total: int) -> None:
                progress((done, max(total, 1)), desc=f"{stage}")

            message = service.build_index(report)
            return [message, gr.update(visible=not service.ready), gr.update(choices=service.document_choices()),
                    gr.update(choices=service.goal_choices())]

        build_button.click(on_build, inputs=None, outputs=[results, build_button, plan, goal], **search_options)


def theme() -> gr.themes.Base:
    """Soft theme with locally installed fonts only: the app may run with no internet."""
    return gr.themes.Soft(
        primary_hue="blue",
        font=["Hiragino Sans", "Noto Sans CJK JP", "Noto Sans JP", "Yu Gothic", "Meiryo", "IPAPGothic",
              "system-ui", "sans-serif"],
        font_mono=["ui-monospace", "Menlo", "Consolas", "monospace"],
    )


def launch(
    demo: gr.Blocks, *, host: str, port: int, service: SearchService | None = None, quiet: bool = False,
    prevent_thread_lock: bool = False,
) -> Any:
    """Serve the app (and, given ``service``, its plain JSON route :mod:`kb.ui.rest`).

    CSS and theme go to ``launch`` (Gradio 6 moved them out of ``Blocks``). The server
    starts without blocking so the JSON route can join its FastAPI app; then this
    blocks like ``demo.launch`` does unless ``prevent_thread_lock``.
    """
    demo.queue(default_concurrency_limit=SEARCH_CONCURRENCY)
    answer = demo.launch(
        # show_error: kb's handlers never raise (they return messages), so what this shows is
        # Gradio's own refusals, such as an API call with too few arguments — instead of `null`.
        server_name=host, server_port=port, css=CSS, theme=theme(), footer_links=["api"], show_error=True,
        quiet=quiet, prevent_thread_lock=True, ssr_mode=False, inbrowser=False,
        state_session_capacity=STATE_SESSIONS, max_file_size=MAX_ADD_BYTES,
    )
    if demo.app is not None:
        from kb.ui.guard import AllowedHosts, guard_uploads

        allowed = AllowedHosts.for_bind(host)
        guard_uploads(demo.app, allowed)  # uploads feed only the add panel: same rule as adding
        if service is not None:
            service.allowed_hosts = allowed
    if service is not None and demo.app is not None:
        from kb.ui.rest import add_rest_api

        add_rest_api(demo.app, service)
    if not prevent_thread_lock:
        demo.block_thread()
    return answer
