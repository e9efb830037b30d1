"""The general outline detector: alone on the five plans (against their family parsers) and on small texts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kb.chunk import chunk_document
from kb.evaluation.outline import evaluate, report
from kb.ingest.corpus import Document, split_lines
from kb.ingest.parse import family_for, general, parse_document
from kb.ingest.parse.general import candidate, number_of
from kb.ingest.parse.model import GOAL, KPI, MEASURE, PARAGRAPH

#: Floors just under what eval/outline.py measured (precision, recall of heading lines;
#: goal, measure counts found). A change to the detector that loses headings fails here.
FLOORS = {
    "kumamoto-sousei-senryaku-2": (0.80, 0.70, 15, 60),
    "kurume-kouiki-vision-3": (0.93, 0.77, 3, 35),
    "kurume-kouiki-web": (0.40, 0.10, 0, 0),
    "kurume-mirai-design-2035": (0.85, 0.36, 10, 0),
    "kurume-sousei-senryaku-3": (0.65, 0.95, 4, 12),
}


@pytest.fixture(scope="module")
def scores():
    return {s.doc: s for s in evaluate()}


def test_scores_stay_above_their_floors(scores):
    print(report(list(scores.values())))
    assert set(scores) == set(FLOORS)
    for doc, (precision, recall, goals, measures) in FLOORS.items():
        s = scores[doc]
        assert s.precision >= precision, (doc, s.precision)
        assert s.recall >= recall, (doc, s.recall)
        assert s.found_kinds[GOAL] >= goals, (doc, s.found_kinds)
        assert s.found_kinds[MEASURE] >= measures, (doc, s.found_kinds)
    matched = sum(s.matched for s in scores.values())
    assert matched / sum(s.found_headings for s in scores.values()) >= 0.80
    assert matched / sum(s.gold_headings for s in scores.values()) >= 0.65
    assert sum(s.same_kind for s in scores.values()) / matched >= 0.65  # goal/measure/kpi/paragraph agree


def test_the_five_plans_are_still_claimed_by_their_families(documents):
    assert all(family_for(doc).FAMILY != general.FAMILY for doc in documents.values())


def _text(*lines: str) -> str:
    return "\n".join(lines)


def _doc(text: str) -> Document:
    base = Document(doc="new-plan", path=None, title="新しい計画", city="久留米市", area="久留米市",  # type: ignore[arg-type]
                    municipality="久留米市")
    return replace(base, lines=split_lines(text))


PLAN = """\
第1章 計画の概要

1 計画の目的

本計画は、市の将来像を示すものです。

2 計画の期間

令和8年度から令和12年度までの5年間とします。

第2章 施策の展開

基本目標1 子育てしやすいまちをつくる

(1) 子育て支援の充実

① 相談体制の強化

・妊娠期から切れ目なく相談できる体制を整えます。

② 経済的負担の軽減

・保育料の負担を軽減します。

■数値目標

合計特殊出生率 1.43 → 1.60

(2) 教育環境の整備

① 学校施設の改修

基本目標2 働く場をつくる

(1) 企業誘致の推進

参考資料
"""


def test_numbered_headings_nest_by_scheme_and_get_kinds():
    parsed = parse_document(_doc(PLAN))
    assert parsed.family == general.FAMILY
    by_title = {s.title: s for s in parsed.sections}
    goal = by_title["基本目標1 子育てしやすいまちをつくる"]
    assert goal.kind == GOAL and goal.path[1:] == ("第2章 施策の展開", goal.title)
    measure = by_title["① 相談体制の強化"]
    assert measure.kind == MEASURE
    assert measure.path[1:] == ("第2章 施策の展開", goal.title, "(1) 子育て支援の充実", "① 相談体制の強化")
    assert measure.goal == goal.title
    kpi = by_title["■数値目標"]
    assert kpi.kind == KPI and kpi.path[-2] == "② 経済的負担の軽減"
    # a KPI label is a leaf: the next (2) is the sibling of (1), not its child
    # (an empty heading hands its title line to its first child: one chunk, not two)
    assert by_title["① 学校施設の改修"].path[-3:-1] == (goal.title, "(2) 教育環境の整備")
    second = by_title["基本目標2 働く場をつくる"]
    assert second.path[-2] == "第2章 施策の展開"
    assert by_title["(1) 企業誘致の推進"].path[-2] == second.title
    assert by_title["参考資料"].path == ("新しい計画", "参考資料")
    assert by_title["1 計画の目的"].kind == PARAGRAPH


def test_chunks_of_a_general_outline_carry_heading_paths():
    doc = _doc(PLAN)
    chunks = chunk_document(doc, parse_document(doc))
    kinds = {c.kind for c in chunks}
    assert {GOAL, MEASURE, KPI} <= kinds
    lines = [n for c in chunks for n in c.lines]
    assert len(lines) == len(set(lines))
    hit = next(c for c in chunks if "保育料" in c.text)
    assert hit.heading_path[-1] == "② 経済的負担の軽減"


def test_numbered_prose_repeats_and_footnotes_are_not_headings():
    text = _text(
        "1 はじめに", "本文です。", "4 途中の番号は見出しではない", "本文です。",  # 4 does not follow 1
        "2 目的", "5 ＵＩＪターン：都市部から地方へ移住すること。本市では移住支援を行っています。",
        "① 一つ目", "① 一つ目", "本文。",  # the same label twice is a repeat, not a new heading
        "◇圏域の総生産額 15,048 億円 → 15,900 億円",
    )
    parsed = general.parse(_doc(text))
    titles = [s.title for s in parsed.sections if s.heading]
    assert titles == ["1 はじめに", "2 目的", "① 一つ目"]


def test_numbering_may_run_through_goals():
    text = _text("【基本目標1 暮らし】", "①安全", "②安心", "【基本目標2 経済】", "③産業", "④農業")
    parsed = general.parse(_doc(text))
    measures = [s.title for s in parsed.sections if s.kind == MEASURE]
    assert measures == ["①安全", "②安心", "③産業", "④農業"]
    assert parsed.sections[-1].path[-2] == "【基本目標2 経済】"


def test_a_bare_label_takes_its_title_from_the_next_line():
    text = _text("基本目標１", "「安心して子どもを産み育てられるまちを実現する」", "本文です。")
    (section,) = [s for s in general.parse(_doc(text)).sections if s.heading]
    assert section.heading == [1, 2] and section.kind == GOAL


def test_markdown_headings_from_html_set_their_own_levels():
    text = _text("# 子育て支援計画", "前文。", "## 基本目標1 安心", "### 施策 相談", "本文。", "## 基本目標2 経済")
    parsed = general.parse(_doc(text))
    by_title = {s.title: s for s in parsed.sections}
    assert by_title["施策 相談"].path[1:] == ("子育て支援計画", "基本目標1 安心", "施策 相談")
    assert by_title["基本目標2 経済"].path[1:] == ("子育て支援計画", "基本目標2 経済")


@pytest.mark.parametrize(("token", "value"), [("1", 1), ("１２", 12), ("③", 3), ("ウ", 3), ("Ⅳ", 4), ("十二", 12)])
def test_numbers_in_every_notation(token, value):
    assert number_of(token) == value


def test_table_rows_and_sentences_are_not_candidates():
    assert candidate("1 2020 303,316 302,000") is None
    assert candidate("■ 本市では子育て支援を強化します。") is None
    assert candidate("第3章 施策の展開") is not None


def test_vertical_labels_read_as_words():
    doc = _doc(_text("(1) 子育て支援", "方", "", "向", "", "性", "相談体制を充実します。"))
    parsed = general.parse(doc)
    assert parsed.display[2] == "方向性"
    chunk = next(c for c in chunk_document(doc, parsed) if "相談体制" in c.text)
    assert "方向性" in chunk.text and set(chunk.lines) >= {2, 4, 6}


def test_a_title_far_above_its_text_never_makes_a_chunk_span_too_long():
    """A page of noise (here blank lines) between a heading and its text: the chunk span stays citable."""
    from kb.chunk import MAX_SPAN

    doc = _doc(_text("■市独自推計結果", *[""] * 60, "本文です。", "(1) 次の見出し", "本文。"))
    chunks = chunk_document(doc, general.parse(doc))
    assert chunks and all(c.line_end - c.line_start < MAX_SPAN for c in chunks)
    assert sorted(n for c in chunks for n in c.lines) == [1, 62, 63, 64]
