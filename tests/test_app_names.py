"""In Chromium: a plan added under a Japanese name is listed, opened from its card, and shared.

The app serves a tiny corpus (two real plans, fake embeddings) from this process. Another
service, the one ``kb add``/``kb remove`` call, adds 筑後川市若者定住促進計画 to the same folders
while the page is open; a reload lists it, 原文を見る opens its lines, and a link with
``plan=`` (percent-encoded by the browser) filters to it. After ``kb remove`` it is gone again.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlparse

import pytest

from bench.load import free_port
from kb import service
from kb.index.storage import load_index, resolve_build
from kb.ingest.add import PlanInfo
from kb.search.searcher import Searcher
from kb.service import session_for
from tests.browser import BROWSER_MARKS, QUERY_BOX, hit_lines, search, wait_for_http
from tests.conftest import FakeEmbedder, copy_two_plans
from tests.test_names import PLAN_TEXT, UNIQUE

pytestmark = BROWSER_MARKS

PLAN = "筑後川市若者定住促進計画"
TITLE = "筑後川市若者定住促進計画（令和8年度～）"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app on a copy of two plans and their index, following rebuilds of that index folder."""
    from kb.ui.blocks import build_app, launch
    from kb.ui.service import SearchService

    root = tmp_path_factory.mktemp("names-app")
    corpus, index = copy_two_plans(root / "corpus"), root / "index"
    embedder = FakeEmbedder()
    service.build(corpus, index, embedder=embedder)

    def opener(folder: Path):
        return session_for(Searcher(load_index(folder), embedder), corpus)

    ui = SearchService(opener(resolve_build(index)), corpus, index_dir=index, workdir=root / "ui", opener=opener)
    demo = build_app(ui)
    port = free_port()
    launch(demo, host="127.0.0.1", port=port, quiet=True, prevent_thread_lock=True)
    url = f"http://127.0.0.1:{port}/"
    wait_for_http(url, 30)
    yield url, corpus, index, embedder
    demo.close()


def listed_plans(page) -> list[str]:
    return page.locator("#kb-results .kb-doc-list .kb-doc-title").all_inner_texts()


def open_start_page(page, url: str) -> None:
    page.goto(url)
    page.locator(QUERY_BOX).first.wait_for()
    page.wait_for_load_state("networkidle")


def test_a_plan_named_in_japanese_is_listed_opened_shared_and_removed(page, served, tmp_path):
    url, corpus, index, embedder = served
    open_start_page(page, url)
    assert len(listed_plans(page)) == 2

    source = tmp_path / f"{PLAN}.txt"
    source.write_text(PLAN_TEXT, encoding="utf-8")
    service.add_plan(source, corpus, index, embedder=embedder, info=PlanInfo(title=TITLE, city="筑後川市"))
    open_start_page(page, url)  # a reload: the start page lists the plan added behind the app's back
    page.wait_for_function("(title) => document.querySelector('#kb-results').innerText.includes(title)", arg=TITLE)
    assert len(listed_plans(page)) == 3

    # 原文を見る on its card: the source panel shows the card's lines; the address names the plan, encoded
    search(page, UNIQUE)
    card = page.locator(f'.kb-card[data-doc="{PLAN}"]').first
    card.wait_for()
    lines = card.get_attribute("data-lines")
    start, end = (int(n) for n in lines.split("-"))
    card.locator(".kb-card-foot a.kb-source-link").click()
    page.wait_for_selector(f'#kb-source .kb-source[data-doc="{PLAN}"] tr.kb-hit')
    assert hit_lines(page) == list(range(start, end + 1))
    assert f"doc={quote(PLAN)}" in page.url
    assert parse_qs(urlparse(page.url).query)["doc"] == [PLAN]
    assert TITLE in page.locator("#kb-source .kb-source-title").inner_text()

    # that address, opened afresh, shows the same lines
    shared = page.url
    page.goto(shared)
    page.wait_for_selector("#kb-source tr.kb-hit")
    assert hit_lines(page) == list(range(start, end + 1))

    # a shared link with plan=<the plan> (here spelled as its file name) filters to it
    page.goto(url + "?" + urlencode({"q": "計画", "plan": f"{PLAN}.txt"}))
    page.wait_for_selector(".kb-card")
    assert set(page.locator(".kb-card").evaluate_all("cards => cards.map(c => c.dataset.doc)")) == {PLAN}
    assert TITLE in page.locator("#kb-plan input").first.input_value()
    page.wait_for_function("(plan) => new URLSearchParams(location.search).get('plan') === plan", arg=PLAN)

    service.remove_plan(PLAN, corpus, index, embedder=embedder)
    open_start_page(page, url)
    page.wait_for_function("(title) => !document.querySelector('#kb-results').innerText.includes(title)", arg=TITLE)
    assert len(listed_plans(page)) == 2
