"""Query understanding: synonyms, English glossary, and the data file's hygiene."""

from __future__ import annotations

from collections import Counter

from kb.search.expand import QueryExpander, QueryVocabulary, _content_words, detect_language


def _expander() -> QueryExpander:
    return QueryExpander(QueryVocabulary.load())


def test_vocabulary_file_is_well_formed():
    vocabulary = QueryVocabulary.load()
    assert vocabulary.version
    assert len(vocabulary.synonyms) >= 60 and len(vocabulary.glossary) >= 250
    assert all(len(g.terms) >= 2 for g in vocabulary.synonyms)
    keys = Counter(key for entry in vocabulary.glossary for key in entry.en)
    assert not [k for k, n in keys.items() if n > 1]
    # keys are matched without articles ("start a business" = "start business"): that must not
    # make two entries' keys the same
    owners: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for entry in vocabulary.glossary:
        for key in entry.en:
            owners.setdefault(tuple(_content_words(key)), set()).add(entry.ja)
    assert not [k for k, entries in owners.items() if len(entries) > 1]
    terms = Counter(t for g in vocabulary.synonyms for t in set(g.terms))
    assert not [t for t, n in terms.items() if n > 1], "a term in two groups would chain them"


def test_japanese_synonyms_are_added():
    expanded = _expander().expand("人口流出を食い止めたい")
    added = {e.term for e in expanded.expansions}
    assert {"転出超過", "社会減"} <= added
    assert expanded.language == "ja"
    assert "転出超過" in expanded.describe()


def test_dense_text_names_a_few_plan_synonyms_beside_the_query():
    vocabulary = QueryVocabulary.load()
    expanded = QueryExpander(vocabulary).expand("人口流出を食い止めたい")
    assert expanded.dense_text.startswith("人口流出を食い止めたい (")
    assert "転出超過" in expanded.dense_text
    named = expanded.dense_text.split(" (", 1)[1].rstrip(")").split("、")
    assert len(named) == 4
    assert QueryExpander(vocabulary, dense_terms=0).expand("人口流出を食い止めたい").dense_text == "人口流出を食い止めたい"
    assert QueryExpander(vocabulary).expand("DXの推進").dense_text.count("(") <= 1


def test_english_is_translated_for_lexical_and_dense_search():
    expanded = _expander().expand("which measures address the outflow of young women")
    added = {e.term for e in expanded.expansions}
    assert "若い女性" in added and ("転出" in added or "人口流出" in added)
    assert expanded.language == "en"
    assert "若い女性" in expanded.dense_text
    assert "which" not in added


def test_language_detection():
    assert detect_language("子育て支援") == "ja"
    assert detect_language("child care support") == "en"
    assert detect_language("DX 推進") == "ja"


TINY_GLOSSARY = """
[meta]
version = "t"

[[glossary]]
en = ["metropolitan areas", "big cities"]
ja = ["大都市圏"]

[[glossary]]
en = ["metropolitan area"]
ja = ["連携中枢都市圏"]

[[glossary]]
en = ["homes"]
ja = ["住宅"]

[[glossary]]
en = ["return home"]
ja = ["Uターン"]
whole = true

[[glossary]]
en = ["outflow of young women"]
ja = ["若年層の流出"]

[[glossary]]
en = ["young women"]
ja = ["若い女性"]
"""


def _tiny_expander(tmp_path) -> QueryExpander:  # type: ignore[no-untyped-def]
    path = tmp_path / "terms.toml"
    path.write_text(TINY_GLOSSARY, encoding="utf-8")
    return QueryExpander(QueryVocabulary.load(path))


def _translated(expander: QueryExpander, query: str) -> set[str]:
    return {e.term for e in expander.expand(query).expansions}


def test_a_key_as_written_beats_another_entrys_plural_fold(tmp_path):
    expander = _tiny_expander(tmp_path)
    assert _translated(expander, "moving to metropolitan areas") == {"大都市圏"}
    assert _translated(expander, "the Kurume metropolitan area") == {"連携中枢都市圏"}
    assert _translated(expander, "a home") == {"住宅"}, "plural folding still applies when nothing matches as written"


def test_a_whole_entry_keeps_its_words_to_itself(tmp_path):
    expander = _tiny_expander(tmp_path)
    assert _translated(expander, "help graduates return home") == {"Uターン"}
    assert _translated(expander, "return home and buy homes") == {"Uターン", "住宅"}
    # entries are not whole by default: the shorter phrase inside is translated as well
    assert _translated(expander, "outflow of young women") == {"若年層の流出", "若い女性"}


def test_real_vocabulary_resolves_the_old_plural_collisions():
    expander = _expander()
    assert "出産" in _translated(expander, "support for childbirth")
    assert "出生数" in _translated(expander, "number of births")
    assert "住宅" not in _translated(expander, "young people who return home")


def test_articles_and_possessives_do_not_break_a_phrase(tmp_path):
    path = tmp_path / "terms.toml"
    path.write_text('[meta]\nversion = "t"\n\n[[glossary]]\nen = ["start a business"]\nja = ["創業"]\n', encoding="utf-8")
    expander = QueryExpander(QueryVocabulary.load(path))
    for query in ("people who start their own business", "start a business", "help to start business"):
        assert _translated(expander, query) == {"創業"}, query


def test_questions_about_amounts_want_kpis():
    from kb.search.expand import detect_kpi_intent

    assert detect_kpi_intent("社会動態はどれくらいのプラスを目標にしている？")
    assert detect_kpi_intent("What percentage of graduates stay?")
    assert not detect_kpi_intent("若い女性の転出を抑える施策は？")


def test_acronyms_are_kept_but_not_the_pronoun_i():
    """"I" would match every heading numbered Ⅰ (NFKC folds Ⅰ to I)."""
    kept = {e.term for e in _expander().expand("I want to know about the KKR and its XYZ").expansions
            if e.reason == "kept as written"}
    assert kept == {"KKR", "XYZ"}


def test_katakana_terms_match_whole_words_only():
    """バス (bus) is not inside バスケ (basketball); コミュニティ is a word inside コミュニティセンター."""
    from kb.search.expand import find_word

    assert find_word("サッカーやバスケのクラブ", "バス") == -1
    assert find_word("路線バスの確保", "バス") == 2
    assert find_word("コミュニティセンターの活用", "コミュニティ") == 0
    assert find_word("子育て支援の充実", "子育て") == 0  # kanji/kana terms still match inside compounds
    assert not any(e.term == "公共交通" for e in _expander().expand("地元のバスケのクラブと組む取組").expansions)
