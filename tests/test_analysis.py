"""Lexical analysis: lemmas of content words, one tagger."""

from kb.analysis.lemmas import JapaneseAnalyzer


def test_terms_are_content_word_lemmas():
    analyzer = JapaneseAnalyzer()
    assert analyzer.terms("若い女性の転出を抑える施策は？") == ["若い", "女性", "転出", "押さえる", "施策"]
    assert analyzer.terms("移住就業促進に取り組みます。")[-1] == "取り組む"


def test_width_and_case_are_folded():
    analyzer = JapaneseAnalyzer()
    assert analyzer.terms("ＤＸ") == analyzer.terms("dx") == ["dx"]
    assert "uij" in analyzer.terms("ＵＩＪターン")


def test_numbers_are_kept_and_particles_dropped():
    terms = JapaneseAnalyzer().terms("令和12年度末の人口を29万5千人と設定します")
    assert "29" in terms and "人口" in terms
    assert "の" not in terms and "を" not in terms


def test_function_verbs_and_formal_nouns_are_dropped_in_their_lemma_spelling():
    """UniDic reports する as 為る and こと as 事; the stop list must catch those forms."""
    terms = JapaneseAnalyzer().terms("できることがあるようにする。そのためになるものがいる")
    assert terms == []
    assert JapaneseAnalyzer().terms("空き家の活用を推進する") == ["空き家", "活用", "推進"]


def test_one_tagger_is_reused():
    analyzer = JapaneseAnalyzer()
    analyzer.terms("一")
    tagger = analyzer.tagger
    analyzer.terms("二")
    assert analyzer.tagger is tagger
