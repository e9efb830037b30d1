"""「すべての記述 / All mentions」 in headless Chromium: the tab, its counts and rows, a row's source
view, the shared link, and the link a search for a rare term offers."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from kb.search.concordance import corpus_lines, find_mentions
from tests.browser import BROWSER_MARKS, QUERY_BOX, ROOT, hit_lines, search

pytestmark = BROWSER_MARKS

TERM_BOX = "#kb-mentions-term textarea, #kb-mentions-term input"
SUMMARY = "#kb-mentions-result .kbm-summary"


def _expected(searcher, term: str):
    return find_mentions(searcher, corpus_lines(ROOT / "corpus"), [term])


def test_list_every_mention_then_open_one_in_the_source_view(page, app_url, searcher):
    page.goto(app_url)
    page.get_by_role("tab", name="すべての記述 / All mentions").click()
    box = page.locator(TERM_BOX).first
    box.fill("空き家")
    box.press("Enter")
    expected = _expected(searcher, "空き家")
    page.wait_for_selector(f'{SUMMARY}[data-mentions="{expected.occurrences}"]')
    result = page.locator("#kb-mentions-result")
    assert page.locator(SUMMARY).get_attribute("data-passages") == str(len(expected.passages))
    assert result.locator("a.kbm-row").count() == result.locator("mark").count() == expected.occurrences
    for plan in expected.plans():  # one bar and one count per plan
        assert f"{plan.occurrences} か所 · {plan.passages} 件" in result.locator(f'.kbm-bar-n[data-doc="{plan.doc}"]').inner_text()
    assert page.locator("#kb-mentions-csv").is_visible()
    assert "tab=mentions" in page.locator("#kb-mentions-link").inner_text()

    row = result.locator("a.kbm-row").first
    doc, lines = row.get_attribute("data-doc"), row.get_attribute("data-lines")
    with page.context.expect_page() as opened:
        row.click()
    source = opened.value
    source.wait_for_selector(f'#kb-source .kb-source[data-doc="{doc}"] tr.kb-hit')
    start, _, end = lines.partition("-")
    assert hit_lines(source) == list(range(int(start), int(end or start) + 1))
    assert parse_qs(urlparse(source.url).query)["doc"] == [doc]
    source.close()


def test_a_rare_search_term_links_to_the_shared_listing(page, app_url, searcher):
    expected = _expected(searcher, "文化財")
    page.goto(app_url)
    page.locator(QUERY_BOX).first.wait_for()
    search(page, "文化財")
    link = page.locator("#kb-status .kb-mentions-link a")
    link.wait_for()
    assert f"文化財 を含む記述 {len(expected.passages)} 件をすべて表示" in link.inner_text()
    link.click()
    page.wait_for_url("**tab=mentions**")
    page.wait_for_selector(f'{SUMMARY}[data-passages="{len(expected.passages)}"]')
    assert page.locator(TERM_BOX).first.input_value() == "文化財"
    assert page.locator("#kb-mentions-result a.kbm-row").count() == expected.occurrences
