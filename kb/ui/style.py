"""The page's CSS and the small scripts of its two HTML panels.

Kept as Python strings (not package data files) so an installed ``kb`` always has them.
Colours use Gradio's theme variables where they are neutral, so dark mode stays legible.
"""

from __future__ import annotations

CSS = """
html { scrollbar-gutter: stable; } /* switching tabs must not shift the page sideways */
.gradio-container { max-width: min(1480px, 100%) !important; min-width: 0 !important; margin: 0 auto !important; }
/* Nothing may make the page wider than the screen: Gradio's flex items default to their
   content's width (a long plan file name, an example, a tab label pushed a phone page to
   504 px), so they may shrink, and long words break. */
.gradio-container > .main, .gradio-container .wrap, .gradio-container .contain { min-width: 0 !important; }
/* Gradio pads the page 2rem a side, a sixth of a phone: narrower on small screens. (Gradio
   scopes rules inside @media to its content, so this one scales with the width instead.) */
.gradio-container > .main { padding: 0.6rem clamp(0.5rem, 2.5vw, 2rem) !important; }
.kb-card, .kb-source, .kb-status, .kb-message, .kbc { overflow-wrap: anywhere; min-width: 0; }
#kb-tabs .tab-container button { white-space: normal; height: auto; min-height: var(--size-8); line-height: 1.2;
  text-align: left; }
.gallery-item { white-space: normal !important; max-width: 100%; }
/* A compact first screen: title and subtitle on one line, examples beside their label,
   small filter labels — after a search at 1440×900 two result cards are in view. */
#kb-header .html-container { padding: 0 var(--size-1); }
#kb-header h1 { font-size: 1.3rem; margin: 0 0.8rem 0 0; display: inline; }
#kb-header p { margin: 0; color: var(--body-text-color-subdued); font-size: 0.78rem; display: inline; }
#kb-tabs .tab-wrapper { margin-bottom: var(--size-2); }
#kb-examples { display: flex; flex-wrap: wrap; align-items: center; gap: 0.3rem 0.6rem; padding: 0 !important; }
#kb-examples > .label { margin: 0; font-size: 0.8rem; width: auto; flex: 0 0 auto; }
#kb-examples > .gallery { gap: 0.3rem; flex: 1 1 0; min-width: min(100%, 260px); align-items: center; padding: 0; }
#kb-examples .gallery-item { height: auto !important; min-height: 0 !important; }
#kb-examples .gallery-item > span { display: block; }
#kb-examples .gallery-item, #kb-examples .gallery-item * { font-size: 0.8rem !important; }
#kb-examples .gallery-item > * { padding: 0.15rem 0.55rem !important; }
#kb-filter-row .block { padding-top: 0.35rem; padding-bottom: 0.35rem; }
#kb-filter-row [data-testid="block-info"] { font-size: 0.78rem; margin-bottom: 0.2rem; padding: 0.05rem 0.4rem; }
#kb-filter-row input[role="combobox"] { text-overflow: ellipsis; }
#kb-filter-row .icon-wrap { pointer-events: none; }
.kb-rel { margin-left: auto; font-size: 0.78rem; font-weight: 600; padding: 0.05rem 0.55rem; border-radius: 999px;
  border: 1px solid transparent; white-space: nowrap; }
.kb-rel-high { background: #c6f6d5; color: #22543d; border-color: #9ae6b4; }
.kb-rel-medium { background: #fefcbf; color: #744210; border-color: #f6e05e; }
.kb-rel-low, .kb-rel-no_clear_match { background: var(--background-fill-secondary); color: var(--body-text-color-subdued);
  border-color: var(--border-color-primary); }
.kb-banner { background: #fff4d6; color: #5c4300; border: 1px solid #f0cf72; border-radius: 8px;
  padding: 0.5rem 0.8rem; margin-bottom: 0.4rem; font-size: 0.9rem; }
#kb-query-row { align-items: flex-end; }
#kb-search-button { min-width: 130px; max-width: 200px; height: 42px; margin-bottom: 0; }
#kb-status-row { align-items: center; min-height: 0; }
#kb-download { flex: 0 0 auto; max-width: 220px; }
#kb-status-row .block, #kb-status .html-container { padding-top: 0; padding-bottom: 0; }
.kb-status { display: flex; flex-wrap: wrap; gap: 0.2rem 1.2rem; align-items: baseline; font-size: 0.86rem;
  padding: 0 0.1rem; }
.kb-interp { flex: 1 1 480px; color: var(--body-text-color); line-height: 1.55; }
.kb-interp-text { font-weight: 600; }
.kb-interp-added { color: var(--body-text-color-subdued); font-size: 0.85rem; }
details.kb-interp-more { display: inline; margin-left: 0.4rem; }
details.kb-interp-more > summary { display: inline; cursor: pointer; color: #2b6cb0; font-size: 0.82rem; }
details.kb-interp-more[open] > summary { margin-right: 0.3rem; }
.kb-label { color: var(--body-text-color-subdued); margin-right: 0.3rem; }
.kb-count { color: var(--body-text-color-subdued); white-space: nowrap; }
.kb-results { display: flex; flex-direction: column; gap: 0.7rem; }
.kb-card { border: 1px solid var(--border-color-primary); border-left: 5px solid #8a94a6; border-radius: 10px;
  padding: 0.7rem 0.9rem 0.55rem; background: var(--block-background-fill); }
.kb-card.kb-kurume { border-left-color: #2b6cb0; }
.kb-card.kb-kumamoto { border-left-color: #2f855a; }
.kb-card.kb-active { box-shadow: 0 0 0 2px #d69e2e; }
.kb-card-head { display: flex; flex-wrap: wrap; align-items: center; gap: 0.35rem 0.5rem; }
.kb-rank { font-weight: 700; color: var(--body-text-color-subdued); min-width: 1.4em; }
.kb-badge { font-size: 0.78rem; font-weight: 600; padding: 0.05rem 0.5rem; border-radius: 999px;
  color: #fff; background: #718096; white-space: nowrap; }
.kb-badge.kb-kurume { background: #2b6cb0; }
.kb-badge.kb-kumamoto { background: #2f855a; }
.kb-badge.kb-wide { background: #6b46c1; }
.kb-doc-title { font-weight: 600; }
.kb-kind { margin-left: auto; font-size: 0.78rem; color: var(--body-text-color-subdued);
  border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 0 0.4rem; }
.kb-crumbs { font-size: 0.82rem; color: var(--body-text-color-subdued); margin: 0.3rem 0 0.35rem;
  line-height: 1.45; }
.kb-text { white-space: pre-line; line-height: 1.7; font-size: 0.95rem; }
.kb-text mark, .kb-tx mark { background: #fde68a; color: inherit; padding: 0 1px; border-radius: 2px; }
details.kb-more > summary, details.kb-kpi > summary { cursor: pointer; color: #2b6cb0; font-size: 0.85rem;
  margin-top: 0.2rem; }
details.kb-kpi { margin-top: 0.45rem; border-top: 1px dashed var(--border-color-primary); padding-top: 0.3rem; }
ul.kb-kpi-list { list-style: none; margin: 0.25rem 0 0; padding: 0; display: flex; flex-direction: column;
  gap: 0.15rem; }
li.kb-kpi-record { font-size: 0.86rem; line-height: 1.5; padding-left: 0.9rem; text-indent: -0.9rem; }
li.kb-kpi-record::before { content: "◆ "; color: #975a16; font-size: 0.7rem; }
.kb-kpi-src a { font-size: 0.74rem; font-weight: 400; }
.kb-kpi-table pre { white-space: pre-wrap; font-family: inherit; font-size: 0.84rem; line-height: 1.5;
  background: var(--background-fill-secondary); padding: 0.35rem 0.55rem; border-radius: 6px; margin: 0.3rem 0 0.1rem; }
.kb-kpi-table a { font-size: 0.78rem; }
.kb-card-foot { display: flex; flex-wrap: wrap; gap: 0.3rem 0.9rem; align-items: baseline; margin-top: 0.45rem;
  font-size: 0.84rem; }
a.kb-source-link { color: #2b6cb0; font-weight: 600; text-decoration: none; }
a.kb-source-link:hover { text-decoration: underline; }
.kb-where { font-family: ui-monospace, monospace; font-size: 0.78rem; color: var(--body-text-color-subdued); }
.kb-page { font-size: 0.8rem; font-weight: 600; color: #975a16; }
.kb-score { margin-left: auto; font-size: 0.78rem; color: var(--body-text-color-subdued); }
.kb-message { border-radius: 10px; padding: 0.8rem 1rem; border: 1px solid #cbd5e0; background: #f7fafc; color: #1a202c; }
.kb-message.kb-warning { border-color: #f0cf72; background: #fffbeb; }
.kb-message.kb-error { border-color: #fc8181; background: #fff5f5; }
.kb-message-title { font-weight: 700; margin-bottom: 0.25rem; }
.kb-message-detail { font-size: 0.92rem; line-height: 1.6; }
.kb-muted { color: var(--body-text-color-subdued); font-size: 0.85rem; }
.kb-hint { color: var(--body-text-color-subdued); font-size: 0.92rem; line-height: 1.6; margin: 0.2rem 0 0.6rem; }
.kb-welcome-head { font-weight: 700; margin: 0.4rem 0 0.3rem; }
.kb-doc-list { list-style: none; padding: 0; margin: 0; display: flex; flex-direction: column; gap: 0.35rem; }
#kb-source-col { align-self: flex-start; }
/* The source panel follows the reader (SOURCE_JS pins it beside the cards as the page scrolls). */
.kb-pinned { position: fixed !important; top: 0.5rem; z-index: 20; }
.kb-pinned .kb-lines-box { max-height: calc(100vh - 220px); }
.kb-back { display: none; }
/* A dropdown's list shows only while focus is inside that dropdown: Gradio left lists open
   over the results when Tab moved on. */
.block:not(:focus-within) ul.option-list { display: none !important; }
.kb-source:focus { outline: 2px solid #2b6cb0; outline-offset: 2px; }
.kb-copy-link { font-size: 0.8rem; padding: 0.05rem 0.55rem; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--block-background-fill); color: #2b6cb0; }
@media (max-width: 899px) {
  /* Phone: the source opens as an overlay over the list, with 戻る / Back. */
  #kb-source-col:has(.kb-source:not(.kb-source-empty)) { position: fixed; inset: 0; height: 100dvh; z-index: 1000;
    overflow-y: auto; margin: 0; max-width: none;
    padding: 0.5rem; background: var(--body-background-fill); }
  .kb-pinned { position: static !important; }
  .kb-back { display: inline-block; margin-bottom: 0.4rem; font-size: 0.95rem; padding: 0.3rem 0.9rem;
    border-radius: 8px; border: 1px solid var(--border-color-primary); background: var(--block-background-fill); }
  #kb-search-button { min-width: 0; max-width: none; white-space: normal; line-height: 1.2; font-size: 0.9rem; }
  #kb-query-row { flex-wrap: nowrap; }
}
.kb-source { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 0.7rem 0.9rem;
  background: var(--block-background-fill); }
.kb-source-heading { font-size: 0.8rem; font-weight: 700; letter-spacing: 0.04em; color: var(--body-text-color-subdued);
  margin-bottom: 0.3rem; }
.kb-source-title { font-weight: 700; display: flex; flex-wrap: wrap; gap: 0.4rem; align-items: center; }
dl.kb-meta { display: grid; grid-template-columns: max-content 1fr; gap: 0.1rem 0.7rem; font-size: 0.8rem;
  margin: 0.4rem 0; color: var(--body-text-color-subdued); }
dl.kb-meta dt { font-weight: 600; }
dl.kb-meta dd { margin: 0; }
.kb-source-where { font-size: 0.82rem; margin: 0.2rem 0 0.4rem; }
.kb-lines-box { max-height: calc(100vh - 300px); min-height: 12rem; overflow-y: auto;
  border: 1px solid var(--border-color-primary); border-radius: 6px; }
table.kb-lines { border-collapse: collapse; width: 100%; font-size: 0.86rem; line-height: 1.55; }
table.kb-lines, table.kb-lines tr, table.kb-lines td { border: none !important; }
table.kb-lines td { padding: 0 0.5rem !important; vertical-align: top; }
td.kb-ln { text-align: right; color: var(--body-text-color-subdued); font-family: ui-monospace, monospace;
  user-select: none; width: 3.5em; border-right: 1px solid var(--border-color-primary) !important; }
td.kb-tx { white-space: pre-wrap; word-break: break-all; }
tr:has(td.kb-empty) td { line-height: 0.5; font-size: 0.6rem; }
tr:has(td.kb-empty) td.kb-ln { color: transparent; }
tr.kb-hit td { background: rgba(250, 204, 21, 0.22); }
tr.kb-hit td.kb-ln { color: #975a16; font-weight: 700; }
"""

#: Results panel: keep the address bar in step with the results, open sources in place.
RESULTS_JS = """
const same = (a, b) => new URLSearchParams(a || '').toString() === new URLSearchParams(b || '').toString();
const sync = () => {
  const root = element.querySelector('[data-state-url]');
  if (!root) return;
  const want = root.getAttribute('data-state-url') || '';
  if (!same(want, location.search)) history.pushState(null, '', want || location.pathname);
};
// On a phone the results start far below the query box: bring them up after a search.
const reveal = () => {
  if (window.innerWidth >= 900 || !element.querySelector('.kb-card, .kb-message')) return;
  const rect = element.getBoundingClientRect();
  if (rect.top > window.innerHeight * 0.5) element.scrollIntoView({behavior: 'smooth', block: 'start'});
};
watch('value', () => { sync(); reveal(); });
sync();
element.addEventListener('click', (event) => {
  const link = event.target.closest('a.kb-source-link');
  if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  // Esc returns here (KEYBOARD_JS); opened from the keyboard, the source panel takes the focus.
  window.kbSourceOpener = link;
  window.kbFocusSource = event.detail === 0;
  const href = link.getAttribute('href');
  // Remember where the reader is, so Back returns to this place in the list.
  history.replaceState({y: window.scrollY}, '', location.href);
  if (!same(href, location.search)) history.pushState({y: window.scrollY}, '', href);
  openSource(href, link.closest('.kb-card'));
});
const openSource = (href, card) => {
  element.querySelectorAll('.kb-card.kb-active').forEach((c) => c.classList.remove('kb-active'));
  if (card) card.classList.add('kb-active');
  trigger('click', {href: href});
};
window.kbOpenSource = (search) => {
  const params = new URLSearchParams(search || '');
  // Any plan name (Japanese, spaces, quotes) as an attribute value: escaped, or the selector throws.
  const card = element.querySelector(
    `.kb-card[data-doc="${CSS.escape(params.get('doc') || '')}"][data-lines="${CSS.escape(params.get('line') || '')}"]`);
  openSource(search || '?', card);
};
if (!window.kbPopstate) {
  window.kbPopstate = true;
  const withoutSource = (search) => {
    const params = new URLSearchParams(search || '');
    params.delete('doc'); params.delete('line');
    return params.toString();
  };
  // Back/Forward between a list and an opened source: update the source panel in place and
  // return to where the reader was; anything else (another query) reloads that state.
  window.addEventListener('popstate', (event) => {
    const root = document.querySelector('#kb-results [data-state-url]');
    const shown = root ? root.getAttribute('data-state-url') : '';
    if (root && withoutSource(shown) === withoutSource(location.search)) {
      window.kbOpenSource(location.search);
      const y = event.state && typeof event.state.y === 'number' ? event.state.y : null;
      if (y !== null) window.scrollTo(0, y);
    } else {
      location.reload();
    }
  });
  // Enter in the results-count box searches, like Enter in the query box.
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || !event.target.closest || !event.target.closest('#kb-k')) return;
    event.preventDefault();
    event.target.blur();
    const button = document.querySelector('#kb-search-button');
    if (button) setTimeout(() => button.click(), 50);
  });
  document.addEventListener('click', (event) => {
    const copy = event.target.closest && event.target.closest('.kb-copy-link');
    if (copy) {
      event.preventDefault();
      const done = () => { copy.textContent = copy.getAttribute('data-done'); };
      if (navigator.clipboard) navigator.clipboard.writeText(location.href).then(done, done); else done();
    }
    const back = event.target.closest && event.target.closest('.kb-back');
    if (back) { event.preventDefault(); history.back(); }
  });
}
"""

#: Source panel: kept beside the cards while the page scrolls, highlighted lines in view.
SOURCE_JS = """
// Pinned beside the cards: while the top of its column is scrolled away the panel stays
// at the top of the window, in the column's place, so the clicked card and its source are
// side by side and the page itself never moves.
const column = element.closest('#kb-source-col') || element.parentElement;
const place = () => {
  const wide = window.innerWidth >= 900;
  const rect = column.getBoundingClientRect();
  if (wide && rect.top < 8) {
    element.classList.add('kb-pinned');
    element.style.left = `${rect.left}px`;
    element.style.width = `${rect.width}px`;
  } else {
    element.classList.remove('kb-pinned');
    element.style.left = '';
    element.style.width = '';
  }
};
const reveal = () => {
  place();
  const panel = element.querySelector('.kb-source:not(.kb-source-empty)');
  if (panel && window.kbFocusSource) {
    window.kbFocusSource = false;
    panel.focus({preventScroll: true});
  }
  const box = element.querySelector('.kb-lines-box');
  const hit = element.querySelector('tr.kb-hit');
  if (!box || !hit) return;
  box.scrollTop = Math.max(0, hit.offsetTop - 48);
};
window.addEventListener('scroll', place, {passive: true});
window.addEventListener('resize', place);
watch('value', reveal);
reveal();
"""

#: The page's keyboard rules (WAI-ARIA patterns Gradio leaves out), installed once by the header.
KEYBOARD_JS = """
if (!window.kbKeyboard) {
  window.kbKeyboard = true;
  // Chrome makes a scrolling option list a Tab stop of its own: Tab from 基本目標 went to
  // <body> and then into the list. The list is for arrow keys; Tab goes to the next control.
  const quiet = () => document.querySelectorAll('ul.option-list:not([tabindex])')
    .forEach((list) => list.setAttribute('tabindex', '-1'));
  new MutationObserver(quiet).observe(document.body, {childList: true, subtree: true});
  document.addEventListener('keydown', (event) => {
    const tab = event.target.closest && event.target.closest('[role="tab"]');
    const moves = {ArrowLeft: -1, ArrowRight: 1, Home: 0, End: 0};
    if (!tab || !(event.key in moves)) return;
    // Tabs pattern: Left/Right go to the previous/next tab (wrapping), Home/End to the ends.
    const tabs = [...(tab.closest('.tab-container') || tab.parentElement).querySelectorAll('[role="tab"]')]
      .filter((t) => t.getClientRects().length && !t.disabled);
    const at = tabs.indexOf(tab);
    const to = event.key === 'Home' ? 0 : event.key === 'End' ? tabs.length - 1
      : (at + moves[event.key] + tabs.length) % tabs.length;
    event.preventDefault();
    tabs[to].click();
    tabs[to].focus();
  });
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    const active = document.activeElement;
    // Esc in a dropdown closes its list (Gradio keeps it open while the input has focus).
    if (active && active.matches && active.matches('input[role="combobox"]')) { active.blur(); return; }
    // Esc with a source open returns to the card that opened it (on a phone the overlay closes).
    const opener = window.kbSourceOpener;
    if (!opener || !opener.isConnected || !document.querySelector('#kb-source .kb-source:not(.kb-source-empty)')) return;
    event.preventDefault();
    if (window.innerWidth < 900 && new URLSearchParams(location.search).has('doc')) history.back();
    opener.focus();
  });
}
"""
