"""The concordance (``kb mentions``, the MCP ``mentions`` tool, the app's listing) on the real corpus.

Counts are checked against a grep of ``corpus/*.txt``: per plan, the lines the plan's passages own
(every line but page numbers, running headers and tables of contents, which the parser labels
noise) joined with all whitespace removed, counting every spelling of the term. Joining is what
makes a term the PDF wrapped across two lines count once, as the concordance counts it.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from typer.testing import CliRunner

from kb.errors import QueryError
from kb.present_mentions import concordance_csv, concordance_json
from kb.search.concordance import corpus_lines, find_mentions, mention_term, validate_terms
from kb.search.results import Filters
from kb.ui.mentions_html import MentionsState, concordance_html, decode, encode, search_link_html

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
LINES = corpus_lines(CORPUS)

#: term → every spelling a grep must count for it.
SPELLINGS = {
    "空き家": ("空き家", "空家"),
    "文化財": ("文化財",),
    "男女共同参画": ("男女共同参画",),
    "子ども": ("子ども", "子供", "こども"),
}


def _joined(doc, noise) -> str:
    return "".join("".join(line.split()) for n, line in enumerate(doc.lines, start=1) if n not in noise)


def grep_counts(documents, parsed, spellings) -> dict[str, int]:
    pattern = re.compile("|".join(map(re.escape, spellings)))
    return {name: len(pattern.findall(_joined(doc, parsed[name].noise))) for name, doc in documents.items()}


@pytest.mark.parametrize("term", list(SPELLINGS))
def test_counts_per_plan_equal_a_grep_of_the_plans(searcher, documents, parsed, term):
    concordance = find_mentions(searcher, LINES, [term])
    counted = {p.doc: p.occurrences for p in concordance.plans()}
    expected = grep_counts(documents, parsed, SPELLINGS[term])
    assert sum(expected.values()) > 0
    assert {d: counted.get(d, 0) for d in expected} == expected
    # Every spelling the grep counts is found (the normalised forms, not only the literal term) ...
    found = {o.found for p in concordance.passages for o in p.occurrences}
    present = {s for s in SPELLINGS[term] if sum(grep_counts(documents, parsed, [s]).values())}
    assert present <= found and (len(present) > 1 or len(SPELLINGS[term]) == 1)
    # ... on the lines it names, inside the passage that owns them.
    for passage in concordance.passages:
        lines = documents[passage.chunk.doc].lines
        for occurrence in passage.occurrences:
            assert {occurrence.line_start, occurrence.line_end} <= set(passage.chunk.lines)
            text = "".join("".join(lines[n - 1].split()) for n in range(occurrence.line_start, occurrence.line_end + 1))
            assert "".join(occurrence.found.split()) in text
            assert occurrence.found in occurrence.context
    per_plan = {p.doc: p.passages for p in concordance.plans()}
    assert sum(per_plan.values()) == len(concordance.passages)


def test_a_term_wrapped_across_lines_is_counted_once_on_both(searcher, documents, parsed):
    """観光 is wrapped by the PDF in places: a line-by-line grep misses those, the joined text does not."""
    concordance = find_mentions(searcher, LINES, ["観光"])
    by_line = sum(
        "".join(line.split()).count("観光")
        for name, doc in documents.items() for n, line in enumerate(doc.lines, start=1) if n not in parsed[name].noise
    )
    joined = sum(grep_counts(documents, parsed, ["観光"]).values())
    assert joined > by_line
    assert concordance.occurrences == joined
    wrapped = [o for p in concordance.passages for o in p.occurrences if o.line_end > o.line_start]
    assert len(wrapped) == joined - by_line


def test_synonyms_add_the_group_and_say_which(searcher):
    plain = find_mentions(searcher, LINES, ["子ども"])
    wider = find_mentions(searcher, LINES, ["子ども"], synonyms=True)
    assert "児童" in wider.synonyms["子ども"]
    assert not plain.synonyms
    assert any(o.found == "児童" for p in wider.passages for o in p.occurrences)
    assert {p.chunk.id for p in plain.passages} < {p.chunk.id for p in wider.passages}
    assert all(o.term == "子ども" for p in wider.passages for o in p.occurrences)


def test_several_terms_match_any_or_with_all_every_one(searcher):
    one, two = (find_mentions(searcher, LINES, [t]) for t in ("子ども", "子育て"))
    either = find_mentions(searcher, LINES, ["子ども", "子育て"])
    both = find_mentions(searcher, LINES, ["子ども", "子育て"], require_all=True)
    ids = [{p.chunk.id for p in c.passages} for c in (one, two)]
    assert {p.chunk.id for p in either.passages} == ids[0] | ids[1]
    assert {p.chunk.id for p in both.passages} == ids[0] & ids[1] != set()
    assert "いずれか" in either.describe() and "any" in either.describe()
    assert "すべて" in both.describe()


def test_filters_keep_only_their_plans_cities_and_kinds(searcher):
    everything = find_mentions(searcher, LINES, ["子ども"])
    kumamoto = find_mentions(searcher, LINES, ["子ども"], filters=Filters(city="kumamoto"))
    assert kumamoto.passages and {p.chunk.city for p in kumamoto.passages} == {"熊本市"}
    assert kumamoto.passages == tuple(p for p in everything.passages if p.chunk.city == "熊本市")
    doc = everything.passages[-1].chunk.doc
    one_plan = find_mentions(searcher, LINES, ["子ども"], filters=Filters(doc=doc))
    assert one_plan.passages == tuple(p for p in everything.passages if p.chunk.doc == doc)
    measures = find_mentions(searcher, LINES, ["子ども"], filters=Filters(kind="施策"))
    assert measures.passages == tuple(p for p in everything.passages if p.chunk.kind == "measure")
    with pytest.raises(QueryError, match="unknown city"):
        find_mentions(searcher, LINES, ["子ども"], filters=Filters(city="大阪市"))
    with pytest.raises(QueryError, match="unknown document"):
        find_mentions(searcher, LINES, ["子ども"], filters=Filters(doc="no-such-plan"))


@pytest.mark.parametrize(("terms", "message"), [
    ([""], "empty term"), (["  　 "], "empty term"), ([], "at least one term"), (["!!"], "no letters"),
    (["空" * 60], "too long"), (["a\x07b"], "control characters"),
])
def test_bad_terms_say_what_to_type(terms, message):
    with pytest.raises(QueryError, match=message):
        validate_terms(terms)


def test_json_and_csv_carry_every_mention(searcher):
    concordance = find_mentions(searcher, LINES, ["文化財", "空き家"])
    data = concordance_json(concordance)
    assert data["match"] == "any" and data["passages_count"] == len(concordance.passages)
    assert sum(p["occurrences"] for p in data["plans"]) == data["mentions_count"] == concordance.occurrences
    raw = concordance_csv(concordance, link="?tab=mentions&term=x")
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == concordance.occurrences
    assert {r["term"] for r in rows} == {"文化財", "空き家"}
    assert all(int(r["passage_start"]) <= int(r["line_start"]) <= int(r["line_end"]) <= int(r["passage_end"])
               for r in rows)


# -- CLI ----------------------------------------------------------------------------------------

def _kb(*args: str):
    from kb.cli.main import app

    return CliRunner().invoke(app, ["mentions", *args])


def test_cli_lists_by_plan_and_exports_csv(searcher, real_index, tmp_path):
    expected = find_mentions(searcher, LINES, ["文化財"])
    shown = _kb("文化財", "--index", str(real_index), "--corpus", str(CORPUS))
    assert shown.exit_code == 0, shown.output
    for plan in expected.plans():
        assert f"{plan.doc}: {plan.passages} 件 passages, {plan.occurrences} か所 mentions" in shown.output
    assert shown.output.count("«文化財»") == expected.occurrences
    as_json = _kb("文化財", "--city", "kumamoto", "--json", "--index", str(real_index), "--corpus", str(CORPUS))
    data = json.loads(as_json.stdout)
    assert data["filters"] == {"city": "熊本市"}
    assert data["passages_count"] == sum(1 for p in expected.passages if p.chunk.city == "熊本市")
    out = tmp_path / "m.csv"
    written = _kb("文化財", "--csv", str(out), "--index", str(real_index), "--corpus", str(CORPUS))
    assert written.exit_code == 0
    assert len(list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))) == expected.occurrences
    piped = _kb("文化財", "--csv", "-", "--index", str(real_index), "--corpus", str(CORPUS))
    assert piped.stdout.count("\n") == expected.occurrences + 1


@pytest.mark.parametrize(("args", "message"), [
    (["  "], "error: empty term"),
    (["空き家", "--city", "osaka"], "error: unknown city 'osaka'"),
    (["空き家", "--doc", "nope"], "error: unknown document 'nope'"),
])
def test_cli_bad_input_is_one_line_and_exit_2(real_index, args, message):
    result = _kb(*args, "--index", str(real_index))
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(message) and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_cli_entry_point_reports_an_empty_term_without_a_traceback():
    proc = subprocess.run([sys.executable, "-m", "kb.cli.main", "mentions", ""], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("error: empty term") and "Traceback" not in proc.stderr


# -- MCP ----------------------------------------------------------------------------------------

def test_mcp_mentions_tool(real_index, searcher):
    from mcp import Client

    from kb.mcp.backend import Backend
    from kb.mcp.server import build_server

    expected = find_mentions(searcher, LINES, ["空き家"], filters=Filters(city="熊本市"))

    async def talk() -> dict:
        async with Client(build_server(Backend(real_index, CORPUS))) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            good = await client.call_tool("mentions", {"terms": ["空き家"], "city": "kumamoto"})
            empty = await client.call_tool("mentions", {"terms": [" "]})
            bad_doc = await client.call_tool("mentions", {"terms": ["空き家"], "doc": "nope"})
            return {"tools": tools, "good": good, "empty": empty, "bad_doc": bad_doc}

    got = anyio.run(talk)
    tool = got["tools"]["mentions"]
    assert tool.annotations.read_only_hint
    assert {"terms", "city", "doc", "kind", "synonyms", "all_terms"} == set(tool.input_schema["properties"])
    answer = got["good"].structured_content
    assert not got["good"].is_error
    assert answer["passages_count"] == len(expected.passages) and answer["mentions_count"] == expected.occurrences
    assert all(p["citation"].endswith(f"({p['doc']}:{p['line_start']}-{p['line_end']})") for p in answer["passages"])
    assert got["empty"].is_error and got["empty"].content[0].text.startswith("empty term")
    assert got["bad_doc"].is_error and "unknown document 'nope'" in got["bad_doc"].content[0].text


# -- the app's listing (pure HTML; the browser test clicks through it) ----------------------------

def test_listing_html_groups_by_plan_with_a_row_per_mention(searcher):
    concordance = find_mentions(searcher, LINES, ["文化財"])
    page = concordance_html(concordance)
    assert page.count('class="kbm-row"') == page.count("<mark>") == concordance.occurrences
    assert page.count('class="kbm-plan"') == len(concordance.plans())
    assert page.count('class="kbm-bar ') == len(concordance.plans())
    first = concordance.passages[0].occurrences[0]
    assert f"line={first.line_start}" in page


def test_shared_link_round_trips_and_ignores_other_tabs():
    state = MentionsState(term="空き家 文化財", city="熊本市", kind="measure", synonyms=True, require_all=True)
    assert decode(encode(state)) == state
    assert state.terms == ["空き家", "文化財"]
    assert decode("?tab=compare&topic=x") is None
    assert decode("?tab=mentions&term=" + "x" * 5000).term == ""


def test_a_search_for_a_rare_term_links_to_all_its_mentions(searcher):
    rare = find_mentions(searcher, LINES, ["文化財"])
    link = search_link_html(searcher, LINES, "文化財", {})
    assert f"文化財 を含む記述 {len(rare.passages)} 件をすべて表示" in link
    assert "tab=mentions" in link
    assert search_link_html(searcher, LINES, "地域", {}) == ""  # hundreds of passages: not "rare"
    assert search_link_html(searcher, LINES, "若い女性の転出を抑える施策は？", {}) == ""  # a question, not a term
    assert mention_term("文化財について書かれている箇所をすべて集めたい", {"文化財": 6}, searcher.sudachi) == "文化財"
    filtered = search_link_html(searcher, LINES, "文化財", {}, city="熊本市")
    assert f"{sum(1 for p in rare.passages if p.chunk.city == '熊本市')} 件" in filtered and "city=" in filtered


def test_a_passage_is_read_from_its_own_lines_only_across_a_page_break():
    """A tiny fixture: 空家 wrapped over a page number the passage does not own (line 3) is one
    mention on lines 2-4; the noise line's own 空き家 is not the passage's; 子供 matches こども."""
    from kb.analysis.sudachi import SudachiAnalyzer
    from kb.chunk import Chunk
    from kb.search.concordance import needle, passage_occurrences

    lines = ["（１）住まい", "・増え続ける空", "－ 空き家 12 －", "家の活用と　こどもの居場所", "次の節"]
    chunk = Chunk(id="t:1-4", doc="t", city="", area="", title="", heading_path=("（１）住まい",), kind="measure",
                  goal="", line_start=1, line_end=4, lines=(1, 2, 4), text="", search_text="", embed_text="")
    analyzer = SudachiAnalyzer()
    found = passage_occurrences(chunk, lines, [needle(analyzer, "空き家"), needle(analyzer, "子供")], analyzer)
    assert [(o.term, o.found, o.line_start, o.line_end) for o in found] == [
        ("空き家", "空家", 2, 4), ("子供", "こども", 4, 4)]
    assert found[1].context.endswith("こどもの居場所")
