"""Issue 23, the third adversarial pass: each test reproduces one finding.

Data loss (1-4): `kb remove` outside the corpus, manifests a regular expression misread,
two adds at once, kills in the middle of an add or remove. Then the inputs that still
escaped: CSV formulas (6), `kb search --batch` lines (8), the add endpoint's Host/Origin
(5), HTML charsets and nesting (9), PDF decompression bombs (7).
"""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb import service
from kb.errors import KbError
from kb.index.storage import load_index
from kb.ingest.add import AddError, PlanInfo, add_to_corpus, remove_from_corpus
from kb.ingest.corpus import load_corpus
from kb.ingest.intent import DONE, Intent, journal_path
from tests.pdfbytes import assemble_pdf

PLAN = "第1章 筑後の未来\n基本目標1 移住を増やす\n施策1 空き家バンクの充実\n空き家の活用で移住者を迎えます。\n"


def tree_state(*folders: Path) -> dict[str, str]:
    """Every file under the folders with its sha256: 'unchanged' means byte for byte."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def indexed(tmp_path, two_plan_corpus, fake_embedder):
    index = tmp_path / "index"
    service.build(two_plan_corpus, index, embedder=fake_embedder)
    return two_plan_corpus, index


def _plan(folder: Path, name: str = "chikugo-plan.txt", text: str = PLAN) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def _indexed_docs(index: Path) -> set[str]:
    return {c.doc for c in load_index(index).chunks}


# -- 1. kb remove only removes a plan the manifest lists --------------------------------------------


@pytest.mark.parametrize("name", ["../victim", "{abs}/victim", "sources/../../victim", "", ".", "..", "unlisted"])
def test_remove_refuses_any_name_the_manifest_does_not_list(indexed, tmp_path, name):
    corpus, index = indexed
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    _plan(corpus, "unlisted.txt")  # in the folder, not in the manifest
    before = tree_state(corpus, index)
    result = CliRunner().invoke(_cli(), ["remove", name.format(abs=tmp_path), "--corpus", str(corpus),
                                         "--index", str(index)])
    assert isinstance(result.exception, AddError) and "no document named" in str(result.exception)
    assert victim.read_text(encoding="utf-8") == "keep me\n"
    assert tree_state(corpus, index) == before


def test_remove_refuses_a_manifest_entry_that_points_outside_the_corpus(two_plan_corpus, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    manifest = two_plan_corpus / "manifest.toml"
    manifest.write_text(manifest.read_text(encoding="utf-8") + '\n[[document]]\nfile = "../victim.txt"\n',
                        encoding="utf-8")
    with pytest.raises(AddError):
        remove_from_corpus(two_plan_corpus, "../victim")
    assert victim.exists()


def _cli():
    from kb.cli.main import app

    return app


# -- 2. the manifest is edited as TOML -----------------------------------------------------------------


def _manifest_variants(text: str) -> dict[str, str]:
    commented = text.replace("[[document]]", "[[document]]  # note", 1)
    return {
        "comment on a header": commented,
        "comment on the later header": text.replace('[[document]]\nfile = "kurume-kouiki-web.txt"',
                                                    '# the web page\n[[document]]  # note\nfile = "kurume-kouiki-web.txt"'),
        "CRLF": text.replace("\n", "\r\n"),
        "spaced header": text.replace("[[document]]", "[[ document ]]"),
    }


@pytest.mark.parametrize("variant", ["comment on a header", "comment on the later header", "CRLF", "spaced header"])
def test_remove_keeps_every_other_entry_whatever_the_manifest_layout(two_plan_corpus, variant):
    manifest = two_plan_corpus / "manifest.toml"
    text = _manifest_variants(manifest.read_text(encoding="utf-8"))[variant]
    manifest.write_bytes(text.encode("utf-8"))
    before = tomllib.loads(text)["document"]
    first, second = (d["file"].removesuffix(".txt") for d in before)
    for stem, kept in ((first, before[1]), (second, before[0])):
        change = remove_from_corpus(two_plan_corpus, stem)
        left = manifest.read_text(encoding="utf-8")
        assert tomllib.loads(left)["document"] == [kept], variant  # the other plan keeps title and city
        if variant == "CRLF":
            assert b"\r\n" in manifest.read_bytes() and b"\n\n" not in manifest.read_bytes()
        if variant == "comment on a header":
            assert ("# note" in left) == (stem == second)  # the removed header's comment goes with it
        if variant == "comment on the later header" and stem == first:
            assert "# the web page" in left and "# note" in left
        change.rollback()
        assert manifest.read_bytes() == text.encode("utf-8")


def test_add_then_remove_of_a_crlf_manifest_restores_it_byte_for_byte(indexed, fake_embedder, tmp_path):
    corpus, index = indexed
    manifest = corpus / "manifest.toml"
    manifest.write_bytes(manifest.read_bytes().replace(b"\n", b"\r\n"))
    before = manifest.read_bytes()
    service.add_plan(_plan(tmp_path), corpus, index, embedder=fake_embedder, info=PlanInfo(title="筑後 # not a comment"))
    entry = tomllib.loads(manifest.read_text(encoding="utf-8"))["document"][-1]
    assert entry["title"] == "筑後 # not a comment" and b"\n" not in manifest.read_bytes().replace(b"\r\n", b"")
    service.remove_plan("chikugo-plan", corpus, index, embedder=fake_embedder)
    assert manifest.read_bytes() == before


# -- 3. two adds at once --------------------------------------------------------------------------------


def test_two_adds_at_once_both_end_up_in_the_index(indexed, fake_embedder, tmp_path):
    corpus, index = indexed
    plans = [_plan(tmp_path, f"plan-{n}.txt", PLAN.replace("筑後", f"町{n}")) for n in (1, 2)]
    errors: list[BaseException] = []
    said: list[str] = []
    start = threading.Barrier(2)

    def add(path: Path) -> None:
        start.wait()
        try:
            service.add_plan(path, corpus, index, embedder=fake_embedder, say=said.append)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(p,)) for p in plans]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert {"plan-1", "plan-2"} <= _indexed_docs(index)
    assert any("waiting for another kb add/remove" in s for s in said)
    assert not load_index(index).stale_documents(corpus)


# -- 4. a killed add or remove is finished or undone by the next one ---------------------------------------


def test_an_add_killed_before_its_rebuild_is_undone_by_the_next_command(indexed, fake_embedder, tmp_path):
    corpus, index = indexed
    before = tree_state(corpus, index)
    add_to_corpus(corpus, _plan(tmp_path), PlanInfo())  # ... and the process died here (no rebuild, no commit)
    assert journal_path(corpus).is_file()
    with pytest.raises(AddError, match="no document named 'chikugo-plan'"):
        service.remove_plan("chikugo-plan", corpus, index, embedder=fake_embedder)
    assert tree_state(corpus, index) == before
    assert not journal_path(corpus).exists() and not list(corpus.parent.glob(".kb-stage-*"))


def test_an_add_killed_after_its_swap_is_undone_and_the_index_rebuilt(indexed, fake_embedder, tmp_path):
    corpus, index = indexed
    add_to_corpus(corpus, _plan(tmp_path), PlanInfo())
    # The add's own rebuild (inside its lock, so without `kb build`'s recovery): swapped in, killed before the commit
    service._build(corpus, index, embedder=fake_embedder)
    assert "chikugo-plan" in _indexed_docs(index)
    service.add_plan(_plan(tmp_path, "other-plan.txt", PLAN.replace("筑後", "八女")), corpus, index,
                     embedder=fake_embedder)
    assert {d.doc for d in load_corpus(corpus)} == {"kurume-sousei-senryaku-3", "kurume-kouiki-web", "other-plan"}
    assert "chikugo-plan" not in _indexed_docs(index) and not load_index(index).stale_documents(corpus)


def test_a_remove_killed_after_it_was_done_is_finished(indexed, fake_embedder):
    corpus, index = indexed
    change = remove_from_corpus(corpus, "kurume-kouiki-web")
    service._build(corpus, index, embedder=fake_embedder)  # the remove's own rebuild, inside its lock
    change.phase = DONE
    change.write()  # killed while deleting the set-aside files
    assert change.trash is not None and change.trash.exists()
    service.add_plan(_plan(corpus.parent), corpus, index, embedder=fake_embedder)
    assert not change.trash.exists() and not journal_path(corpus).exists()
    assert "kurume-kouiki-web" not in _indexed_docs(index) and not (corpus / "kurume-kouiki-web.txt").exists()


def test_a_remove_killed_half_way_is_undone(indexed, fake_embedder):
    corpus, index = indexed
    before = tree_state(corpus, index)
    change = remove_from_corpus(corpus, "kurume-kouiki-web")
    first = next(iter(change.moved))
    os.replace(change.moved[first], first)  # as if killed between the manifest and the first move
    Intent.read(corpus)  # the journal is readable
    service.remove_plan("kurume-sousei-senryaku-3", corpus, index, embedder=fake_embedder)
    assert (corpus / "kurume-kouiki-web.txt").exists()
    assert "kurume-kouiki-web" in {d.doc for d in load_corpus(corpus)}
    assert set(tree_state(corpus)) < set(before)


def test_sigterm_during_the_rebuild_rolls_the_add_back(indexed, fake_embedder, tmp_path):
    corpus, index = indexed
    before = tree_state(corpus, index)

    class KilledWhileEmbedding(type(fake_embedder)):  # type: ignore[misc]
        def encode_documents(self, texts, **kwargs):
            os.kill(os.getpid(), signal.SIGTERM)
            return super().encode_documents(texts, **kwargs)

    with pytest.raises(SystemExit):
        service.add_plan(_plan(tmp_path), corpus, index, embedder=KilledWhileEmbedding())
    assert tree_state(corpus, index) == before
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert not load_index(index).stale_documents(corpus)


def test_refusals_stay_one_line_known_errors(indexed, tmp_path):
    _, index = indexed
    with pytest.raises(KbError):
        service.add_plan(_plan(tmp_path), tmp_path / "no-corpus", index)


# -- 6. CSV export cannot start a formula ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["=1+1 子育て", "+81 92", "-1", "@SUM(A1)", "\t=cmd", "\r=cmd", "＝1+1", "－ 施策"])
def test_csv_cells_that_could_start_a_formula_are_quoted(text):
    from kb.present import csv_cell

    assert csv_cell(text) == "'" + text
    assert csv_cell("子育て =1") == "子育て =1" and csv_cell(-0.5) == -0.5


def test_exported_csv_neutralises_the_query_and_plan_text(indexed, fake_embedder):
    import csv
    import dataclasses
    import io

    from kb.present import FORMULA_STARTS, results_csv
    from kb.search.searcher import Searcher

    _, index = indexed
    result = Searcher(load_index(index), fake_embedder).search("=1+1 子育て", k=3, method="lexical")
    bullet = dataclasses.replace(result.hits[0], text="- ⑥地域に愛着を持ち、地域で活躍する人材の育成")
    result = dataclasses.replace(result, hits=[bullet, *result.hits[1:]])
    rows = list(csv.reader(io.StringIO(results_csv(result, link="=HYPERLINK(\"http://x\")").decode("utf-8-sig"))))
    header, first = rows[0], dict(zip(rows[0], rows[1]))
    assert first["query"] == "'=1+1 子育て" and first["text"].startswith("'- ⑥") and first["link"].startswith("'=")
    assert not any(cell.startswith(FORMULA_STARTS) for row in rows[1:] for cell in row), header


# -- 8. kb search --batch: every line answered, with its true number -----------------------------------------


def test_batch_reads_bytes_and_answers_every_line_with_its_number(indexed, fake_embedder, tmp_path, monkeypatch):
    import json

    from kb.search.searcher import Searcher
    from kb.service import session_for

    corpus, index = indexed
    monkeypatch.setattr(service, "open_session",
                        lambda *a, **k: session_for(Searcher(load_index(index), fake_embedder), corpus))
    lines = [
        '{"id": "a", "query": "子育て\u2028支援\u2029の\u0085充実"}',  # raw separators inside a JSON string
        '{"id": "\\ud800", "query": "移住"}',  # an id with a lone surrogate
        '{"id": "c", "query": "\\udc80"}',  # a query that is one
        "not json",
        "",
        '{"id": "e", "query": "企業誘致"}',
    ]
    data = b"\xef\xbb\xbf" + "\r\n".join(lines).encode("utf-8").replace(b"not json", b'{"id": "d\xff"}') + b"\r\n"
    batch = tmp_path / "queries.jsonl"
    batch.write_bytes(data)
    result = CliRunner().invoke(_cli(), ["search", "--batch", str(batch), "--method", "lexical", "--index", str(index)])
    assert result.exit_code == 1, result.output
    out = result.stdout.splitlines()  # the answers escape U+2028 & co., so even splitlines() is right
    answers = [json.loads(x) for x in out if x.startswith("{")]
    assert len(answers) == len(out)
    assert [a["line"] for a in answers] == [1, 2, 3, 4, 6]
    assert answers[0]["id"] == "a" and answers[0]["query"] == "子育て\u2028支援\u2029の\u0085充実"  # one request
    assert answers[1]["id"] == "\ud800" and answers[1]["hits"]
    assert answers[2]["error"] and answers[3]["error"].startswith("malformed line (not UTF-8")
    assert answers[4]["id"] == "e" and answers[4]["hits"]


# -- 5. the add endpoint answers only to this machine's own names -----------------------------------------------


REBINDING = {"host": "evil.example.com", "origin": "http://evil.example.com"}


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        (REBINDING, False),
        ({"host": "evil.example.com:7860"}, False),
        ({"host": "127.0.0.1:7860", "origin": "http://evil.example.com"}, False),
        ({"host": "127.0.0.1:7860", "origin": "null"}, False),
        ({}, False),
        ({"host": "127.0.0.1:7860", "origin": "http://127.0.0.1:7860"}, True),
        ({"host": "localhost:7860"}, True),
        ({"host": "[::1]:7860", "origin": "http://[::1]:7860"}, True),
        ({"host": "kb-pc.local:7860", "origin": "http://kb-pc.local:7860"}, True),  # on the allow-list
    ],
)
def test_allowed_hosts(headers, allowed):
    from kb.ui.guard import AllowedHosts

    hosts = AllowedHosts.for_bind("0.0.0.0", extra="kb-pc.local")
    assert (hosts.problem(headers, "127.0.0.1") == "") is allowed
    assert hosts.problem({"host": "127.0.0.1"}, "192.168.1.20")  # and the client must be this machine


def test_the_add_panel_refuses_a_rebound_host_and_changes_nothing(indexed, fake_embedder, tmp_path):
    from kb.search.searcher import Searcher
    from kb.service import session_for
    from kb.ui.service import SearchService

    corpus, index = indexed
    app = SearchService(session_for(Searcher(load_index(index), fake_embedder), corpus), corpus, index_dir=index,
                        workdir=tmp_path / "ui")
    before = tree_state(corpus, index)
    message = app.add_plan(_plan(tmp_path), embedder=fake_embedder, client_host="127.0.0.1", headers=REBINDING)
    assert "このアドレスからは追加できません" in message
    assert tree_state(corpus, index) == before


def test_the_upload_route_refuses_a_rebound_host(tmp_path, monkeypatch):
    import socket
    import urllib.error
    import urllib.request

    import gradio as gr

    from kb.ui.blocks import launch

    monkeypatch.delenv("KB_ALLOWED_HOSTS", raising=False)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with gr.Blocks() as demo:
        gr.File()
    launch(demo, host="127.0.0.1", port=port, quiet=True, prevent_thread_lock=True)
    try:
        body = (b"--x\r\nContent-Disposition: form-data; name=\"files\"; filename=\"plan.txt\"\r\n"
                b"Content-Type: text/plain\r\n\r\nplan\r\n--x--\r\n")

        def upload(headers: dict[str, str]) -> tuple[int, str]:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/gradio_api/upload", data=body, method="POST",
                                             headers={"Content-Type": "multipart/form-data; boundary=x", **headers})
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return answer.status, answer.headers.get("access-control-allow-origin") or ""
            except urllib.error.HTTPError as exc:
                return exc.code, exc.headers.get("access-control-allow-origin") or ""

        assert upload({"Host": "evil.example.com", "Origin": "http://evil.example.com"})[0] == 403
        assert upload({"Origin": "http://evil.example.com"})[0] == 403
        assert upload({"Origin": f"http://127.0.0.1:{port}"})[0] == 200
    finally:
        demo.close()


# -- 9. HTML: odd charsets, wrong charsets, deep nesting --------------------------------------------------------

HTML_PAGE = """<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>子育て応援ページ</title></head>
<body><main><h1>テスト市子育て応援計画</h1><p>この計画は子育てを応援します。若い世代の定住を促進します。</p>
<h2>基本目標1 安心して産み育てる</h2><ul><li>妊娠期から相談できる体制を整えます。</li><li>保育料を軽減します。</li></ul>
</main></body></html>"""


@pytest.mark.parametrize("charset", ["idna", "undefined", "punycode", "rot13", "x-user-defined"])
def test_an_odd_declared_charset_is_a_clear_refusal(tmp_path, charset):
    from kb.ingest.webpage import extract

    page = tmp_path / "odd.html"
    page.write_bytes(HTML_PAGE.replace("utf-8", charset).encode("utf-8"))
    with pytest.raises(KbError, match=f"declares charset '{charset}', which is not a character set.*utf_8"):
        extract(page)


@pytest.mark.parametrize(
    ("declared", "encoding"),
    [("utf-8", "cp932"), ("Shift_JIS", "utf-8"), ("Shift_JIS", "euc_jp"), ("EUC-JP", "cp932"),
     ("windows-1252", "utf-8"), ("utf-8", "euc_jp")],
)
def test_bytes_in_another_charset_than_declared_are_refused(tmp_path, declared, encoding):
    from kb.ingest.webpage import extract

    page = tmp_path / "mismatch.html"
    page.write_bytes(HTML_PAGE.replace("utf-8", declared).encode(encoding))
    with pytest.raises(KbError, match=f"declares charset '{declared.lower()}' but its bytes read as"):
        extract(page)


@pytest.mark.parametrize(("declared", "encoding"), [("Shift_JIS", "cp932"), ("EUC-JP", "euc_jp"), ("utf-8", "utf-8"),
                                                    ("", "cp932")])
def test_correctly_declared_and_undeclared_pages_still_read(tmp_path, declared, encoding):
    from kb.ingest.webpage import extract

    page = tmp_path / "fine.html"
    html = HTML_PAGE.replace('<meta charset="utf-8">', f'<meta charset="{declared}">' if declared else "")
    page.write_bytes(html.encode(encoding))
    assert "## 基本目標1 安心して産み育てる" in extract(page).lines


def test_five_thousand_nested_divs_are_read_not_a_crash(indexed, fake_embedder, tmp_path):
    corpus, index = indexed
    page = tmp_path / "deep-plan.html"
    page.write_text(HTML_PAGE.replace("<main>", "<main>" + "<div>" * 5000).replace("</main>", "</div>" * 5000 + "</main>"),
                    encoding="utf-8")
    service.add_plan(page, corpus, index, embedder=fake_embedder)
    assert "妊娠期から相談できる体制を整えます。" in (corpus / "deep-plan.txt").read_text(encoding="utf-8")


# -- 7. PDF decompression bombs ---------------------------------------------------------------------------------


def _pdf_with_content(content: bytes) -> bytes:
    """A one-page PDF whose (deflated) content stream is ``content``, with Helvetica as /F1."""
    import zlib

    stream = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 800] /Contents 4 0 R"
         b" /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>"),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    return assemble_pdf(objects)


def test_a_page_over_the_character_budget_is_refused(indexed, fake_embedder, tmp_path):
    corpus, index = indexed
    bomb = tmp_path / "bomb-plan.pdf"
    shown = b"(" + b"A" * 30_000 + b") Tj "  # PDFium caps one string at 32,767 characters
    bomb.write_bytes(_pdf_with_content(b"BT /F1 1 Tf 10 10 Td " + shown * 10 + b"ET"))
    assert bomb.stat().st_size < 5_000
    before = tree_state(corpus, index)
    with pytest.raises(KbError, match="too large to read safely.*page 1 holds 300,000 characters"):
        service.add_plan(bomb, corpus, index, embedder=fake_embedder)
    assert tree_state(corpus, index) == before


def test_a_pdf_that_needs_too_much_memory_is_refused_not_a_crash(tmp_path):
    from kb.ingest.pdf import page_lines

    bomb = tmp_path / "bomb.pdf"
    bomb.write_bytes(_pdf_with_content(b"BT /F1 1 Tf 10 10 Td (plan) Tj ET\n" + b" " * 400 * 2**20))
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(KbError, match="too large to read safely"):
        page_lines(bomb, memory_limit=300 * 2**20)


def test_an_ordinary_pdf_is_still_read_within_the_budgets(tmp_path):
    from kb.ingest.pdf import extract

    plan = tmp_path / "small.pdf"
    plan.write_bytes(_pdf_with_content(b"BT /F1 12 Tf 50 700 Td (Kosodate shien keikaku) Tj ET"))
    assert extract(plan).lines == ["Kosodate shien keikaku"]


def test_the_comparison_csv_neutralises_formula_cells_too():
    from kb.compare.render import _csv_bytes

    data = _csv_bytes([["=1+1 子育て", "- ①子育て支援", "ok", 3]]).decode("utf-8-sig")
    assert data.startswith("'=1+1 子育て,'- ①子育て支援,ok,3")
