"""The second analyser: Sudachi normalised forms and synonym groups (real dictionary, small texts)."""

from __future__ import annotations

from kb.analysis.sudachi import (
    SudachiAnalyzer,
    group_token,
    is_group_token,
    prune_groups,
    weighted_terms,
)


def _groups(terms):
    return {t for t in terms if is_group_token(t)}


def test_orthographic_variants_meet_in_one_normalised_form():
    analyzer = SudachiAnalyzer()
    forms = [[t for t in analyzer.terms(word) if not is_group_token(t)] for word in ("こども", "子ども", "子供")]
    assert forms[0] == forms[1] == forms[2] == ["子供"]


def test_synonyms_share_a_group_token():
    analyzer = SudachiAnalyzer()
    assert _groups(analyzer.terms("起業")) == _groups(analyzer.terms("創業")) == _groups(analyzer.terms("開業"))
    assert _groups(analyzer.terms("育児")) == _groups(analyzer.terms("子育て"))
    assert _groups(analyzer.terms("転居")) & _groups(analyzer.terms("移住"))
    assert not _groups(analyzer.terms("起業")) & _groups(analyzer.terms("育児"))


def test_ambiguous_words_and_numbers_get_no_group():
    """シティ is both 都市 and Citibank in the dictionary; 一 is ワン and 1."""
    analyzer = SudachiAnalyzer()
    assert not _groups(analyzer.terms("シティ"))
    assert not _groups(analyzer.terms("一"))
    assert "シティー" in analyzer.terms("シティ")


def test_particles_and_light_verbs_are_dropped():
    terms = SudachiAnalyzer().terms("空き家の活用を推進することができる")
    assert "空き家" in terms and "活用" in terms
    assert not {"の", "を", "為る", "する", "事", "出来る"} & set(terms)


def test_groups_in_one_chunk_only_or_without_synonyms_are_pruned():
    rare, common = group_token(21338), group_token(22054)  # 創業/起業/開業, 子育て/育児
    lonely = group_token(23069)  # 安心/安堵: has synonyms, but only one chunk has it here
    unknown = group_token(999_999_999)  # no dictionary entry names it: no synonyms to reach
    pruned = prune_groups([["創業", rare, "子育て", common, lonely, unknown], ["育児", common, unknown]])
    assert pruned == [["創業", "子育て", common], ["育児", common]]


def test_group_tokens_of_a_query_weigh_less_than_its_words():
    weights = weighted_terms(SudachiAnalyzer(), [("起業したい", 1.0), ("育児", 0.5)], 0.5)
    assert weights["起業"] == 1.0 and weights[group_token(21338)] == 0.5
    assert weights["育児"] == 0.5 and weights[group_token(22054)] == 0.25
