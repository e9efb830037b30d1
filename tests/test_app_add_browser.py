"""The 計画を追加 / Add a plan tab in headless Chromium: several files in one upload, one table, a cleared form.

The app runs on a temporary two-plan corpus indexed with the fake embedder (never the real
corpus: this test adds plans to it), so only the panel's wiring is under test here; what a
batch does to the corpus is tests/test_bulk_add.py's.
"""

from __future__ import annotations

from pathlib import Path

from bench.load import free_port
from kb import service
from kb.index.storage import load_index
from kb.search.searcher import Searcher
from kb.service import session_for
from kb.ui.service import SearchService
from tests.browser import BROWSER_MARKS, wait_for_http

pytestmark = BROWSER_MARKS


def test_the_add_tab_takes_several_files_reports_a_table_and_clears_the_form(page, two_plan_corpus, fake_embedder,
                                                                              tmp_path):
    from kb.ui.blocks import build_app, launch

    index = tmp_path / "index"
    service.build(two_plan_corpus, index, embedder=fake_embedder)

    def opener(folder: Path):
        return session_for(Searcher(load_index(folder), fake_embedder), two_plan_corpus)

    class FakeModelPanel(SearchService):
        """The app's service, embedding added plans with the fake model the index was built with."""

        def add_plan(self, upload, **kwargs):  # type: ignore[no-untyped-def]
            return super().add_plan(upload, **{**kwargs, "embedder": fake_embedder})

    panel = FakeModelPanel(opener(index), two_plan_corpus, index_dir=index, workdir=tmp_path / "ui", opener=opener)
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    files = []
    for name, place in (("chikugo-plan.txt", "筑後"), ("okawa-plan.txt", "大川")):
        files.append(uploads / name)
        files[-1].write_text(f"第1章 {place}の未来\n基本目標1 移住を増やす\n施策1 空き家バンクの充実\n"
                             f"{place}の空き家で移住者を迎えます。\n", encoding="utf-8")
    files.append(uploads / "kurume-kouiki-web.txt")  # a name the corpus already has: refused, the others go on
    files[-1].write_text("第1章 重複\n", encoding="utf-8")
    demo = build_app(panel)
    port = free_port()
    launch(demo, host="127.0.0.1", port=port, quiet=True, prevent_thread_lock=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_http(url, 30)
        page.goto(url)
        page.get_by_role("tab", name="計画を追加 / Add a plan").click()
        page.locator("#kb-add-file input[type=file]").set_input_files([str(f) for f in files])
        listed = "names => names.every(n => document.querySelector('#kb-add-file').innerText.includes(n))"
        page.wait_for_function(listed, arg=[f.stem for f in files])  # uploaded: each listed (stem and suffix apart)
        city = page.locator("#kb-add-city textarea, #kb-add-city input").first
        city.fill("テスト市")
        page.locator("#kb-add-button").click()
        page.locator("#kb-add-message table.kb-add-summary").wait_for()
        rows = page.locator("#kb-add-message tbody tr")
        assert rows.count() == 3
        assert [rows.nth(i).locator("td").first.inner_text() for i in range(3)] == [f.name for f in files]
        assert page.locator("#kb-add-message tr.kb-add-refused").inner_text().count("already in") == 1
        assert "一部の計画を追加しました" in page.locator("#kb-add-message").inner_text()
        page.wait_for_function("() => !document.querySelector('#kb-add-file').innerText.includes('okawa-plan')")
        assert city.input_value() == ""  # the form is cleared for the next batch
        assert {"chikugo-plan", "okawa-plan"} <= {c.doc for c in load_index(index).chunks}
    finally:
        demo.close()
