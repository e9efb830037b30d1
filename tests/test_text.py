"""Text helpers: normalisation and joining lines the PDF wrapped."""

from kb.ingest.text import continues, join_wrapped, normalize, wrap_width


def test_normalize_folds_width_and_controls():
    assert normalize("ＵＩＪターン\u3000 ＤＸ\x07") == "UIJターン DX"


def test_wrapped_lines_are_glued_but_bullets_and_sentences_are_not():
    width = 38
    lines = [
        "・ 食品、医療・介護・健康、環境、クリエイティブの各産業で、産学官連携な",
        "どによる企業の技術革新、新分野進出などを促進します。",
        "・ 本市の優遇制度などをＰＲします。",
    ]
    assert join_wrapped(lines, width) == (
        "・ 食品、医療・介護・健康、環境、クリエイティブの各産業で、産学官連携などによる企業の技術革新、新分野進出などを促進します。\n"
        "・ 本市の優遇制度などをＰＲします。"
    )


def test_short_unfinished_lines_end_there():
    # A bullet shorter than the page width was not wrapped: the next line is new.
    assert not continues("・ 福岡都市圏をターゲットとした移住促進の強化", "久留米の魅力を広める", 50)
    assert continues("x" * 50, "続き", 50)


def test_wrap_width_finds_the_pages_line_length(documents):
    assert 35 <= wrap_width(documents["kumamoto-sousei-senryaku-2"].lines) <= 41
    assert 48 <= wrap_width(documents["kurume-mirai-design-2035"].lines) <= 53
