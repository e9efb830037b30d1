"""What the page's events do, on the real index: searches, messages for bad input, sources, API."""

from __future__ import annotations

import re

import pytest

from kb.present import CONTRACT_FIELDS
from kb.ui import labels as L
from kb.ui.service import SearchService, open_service
from kb.ui.state import UIState

YOUNG_WOMEN = "which measures address the outflow of young women"


@pytest.fixture(scope="module")
def service(searcher, corpus_dir, tmp_path_factory):
    return SearchService(searcher, corpus_dir, workdir=tmp_path_factory.mktemp("ui"))


@pytest.fixture(scope="module")
def young_women(service):
    return service.search(UIState(q=YOUNG_WOMEN))


def cities(markup: str) -> set[str]:
    return set(re.findall(r'<article class="kb-card (kb-\w+)', markup))


def test_english_question_finds_measures_of_both_cities(young_women):
    assert young_women.result is not None and len(young_women.result.hits) == 10
    assert cities(young_women.results_html) == {"kb-kurume", "kb-kumamoto"}
    assert "→" in young_women.status_html  # the interpretation lists the Japanese terms searched
    assert 'data-state-url="?q=which+measures' in young_women.results_html


def test_csv_download_is_utf8_with_bom(young_women):
    data = young_women.csv_path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("rank,score,city,title")
    assert len(text.strip().splitlines()) >= 11
    assert "熊本市" in text and "久留米市" in text


@pytest.mark.parametrize(
    ("query", "japanese"),
    [
        ("", "検索語が空です"),
        ("   \t  ", "検索語が空です"),
        ("あ" * 10_000, "長すぎます"),
        ("子育て\x00\x07支援", "制御文字"),
        ("!!! ??? ...", "検索できる語がありません"),
        ("\ud800broken", "文字化け"),
    ],
)
def test_absurd_input_gets_a_message_not_a_traceback(service, query, japanese):
    view = service.search(UIState(q=query))
    assert view.result is None and view.csv_path is None
    assert japanese in view.results_html
    assert "kb-message" in view.results_html and "Traceback" not in view.results_html


def test_city_filter_and_wide_area(service):
    kumamoto = service.search(UIState(q="子育て支援", city="熊本市", k=5))
    assert cities(kumamoto.results_html) == {"kb-kumamoto"}
    assert "保育所" in kumamoto.results_html and 'class="kb-kpi"' in kumamoto.results_html  # KPIs shown
    wide = service.search(UIState(q="観光", city="広域", k=5))
    assert wide.result and {h.chunk.area for h in wide.result.hits} == {"広域"}


def test_unknown_plan_from_a_url_is_a_message(service):
    view = service.search(UIState(q="観光", plan="no-such-plan"))
    assert "この計画書はインデックスにありません" in view.results_html


def test_source_view_of_a_hit(service, young_women):
    hit = young_women.result.hits[0]
    state = young_women.state.with_source(hit.chunk.doc, hit.line_start, hit.line_end)
    markup = service.source(state)
    marked = [int(n) for n in re.findall(r'<tr class="kb-hit" data-line="(\d+)">', markup)]
    assert marked == list(range(hit.line_start, hit.line_end + 1))
    assert re.search(r'<tr class="kb-ctx" data-line="\d+">', markup)  # context lines around it
    assert hit.chunk.title in markup


@pytest.mark.parametrize(
    "state",
    [UIState(doc="no-such-plan", lines=(1, 1)), UIState(doc="kurume-kouiki-web", lines=(999_999, 999_999))],
)
def test_bad_source_address_is_a_message(service, state):
    assert L.CANNOT_SHOW[0] in service.source(state)


def test_no_source_shows_the_hint(service):
    assert L.SOURCE_HINT in service.source(UIState(q="観光"))


def test_restored_state_keeps_its_source(service):
    first = service.search(UIState(q="子育て支援")).result.hits[0]
    lines = (first.line_start, first.line_end)
    view = service.search(UIState(q="子育て支援", doc=first.chunk.doc, lines=lines))
    assert view.state.lines == lines
    assert f"line={lines[0]}-{lines[1]}" in view.results_html  # data-state-url keeps the open source
    assert re.search(rf'kb-active" data-doc="{first.chunk.doc}" data-lines="{lines[0]}-{lines[1]}"',
                     view.results_html)


def test_api_returns_the_json_contract(service):
    answer = service.api_search("子育て支援", city="熊本市", k=3)
    assert answer["query"] == "子育て支援" and answer["interpretation"]
    assert len(answer["hits"]) == 3
    assert set(CONTRACT_FIELDS) <= set(answer["hits"][0])
    assert {h["city"] for h in answer["hits"]} == {"熊本市"}
    assert service.api_search("   ") == {"query": "   ", "error": "the query is empty; type a question or keywords",
                                         "hits": []}
    assert "error" in service.api_search("観光", k=0)
    assert "error" in service.api_search("観光", doc="missing")


def test_filter_choices_narrow_by_city_and_plan(service):
    plans = [value for _, value in service.document_choices("熊本市")]
    assert plans == ["", "kumamoto-sousei-senryaku-2"]
    wide = [value for _, value in service.document_choices("広域")]
    assert wide == ["", "kurume-kouiki-vision-3"]
    goals = [value for _, value in service.goal_choices(plan="kurume-sousei-senryaku-3")]
    assert goals[0] == "" and any("基本目標1" in g for g in goals[1:])
    assert all(value for _, value in service.goal_choices()[1:])


def test_the_catalogue_from_the_index_columns_equals_the_one_from_the_corpus(service, corpus_dir, tmp_path):
    """The filters' plans and goals come from the index's integer columns (no record read
    but each plan's first); without an index they come from chunking the corpus: the same."""
    from_corpus = SearchService(None, corpus_dir, workdir=tmp_path)
    assert [(d.doc, d.title, d.city, d.area, d.passages) for d in service.documents] == \
        [(d.doc, d.title, d.city, d.area, d.passages) for d in from_corpus.documents]
    for city, plan in (("", ""), ("熊本市", ""), ("", "kurume-mirai-design-2035"), ("広域", "")):
        assert service.goal_choices(city, plan) == from_corpus.goal_choices(city, plan)


def test_welcome_lists_every_plan(service):
    markup = service.welcome_html()
    for doc in service.documents:
        assert doc.title in markup


def test_missing_index_service_explains_how_to_build(tmp_path, corpus_dir):
    service = open_service(tmp_path / "missing", corpus_dir, log=lambda line: None)
    assert not service.ready
    assert "kb build" in service.welcome_html() and "./run.sh" in service.welcome_html()
    view = service.search(UIState(q="観光"))
    assert L.NO_INDEX[0] in view.results_html
    assert service.api_search("観光")["hits"] == []
    assert len(service.document_choices()) == 6  # filters still list the corpus' plans


def test_build_from_the_page_then_search(tmp_path, corpus_dir, fake_embedder):
    from kb.index.storage import load_index
    from kb.search.searcher import Searcher
    from kb.service import session_for

    service = open_service(tmp_path / "index", corpus_dir, log=lambda line: None)
    stages = []
    message = service.build_index(lambda stage, done, total: stages.append(stage), embedder=fake_embedder,
                                  opener=lambda path: session_for(Searcher(load_index(path), fake_embedder), corpus_dir))
    assert L.BUILD_DONE[0] in message
    assert service.ready and {"parse", "embed"} <= set(stages)
    assert service.search(UIState(q="観光", k=3)).result.hits
    assert L.WELCOME_HEAD[0] in service.welcome_html()


def test_kpis_need_the_corpus_but_search_does_not(searcher, tmp_path):
    from kb.service import KpiCatalogue

    missing = KpiCatalogue.load(tmp_path / "no-corpus")
    assert missing.records == () and "no corpus folder" in missing.problem
    service = SearchService(searcher, tmp_path / "no-corpus")
    view = service.search(UIState(q="出生数の目標", k=3))
    assert view.result is not None and view.result.hits
    assert all(service.kpis_for(hit) == [] for hit in view.result.hits)


def test_kpis_for_a_hit_are_the_records_of_its_measure(service):
    view = service.search(UIState(q="熊本市 出生数", k=10))
    shown = [kpi for hit in view.result.hits for kpi in service.kpis_for(hit)]
    assert shown, "a Kumamoto birth-rate question should show some KPI record"
    assert all(kpi.doc in {hit.chunk.doc for hit in view.result.hits} for kpi in shown)
    assert 'class="kb-kpi-record"' in view.results_html


def test_app_arguments(monkeypatch):
    import app

    monkeypatch.setenv("KB_PORT", "7999")
    args = app.parse_args([])
    assert (args.host, args.port, args.index, str(args.corpus)) == ("127.0.0.1", 7999, None, "corpus")
    args = app.parse_args(["--host", "0.0.0.0", "--port", "8000", "--index", "x", "--corpus", "y"])
    assert (args.host, args.port, str(args.index), str(args.corpus)) == ("0.0.0.0", 8000, "x", "y")


def test_app_exposes_search_api_and_the_compare_tab(service):
    from kb.ui.blocks import build_app

    demo = build_app(service)
    names = {fn.api_name for fn in demo.fns.values()}
    assert "search" in names
    ids = {getattr(block, "elem_id", None) for block in demo.blocks.values()}
    assert {"kb-query", "kb-compare-query", "kb-compare-button"} <= ids


def test_an_error_updates_the_address_and_a_broken_link_says_so_in_both_languages(service):
    view = service.search(UIState(q="\x00\x01", city="熊本市"))
    assert 'data-state-url="?' in view.results_html and "city=" in view.results_html
    broken = service.source(UIState(q="観光", doc="no-such-plan", lines=(3, 4)))
    assert "見つかりません" in broken and "not found" in broken and "kurume" not in broken
