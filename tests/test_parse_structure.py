"""The plans' real structure, asserted against what reading them shows."""

from __future__ import annotations

import re
from collections import Counter

from kb.ingest.parse import family_for
from kb.ingest.parse.model import GOAL, KPI, MEASURE, PAGE_NUMBER, RUNNING_HEADER, TOC


def _sections(parsed, doc, **match):
    return [s for s in parsed[doc].sections if all(getattr(s, k) == v for k, v in match.items())]


def test_each_document_is_parsed_by_its_layout_family(documents):
    families = {name: family_for(doc).FAMILY for name, doc in documents.items()}
    assert families == {
        "kurume-sousei-senryaku-3": "strategy-directions",
        "kurume-mirai-design-2035": "comprehensive-plan",
        "kurume-kouiki-vision-3": "wide-area-vision",
        "kurume-kouiki-web": "web-page",
        "kumamoto-sousei-senryaku-2": "kumamoto-strategy",
    }


def test_kurume_strategy_has_4_goals_and_13_directions(parsed):
    goals = _sections(parsed, "kurume-sousei-senryaku-3", style="goal")
    assert [g.title for g in goals] == [
        "【基本目標1 安心して働き、暮らせる地域をつくる】",
        "【基本目標2 稼ぐ力を高め、地域経済を成長させる】",
        "【基本目標3 久留米市への新しい人の流れをつくる】",
        "【基本目標4 広域拠点の役割を果たす】",
    ]
    directions = _sections(parsed, "kurume-sousei-senryaku-3", kind=MEASURE)
    assert [d.title[0] for d in directions] == list("①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬")
    per_goal = Counter(d.path[-2] for d in directions)
    assert [per_goal[g.title] for g in goals] == [6, 2, 4, 1]
    # each direction owns its title line and its "・" detail line
    first = directions[0]
    assert parsed["kurume-sousei-senryaku-3"].sections and first.lines[-2:] == [448, 449]


def test_future_design_plan_has_10_goals_and_33_numbered_measures(parsed):
    goal_pages = _sections(parsed, "kurume-mirai-design-2035", style="goal-page")
    assert len(goal_pages) == 10
    vision_goals = _sections(parsed, "kurume-mirai-design-2035", style="goal")
    assert len(vision_goals) == 10
    measures = _sections(parsed, "kurume-mirai-design-2035", style="measure-page")
    assert [m.number for m in measures] == [f"{n:02d}" for n in range(1, 34)]
    per_goal = Counter(m.goal for m in measures)
    assert [per_goal[g.goal] for g in goal_pages] == [3, 4, 4, 4, 3, 4, 3, 3, 3, 2]
    titles = {m.number: m.title for m in measures}
    assert titles["16"] == "施策16 多彩な文化芸術活動の促進"  # title after the page header
    assert titles["30"] == "施策30 魅力を語りたくなる久留米イメージの創出・ＰＲ"
    assert titles["17"] == "施策17 スポーツに親しむ環境づくり"  # printed number missing on this page
    # the goal of a 基本構想 description and of its 基本計画 page are the same key
    assert {g.goal for g in vision_goals} == {g.goal for g in goal_pages} - {"「豊かな自然と快適な環境」を次世代につなぐ"} | {
        "「豊かな自然と恵まれた環境」を次世代につなぐ"
    }


def test_future_design_plan_noise(parsed):
    noise = parsed["kurume-mirai-design-2035"].noise
    assert noise[1610] == PAGE_NUMBER  # "38"
    assert noise[1606] == RUNNING_HEADER  # "１ 「安全・安心な暮らし」を守る施策"
    measure01 = next(s for s in parsed["kurume-mirai-design-2035"].sections if s.number == "01")
    assert 1608 in measure01.heading  # "01" is the measure's number, not a page


def test_stacked_two_column_headings_get_their_own_paragraphs(parsed):
    """「５．目標人口」「６．政策評価制度」 were extracted one after the other, bodies after both."""
    by_title = {s.title: s for s in parsed["kurume-mirai-design-2035"].sections}
    assert by_title["５．目標人口"].lines == [493, 497, 499, 501]  # 29万５千人 (2030)
    assert by_title["６．政策評価制度"].lines == [495, 503, 505, 507, 509, 511]
    assert by_title["１．目的"].lines[-2:] == [449, 451]
    assert by_title["２．性格"].lines == [445, 453]


def test_vertical_text_is_read_back_as_words(chunks):
    figure = next(c for c in chunks["kurume-mirai-design-2035"] if 634 in c.lines)
    assert "ツに親しむ環境づくり" in figure.text
    assert "まちの魅力を高める歴史遺産の継承" in figure.text


def test_kumamoto_has_3_goals_with_their_measures_and_4_projects(parsed):
    sections = parsed["kumamoto-sousei-senryaku-2"].sections
    goals = [s for s in sections if s.style == "goal"]
    assert [g.title.split()[0] for g in goals] == ["基本目標１", "基本目標２", "基本目標３"]
    measures_per_goal = Counter()
    for s in sections:
        if s.kind == MEASURE and s.goal.startswith("基本目標"):
            measure = next(p for p in s.path if re.match(r"^\(\S\)", p))
            measures_per_goal[(s.goal.split()[0], measure.split()[0])] += 1
    per_goal = Counter(goal for goal, _ in measures_per_goal)
    assert [per_goal[g] for g in ("基本目標１", "基本目標２", "基本目標３")] == [4, 3, 2]
    projects = [s for s in sections if s.style == "project"]
    assert [p.title[0] for p in projects] == list("ⅠⅡⅢⅣ")


def test_kumamoto_floating_kpi_tables_belong_to_their_measures(parsed):
    tables = {s.lines[0]: s for s in parsed["kumamoto-sousei-senryaku-2"].sections if s.style == "kpi-table"}
    assert len(tables) == 12  # 3 数値目標 + 9 KPI tables (4 + 3 + 2 measures)
    assert tables[320].path[-1] == "数値目標" and tables[320].path[-2].startswith("基本目標１")
    assert tables[505].path[-2] == "(１) 魅力あるしごとの創出と働く環境の整備"
    assert tables[597].path[-2] == "(２) 農水産業の振興"
    assert tables[928].path[-2] == "(１) 結婚・妊娠・出産支援の推進"
    assert tables[1000].path[-2] == "(２) 子ども・子育て支援の充実"
    assert tables[1011].path[-2] == "(３) 仕事と子育ての両立支援と若者の経済的安定"
    assert all(t.kind == KPI for t in tables.values())


def test_kumamoto_sentence_broken_by_a_floating_table_is_joined(chunks):
    direction = next(c for c in chunks["kumamoto-sousei-senryaku-2"] if 318 in c.lines)
    assert "地場企業の育成・振興に加え" in direction.text
    assert 320 not in direction.lines  # the table itself is its own chunk


def test_kumamoto_footnotes_are_notes_and_markers_leave_the_text(chunks, parsed):
    assert parsed["kumamoto-sousei-senryaku-2"].footnotes["5"] == "UIJターン"
    text = next(c for c in chunks["kumamoto-sousei-senryaku-2"] if 114 in c.lines).text
    assert "ＵＩＪターンなどによる移住就業促進" in text
    notes = [c for c in chunks["kumamoto-sousei-senryaku-2"] if c.heading_path[-1] == "脚注"]
    assert notes and any("ＵＩＪターン：" in c.text for c in notes)


def test_vision_has_3_fields_and_39_projects_renumbered(parsed):
    sections = parsed["kurume-kouiki-vision-3"].sections
    fields = [s for s in sections if s.style == "field"]
    assert len(fields) == 3 and all(f.kind == GOAL for f in fields)
    projects = [s for s in sections if s.style == "project"]
    assert [p.number for p in projects] == [str(n) for n in range(1, 40)]
    names = {p.number: p.title for p in projects}
    assert names["26"] == "連携事業26 市民活動活性化事業"  # printed as ②⑥
    assert names["31"] == "連携事業31 首都圏・福岡都市圏での移住促進事業"  # printed as ③
    per_field = Counter(p.goal for p in projects)
    assert [per_field[f.goal] for f in fields] == [10, 5, 24]


def test_tables_of_contents_are_noise(parsed):
    noise = parsed["kurume-sousei-senryaku-3"].noise
    assert all(noise.get(n) == TOC for n in (7, 9, 29, 40))
    assert 42 not in noise  # はじめに, the body, starts here
    assert parsed["kurume-kouiki-vision-3"].noise[11] == TOC


def test_every_non_noise_line_lands_in_exactly_one_chunk(documents, parsed, chunks):
    for name, doc in documents.items():
        owned = Counter(n for c in chunks[name] for n in c.lines)
        assert max(owned.values()) == 1, name
        for number in range(1, len(doc.lines) + 1):
            is_noise = number in parsed[name].noise
            assert is_noise != (number in owned), f"{name}:{number} {doc.line(number)!r}"


def test_noise_lines_are_only_blank_or_layout(documents, parsed):
    for name, doc in documents.items():
        for number, reason in parsed[name].noise.items():
            text = doc.line(number).strip()
            if reason == "blank":
                assert not text
            elif reason == PAGE_NUMBER:
                assert re.fullmatch(r"[-\s\d０-９]+", text), (name, number, text)
