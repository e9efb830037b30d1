"""Keyboard only: Tab through the search form, Esc back from a source, arrow keys between tabs.

A new user found that Tab through the filter row left the 計画書 and 基本目標 lists open over
the results, that Tab from 基本目標 went to ``<body>`` and then into the option list, that
Esc after opening a source dropped focus to ``<body>``, and that arrow keys did not move
between tabs. kb.ui.style.KEYBOARD_JS and the option-list CSS rule fix them; these tests
drive the page with the keyboard alone.
"""

from __future__ import annotations

from urllib.parse import quote

from tests.browser import BROWSER_MARKS, QUERY_BOX

pytestmark = BROWSER_MARKS

QUERY = "子育て支援"
FILTERS = ("kb-city", "kb-plan", "kb-goal", "kb-kind")

#: The focused element, tagged once so a second visit is recognised; and every open option list.
FOCUS = """() => {
  const a = document.activeElement;
  if (a && a !== document.body && !a.dataset.kbVisit) a.dataset.kbVisit = String(document.querySelectorAll('[data-kb-visit]').length);
  const holder = a && a.closest ? a.closest('[id^="kb-"]') : null;
  const open = [...document.querySelectorAll('ul.option-list')].filter((u) => u.getClientRects().length)
    .map((u) => (u.closest('[id^="kb-"]') || {}).id || '?');
  return {tag: a ? a.tagName : 'NONE', visit: a && a.dataset ? a.dataset.kbVisit || '' : '',
          holder: holder ? holder.id : '', open: open};
}"""


def open_results(page, app_url: str) -> None:
    page.goto(app_url + "?q=" + quote(QUERY))
    page.wait_for_selector(".kb-card")


def test_tab_visits_each_control_once_and_closes_each_list_behind_it(page, app_url):
    open_results(page, app_url)
    page.locator(QUERY_BOX).first.focus()
    visits: list[dict] = []
    for _ in range(30):
        page.keyboard.press("Tab")
        page.wait_for_timeout(80)
        now = page.evaluate(FOCUS)
        visits.append(now)
        assert now["tag"] not in ("BODY", "UL", "NONE"), f"Tab landed on {now['tag']} after {visits[-2:]}"
        # At most the list of the dropdown that has focus is open; none stays open behind it.
        assert set(now["open"]) <= {now["holder"]}, f"lists left open: {now['open']} with focus in {now['holder']}"
        if now["holder"] == "kb-results":
            break
    else:
        raise AssertionError("Tab never reached the results")
    seen = [v["visit"] for v in visits]
    assert len(seen) == len(set(seen)), f"a control was visited twice: {visits}"
    filters = [v["holder"] for v in visits if v["tag"] == "INPUT" and v["holder"] in FILTERS]
    assert filters == list(FILTERS)  # each filter once, in reading order


def test_escape_returns_focus_to_the_card_that_opened_the_source(page, app_url):
    open_results(page, app_url)
    card = page.locator(".kb-card").nth(1)
    link = card.locator(".kb-card-foot a.kb-source-link")
    doc, lines = card.get_attribute("data-doc"), card.get_attribute("data-lines")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(f'#kb-source .kb-source[data-doc="{doc}"][data-lines="{lines}"] tr.kb-hit')
    page.wait_for_function("() => document.activeElement && document.activeElement.classList.contains('kb-source')")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.activeElement && document.activeElement.classList.contains('kb-source-link')")
    focused = page.evaluate("() => { const c = document.activeElement.closest('.kb-card'); "
                            "return c ? [c.dataset.doc, c.dataset.lines] : null; }")
    assert focused == [doc, lines]


def test_left_and_right_arrows_switch_tabs(page, app_url):
    page.goto(app_url)
    page.locator(QUERY_BOX).first.wait_for()
    tabs = page.locator("#kb-tabs [role=tab]")
    names = [t.strip() for t in tabs.all_inner_texts()]
    assert len(names) >= 3

    def selected() -> str:
        return page.locator("#kb-tabs [role=tab][aria-selected=true]").inner_text().strip()

    def focused() -> str:
        return page.evaluate("() => document.activeElement.getAttribute('role') === 'tab' ? "
                             "document.activeElement.innerText.trim() : ''")

    tabs.first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("(name) => document.querySelector('#kb-tabs [role=tab][aria-selected=true]')"
                           ".innerText.trim() === name", arg=names[1])
    assert focused() == names[1]
    page.keyboard.press("ArrowLeft")
    page.wait_for_timeout(100)
    assert selected() == names[0] and focused() == names[0]
    page.keyboard.press("ArrowLeft")  # wraps round to the last tab
    page.wait_for_timeout(100)
    assert selected() == names[-1] and focused() == names[-1]
    page.keyboard.press("Home")
    page.wait_for_timeout(100)
    assert selected() == names[0]
