"""URL state of the app: every view is a link that reopens it, and bad links degrade gently."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given
from hypothesis import strategies as st

from kb.ingest.corpus import CITY_CHOICES
from kb.ui.state import (
    DEFAULT_K,
    MAX_K,
    UIState,
    clamp_k,
    decode_query_string,
    decode_state,
    encode_state,
    parse_lines,
)

doc_names = st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True)
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
line_spans = st.tuples(st.integers(1, 5000), st.integers(0, 80)).map(lambda t: (t[0], t[0] + t[1]))


@st.composite
def states(draw) -> UIState:
    with_source = draw(st.booleans())
    return UIState(
        q=draw(texts),
        city=draw(st.sampled_from(("",) + CITY_CHOICES)),
        plan=draw(st.one_of(st.just(""), doc_names)),
        goal=draw(texts).strip()[:200],
        k=draw(st.integers(1, MAX_K)),
        doc=draw(doc_names) if with_source else "",
        lines=draw(line_spans) if with_source else None,
    )


@given(states())
def test_round_trip(state):
    assert decode_query_string(encode_state(state)) == state


def test_empty_state_is_the_bare_page():
    assert encode_state(UIState()) == ""
    assert decode_query_string("") == UIState()


def test_issue_example_and_defaults_left_out():
    state = UIState(q="若い女性の転出", city="熊本市", k=DEFAULT_K, doc="kumamoto-sousei-senryaku-2", lines=(846, 854))
    url = encode_state(state)
    assert url.startswith("?q=")
    params = dict(parse_qsl(url[1:]))
    assert params == {"q": "若い女性の転出", "city": "熊本市", "doc": "kumamoto-sousei-senryaku-2", "line": "846-854"}
    assert "k" not in params


def test_single_line_and_plain_japanese_url():
    state = decode_query_string("?q=子育て&doc=kurume-sousei-senryaku-3&line=450")
    assert state.q == "子育て"
    assert state.lines == (450, 450)
    assert state.address == "kurume-sousei-senryaku-3:450-450"
    assert encode_state(state).endswith("line=450")


def test_hand_edited_links_fall_back_to_defaults():
    link = {"q": "観光", "city": "東京都", "k": "lots", "doc": "../etc/passwd", "line": "10", "plan": "<script>",
            "unknown": "x"}
    # Any municipality passes here (added plans bring new ones); the page drops one no plan has.
    assert decode_state(link, documents=["kurume-kouiki-web"]) == UIState(q="観光", city="東京都")
    # Without the plans at hand only what can never be a plan's name is dropped (a path here).
    assert decode_state(link) == UIState(q="観光", city="東京都", plan="<script>")
    assert decode_state({"city": "x" * 41}).city == ""
    assert decode_state({"k": "9999"}).k == MAX_K
    assert decode_state({"k": "-3"}).k == 1
    assert decode_state({"doc": "kurume-kouiki-web"}).has_source is False  # no line: no source view
    assert decode_state({"doc": "kurume-kouiki-web", "line": "20-10"}).has_source is False


def test_overlong_query_is_cut_not_refused():
    assert len(decode_state({"q": "あ" * 10_000}).q) == 2000


def test_parse_lines_and_clamp_k():
    assert parse_lines("450-460") == (450, 460)
    assert parse_lines(" 7 ") == (7, 7)
    assert parse_lines("0") is None
    assert parse_lines("a-b") is None
    assert clamp_k("12") == 12
    assert clamp_k(None) == DEFAULT_K
    assert clamp_k(3.7) == 3
    assert clamp_k("1e309") == DEFAULT_K


def test_without_source_keeps_the_search():
    state = UIState(q="DX", city="久留米市", doc="kurume-mirai-design-2035", lines=(1, 2))
    assert state.without_source() == UIState(q="DX", city="久留米市")
