"""Chunks: bounded size, exact spans, heading paths, display and search text."""

from __future__ import annotations

from kb.chunk import MAX_SPAN, chunk_document
from kb.ingest.corpus import Document
from kb.ingest.parse.model import GOAL, KPI, MEASURE


def test_chunk_spans_are_bounded_and_text_comes_from_owned_lines(documents, chunks):
    for name, doc_chunks in chunks.items():
        for chunk in doc_chunks:
            assert 1 <= chunk.line_start <= chunk.line_end <= len(documents[name].lines)
            assert chunk.line_end - chunk.line_start + 1 <= MAX_SPAN, chunk.id
            assert chunk.lines[0] == chunk.line_start and chunk.lines[-1] == chunk.line_end
            assert chunk.text.strip()
            # the first owned line's characters appear in the display text
            first = documents[name].line(chunk.line_start).strip()
            if first and len(first) > 1:
                assert first[:2] in chunk.text or first[:2].translate({0x3000: 32}) in chunk.text, chunk.id


def test_chunk_kinds_per_document(chunks):
    kinds = {name: {c.kind for c in cs} for name, cs in chunks.items()}
    assert {GOAL, MEASURE} <= kinds["kurume-sousei-senryaku-3"]
    assert {GOAL, MEASURE, KPI} <= kinds["kumamoto-sousei-senryaku-2"]
    assert {GOAL, MEASURE, KPI} <= kinds["kurume-kouiki-vision-3"]
    assert {GOAL, MEASURE, KPI} <= kinds["kurume-mirai-design-2035"]


def test_a_measure_chunk_keeps_its_heading_path_and_span(chunks):
    chunk = next(c for c in chunks["kurume-mirai-design-2035"] if c.number == "30")
    assert chunk.heading_path == ("基本計画", "９ 「久留米ならではの魅力」を高め広げる", "施策30 魅力を語りたくなる久留米イメージの創出・ＰＲ")
    assert (chunk.line_start, chunk.line_end) == (2889, 2923)
    assert "・ 福岡都市圏をターゲットとした移住促進の強化\n" in chunk.text
    assert chunk.kind == MEASURE and chunk.city == "久留米市"
    assert chunk.goal == "「久留米ならではの魅力」を高め広げる"


def test_goal_chunks_list_their_measures(chunks):
    goal = next(c for c in chunks["kurume-sousei-senryaku-3"] if c.kind == GOAL and "基本目標3" in c.text)
    assert goal.outline[0] == "⑨快適で暮らしやすい魅力的な拠点の形成"
    assert len(goal.outline) == 4
    assert "魅力を語りたくなる" not in goal.text and "10魅力を語りたくなる" in goal.search_text


def test_long_sections_split_between_blocks(chunks):
    pieces = [c for c in chunks["kumamoto-sousei-senryaku-2"] if "② 高齢者や障がいのある者が豊かに暮らせるまちづくりを推進します。" in c.heading_path]
    assert len(pieces) == 2
    assert pieces[0].line_end < pieces[1].line_start
    assert all(line.startswith(("・", "②")) for p in pieces for line in p.text.splitlines())


def test_search_text_is_normalised_and_includes_the_path(chunks):
    chunk = next(c for c in chunks["kumamoto-sousei-senryaku-2"] if 609 in c.lines)
    assert "UIJターン" in chunk.search_text  # full-width ＵＩＪ folded
    assert "人材育成の支援と人材の確保" in chunk.search_text
    assert chunk.embed_text.startswith("第2期熊本市しごと・ひと・まち創生総合戦略 > ")


def test_content_hash_changes_only_with_embedded_text(chunks):
    a, b = chunks["kurume-sousei-senryaku-3"][:2]
    assert a.content_hash != b.content_hash
    assert a.content_hash == type(a)(**{**a.__dict__, "id": "other-id", "lines": ()}).content_hash


def test_unknown_layout_falls_back_to_paragraph_chunks(tmp_path):
    path = tmp_path / "other.txt"
    path.write_text("見出し\n\n本文の一行目です。\n\n12\n\n次の段落です。\n", encoding="utf-8")
    doc = Document(doc="other", path=path, title="Other", city="久留米市", area="久留米市", municipality="久留米市",
                   lines=tuple(path.read_text(encoding="utf-8").split("\n")[:-1]))
    out = chunk_document(doc)
    assert len(out) == 1 and out[0].kind == "paragraph"
    assert 5 not in out[0].lines  # the page number "12"
    assert "本文の一行目です。" in out[0].text
