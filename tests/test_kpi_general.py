"""KPIs of any plan (issue 27): the general reader on tiny fixtures and the test plans, the
five shipped plans' records pinned, and an added plan's KPIs through CLI, search and app."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb import service
from kb.chunk import chunk_document
from kb.ingest.add import PlanInfo
from kb.ingest.corpus import Document, split_lines
from kb.ingest.parse import parse_document
from kb.ingest.parse.common import fold_width
from kb.kpi.amounts import Amount, parse_amount
from kb.kpi.extract import Kpi, extract_document, extract_kpis, number, year_ad

FIXTURES = Path(__file__).parent / "fixtures"
FORMS = FIXTURES / "kpi" / "chikugogawa-wakamono.txt"
PLANS = FIXTURES / "plans"
CITY = "筑後川市"
#: The records of the five shipped plans before the general reader existed (to_json, one per line).
SHIPPED = FIXTURES / "kpi" / "shipped_records.jsonl"


def _document(path: Path, doc: str = "", city: str = CITY) -> Document:
    lines = split_lines(path.read_text(encoding="utf-8"))
    return Document(doc=doc or path.stem, path=path, title=lines[0], city=city, area=city, municipality=city,
                    lines=lines)


def _squeezed(text: str) -> str:
    return fold_width(text).replace(" ", "")


def _source(doc: Document, kpi: Kpi) -> str:
    return "".join(_squeezed(doc.lines[n - 1]) for n in range(kpi.line_start, kpi.line_end + 1))


@pytest.fixture(scope="module")
def forms() -> tuple[Document, list[Kpi], list[int]]:
    doc = _document(FORMS)
    extraction = extract_document(doc)
    return doc, extraction.kpis, [p.line for p in extraction.problems]


# ----------------------------------------------------------------------------- the five plans


def test_shipped_plans_keep_their_103_records(documents):
    """The family readers' records are byte-for-byte what they were: the general reader
    runs only for plans the ``general`` family parses."""
    extraction = extract_kpis(documents.values())
    pinned = [json.loads(line) for line in SHIPPED.read_text(encoding="utf-8").splitlines()]
    assert len(pinned) == 103
    assert [k.to_json() for k in extraction.kpis] == pinned
    assert extraction.problems == []


# ----------------------------------------------------------------------------- figures


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("35人（2024年度）", Amount("35", "人", "2024年度")),
        ("令和6年度 45.2％", Amount("45.2", "%", "令和6年度")),
        ("R6：1,200件", Amount("1,200", "件", "R6")),
        ("約3.5億円（令和12年度末）", Amount("約3.5", "億円", "令和12年度末")),
        ("H30(2018) 60.5", Amount("60.5", "", "H30(2018)")),
        ("12.5千人（平成30年度実績）", Amount("12.5", "千人", "平成30年度実績")),
        ("7,000人以上", Amount("7,000以上", "人", "")),
        ("29万5千人", Amount("29万5千", "人", "")),
        ("(2030) 0件", Amount("0", "件", "2030")),
        ("増加させる", Amount("増加", "", "")),
        ("維持（R12）", Amount("維持", "", "R12")),
        ("―", Amount(None, "", "")),
    ],
)
def test_a_printed_figure_is_value_unit_and_year(text, expected):
    assert parse_amount(text) == expected


@pytest.mark.parametrize("text", ["待機児童数 35人", "45%を目指す", "多い", "", "(R6)"])
def test_anything_more_than_a_figure_is_not_read(text):
    assert parse_amount(text) is None


# ----------------------------------------------------------------------------- every form


def test_every_form_of_the_fixture_is_read(forms):
    """Labelled lines (【KPI】/【数値目標】/重要業績評価指標/成果指標/施策指標), markers without an
    arrow, a wrapped line, label + 基準値/目標値 lines, a bare ■数値目標 with arrow lines, ◇name
    with its values below, tab tables (years in the header or the cells, a unit column), a
    space-separated table, qualitative targets and a names-only 施策指標."""
    _, kpis, problems = forms
    expected = json.loads(FORMS.with_suffix(".expected.json").read_text(encoding="utf-8"))
    found = [{"lines": [k.line_start, k.line_end], "label": k.label, "name": k.name, "unit": k.unit,
              "base": [k.base_value, k.base_year], "target": [k.target_value, k.target_year], "measure": k.path[-1]}
             for k in kpis]
    assert found == expected["records"]
    assert problems == expected["problems"]


def test_records_say_what_their_lines_print(forms):
    """Nothing invented: name and values stand on the record's own lines, its years there or in
    the table header just above, and
    its measure is the heading the plan prints above them."""
    doc, kpis, _ = forms
    headings = [_squeezed(line) for line in doc.lines]
    for kpi in kpis:
        source = _source(doc, kpi)
        assert _squeezed(kpi.name) in source, kpi
        for value in (kpi.base_value, kpi.target_value):
            assert value is None or _squeezed(value).replace("以上", "").replace("以下", "") in source, (kpi, value)
        above = "".join(headings[max(0, kpi.line_start - 4): kpi.line_end])  # a table's header dates its columns
        for year in (kpi.base_year, kpi.target_year):
            assert _squeezed(year) in above, (kpi, year)
        assert _squeezed(kpi.path[-1]) in headings[: kpi.line_start], kpi
        assert kpi.city == CITY and kpi.doc == doc.doc


def test_prose_and_bullets_are_not_kpis(forms):
    doc, kpis, problems = forms
    covered = {n for k in kpis for n in range(k.line_start, k.line_end + 1)} | set(problems)
    for line_no, line in enumerate(doc.lines, start=1):
        if "推計" in line or line.startswith(("数値目標は", "◇ ")) or line.endswith("評価し、結果を公表します。"):
            assert line_no not in covered, line
    unreadable = doc.lines[problems[0] - 1]
    assert "もっと多い" in unreadable  # shown to the user, never guessed


def test_years_and_numbers_read_for_comparison(forms):
    _, kpis, _ = forms
    by_name = {k.name: k for k in kpis}
    assert year_ad(by_name["空き家バンク登録件数"].base_year) == 2018  # 平成30年度
    assert year_ad(by_name["観光消費額"].target_year) == 2030  # 令和12年度末
    assert year_ad(by_name["図書館の貸出冊数"].target_year) == 2030  # (2030)
    assert year_ad(parse_amount("120人（令和元年度）").year) == 2019  # type: ignore[union-attr]
    assert number(by_name["病児保育の利用者数"].target_value) == 1500  # 1,500以上
    assert by_name["子育てしやすいと感じる保護者の割合"].describe().endswith("→ 増加")
    assert not by_name["地域公共交通の利用者数"].has_values


def test_kpi_lines_are_chunks_of_kind_kpi(forms):
    """The 種類 KPI filter finds an added plan's KPIs: their lines are KPI chunks under the measure."""
    doc, kpis, _ = forms
    chunks = chunk_document(doc, parse_document(doc))
    kind_of = {n: c.kind for c in chunks for n in c.lines}
    for kpi in kpis:
        assert kind_of[kpi.line_start] == "kpi", kpi
    measure = next(c for c in chunks if c.heading_path[-1] == "施策1 保育の受け皿の確保" and c.kind == "measure")
    assert "待機児童数" not in measure.text and "小規模保育施設" in measure.text


# ----------------------------------------------------------------------------- the test plans


def _kpi_lines(doc: Document) -> set[int]:
    """Lines of a test plan that print a KPI, found by reading it: a 基準値/現状値 → 目標値 line,
    a line under a 【…指標】/【数値目標】 label with an arrow, or a row under a 現状値/目標値 header."""
    found, header = set(), False
    for line_no, raw in enumerate(doc.lines, start=1):
        text = fold_width(raw)
        if re.search(r"(現状値|基準値)", text) and "目標値" in text and not re.search(r"\d.*→", text):
            header = True
            continue
        if "→" in text or (header and len(text.split()) >= 3 and re.search(r"\d\S*$", text)):
            found.add(line_no)
            continue
        header = False
    return found


@pytest.mark.parametrize("name", ["layout_chapter", "layout_sougou", "layout_kankyo"])
def test_the_test_plans_kpis_are_all_read(name):
    path = PLANS / f"{name}.txt"
    if not path.is_file():
        pytest.skip(f"{path} is not there")
    doc = _document(path)
    extraction = extract_document(doc)
    assert {k.line_start for k in extraction.kpis} == _kpi_lines(doc)
    assert extraction.problems == []
    for kpi in extraction.kpis:
        assert kpi.base_value is not None and kpi.target_value is not None and kpi.target_year, kpi
        assert kpi.target_value.rstrip("以上下") in _source(doc, kpi) or kpi.target_value in _source(doc, kpi)
        assert len(kpi.path) > 2, kpi  # a goal or measure, never the plan alone
        if name == "layout_sougou":  # the 施策, not its 【施策の目的】 or 【現状と課題】 paragraph
            assert kpi.path[-1].startswith("施策"), kpi.path


# ----------------------------------------------------------------------------- an added plan


@pytest.fixture(scope="module")
def added(tmp_path_factory):
    """A two-plan corpus and index (fake embedder), then the fixture added as 筑後川市's plan."""
    from tests.conftest import FakeEmbedder, copy_two_plans

    root = tmp_path_factory.mktemp("kpi-add")
    corpus = copy_two_plans(root / "corpus")
    index, embedder = root / "index", FakeEmbedder()
    service.build(corpus, index, embedder=embedder)
    plan = root / "筑後川市若者定住促進計画.txt"
    shutil.copy(FORMS, plan)
    report = service.add_plan(plan, corpus, index, embedder=embedder, info=PlanInfo(city=CITY, kind="定住促進計画"))
    return corpus, index, embedder, report.doc


def _kpi_cli(*args: str) -> tuple[int, str]:
    from kb.cli.main import app

    result = CliRunner().invoke(app, ["kpi", *args])
    return result.exit_code, result.output


def test_kb_kpi_lists_an_added_plans_baselines_targets_and_years(added):
    corpus, _, _, doc = added
    code, out = _kpi_cli("--doc", doc, "--corpus", str(corpus))
    assert code == 0, out
    assert "待機児童数: 35人 (2024年度) → 0人 (2030年度)" in out
    assert "インターンシップ参加者数: 120人 (令和5年度) → 200人 (令和11年度)" in out
    assert "施策1 保育の受け皿の確保" in out and "no KPIs match" not in out
    code, out = _kpi_cli("--city", CITY, "--json", "--corpus", str(corpus))
    assert code == 0, out
    records = [json.loads(line) for line in out.splitlines()]
    assert records and {r["city"] for r in records} == {CITY} and {r["doc"] for r in records} == {doc}
    waiting = next(r for r in records if r["name"] == "待機児童数")
    assert (waiting["base_number"], waiting["base_year"], waiting["target_number"], waiting["target_year"]) == (
        35, "2024年度", 0, "2030年度")
    assert waiting["heading_path"][-1] == "施策1 保育の受け皿の確保"


def test_the_mcp_kpi_tool_takes_the_added_city(added):
    from kb.mcp.backend import Backend

    corpus, index, _, doc = added
    answer = Backend(index, corpus).kpi(city=CITY)  # the records need only the corpus
    assert {k["doc"] for k in answer["kpis"]} == {doc} and "待機児童数" in {k["name"] for k in answer["kpis"]}


def test_kb_kpi_cities_come_from_the_manifest(added, corpus_dir):
    corpus, _, _, doc = added
    code, out = _kpi_cli("--city", CITY, "--corpus", str(corpus_dir))
    assert code == 2 and f"unknown city '{CITY}'" in out and "熊本市" in out
    code, out = _kpi_cli("--city", "どこか市", "--corpus", str(corpus))
    assert code == 2 and CITY in out  # the added plan's city is offered
    code, out = _kpi_cli("--doc", f"{doc}.txt", "--corpus", str(corpus))
    assert code == 0 and "待機児童数" in out


def test_an_added_plans_kpis_reach_search_and_the_app(added):
    """種類 KPI finds the added plan's KPI lines, and its result cards carry the 指標・KPI block."""
    from kb.index.storage import load_index
    from kb.search.searcher import Filters, Searcher
    from kb.service import session_for
    from kb.ui.service import SearchService
    from kb.ui.state import UIState

    corpus, index, embedder, doc = added
    session = session_for(Searcher(load_index(index), embedder), corpus)
    result = session.searcher.search("待機児童数", k=5, method="lexical", filters=Filters(kind="kpi", city=CITY))
    assert result.hits and result.hits[0].chunk.doc == doc and result.hits[0].chunk.kind == "kpi"
    assert "待機児童数" in [k.name for k in session.kpis_for(result.hits[0])]
    measure = session.searcher.search("小規模保育施設", k=5, method="lexical", filters=Filters(kind="measure", doc=doc))
    assert "待機児童数" in [k.name for k in session.kpis_for(measure.hits[0])]  # the measure's card shows it too
    view = SearchService(session, corpus).search(UIState(q="待機児童数", kind="kpi", city=CITY))
    assert "kb-kpi-record" in view.results_html and "待機児童数: 35人 (2024年度) → 0人 (2030年度)" in view.results_html


def test_a_line_the_pdf_cut_inside_the_target_year_is_read_whole(tmp_path):
    """「…目標値 200人（令和12年」 + 「度）」: the figure already reads, but its year goes on to the next line."""
    plan = tmp_path / "cut.txt"
    plan.write_text("筑後川市 子育て支援計画\n基本目標1 若者が働けるまち\n（１）若者の地元就職の促進\n"
                    "・市内企業と大学が連携したインターンシップを広げます。\n"
                    "【数値目標】インターンシップ参加者数 基準値 120人（令和6年度）→ 目標値 200人（令和12年\n度）\n",
                    encoding="utf-8")
    doc = _document(plan)
    extraction = extract_document(doc, parse_document(doc))
    (kpi,) = extraction.kpis
    assert (kpi.name, kpi.base_value, kpi.base_year, kpi.target_value, kpi.target_year) == (
        "インターンシップ参加者数", "120", "令和6年度", "200", "令和12年度")
    assert (kpi.line_start, kpi.line_end) == (5, 6) and not extraction.problems
