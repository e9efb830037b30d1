"""Phones: no screen of the app is wider than the phone, and every button on it can be pressed.

A new user on a 390 px phone saw a 504 px page: every card, the source overlay and the
Compare tab were clipped on both edges, and the page header took the taps meant for the
Compare button. These tests look at the *page* (``document.documentElement.scrollWidth``,
not the width of one element) at 360, 390 and 430 px, as a desktop browser squeezed that
narrow and as a phone (``is_mobile`` + ``has_touch``), on every tab the page has — the tabs
are found on the page, so a tab added later is checked too. "Can be pressed" is Playwright's
actionability check (``click(trial=True)``): visible, stable, enabled and not covered by
another element at its centre. One browser context per emulation, resized to each width,
keeps the module to a few searches. Screenshots go to ``$KB_SCREENSHOTS`` when it is set.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.browser import BROWSER_MARKS, QUERY_BOX, TIMEOUT_MS, search, sync_api

pytestmark = BROWSER_MARKS

WIDTHS = (360, 390, 430)
HEIGHT = 844
#: A query whose cards carry long unbroken words (UIJターン, file names, line spans).
QUERY = "UIJターンの促進"
COMPARE_TOPIC = "子育て支援"


def page_width(page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def wider_than(page, width: int) -> list[str]:
    """What sticks out past the right edge (for the failure message)."""
    return page.evaluate(
        """(width) => [...document.querySelectorAll('body *')]
             .filter(e => e.getClientRects().length && e.getBoundingClientRect().right > width + 0.5)
             .slice(0, 6).map(e => `${e.tagName}#${e.id}.${e.className}`.slice(0, 80))""", width)


def assert_fits(page, width: int, where: str) -> None:
    assert page_width(page) <= width, f"{where}: page is {page_width(page)} px wide at {width} px: {wider_than(page, width)}"


def assert_buttons_pressable(page, where: str, scope: str = "body") -> None:
    """Every visible button in ``scope`` (tabs, examples, search, download, back …) takes a click at its centre."""
    buttons = page.locator(f"{scope} button:visible")
    count = buttons.count()
    assert count > 0
    for i in range(count):
        button = buttons.nth(i)
        label = (button.inner_text() or button.get_attribute("aria-label") or "").strip()[:40]
        try:
            button.click(trial=True, timeout=3_000)
        except sync_api.Error as exc:  # Playwright says what covers it ("<h1> … intercepts pointer events")
            raise AssertionError(f"{where}: button {label!r} cannot be pressed: {str(exc).splitlines()[0]}") from None


def shoot(page, name: str) -> None:
    folder = os.environ.get("KB_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def tab_names(page) -> list[str]:
    return [t.strip() for t in page.locator("#kb-tabs [role=tab]").all_inner_texts()]


def open_tab(page, name: str) -> None:
    tab = page.locator("#kb-tabs [role=tab]", has_text=name).first
    tab.click()
    page.wait_for_function("(name) => [...document.querySelectorAll('#kb-tabs [role=tab]')]"
                           ".some(t => t.getAttribute('aria-selected') === 'true' && t.innerText.trim() === name)", arg=name)
    page.wait_for_timeout(150)


@pytest.mark.parametrize("mobile", [False, True], ids=["narrow-window", "phone"])
def test_every_tab_fits_the_phone_and_its_buttons_can_be_pressed(browser, app_url, mobile):
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": HEIGHT}, locale="ja-JP",
                                  is_mobile=mobile, has_touch=mobile)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    kind = "phone" if mobile else "narrow"
    try:
        page.goto(app_url)
        page.locator(QUERY_BOX).first.wait_for()
        tabs = tab_names(page)
        assert len(tabs) >= 3 and tabs[0].startswith("検索")
        search(page, QUERY)
        page.wait_for_selector(".kb-card")
        # The Compare tab, filled once: its two columns are the widest thing on the page.
        open_tab(page, next(t for t in tabs if t.startswith("比較")))
        page.locator("#kb-compare-query textarea, #kb-compare-query input").first.fill(COMPARE_TOPIC)
        page.locator("#kb-compare-button").click()  # a real click: nothing may cover it
        page.wait_for_selector("#kb-compare-result .kbc-card", timeout=60_000)
        assert re.search(r"共有リンク", page.locator("#kb-compare-link").inner_text())
        share = page.locator("#kb-compare-link a").first.get_attribute("href") or ""
        assert share.startswith(app_url + "?tab=compare")  # absolute: it works pasted into an e-mail
        columns = page.locator("#kb-compare-result .kbc-split").first.evaluate(
            "e => getComputedStyle(e).gridTemplateColumns.split(' ').filter(t => t !== '0px').length")
        assert columns == 1  # the "only in" lists stand one under the other on a phone
        assert "%E" not in page.locator("#kb-compare-link").inner_text()  # the link reads as Japanese
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": HEIGHT})
            page.wait_for_timeout(200)
            for name in tabs:
                open_tab(page, name)
                where = f"{kind} {width}px, tab {name}"
                slug = re.sub(r"[^a-z]+", "-", name.split("/")[-1].strip().lower()).strip("-")
                page.evaluate("window.scrollTo(0, 0)")
                assert_fits(page, width, where)
                assert_buttons_pressable(page, where)
                shoot(page, f"app-{kind}-{width}-{slug}")
                if name.startswith("検索"):
                    page.locator(".kb-card a.kb-source-link").first.click()
                    page.wait_for_selector("#kb-source tr.kb-hit")
                    assert_fits(page, width, where + " (source overlay)")
                    overlay = page.locator("#kb-source-col").bounding_box()
                    assert overlay is not None and overlay["x"] >= 0 and overlay["x"] + overlay["width"] <= width
                    # The overlay covers the list on purpose: its own buttons (Back, copy) must work.
                    assert_buttons_pressable(page, where + " (source overlay)", "#kb-source-col")
                    shoot(page, f"app-{kind}-{width}-source")
                    page.locator(".kb-back").click()
                    page.wait_for_function("() => !document.querySelector('#kb-source tr.kb-hit')")
    finally:
        context.close()


def test_first_screen_at_1440x900_shows_two_cards_and_the_type_filter_fits(browser, app_url):
    """The desktop first screen: header, examples and filters used to push all but the top of
    the first card below the fold; and 「KPI・数値目標 / KPIs」 ran under the 種類 arrow."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(app_url + "?q=%E5%87%BA%E7%94%9F%E6%95%B0&kind=kpi")
        page.locator(QUERY_BOX).first.wait_for()
        page.wait_for_function("() => document.querySelector('#kb-kind input').value.startsWith('KPI')")
        text_right, arrow_left = page.evaluate("""() => {
            const input = document.querySelector('#kb-kind input');
            const style = getComputedStyle(input);
            const ctx = document.createElement('canvas').getContext('2d');
            ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
            const left = input.getBoundingClientRect().left + parseFloat(style.paddingLeft);
            const arrow = input.parentElement.querySelector('.icon-wrap, svg');
            return [left + ctx.measureText(input.value).width, arrow.getBoundingClientRect().left];
        }""")
        assert text_right <= arrow_left, f"the 種類 text ends at {text_right:.0f} px, its arrow starts at {arrow_left:.0f} px"
        page.goto(app_url)
        page.locator(QUERY_BOX).first.wait_for()
        search(page, "若い女性の転出を防ぐ施策")
        page.wait_for_selector(".kb-card:nth-child(2)")
        page.wait_for_timeout(300)
        page.evaluate("window.scrollTo(0, 0)")
        tops = page.locator(".kb-card").evaluate_all("cards => cards.map(c => c.getBoundingClientRect().top)")
        # Two cards in view: the first whole, the second at least its heading, path and a line of text.
        first = page.locator(".kb-card").first.bounding_box()
        assert first is not None and first["y"] + first["height"] <= 900, f"the first card ends at {first}"
        assert tops[1] <= 900 - 120, f"the second card starts at {tops[1]:.0f} px of 900"
        shoot(page, "app-first-screen-1440")
    finally:
        context.close()
