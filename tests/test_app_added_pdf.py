"""Issue 27's acceptance, end to end: a PDF named in Japanese, with 【KPI】 lines, added from the app and from the CLI.

Each way it must be searchable, open in the source view at its card's lines, list its KPIs
(baseline, target, years) by ``kb kpi --doc`` and ``--city``, appear on the start page, and
``kb remove`` must leave the corpus byte for byte as it was. The app serves a two-plan copy of
the corpus indexed with the fake embedder (never the real corpus: this test adds to it).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.load import free_port
from kb import service
from kb.cli.main import app as cli
from kb.index.storage import load_index
from kb.search.searcher import Searcher
from kb.service import session_for
from kb.ui.service import SearchService
from tests.browser import BROWSER_MARKS, hit_lines, wait_for_http
from tests.test_add import print_pdf, tree_state

pytestmark = BROWSER_MARKS

NAME = "子育て支援計画"
CITY = "筑後川市"
PLAN_HTML = """<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>筑後川市 子育て支援計画</title>
<style>body{font-family:"IPAGothic","Noto Sans CJK JP",sans-serif;font-size:12pt}.page{page-break-after:always}</style>
</head><body>
<div class="page"><p>第1章 計画の概要</p><p>1 計画の目的</p>
<p>本計画は、筑後川市が子どもを安心して産み育てられるまちをつくるための計画です。</p></div>
<div class="page"><p>第2章 施策の展開</p><p>基本目標1 安心して子どもを預けられるまち</p><p>（１）保育の受け皿の確保</p>
<p>・小規模保育施設の整備を進め、待機児童の解消を図ります。</p>
<p>【KPI】待機児童数 基準値 35人（2024年度）→ 目標値 0人（2030年度）</p>
<p>（２）若者の地元就職の促進</p><p>・市内企業と大学が連携したインターンシップを広げます。</p>
<p>【数値目標】インターンシップ参加者数 基準値 120人（令和6年度）→ 目標値 200人（令和12年度）</p></div>
</body></html>
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory, fake_embedder_module):
    """The app on a copy of two plans (fake embeddings), its add tab embedding with the same fake model."""
    from kb.ui.blocks import build_app, launch
    from tests.conftest import copy_two_plans

    root = tmp_path_factory.mktemp("added-pdf")
    corpus, index = copy_two_plans(root / "corpus"), root / "index"
    embedder = fake_embedder_module
    service.build(corpus, index, embedder=embedder)

    def opener(folder: Path):
        return session_for(Searcher(load_index(folder), embedder), corpus)

    class FakeModelPanel(SearchService):
        def add_plan(self, upload, **kwargs):  # type: ignore[no-untyped-def]
            return super().add_plan(upload, **{**kwargs, "embedder": embedder})

    panel = FakeModelPanel(opener(index), corpus, index_dir=index, workdir=root / "ui", opener=opener)
    demo = build_app(panel)
    port = free_port()
    launch(demo, host="127.0.0.1", port=port, quiet=True, prevent_thread_lock=True)
    url = f"http://127.0.0.1:{port}/"
    wait_for_http(url, 30)
    pdf = print_pdf(PLAN_HTML, root, NAME)
    yield url, corpus, index, embedder, pdf
    demo.close()


@pytest.fixture(scope="module")
def fake_embedder_module():
    from tests.conftest import FakeEmbedder

    return FakeEmbedder()


def _kpi(corpus: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["kpi", *args, "--corpus", str(corpus)])
    assert result.exit_code == 0, result.output
    return result.output


def _check_the_added_plan(page, url: str, corpus: Path) -> None:
    """Searchable, opens at its lines, its KPIs listed, on the start page."""
    entry = next(e for e in tomllib.loads((corpus / "manifest.toml").read_text(encoding="utf-8"))["document"]
                 if e["file"] == f"{NAME}.txt")
    page.goto(url)
    page.wait_for_load_state("networkidle")
    assert entry["title"] in page.locator("#kb-results").inner_text()  # the start page lists it

    page.goto(url + "?q=%E5%BE%85%E6%A9%9F%E5%85%90%E7%AB%A5%20%E5%B0%8F%E8%A6%8F%E6%A8%A1%E4%BF%9D%E8%82%B2")  # 待機児童 小規模保育
    card = page.locator(f'.kb-card[data-doc="{NAME}"]').first
    card.wait_for()
    start, end = (int(n) for n in card.get_attribute("data-lines").split("-"))
    card.locator(".kb-card-foot a.kb-source-link").click()
    page.wait_for_selector(f'#kb-source .kb-source[data-doc="{NAME}"] tr.kb-hit')
    assert hit_lines(page) == list(range(start, end + 1))
    lines = (corpus / f"{NAME}.txt").read_text(encoding="utf-8").splitlines()
    assert any("待機児童" in line or "小規模保育" in line for line in lines[start - 1:end])

    listed = _kpi(corpus, "--doc", NAME)
    assert "待機児童数: 35人 (2024年度) → 0人 (2030年度)" in listed
    assert "インターンシップ参加者数: 120人 (令和6年度) → 200人 (令和12年度)" in listed
    assert "待機児童数" in _kpi(corpus, "--city", CITY)


def _remove(corpus: Path, index: Path, embedder, monkeypatch) -> None:
    real_remove = service.remove_plan
    monkeypatch.setattr(service, "remove_plan", lambda *a, **k: real_remove(*a, **{**k, "embedder": embedder}))
    result = CliRunner().invoke(cli, ["remove", f"{NAME}.txt", "--corpus", str(corpus), "--index", str(index)])
    assert result.exit_code == 0, result.output


def test_a_japanese_named_pdf_added_from_the_app_then_removed(page, served, monkeypatch):
    url, corpus, index, embedder, pdf = served
    before = tree_state(corpus)
    page.goto(url)
    page.get_by_role("tab", name="計画を追加 / Add a plan").click()
    page.locator("#kb-add-file input[type=file]").set_input_files(str(pdf))
    page.wait_for_function("name => document.querySelector('#kb-add-file').innerText.includes(name)", arg=NAME)
    page.locator("#kb-add-city textarea, #kb-add-city input").first.fill(CITY)
    page.locator("#kb-add-button").click()
    page.locator("#kb-add-message table.kb-add-summary").wait_for()
    row = page.locator("#kb-add-message tbody tr").first.inner_text()
    assert NAME in row and "kb-add-refused" not in (page.locator("#kb-add-message tbody tr").first.get_attribute("class") or "")

    _check_the_added_plan(page, url, corpus)
    _remove(corpus, index, embedder, monkeypatch)
    assert tree_state(corpus) == before


def test_the_same_pdf_added_from_the_cli_then_removed(page, served, monkeypatch):
    url, corpus, index, embedder, pdf = served
    before = tree_state(corpus)
    for name in ("add_plan", "add_plans"):  # one file or several: both embed with the index's fake model
        real = getattr(service, name)
        monkeypatch.setattr(service, name, lambda *a, _real=real, **k: _real(*a, **{**k, "embedder": embedder}))
    result = CliRunner().invoke(cli, ["add", str(pdf), "--city", CITY, "--corpus", str(corpus), "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert NAME in result.output

    _check_the_added_plan(page, url, corpus)
    _remove(corpus, index, embedder, monkeypatch)
    assert tree_state(corpus) == before
