"""Search on the real index: acceptance queries, filters, diversification, bad input."""

from __future__ import annotations

import pytest

from kb.search.searcher import MAX_QUERY_CHARS, Filters, QueryError, balance_cities, same_measure, validate_query

ACCEPTANCE = ["which measures address the outflow of young women", "若い女性の転出超過"]


@pytest.mark.parametrize("query", ACCEPTANCE)
def test_young_women_outflow_finds_measures_of_both_cities(searcher, query):
    hits = searcher.search(query, k=10).hits
    cities = {h.chunk.city for h in hits}
    assert {"久留米市", "熊本市"} <= cities
    assert any(h.chunk.kind in ("measure", "goal") and h.chunk.city == "熊本市" for h in hits)
    assert any(h.chunk.kind in ("measure", "goal") and h.chunk.city == "久留米市" for h in hits)


def test_hits_carry_exact_spans_and_text(searcher, documents):
    hit = searcher.search("病児保育", k=3).hits[0]
    doc = documents[hit.chunk.doc]
    assert 1 <= hit.line_start <= hit.line_end <= len(doc.lines)
    assert "病児保育" in "".join(doc.line(n) for n in range(hit.line_start, hit.line_end + 1))
    assert hit.rank == 1 and hit.score > 0


@pytest.mark.parametrize("method", ["lexical", "dense", "hybrid"])
def test_every_method_answers(searcher, method):
    result = searcher.search("子育て支援", k=5, method=method)
    assert len(result.hits) == 5
    assert [h.rank for h in result.hits] == [1, 2, 3, 4, 5]


def test_filters_restrict_results(searcher):
    kumamoto = searcher.search("観光客の誘致", k=10, filters=Filters(city="熊本市")).hits
    assert kumamoto and all(h.chunk.city == "熊本市" for h in kumamoto)
    wide = searcher.search("観光", k=5, filters=Filters(city="広域")).hits
    assert wide and all(h.chunk.area == "広域" for h in wide)
    one_doc = searcher.search("交通", k=5, filters=Filters(doc="kurume-mirai-design-2035")).hits
    assert all(h.chunk.doc == "kurume-mirai-design-2035" for h in one_doc)
    goal = searcher.search("交通", k=5, filters=Filters(goal="基本目標３")).hits
    assert goal and all("基本目標３" in h.chunk.goal for h in goal)


def test_unknown_filters_are_refused(searcher):
    with pytest.raises(QueryError, match="unknown document"):
        searcher.search("交通", filters=Filters(doc="nope"))
    with pytest.raises(QueryError, match="unknown city"):
        searcher.search("交通", filters=Filters(city="福岡市"))


def test_results_are_diversified(searcher):
    hits = searcher.search("子育て", k=10).hits
    sections = [(h.chunk.doc, h.chunk.section) for h in hits]
    assert max(sections.count(s) for s in sections) <= searcher.config.per_section
    assert all(h.line_end - h.line_start + 1 <= 60 for h in hits)


def test_comparison_queries_show_both_cities(searcher):
    hits = searcher.search("両市の観光振興を比較したい", k=10).hits
    by_city = [h.chunk.city for h in hits]
    assert by_city.count("久留米市") >= 3 and by_city.count("熊本市") >= 3


def test_the_interpretation_is_reported(searcher):
    result = searcher.search("人口流出", k=3)
    assert "転出超過" in result.expanded.describe()
    assert set(result.timings) >= {"expand", "lexical", "dense", "fusion"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty"),
        ("   \t ", "empty"),
        ("あ" * (MAX_QUERY_CHARS + 1), "too long"),
        ("子育て\x00支援", "control characters"),
        ("子育て\ud800", "not valid Unicode"),
        ("？？？ !!!", "no words"),
    ],
)
def test_bad_queries_get_a_clear_message(query, message):
    with pytest.raises(QueryError, match=message):
        validate_query(query)


def test_same_measure_merges_sub_measures(chunks):
    kumamoto = chunks["kumamoto-sousei-senryaku-2"]
    measure = "(１) 魅力あるしごとの創出と働く環境の整備"
    first, second = [c for c in kumamoto if len(c.heading_path) > 3 and c.heading_path[-2] == measure][:2]
    assert same_measure(first, second)
    assert not same_measure(first, kumamoto[0])


def test_city_balance_reserves_slots(searcher):
    hits = searcher.search("観光", k=30, filters=Filters(city="熊本市")).hits[:8]
    hits += searcher.search("観光", k=5, filters=Filters(city="久留米市")).hits[:5]
    balanced = balance_cities(hits, 10, ("久留米市", "熊本市"), 4)
    assert len(balanced) == 10
    assert sum(h.chunk.city == "久留米市" for h in balanced) == 4
    assert [h.rank for h in balanced] == list(range(1, 11))


@pytest.mark.parametrize(
    "filters",
    [Filters(), Filters(city="熊本市"), Filters(city="広域"), Filters(doc="kurume-kouiki-web"),
     Filters(goal="基本目標２"), Filters(city="久留米市", kind="measure")],
)
def test_filter_masks_match_the_filter_definition(searcher, filters):
    expected = [filters.allows(c) for c in searcher.chunks]
    assert searcher.allowed(filters).tolist() == expected
