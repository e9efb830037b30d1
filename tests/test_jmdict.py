"""English → Japanese headwords from JMdict (jamdict-data): the reverse look-up's rules."""

from __future__ import annotations

import pytest

from kb.analysis.jmdict import EnglishDictionary, phrases

dictionary = EnglishDictionary()
needs_jmdict = pytest.mark.skipif(not dictionary.available, reason="jamdict-data is not installed")


def test_phrases_are_longest_first_and_skip_stopword_edges():
    found = phrases(["help", "for", "the", "elderly", "living", "alone"])
    assert found.index("elderly living alone") < found.index("living alone") < found.index("alone")
    assert "for the" not in found and "the elderly" not in found


@needs_jmdict
def test_an_exact_gloss_finds_its_kanji_headword():
    assert dictionary.headwords("vacant house")[0][0] == "空き家"
    assert "空き家" in [h for h, _ in dictionary.headwords("vacant houses")]  # plural → singular gloss


@needs_jmdict
def test_translations_of_an_everyday_question():
    found = {t.headword for t in dictionary.translate("Is there help for elderly people living alone?")}
    assert {"独居", "一人暮らし"} & found


@needs_jmdict
def test_kana_readings_of_kanji_entries_are_never_headwords():
    for translation in dictionary.translate("car childcare tourism"):
        assert not all("\u3040" <= ch <= "\u309f" for ch in translation.headword), translation


def test_without_the_database_nothing_is_translated(tmp_path):
    empty = EnglishDictionary(path=None)
    empty.path = None
    assert empty.translate("vacant house") == []
