"""Any plan name, everywhere: Japanese, spaces, full-width characters (issues 25 + 27).

A property test adds plans under generated names to a tiny copy of the corpus (fake
embeddings), and takes each through search, ``kb show``, the app's link and source view
and the CSV, then removes it under another spelling: afterwards the corpus is byte for
byte what it was. Small tests pin what :mod:`kb.ingest.names` accepts and refuses.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
import unicodedata
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kb import service
from kb.cli.main import app
from kb.errors import KbError
from kb.index.storage import load_index
from kb.ingest.add import AddError, PlanInfo
from kb.ingest.corpus import load_corpus
from kb.ingest.names import name_problem, resolve_name, spellings, unknown_name_message
from kb.present import csv_cell
from kb.search.searcher import Filters, Searcher
from kb.service import session_for
from kb.ui.render import esc
from kb.ui.service import SearchService
from kb.ui.state import UIState, decode_query_string, encode_state

#: A plan the general outline detector reads (goals, measures, a KPI label) with a word no other plan has.
PLAN_TEXT = """第1章 計画の概要
1 計画の目的
本計画は、若者の定住を促進するための計画です。

第2章 施策の展開
基本目標1 若者が住み続けたいまちをつくる
(1) 住まいの支援
① 若者定住奨励金の交付
・市内に転入した若者世帯に若者定住奨励金を交付します。
② 空き家の活用
・空き家バンクを通じて住まいを紹介します。
■数値目標
若者の転入数 200人 → 300人
"""
UNIQUE = "若者定住奨励金"

_KANJI = "市町村計画子育支援総合戦略若者定住促進筑後川熊本久留米第期版案"
#: Pieces of names people give plans: kana, kanji, full-width letters and digits, ASCII, and both kinds of space.
_PIECES = st.one_of(
    st.characters(min_codepoint=0x3041, max_codepoint=0x3096),  # hiragana
    st.characters(min_codepoint=0x30A1, max_codepoint=0x30FA),  # katakana
    st.sampled_from(_KANJI),
    st.characters(min_codepoint=0xFF10, max_codepoint=0xFF19),  # ０-９
    st.characters(min_codepoint=0xFF21, max_codepoint=0xFF3A),  # Ａ-Ｚ
    st.sampled_from("（）・＿－"),
    st.sampled_from("abcXYZ019-_."),
)
#: Words of those pieces, joined by nothing, a space or a full-width space (ideographic space).
plan_names = st.lists(st.text(_PIECES, min_size=1, max_size=8), min_size=1, max_size=3).flatmap(
    lambda words: st.sampled_from(["", " ", "\u3000"]).map(lambda gap: gap.join(words))
).filter(lambda n: not n.startswith(".") and not n.casefold().startswith("kurume"))


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path under ``folder`` (folders as None) with its bytes: equal means byte for byte."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}


def dashed(name: str) -> str:
    """The document ``kb add`` makes of a file name: spaces (any, full-width too) made dashes."""
    return re.sub(r"\s+", "-", name.strip())


@pytest.fixture
def indexed(two_plan_corpus, fake_embedder, tmp_path):
    index = tmp_path / "index"
    service.build(two_plan_corpus, index, embedder=fake_embedder)
    return two_plan_corpus, index


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=plan_names, spelling=st.sampled_from(["doc", "doc.txt", "as named"]))
@example(name="筑後川市 若者定住促進計画", spelling="as named")  # the plan, with a space
@example(name="ＡＢＣ市\u3000第２期　総合戦略", spelling="doc.txt")
def test_any_name_goes_through_add_search_show_app_and_remove(indexed, fake_embedder, name, spelling):
    # The fixture is shared by the examples: each one leaves the corpus as it found it (that is the property).
    corpus, index = indexed
    before = snapshot(corpus)
    folder = Path(tempfile.mkdtemp(dir=corpus.parent))
    source = folder / f"{name}.txt"
    source.write_text(PLAN_TEXT, encoding="utf-8")

    report = service.add_plan(source, corpus, index, embedder=fake_embedder,
                              info=PlanInfo(title=f"{name}の計画", city="テスト市"))
    doc = dashed(name)
    assert report.doc == doc
    documents = [d.doc for d in load_corpus(corpus)]
    assert doc in documents
    typed = {"doc": doc, "doc.txt": f"{doc}.txt", "as named": name}[spelling]

    # search: the plan is a filter under any of its spellings, and its hits carry its name
    session = session_for(Searcher(load_index(index), fake_embedder), corpus)
    for way in (doc, f"{doc}.txt", name):
        result = session.searcher.search(UNIQUE, k=5, method="lexical", filters=Filters(doc=way))
        assert result.hits and {h.chunk.doc for h in result.hits} == {doc}
    hit = result.hits[0]
    assert UNIQUE in hit.chunk.text

    # kb show: the hit's first line, marked, under the spelling a user typed
    shown = CliRunner().invoke(app, ["show", f"{typed}:{hit.line_start}", "--corpus", str(corpus)])
    assert shown.exit_code == 0, shown.output
    first = next(d for d in load_corpus(corpus) if d.doc == doc).line(hit.line_start).rstrip()
    assert f">{hit.line_start:>5}  {first}" in shown.output

    # the app: link round trip (ASCII only in the URL), resolution of other spellings, source view
    state = UIState(q=UNIQUE, plan=doc, doc=doc, lines=(hit.line_start, hit.line_end))
    url = encode_state(state)
    assert url.isascii() and decode_query_string(url) == state == decode_query_string(url, documents)
    spelled = encode_state(replace(state, plan=typed, doc=typed))
    assert decode_query_string(spelled, documents) == state
    ui = SearchService(session, corpus, workdir=folder / "ui")
    markup = ui.source(state)
    assert f'data-doc="{esc(doc)}"' in markup
    marked = [int(n) for n in re.findall(r'<tr class="kb-hit" data-line="(\d+)">', markup)]
    assert marked == list(range(hit.line_start, hit.line_end + 1))
    view = ui.search(state.without_source())
    assert view.result is not None and {h.chunk.doc for h in view.result.hits} == {doc}
    links = re.findall(r'class="kb-source-link" href="([^"]+)"', view.results_html)
    assert links and {decode_query_string(h.replace("&amp;", "&"), documents).doc for h in links} == {doc}
    # the CSV: the plan's name in its column, a link that reopens the filtered search
    assert view.csv_path is not None
    rows = list(csv.DictReader(io.StringIO(view.csv_path.read_text(encoding="utf-8-sig"))))
    assert {row["doc"] for row in rows} == {csv_cell(doc)}
    assert dict(parse_qsl(rows[0]["link"].lstrip("?")))["plan"] == doc

    # remove under the typed spelling: corpus byte-identical, plan gone from the index
    service.remove_plan(typed, corpus, index, embedder=fake_embedder)
    assert snapshot(corpus) == before
    assert doc not in {c.doc for c in load_index(index).chunks}


#: Any name a file could have, URL-special characters (& = + % # ? ") and emoji included.
any_names = st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp"), blacklist_characters="/\\"),
                    min_size=1, max_size=40).filter(lambda n: n.strip() == n and n != "" and not n.startswith("."))


@given(plan=any_names, doc=any_names, start=st.integers(1, 9999), length=st.integers(0, 40))
def test_every_possible_name_survives_the_link_both_ways(plan, doc, start, length):
    state = UIState(q="子育て", plan=plan, doc=doc, lines=(start, start + length))
    url = encode_state(state)
    assert url.isascii() and "#" not in url  # nothing a browser would cut off or re-encode
    assert decode_query_string(url) == state
    assert decode_query_string(url, [plan, doc]) == state
    assert decode_query_string(url, []) == replace(state, plan="")  # unknown plan dropped; the panel reports the doc


KNOWN = ["子育て支援計画", "ＡＢＣ市-総合戦略", "kurume-kouiki-web", "my plan", "ｶﾞｲﾄﾞ"]


@pytest.mark.parametrize(("typed", "meant"), [
    ("子育て支援計画", "子育て支援計画"),
    ("子育て支援計画.txt", "子育て支援計画"),
    ("子育て支援計画.TXT", "子育て支援計画"),
    (" 子育て支援計画 ", "子育て支援計画"),
    ("ＡＢＣ市　総合戦略", "ＡＢＣ市-総合戦略"),  # the file name as added, full-width space and all
    ("abc市 総合戦略", "ＡＢＣ市-総合戦略"),  # half-width for full-width: one plan fits
    ("my plan", "my plan"),  # a plan placed by hand, with a space in its file name
    ("My-Plan.txt", "my plan"),
    ("ガイド", "ｶﾞｲﾄﾞ"),  # half-width katakana (NFKC)
    ("子育て支援", None),  # a part of a name is not a name
    ("nope", None),
])
def test_spellings_resolve_to_the_plan_and_nothing_else(typed, meant):
    assert resolve_name(typed, KNOWN) == meant


def test_a_name_typed_on_a_mac_arrives_decomposed_and_still_matches():
    decomposed = unicodedata.normalize("NFD", "ガイドブック")
    assert decomposed != "ガイドブック"
    assert resolve_name(decomposed, ["ガイドブック"]) == "ガイドブック"
    assert unicodedata.normalize("NFC", decomposed) in spellings(decomposed)


def test_two_plans_one_loose_spelling_resolve_to_neither():
    assert resolve_name("abc", ["ABC", "ａｂｃ"]) is None
    assert resolve_name("ABC", ["ABC", "ａｂｃ"]) == "ABC"  # an exact name still wins


@pytest.mark.parametrize(("typed", "reason"), [
    ("../etc/passwd", "path separator"),
    ("a\\b", "path separator"),
    ("..", "starts with '.'"),
    (".hidden", "starts with '.'"),
    ("計画\x00", "control character U+0000"),
    ("計画\n", "control character U+000A"),
    ("計画\u202e", "control character U+202E"),  # a right-to-left override would make the name read otherwise
    ("計" * 90, "270 bytes"),
    ("   ", "empty"),
])
def test_what_can_never_be_a_name_is_refused_with_the_reason(typed, reason):
    problem = name_problem(typed)
    assert problem is not None and reason in problem
    assert resolve_name(typed, [typed, "計画"]) is None  # even if something of that name were listed
    message = unknown_name_message(typed, KNOWN)
    assert "\n" not in message and len(message) < 200  # one line, whatever was typed


def test_cli_remove_takes_the_spellings_show_takes(indexed, fake_embedder, tmp_path, monkeypatch):
    corpus, index = indexed
    source = tmp_path / "筑後川市 若者定住促進計画.txt"
    source.write_text(PLAN_TEXT, encoding="utf-8")
    before = snapshot(corpus)
    assert service.add_plan(source, corpus, index, embedder=fake_embedder).doc == "筑後川市-若者定住促進計画"
    runner = CliRunner()
    shown = runner.invoke(app, ["show", "筑後川市-若者定住促進計画.txt:8", "--corpus", str(corpus)])
    assert shown.exit_code == 0 and UNIQUE in shown.output
    refused = runner.invoke(app, ["remove", "筑後川市", "--corpus", str(corpus), "--index", str(index)])
    assert isinstance(refused.exception, AddError) and "no document named '筑後川市'" in str(refused.exception)
    real_remove = service.remove_plan
    monkeypatch.setattr(service, "remove_plan", lambda *a, **k: real_remove(*a, embedder=fake_embedder, **k))
    removed = runner.invoke(app, ["remove", "筑後川市-若者定住促進計画.txt", "--corpus", str(corpus), "--index", str(index)])
    assert removed.exit_code == 0, removed.output
    assert snapshot(corpus) == before


def test_an_overlong_file_name_is_refused_before_anything_is_written(indexed, fake_embedder, tmp_path):
    corpus, index = indexed
    before = snapshot(corpus)
    source = tmp_path / ("計" * 82 + ".txt")  # 246 bytes: a file here, but no room for its .pages.json in sources/
    source.write_text(PLAN_TEXT, encoding="utf-8")
    with pytest.raises(KbError, match="at most 244"):
        service.add_plan(source, corpus, index, embedder=fake_embedder)
    assert snapshot(corpus) == before


def test_search_kpi_and_show_name_unknown_plans_in_one_line(indexed, fake_embedder):
    corpus, index = indexed
    searcher = Searcher(load_index(index), fake_embedder)
    with pytest.raises(KbError, match="unknown document '子育て'"):
        searcher.search("子育て", filters=Filters(doc="子育て"))
    assert searcher.search("子育て", k=3, method="lexical", filters=Filters(doc="kurume-kouiki-web.txt")).hits
    runner = CliRunner()
    for args in (["show", "../x:1"], ["kpi", "--doc", "../x"], ["kpi", "--doc", "なし"]):
        result = runner.invoke(app, [*args, "--corpus", str(corpus)])
        assert result.exit_code == 2 and "Traceback" not in result.output, args
        assert len(result.output.strip().splitlines()) == 1, result.output
    listed = runner.invoke(app, ["kpi", "--doc", "kurume-sousei-senryaku-3.txt", "--json", "--corpus", str(corpus)])
    assert listed.exit_code == 0 and '"doc": "kurume-sousei-senryaku-3"' in listed.output
