"""Property-based tests (hypothesis) of the parser, the chunker and the query tokenizer.

The invariants, stated precisely (``kb/parse/model.py`` and ``kb/chunk.py`` rely on them):

1. Parsing and chunking never raise, whatever the text.
2. Ownership: every line of a document is either noise (blank, page number, header,
   TOC …) or owned by exactly one section; no noise line is owned.
3. Each chunk owns a non-empty, strictly increasing set of lines; its span is
   ``[first owned line, last owned line]``, lies inside the file, and is at most
   ``MAX_SPAN`` lines long; every owned line belongs to the chunk's section.
4. Chunks never share a line: the owned line sets of one document are pairwise
   disjoint (so no passage is indexed twice).
5. Spans may still overlap (a KPI table or footnote that PDF extraction floated
   into the middle of a measure is owned by its own chunk but sits inside the
   measure's span); overlapping spans never share an owned line (4), and each
   chunk's owned lines that fall inside the other's span form a run of lines the
   other does not own.
6. A chunk's text comes from its lines: every non-space character of ``text`` occurs
   in the raw or display text of the chunk's owned lines (cleaning only removes and
   joins; it never invents characters).
7. Chunk ids are unique.

Example counts are modest so the suite stays fast; ``KB_HYPOTHESIS_EXAMPLES`` raises them.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.chunk import MAX_SPAN, chunk_document
from kb.ingest.corpus import Document, split_lines
from kb.ingest.parse import family_for, parse_document

EXAMPLES = int(os.environ.get("KB_HYPOTHESIS_EXAMPLES", "30"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

#: Lines that look like plan structure, to mix into random and mutated text.
STRUCTURAL = (
    "", " ", "\u3000", "\t", "12", "- 3 -", "－25－", "目次", "第1章 はじめに", "はじめに …… 1",
    "【基本目標１】 結婚・出産・子育ての希望をかなえる", "[基本的な方向性]", "①地域経済の活性化",
    "② 経営体の強化及び生産基盤の整備", "【施策】", "(１) 雇用の創出", "施策 01 子育て支援の充実",
    "01 安心して子育てできる環境", "・待機児童の解消", "● 相談体制の充実", "KPI", "数値目標",
    "基準値 目標値", "合計特殊出生率 1.43 1.80", "事業の目的と概要", "施策分野1 産業振興", "目指す姿",
    "基本計画", "トップ > 市政情報 > 計画", "このページの先頭へ", "1 ＵＩＪターン：都市部から地方へ移住すること",
    "                         ", "ま", "ち", "づ", "く", "り", "※注記", "（このリンクは別ウィンドウで開きます）",
)
JAPANESE = st.characters(
    codec="utf-8",
    categories=("Lu", "Ll", "Lo", "Nd", "No", "Po", "Ps", "Pe", "Pd", "Sm", "So", "Zs"),
)
RANDOM_LINE = st.one_of(st.sampled_from(STRUCTURAL), st.text(JAPANESE, max_size=80), st.text(max_size=40))


def make_document(lines: list[str], like: Document | None = None, name: str = "prop") -> Document:
    text = "\n".join(lines)
    base = like or Document(doc=name, path=None, title="テスト計画", city="久留米市", area="久留米市", municipality="久留米市")  # type: ignore[arg-type]
    return replace(base, lines=split_lines(text) if text else ())


def check_invariants(doc: Document) -> None:
    parsed = parse_document(doc)
    chunks = chunk_document(doc, parsed)
    total = len(doc.lines)
    # 2. ownership by sections
    owner: dict[int, int] = {}
    for index, section in enumerate(parsed.sections):
        for number in section.lines:
            assert 1 <= number <= total, f"section owns line {number} outside 1..{total}"
            assert number not in owner, f"line {number} owned by two sections"
            assert number not in parsed.noise, f"noise line {number} ({parsed.noise[number]}) is owned"
            owner[number] = index
    unowned = [n for n in range(1, total + 1) if n not in owner and n not in parsed.noise]
    assert not unowned, f"lines neither noise nor owned: {unowned[:10]}"
    # 3, 4, 6, 7. chunks
    seen_lines: dict[int, str] = {}
    ids = set()
    for chunk in chunks:
        assert chunk.id not in ids
        ids.add(chunk.id)
        lines = list(chunk.lines)
        assert lines and lines == sorted(set(lines)), chunk.id
        assert (chunk.line_start, chunk.line_end) == (lines[0], lines[-1])
        assert 1 <= chunk.line_start <= chunk.line_end <= total
        assert chunk.line_end - chunk.line_start + 1 <= MAX_SPAN, f"{chunk.id} spans more than {MAX_SPAN} lines"
        for number in lines:
            assert number not in seen_lines, f"line {number} in {seen_lines.get(number)} and {chunk.id}"
            seen_lines[number] = chunk.id
            assert number in owner
        source = set("".join(doc.lines[n - 1] + parsed.display.get(n, "") for n in lines))
        invented = {c for c in chunk.text if not c.isspace()} - source
        assert not invented, f"{chunk.id} text has characters from nowhere: {''.join(sorted(invented))[:20]!r}"
    # 5. overlapping spans: the part of one inside the other is lines the other does not own
    for a in chunks:
        for b in chunks:
            if a.id < b.id and a.line_start <= b.line_end and b.line_start <= a.line_end:
                assert not set(a.lines) & set(b.lines)


@pytest.fixture(scope="module")
def real_documents(documents):
    return list(documents.values())


def test_real_corpus_satisfies_the_invariants(real_documents):
    for doc in real_documents:
        check_invariants(doc)


@SETTINGS
@given(lines=st.lists(RANDOM_LINE, max_size=120))
def test_random_text_never_breaks_the_parser(lines):
    check_invariants(make_document(lines))


MUTATION = st.tuples(st.sampled_from(("delete", "duplicate", "insert", "swap", "truncate", "blank")),
                     st.floats(0, 1), st.floats(0, 1), RANDOM_LINE)


def mutate(lines: list[str], mutations) -> list[str]:  # type: ignore[no-untyped-def]
    lines = list(lines)
    for kind, where, other, new in mutations:
        if not lines:
            lines.append(new)
            continue
        i = min(len(lines) - 1, int(where * len(lines)))
        j = min(len(lines) - 1, int(other * len(lines)))
        if kind == "delete":
            del lines[i : i + 1 + int(other * 5)]
        elif kind == "duplicate":
            lines[i:i] = lines[i : i + 1 + int(other * 5)]
        elif kind == "insert":
            lines.insert(i, new)
        elif kind == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "truncate":
            lines[i] = lines[i][: int(other * len(lines[i]))]
        elif kind == "blank":
            lines[i] = ""
    return lines


@SETTINGS
@given(data=st.data())
def test_mutated_plans_keep_the_invariants(real_documents, data):
    """Whole plans with local damage: each layout family's parser sees its own kind of text."""
    doc = data.draw(st.sampled_from(real_documents))
    mutations = data.draw(st.lists(MUTATION, min_size=1, max_size=12))
    mutated = make_document(mutate(list(doc.lines), mutations), like=doc)
    check_invariants(mutated)


@SETTINGS
@given(data=st.data())
def test_windows_of_plans_keep_the_invariants(real_documents, data):
    """A slice of a plan (what an odd PDF extraction gives), mutated, under whichever family claims it."""
    doc = data.draw(st.sampled_from(real_documents))
    start = data.draw(st.integers(0, max(0, len(doc.lines) - 1)))
    size = data.draw(st.integers(1, 250))
    mutations = data.draw(st.lists(MUTATION, max_size=6))
    window = mutate(list(doc.lines[start : start + size]), mutations)
    mutated = make_document(window, like=doc)
    family_for(mutated)
    check_invariants(mutated)


# --------------------------------------------------------------------------
# the torch-free query tokenizer equals the model's own tokenizer
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokenizers_pair():
    from kb.embed.e5q4 import DEFAULT_MODEL_NAME
    from kb.embed.onnx.layout import encoder_dir, installed_meta
    from kb.embed.onnx.tokenizer import UnigramTokenizer

    if installed_meta(DEFAULT_MODEL_NAME) is None:
        pytest.skip("no ONNX query encoder installed (kb build / kb model prepare makes it)")
    from tokenizers import Tokenizer

    folder = encoder_dir(DEFAULT_MODEL_NAME)

    class Pair(tuple):
        def __repr__(self) -> str:  # hypothesis prints fixtures; the vocabulary is 250k entries
            return "<fast tokenizer, tokenizers.Tokenizer>"

    return Pair((UnigramTokenizer(folder), Tokenizer.from_file(str(folder / "tokenizer.json"))))


TOKENIZER_TEXT = st.one_of(
    st.text(max_size=60),
    st.text(JAPANESE, max_size=120),
    st.lists(st.sampled_from(STRUCTURAL + ("query: ", "<s>", "</s>", "<mask>", "ＤＸ", "ｶﾀｶﾅ", "🙂", "\u200b")), max_size=12).map("".join),
)


@settings(max_examples=max(EXAMPLES * 4, 100), deadline=None, derandomize=True)
@given(text=TOKENIZER_TEXT)
def test_query_tokenizer_matches_the_model_tokenizer(tokenizers_pair, text):
    fast, reference = tokenizers_pair
    assert fast.content_ids(text) == reference.encode(text, add_special_tokens=False).ids
