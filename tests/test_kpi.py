"""Structured KPIs: real values checked against the plan text, coverage per document,
odd table layouts on tiny hand-made fixtures, and the chunk → KPI lookup."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.kpi import layouts
from kb.kpi.extract import (
    FIRST_PERIOD_REVIEW,
    INDICATOR,
    Kpi,
    coverage,
    extract_kpis,
    filter_kpis,
    kpis_for_chunk,
    number,
    read_gold,
    year_ad,
)

ROOT = Path(__file__).resolve().parents[1]
GOLD = ROOT / "eval" / "compare" / "kpi_rows.toml"
FIXTURES = Path(__file__).parent / "fixtures"
KUMAMOTO = "kumamoto-sousei-senryaku-2"
STRATEGY = "kurume-sousei-senryaku-3"
PLAN = "kurume-mirai-design-2035"
VISION = "kurume-kouiki-vision-3"

#: KPI rows per document, counted by reading corpus/*.txt (listed one by one in GOLD).
ROWS_IN_TEXT = {KUMAMOTO: 41, VISION: 19, PLAN: 42, STRATEGY: 1, "kurume-kouiki-web": 0}


@pytest.fixture(scope="module")
def extraction(documents):
    return extract_kpis(documents.values())


def _one(kpis: list[Kpi], doc: str, line: int) -> Kpi:
    found = [k for k in kpis if k.doc == doc and k.line_start == line]
    assert len(found) == 1, (doc, line, found)
    return found[0]


def _lines(path: Path) -> list[tuple[int, str]]:
    return list(enumerate(path.read_text(encoding="utf-8").splitlines(), start=1))


# ----------------------------------------------------------------------------- real values


def test_kurume_strategy_target_population(extraction):
    kpi = _one(extraction.kpis, STRATEGY, 402)
    assert (kpi.label, kpi.name, kpi.target_value, kpi.unit) == ("目標人口", "目標人口", "29万5千", "人")
    assert kpi.target_year == "令和12(2030)年度末"
    assert number(kpi.target_value) == 295000 and year_ad(kpi.target_year) == 2030
    assert kpi.base_value is None and "住民基本台帳" in kpi.note


@pytest.mark.parametrize(
    ("line", "name", "unit", "base", "base_year", "target", "target_year"),
    [
        (324, "市内総生産額", "十億円", "2,496", "H27(2015)", "2,692", "R5(2023)"),
        (330, "年転入超過数", "人", "494", "H31(2019)", "400", "R5(2023)"),
        (843, "出生数", "人", "6,766", "H30(2018)", "7,000以上", "R5(2023)"),
        (1095, "居住誘導区域の人口密度(住民基本台帳ベース)", "人/ha", "60.5", "H30(2018)", "60.7", "R5(2023)"),
        (1097, "地域活動(自治会などの活動、ボランティア・NPOの活動など)に参加した市民の割合", "%", "41.2",
         "H30(2018)", "44", "R5(2023)"),
    ],
)
def test_kumamoto_numeric_targets_of_the_three_goals(extraction, line, name, unit, base, base_year, target, target_year):
    kpi = _one(extraction.kpis, KUMAMOTO, line)
    assert kpi.label == "数値目標"
    assert (kpi.name, kpi.unit, kpi.base_value, kpi.base_year, kpi.target_value, kpi.target_year) == (
        name, unit, base, base_year, target, target_year)
    assert kpi.path[-1].startswith("基本目標")  # the goal it belongs to, not a measure


def test_kumamoto_measure_kpis_hang_on_their_measure(extraction):
    jobs = _one(extraction.kpis, KUMAMOTO, 508)
    assert jobs.name == "熊本県内における正社員の有効求人倍率" and (jobs.base_value, jobs.target_value) == ("1.14", "1.00")
    assert jobs.path[-1].startswith("(１) 魅力あるしごとの創出")
    waiting = _one(extraction.kpis, KUMAMOTO, 1003)  # base and target on their own lines, per-row year
    assert (waiting.base_value, waiting.base_year, waiting.target_value) == ("6", "H31(2019)", "0")
    assert waiting.path[-1] == "(２) 子ども・子育て支援の充実"
    again = _one(extraction.kpis, KUMAMOTO, 931)
    assert again.reprint and again.name == "出生数"


def test_kumamoto_first_period_review_tables(extraction):
    review = [k for k in extraction.kpis if k.period == FIRST_PERIOD_REVIEW]
    assert len(review) == 20
    waiting = _one(extraction.kpis, KUMAMOTO, 2875)
    assert (waiting.base_value, waiting.base_year, waiting.target_value, waiting.target_year) == ("397", "H27", "0", "H31")
    assert [(p.column, p.value) for p in waiting.progress if not p.column.startswith("目標")] == [
        ("H28", "0"), ("H29", "0"), ("H30", "0"), ("H31", "6")]
    gdp = _one(extraction.kpis, KUMAMOTO, 2391)  # figures carry the year they describe: 2,325 (H24)
    assert (gdp.base_value, gdp.base_year, gdp.target_value) == ("2,325", "H24", "2,541")
    births = _one(extraction.kpis, KUMAMOTO, 2820)
    assert "概算値" in births.note  # the table's ※ note travels with its row


def test_vision_kpis_and_second_period_results(extraction):
    gdp = _one(extraction.kpis, VISION, 583)
    assert (gdp.base_value, gdp.base_year, gdp.target_value, gdp.target_year, gdp.unit) == (
        "15,048", "R4年度", "15,900", "R9年度", "億円")
    new = _one(extraction.kpis, VISION, 692)
    assert new.base_value is None and new.target_value == "12"  # "- → 12件": no baseline, none invented
    migration = _one(extraction.kpis, VISION, 756)
    assert (migration.base_value, migration.target_value, migration.target_year) == (None, "2,500", "R8~R12年の累計")
    workers = _one(extraction.kpis, VISION, 371)
    assert workers.label == "成果指標" and workers.target_value == "131,600"
    assert [p.value for p in workers.progress] == ["124,828人", "124,878人", "123,552人"]
    assert "進捗×" in workers.note
    population = _one(extraction.kpis, VISION, 499)
    assert (population.label, population.target_value, population.target_year) == ("目標人口", "43.6万", "令和12年度末")


def test_comprehensive_plan_population_frame_and_indicator_names(extraction):
    frame = _one(extraction.kpis, PLAN, 421)
    assert (frame.label, frame.target_value, year_ad(frame.target_year)) == ("人口フレーム", "29万", 2035)
    indicators = [k for k in extraction.kpis if k.doc == PLAN and k.label == INDICATOR]
    assert len(indicators) == 40
    assert all(k.target_value is None and k.base_value is None for k in indicators)  # names only: no values invented
    assert {k.path[-1][:4] for k in indicators} == {f"施策{n:02d}" for n in range(1, 34)}  # one entry per 施策
    childcare = next(k for k in indicators if k.name == "子育てしやすいまちだと感じる市民の割合")
    assert childcare.path[-1].startswith("施策13") and "目標値の記載なし" in childcare.describe()
    joint = next(k for k in indicators if k.line_start == 1555)  # 、 inside one indicator does not split it
    assert joint.name == "市民活動団体や地域コミュニティ組織、事業者等との協働事業数"


# ----------------------------------------------------------------------------- coverage


def test_coverage_per_document(extraction, documents):
    rows = {row.doc: row for row in coverage(extraction, read_gold(GOLD), sorted(documents))}
    assert {doc: row.in_text for doc, row in rows.items()} == ROWS_IN_TEXT
    for doc, row in rows.items():
        assert row.missing == (), row.missing
        assert row.found == row.extracted == row.in_text, doc
        assert row.problems == 0, doc
    assert rows[PLAN].names_only == 40 and rows[KUMAMOTO].with_values == 41
    assert extraction.problems == []


# ----------------------------------------------------------------------------- fixtures


def test_floating_table_layouts():
    rows, problems = layouts.floating_table(_lines(FIXTURES / "kpi_floating.txt"))
    by_name = {r.name: r for r in rows}
    gdp = by_name["市内総生産額"]
    assert (gdp.unit, gdp.base, gdp.base_year, gdp.target, gdp.target_year) == ("十億円", "2,496", "H27(2015)", "2,692", "R5(2023)")
    wrapped = by_name["地域活動(自治会などの活動、ボランティア・NPOの活動など)に参加した市民の割合"]
    assert wrapped.reprint and (wrapped.unit, wrapped.base, wrapped.target) == ("%", "41.2", "44")
    transit = by_name["公共交通機関の年間利用者数"]
    assert (transit.base, transit.base_year, transit.target) == ("53,721", "H29(2017)", "56,000")
    assert by_name["出生数"].target == "7,000以上"
    assert [p.text for p in problems] == ["壊れた行の指標名だけが残った"]  # reported, not turned into a row


def test_appendix_table_layouts():
    rows, problems = layouts.appendix_table(_lines(FIXTURES / "kpi_appendix.txt"))
    assert [r.name for r in rows] == ["保育所等利用待機児童数", "公共交通機関の年間利用者数", "出生数"]
    waiting, transit, births = rows
    assert (waiting.base, waiting.target) == ("397", "0")  # 基準値 landed on the 目標値 row
    assert (transit.base, transit.base_year, transit.target, transit.target_year) == ("55,436", "H26", "55,302", "H30")
    assert births.target == "7,000以上" and births.progress[0].value == "6,797" and "概算値" in births.note
    assert problems == []


def test_diamond_and_progress_layouts():
    rows, problems = layouts.diamond_kpis(_lines(FIXTURES / "kpi_diamond.txt"))
    assert [(r.name, r.base, r.target, r.target_year) for r in rows] == [
        ("圏域の総生産額", "15,048", "15,900", "R9年度"),
        ("大学等と連携した事業実施数", None, "12", "R12年度"),
        ("生活関連機能サービスの利用者数", "16,443", "20,000", "R12年度"),
    ]
    assert [p.text for p in problems] == ["目標だけで値のない指標"]
    rows, problems = layouts.progress_table(_lines(FIXTURES / "kpi_progress.txt"))
    assert [r.name for r in rows] == ["圏域の総生産額", "講演会・研修会への連携市町職員の延べ参加人数"]
    assert (rows[1].base, rows[1].unit, rows[1].target) == ("313", "人/4年", "350") and "78.25人/年" in rows[1].note
    assert len(problems) == 1 and "番号のない行" in problems[0].text


def test_split_indicators_and_numbers():
    assert layouts.split_indicators("一般刑法犯認知件数、体感治安") == ["一般刑法犯認知件数", "体感治安"]
    assert layouts.split_indicators("支え合いの場の数（通いの場、集いの場など）") == ["支え合いの場の数（通いの場、集いの場など）"]
    assert number("2,496") == 2496 and number("7,000以上") == 7000 and number("約70万") == 700000
    assert number("29万5千") == 295000 and number("43.6万") == 436000 and number(None) is None
    assert year_ad("H30(2018)") == 2018 and year_ad("R4年度") == 2022 and year_ad("令和12年度末") == 2030


# ----------------------------------------------------------------------------- lookup


def _chunk(chunks, doc: str, line: int):
    return next(c for c in chunks[doc] if c.line_start <= line <= c.line_end and line in c.lines)


def test_kpis_for_chunk(extraction, chunks):
    kpis = extraction.kpis
    first = _chunk(chunks, KUMAMOTO, 365)  # (１) ① 新事業の創出支援
    assert [k.line_start for k in kpis_for_chunk(first, kpis)] == [508, 510, 512]
    farms = _chunk(chunks, KUMAMOTO, 487)  # (２) ② whose span contains (１)'s floating table
    assert [k.name for k in kpis_for_chunk(farms, kpis)] == ["販売農家一戸あたりの出荷額(推計)"]
    assert {k.label for k in kpis_for_chunk(first, kpis, inherit=True)} == {"数値目標", "KPI"}
    sick_children = _chunk(chunks, VISION, 786)  # 連携事業18 gets its field's KPIs
    assert [k.name for k in kpis_for_chunk(sick_children, kpis)] == ["生活関連機能サービスの利用者数", "圏域人口の社会動態"]
    childcare = _chunk(chunks, PLAN, 2143)
    assert [k.name for k in kpis_for_chunk(childcare, kpis)] == ["子育てしやすいまちだと感じる市民の割合"]
    table = _chunk(chunks, KUMAMOTO, 2536)  # a chunk that *is* a review table shows its rows
    assert [k.line_start for k in kpis_for_chunk(table, kpis)] == [2536, 2550, 2560]


def test_filter_kpis(extraction):
    assert {k.doc for k in filter_kpis(extraction.kpis, city="広域")} == {VISION}
    births = filter_kpis(extraction.kpis, city="熊本市", query="出生数")
    assert [k.line_start for k in births] == [843, 931, 2430, 2820]
    assert filter_kpis(extraction.kpis, doc=STRATEGY)[0].name == "目標人口"
