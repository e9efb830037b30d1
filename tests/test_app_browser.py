"""End to end in headless Chromium: search, cards of both cities, source view, shared URL, messages.

The app runs in this process (on the session's searcher, so the model loads once for the
whole test run) on a free loopback port; ``app.py`` itself is started as a subprocess
for the missing-index page. Chromium is Debian's (/usr/bin/chromium): ``playwright
install`` would download a browser, which CI cannot do. Screenshots go to a temporary
folder, or to ``$KB_SCREENSHOTS`` (``KB_SCREENSHOTS=eval/screenshots`` refreshes the ones the
README shows), so a test run never changes tracked files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from bench.load import free_port, stop_app
from tests.browser import (
    BROWSER_MARKS,
    QUERY_BOX,
    ROOT,
    TIMEOUT_MS,
    YOUNG_WOMEN,
    hit_lines,
    search,
    wait_for_http,
)

pytestmark = BROWSER_MARKS


def test_search_open_source_and_reopen_shared_url(page, app_url, tmp_path):
    page.goto(app_url)
    page.locator(QUERY_BOX).first.wait_for()
    page.wait_for_load_state("networkidle")
    assert "検索できる計画書" in page.locator("#kb-results").inner_text()
    screenshots = Path(os.environ.get("KB_SCREENSHOTS") or tmp_path)
    screenshots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshots / "app-start.png"))

    search(page, YOUNG_WOMEN)
    page.wait_for_selector(".kb-card")
    page.wait_for_function("() => location.search.includes('q=')")
    assert page.locator(".kb-card.kb-kurume").count() >= 1
    assert page.locator(".kb-card.kb-kumamoto").count() >= 1
    assert page.locator(".kb-card mark").count() >= 1
    assert "検索の解釈" in page.locator("#kb-status").inner_text()
    assert page.locator("#kb-download").is_visible()

    card = page.locator(".kb-card.kb-kurume").first
    doc, lines = card.get_attribute("data-doc"), card.get_attribute("data-lines")
    start, end = (int(n) for n in lines.split("-"))
    card.locator(".kb-card-foot a.kb-source-link").click()
    page.wait_for_selector(f'#kb-source .kb-source[data-doc="{doc}"] tr.kb-hit')
    assert hit_lines(page) == list(range(start, end + 1))
    params = parse_qs(urlparse(page.url).query)
    assert params["q"] == [YOUNG_WOMEN] and params["doc"] == [doc] and params["line"] == [lines]
    assert "久留米市" in page.locator("#kb-source .kb-source-title").inner_text()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(screenshots / "app-search.png"))

    shared = page.url
    card_count = page.locator(".kb-card").count()
    page.goto(shared)
    page.wait_for_selector(".kb-card")
    page.wait_for_selector("#kb-source tr.kb-hit")
    assert page.locator(QUERY_BOX).first.input_value() == YOUNG_WOMEN
    assert page.locator(".kb-card").count() == card_count
    assert hit_lines(page) == list(range(start, end + 1))
    assert page.locator(f'.kb-card.kb-active[data-doc="{doc}"][data-lines="{lines}"]').count() == 1
    assert page.url == shared


def test_empty_query_and_filter_by_city(page, app_url):
    page.goto(app_url)
    page.locator(QUERY_BOX).first.wait_for()
    page.locator("#kb-search-button").click()
    page.wait_for_selector(".kb-message")
    message = page.locator("#kb-results").inner_text()
    assert "検索語が空です" in message and "The query is empty" in message

    search(page, "     ")
    page.wait_for_function("() => document.querySelector('#kb-results').innerText.includes('検索語が空です')")

    page.goto(app_url + "?q=%E5%AD%90%E8%82%B2%E3%81%A6%E6%94%AF%E6%8F%B4&city=%E7%86%8A%E6%9C%AC%E5%B8%82&k=5")
    page.wait_for_selector(".kb-card")
    assert page.locator(".kb-card").count() == 5
    assert page.locator(".kb-card.kb-kumamoto").count() == 5


def test_app_py_without_index_says_how_to_build(browser, tmp_path, corpus_dir):
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "KB_PORT": str(port), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--index", str(tmp_path / "no-index"), "--corpus", str(corpus_dir)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", 60, process)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(f"http://127.0.0.1:{port}/?q=%E8%A6%B3%E5%85%89")
        page.wait_for_selector("#kb-results .kb-message")
        text = page.locator("#kb-results").inner_text()
        assert "検索インデックスがまだありません" in text and "kb build" in text and "./run.sh" in text
        page.locator("#kb-build").wait_for(state="visible")  # rendered after the message on a busy machine
        # The compare tab is there from the start and says what to do until an index exists.
        page.get_by_role("tab", name="比較 / Compare").click()
        page.locator("#kb-compare-query textarea, #kb-compare-query input").first.fill("子育て支援")
        page.locator("#kb-compare-button").click()
        page.wait_for_function(
            "() => document.querySelector('#kb-compare-result').innerText.includes('There is no index yet')")
        context.close()
    finally:
        stop_app(process, timeout=10)


def test_source_stays_beside_the_clicked_card_and_back_returns_to_the_list(page, app_url):
    page.goto(app_url + "?q=%E5%AD%90%E8%82%B2%E3%81%A6%E6%94%AF%E6%8F%B4&k=12")
    page.wait_for_selector(".kb-card")
    card = page.locator(".kb-card").nth(8)
    card.scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, 200)")
    before = page.evaluate("window.scrollY")
    assert before > 400
    doc, lines = card.get_attribute("data-doc"), card.get_attribute("data-lines")
    card.locator(".kb-card-foot a.kb-source-link").click()
    page.wait_for_selector(f'#kb-source .kb-source[data-doc="{doc}"][data-lines="{lines}"]')
    page.wait_for_timeout(300)
    assert abs(page.evaluate("window.scrollY") - before) < 5  # the page did not jump
    box = page.locator("#kb-source .kb-source").bounding_box()
    viewport = page.viewport_size
    assert box is not None and 0 <= box["y"] < viewport["height"] * 0.5  # the source is in view …
    card_box = card.bounding_box()
    assert card_box is not None and box["x"] > card_box["x"] + card_box["width"] - 5  # … beside the card
    assert "doc=" in page.url
    page.go_back()
    page.wait_for_function("() => !location.search.includes('doc=')")
    page.wait_for_function("() => !document.querySelector('#kb-source tr.kb-hit')")
    assert page.locator(".kb-card").count() == 12  # the list, not a reload at the top
    assert abs(page.evaluate("window.scrollY") - before) < 60


def test_type_filter_and_keyboard(page, app_url):
    page.goto(app_url + "?q=%E5%AD%90%E8%82%B2%E3%81%A6%E6%94%AF%E6%8F%B4&kind=measure")
    page.wait_for_selector(".kb-card")
    kinds = page.locator(".kb-card .kb-kind").all_inner_texts()
    assert kinds and len(set(kinds)) == 1  # measures only
    # Keyboard: Esc closes an opened dropdown, Enter in the count box searches.
    page.locator("#kb-city input").first.focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('#kb-city input') || "
                           "document.activeElement !== document.querySelector('#kb-city input')")
    count_box = page.locator("#kb-k input[type=number]").first
    count_box.fill("3")
    count_box.press("Enter")
    page.wait_for_function("() => document.querySelectorAll('.kb-card').length === 3")


def test_phone_shows_results_after_enter_and_source_as_an_overlay(browser, app_url, tmp_path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP", is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(app_url)
        page.locator(QUERY_BOX).first.wait_for()
        search(page, "子育て支援")
        page.wait_for_selector(".kb-card")
        page.wait_for_timeout(800)  # the smooth scroll to the results
        first = page.locator(".kb-card").first.bounding_box()
        assert first is not None and first["y"] < 844  # the results are on screen, not 1,200 px down
        button = page.locator("#kb-search-button").bounding_box()
        assert button is not None and button["width"] < 390
        page.locator(".kb-card .kb-card-foot a.kb-source-link").first.click()
        page.wait_for_selector("#kb-source .kb-source tr.kb-hit")
        overlay = page.locator("#kb-source-col").bounding_box()
        assert overlay is not None and overlay["y"] <= 1 and overlay["width"] >= 380
        shots = Path(os.environ.get("KB_SCREENSHOTS") or tmp_path)
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "app-phone-source.png"))
        page.locator(".kb-back").click()
        page.wait_for_function("() => !document.querySelector('#kb-source tr.kb-hit')")
        assert page.locator(".kb-card").count() >= 1
    finally:
        context.close()


def test_a_shared_compare_url_opens_the_comparison(page, app_url):
    from urllib.parse import urlencode

    page.goto(app_url + "?" + urlencode({"tab": "compare", "topic": "子育て支援", "left": "熊本市", "right": "広域"}))
    page.wait_for_selector("#kb-compare-result .kbc-card", timeout=60_000)
    assert page.locator("#kb-compare-query textarea, #kb-compare-query input").first.input_value() == "子育て支援"
    text = page.locator("#kb-compare-result").inner_text()
    assert "熊本市" in text and "広域" in text
    assert "tab=compare" in page.locator("#kb-compare-link").inner_text()
