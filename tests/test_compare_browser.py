"""The Compare tab in Chromium: the plain legend is on the page, the formula waits in a details
element until an engineer opens it (issue 25, part)."""

from __future__ import annotations

from urllib.parse import urlencode

from tests.browser import BROWSER_MARKS, TIMEOUT_MS

pytestmark = BROWSER_MARKS


def test_the_memo_explains_itself_and_keeps_the_formula_folded(page, app_url):
    page.goto(app_url + "?" + urlencode({"tab": "compare", "topic": "若い女性の転出"}))
    page.wait_for_selector("#kb-compare-result .kbc-card", timeout=60_000)
    columns = page.locator("#kb-compare-result .kbc-split").first.evaluate(
        "e => getComputedStyle(e).gridTemplateColumns.split(' ').filter(t => t !== '0px').length")
    assert columns == 2  # on a desktop the two sides' lists stand side by side
    legend = page.locator("#kb-compare-result .kbc-legend").inner_text()
    assert "同じ課題に同じ方向で取り組んでいる" in legend and "same problem" in legend
    formula = page.locator("#kb-compare-result details.kbc-formula")
    assert "TF-IDF" not in formula.inner_text()  # folded: only the summary shows
    formula.locator("summary").click()
    page.wait_for_function("() => document.querySelector('#kb-compare-result details.kbc-formula').open",
                           timeout=TIMEOUT_MS)
    assert "TF-IDF" in formula.inner_text()
    assert "若者や女性にも選ばれる魅力あるまちづくり" in page.locator("#kb-compare-result").inner_text()
