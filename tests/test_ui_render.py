"""HTML of the search page: cards, highlighting, breadcrumbs, source view, messages, escaping."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import unquote

from kb.chunk import Chunk
from kb.kpi.extract import Kpi
from kb.present import highlight_terms
from kb.search.expand import ExpandedQuery, Expansion
from kb.search.searcher import Hit, SearchResult
from kb.sourceview import SourceView
from kb.ui import labels as L
from kb.ui import render
from kb.ui.state import UIState, decode_query_string

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def make_chunk(text: str = "若い女性の転出を抑えるため、雇用の場を創出します。", **kw) -> Chunk:
    values: dict = {
        "id": "kumamoto-sousei-senryaku-2:846-854", "doc": "kumamoto-sousei-senryaku-2", "city": "熊本市",
        "area": "熊本市", "title": "第2期熊本市しごと・ひと・まち創生総合戦略",
        "heading_path": ("２ 基本戦略", "基本目標２ 子ども", "(１) 結婚・妊娠・出産支援の推進"),
        "kind": "measure", "goal": "基本目標２ 子ども", "line_start": 846, "line_end": 854,
        "lines": tuple(range(846, 855)), "text": text, "search_text": text, "embed_text": text,
    }
    return Chunk(**{**values, **kw})


def make_result(*chunks: Chunk, query: str = "若い女性の転出") -> SearchResult:
    expanded = ExpandedQuery(text=query, language="ja",
                             expansions=(Expansion(term="転出超過", weight=0.8, reason="synonym"),))
    hits = [Hit(rank=i, score=0.5 / i, chunk=c, line_start=c.line_start, line_end=c.line_end, text=c.text)
            for i, c in enumerate(chunks, start=1)]
    return SearchResult(query=query, expanded=expanded, method="hybrid", hits=hits, timings={})


class TagCollector(HTMLParser):
    """Every tag and attribute the browser would create from an HTML string."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(name for name, _ in attrs)


def parsed(markup: str) -> TagCollector:
    collector = TagCollector()
    collector.feed(markup)
    return collector



def make_kpi(**overrides: object) -> Kpi:
    values: dict[str, object] = dict(  # noqa: C408 - keyword form reads like the record
        doc="kumamoto-sousei-senryaku-2", city="熊本市", area="熊本市", title="第2期熊本市しごと・ひと・まち創生総合戦略",
        name="出生数", unit="人", base_value="6,766", base_year="H30(2018)", target_value="7,000以上",
        target_year="R5(2023)", path=("戦略", "基本目標２"), line_start=930, line_end=930, label="KPI",
        layout="floating",
    )
    values.update(overrides)
    return Kpi(**values)  # type: ignore[arg-type]

def test_card_shows_title_city_breadcrumb_highlight_score_and_link():
    result = make_result(make_chunk())
    terms = highlight_terms(result)
    card = render.card_html(result.hits[0], terms, UIState(q="若い女性の転出"))
    assert "第2期熊本市しごと・ひと・まち創生総合戦略" in card
    assert 'class="kb-badge kb-kumamoto">熊本市<' in card
    assert "２ 基本戦略 → 基本目標２ 子ども → (１) 結婚・妊娠・出産支援の推進" in card
    assert "<mark>若い女性の転出</mark>を抑える" in card
    assert "0.5000" in card
    href = re.search(r'class="kb-source-link" href="([^"]+)"', card).group(1)
    state = decode_query_string(unquote(href.replace("&amp;", "&")))
    assert state.q == "若い女性の転出"
    assert (state.doc, state.lines) == ("kumamoto-sousei-senryaku-2", (846, 854))


def test_malicious_plan_text_title_and_path_are_escaped():
    chunk = make_chunk(text=f"転出 {EVIL}", title=EVIL, heading_path=(EVIL, "転出"), doc="evil-doc")
    result = make_result(chunk, query=f"転出 {EVIL}")
    kpis = [make_kpi(name=EVIL, doc="evil-doc", label=EVIL)]
    markup = render.results_html(result, highlight_terms(result), UIState(q=EVIL), lambda hit: kpis)
    markup += render.status_html(result, 0.1)
    collector = parsed(markup)
    assert "script" not in collector.tags and "img" not in collector.tags
    assert not any(a.startswith("on") for a in collector.attrs)
    assert "&lt;script&gt;" in markup


def test_highlight_terms_include_query_words_and_expansions_but_not_fragments(searcher):
    result = searcher.search("観光", k=3)
    terms = highlight_terms(result, searcher.analyzer)
    assert "観光" in terms and "インバウンド" in terms
    assert "イン" not in terms  # a morpheme of an expansion, not a word the user typed
    assert terms == sorted(terms, key=len, reverse=True)  # longest first: 観光振興 before 観光


def test_split_preview_keeps_the_first_match_visible():
    text = "あ" * 500 + "。転出超過への対策を行う。" + "い" * 300
    head, tail = render.split_preview(text, ["転出超過"])
    assert "転出超過" in head and tail
    assert head + "\n" + tail == text or head + tail == text
    assert render.split_preview("短い文。", ["転出"]) == ("短い文。", "")


def test_results_root_carries_the_state_url_and_empty_results_say_so():
    state = UIState(q="子育て", city="熊本市")
    empty = make_result(query="子育て")
    markup = render.results_html(empty, [], state)
    assert 'data-state-url="?q=%E5%AD%90%E8%82%B2%E3%81%A6&amp;city=%E7%86%8A%E6%9C%AC%E5%B8%82"' in markup
    assert L.NO_RESULTS[0] in markup and L.NO_RESULTS[1] in markup


def test_status_shows_interpretation_and_city_counts():
    kurume = make_chunk(city="久留米市", area="久留米市", doc="kurume-sousei-senryaku-3")
    result = make_result(make_chunk(), kurume)
    status = render.status_html(result, 0.123)
    assert "若い女性の転出" in status and "転出超過" in status
    assert "久留米市 1" in status and "熊本市 1" in status
    assert "0.12 秒 / s" in status
    assert "4 ms" in render.status_html(result, 0.004)


def test_status_warns_above_results_without_a_clear_match():
    result = make_result(make_chunk())
    assert L.NO_CLEAR_MATCH[0] not in render.status_html(result, 0.1)
    vague = SearchResult(query="qzxwvkjh", expanded=result.expanded, method="hybrid", hits=result.hits, timings={},
                         no_clear_match=True)
    status = render.status_html(vague, 0.1)
    assert "関連の薄い結果です" in status and "No clear match" in status
    assert status.index("関連の薄い結果です") < status.index(L.INTERPRETED)


def test_query_error_message_is_bilingual():
    markup = render.query_error_html("the query is empty; type a question or keywords")
    assert "検索語が空です" in markup and "The query is empty" in markup
    assert "Traceback" not in markup


def test_source_view_marks_hit_lines_with_numbers_and_metadata():
    view = SourceView(
        doc="kurume-sousei-senryaku-3", title="第3期久留米市地方創生総合戦略（骨子案）", city="久留米市",
        metadata={"kind": "地方創生総合戦略", "period": "2026-2030", "title_en": "Kurume <strategy>",
                  "doc": "kurume-sousei-senryaku-3", "area": "久留米市"},
        heading_path=("第2章", "5 基本目標"), line_start=11, line_end=12,
        rows=[(10, "前の行", False), (11, f"対象 {EVIL}", True), (12, "対象2", True), (13, "", False)],
    )
    markup = render.source_html(view, UIState(q="対象", doc="kurume-sousei-senryaku-3", lines=(11, 12)))
    assert re.findall(r'<tr class="kb-hit" data-line="(\d+)">', markup) == ["11", "12"]
    assert '<td class="kb-ln">10</td>' in markup
    assert "2026-2030" in markup and "Kurume &lt;strategy&gt;" in markup
    assert "第2章 → 5 基本目標" in markup
    assert "script" not in parsed(markup).tags


def test_welcome_lists_plans_with_cities():
    docs = [render.DocInfo("kurume-kouiki-vision-3", "ビジョン", "久留米市", "広域", 87)]
    markup = render.welcome_html(docs)
    assert "kb-wide" in markup and "ビジョン" in markup and "87" in markup


def test_kpis_in_card_link_to_their_table():
    births = make_kpi(line_start=930, line_end=930)
    names_only = make_kpi(name="合計特殊出生率", base_value=None, target_value=None, line_start=928, line_end=933)
    card = render.card_html(make_result(make_chunk()).hits[0], [], UIState(q="出生"), [names_only, births])
    assert '<details class="kb-kpi" open>' in card
    assert '<li class="kb-kpi-record">出生数: 6,766人 (H30(2018)) → 7,000以上人 (R5(2023))' in card
    assert "合計特殊出生率（KPI: 目標値の記載なし / no values in the plan）" in card
    assert "line=928-933" in card and "line=930" in card
    many = [births] * 6
    assert '<details class="kb-kpi">' in render.card_html(make_result(make_chunk()).hits[0], [], UIState(), many)


def test_a_hit_from_a_pdf_shows_its_pages():
    result = make_result(make_chunk(), make_chunk(line_start=20, line_end=24))
    pages = {0: (23, 23), 1: (23, 24)}
    markup = render.results_html(result, [], UIState(q="転出"), pages=lambda hit: pages[hit.rank - 1])
    assert "p.23</span>" in markup and "p.23–24</span>" in markup
    assert "kb-page" not in render.results_html(result, [], UIState(q="転出"))
