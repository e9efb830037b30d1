"""``kb add`` / ``kb remove``: PDF and HTML plans in, pages out, and failed adds that change nothing.

The PDF is real: a small Japanese plan printed by headless Chromium (with its default
running header and footer, so the cleaning has something to remove), added to a tiny
copy of the corpus and indexed with the fake embedder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from kb import service
from kb.errors import KbError
from kb.index.storage import load_index
from kb.ingest.add import AddError, PlanInfo, manifest_entry, with_entry, without_entry
from kb.ingest.corpus import load_corpus
from kb.ingest.pages import read_pages
from kb.ingest.parse import parse_document
from kb.ingest.parse.model import GOAL, KPI, MEASURE
from kb.ingest.pdf import NO_TEXT
from kb.present import result_json
from kb.search.searcher import Filters, Searcher
from kb.service import session_for
from tests.conftest import BrokenEmbedder
from tests.pdfbytes import assemble_pdf

PLAN_HTML = """<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>テスト市 子育て応援計画</title>
<style>body{font-family:"IPAGothic","Noto Sans CJK JP",sans-serif;font-size:12pt}.page{page-break-after:always}</style>
</head><body>
<div class="page"><p>第1章 計画の概要</p><p>1 計画の目的</p>
<p>本計画は、テスト市の子育て支援の方向を示すものです。市民が安心して子どもを産み育てられるよう、妊娠期から切れ目のない支援を行い、若い世代の定住を促進することを目的とします。</p>
<p>2 計画の期間</p><p>令和8年度から令和12年度までの5年間とします。</p></div>
<div class="page"><p>第2章 施策の展開</p><p>基本目標1 子育てしやすいまちをつくる</p><p>(1) 子育て支援の充実</p>
<p>① 相談体制の強化</p><p>・妊娠期から切れ目なく相談できる体制を整えます。</p>
<p>② 経済的負担の軽減</p><p>・保育料の負担を軽減します。</p><p>■数値目標</p><p>合計特殊出生率 1.43 → 1.60</p></div>
<div class="page"><p>基本目標2 働く場をつくる</p><p>(1) 企業誘致の推進</p><p>・サテライトオフィスの誘致を進めます。</p></div>
</body></html>
"""

WEB_PAGE = """<!doctype html><html lang="ja"><head><meta charset="utf-8"><title>子育て応援ページ｜テスト市</title></head>
<body><header><p>テスト市役所</p><nav><ul><li>ホーム</li><li>くらし</li></ul></nav></header>
<main><h1>テスト市子育て応援計画</h1><p>この計画は<strong>子育て</strong>を応援します。</p>
<h2>基本目標1 安心して産み育てる</h2><h3>施策1 相談体制</h3>
<ul><li>妊娠期から相談できる体制を整えます。</li><li>保育料を軽減します。</li></ul>
<h3>数値目標</h3><table><tr><th>指標</th><th>基準値</th><th>目標値</th></tr>
<tr><td>出生数</td><td>2,000人</td><td>2,200人</td></tr></table>
<h2>基本目標2 働く場をつくる</h2><p>企業誘致を進めます。</p></main>
<footer>このページの先頭へ</footer><script>var tracking = 1;</script></body></html>
"""

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def print_pdf(html: str, folder: Path, name: str) -> Path:
    """Render HTML to PDF with headless Chromium (skips the test when there is none)."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    source = folder / f"{name}.html"
    source.write_text(html, encoding="utf-8")
    target = folder / f"{name}.pdf"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", f"--print-to-pdf={target}", str(source)],
        check=True, capture_output=True, timeout=120,
    )
    if not target.is_file():
        pytest.skip("chromium printed no PDF")
    return target


def tree_state(*folders: Path) -> dict[str, str]:
    """Every file under the folders with its sha256: 'unchanged' means byte for byte."""
    state = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                state[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


@pytest.fixture
def indexed(tmp_path, two_plan_corpus, fake_embedder):
    """A tiny corpus and its index (fake embeddings), ready for adds."""
    index = tmp_path / "index"
    service.build(two_plan_corpus, index, embedder=fake_embedder)
    return two_plan_corpus, index


@pytest.fixture(scope="module")
def plan_pdf(tmp_path_factory) -> Path:
    return print_pdf(PLAN_HTML, tmp_path_factory.mktemp("pdf"), "test-kosodate-plan")


def _searcher(index: Path, embedder) -> Searcher:
    return Searcher(load_index(index), embedder)


def test_pdf_round_trip_keeps_text_outline_and_pages(indexed, plan_pdf, fake_embedder, tmp_path):
    corpus, index = indexed
    before = load_index(index)
    report = service.add_plan(plan_pdf, corpus, index, embedder=fake_embedder,
                              info=PlanInfo(city="テスト市", kind="子ども・子育て支援計画", period="2026-2030"))
    assert report.doc == "test-kosodate-plan" and report.pages == 3
    # text: cleaned lines, the browser's running header/footer (date, title, file URL, 1/3) gone
    text = (corpus / "test-kosodate-plan.txt").read_text(encoding="utf-8")
    assert "基本目標1 子育てしやすいまちをつくる" in text and "保育料の負担を軽減します。" in text
    assert "file://" not in text and "1/3" not in text and "テスト市 子育て応援計画" not in text
    # original kept, manifest entry written with the existing fields
    assert (corpus / "sources" / "test-kosodate-plan.pdf").read_bytes() == plan_pdf.read_bytes()
    entries = tomllib.loads((corpus / "manifest.toml").read_text(encoding="utf-8"))["document"]
    entry = next(e for e in entries if e["file"] == "test-kosodate-plan.txt")
    assert entry["title"] == "テスト市 子育て応援計画"  # from the PDF's metadata
    assert entry["municipality"] == "テスト市" and entry["period"] == "2026-2030"
    assert entry["source"] == "sources/test-kosodate-plan.pdf" and "goal" in entry["structure"]
    # outline: the general detector found goals, measures and the KPI label
    doc = next(d for d in load_corpus(corpus) if d.doc == "test-kosodate-plan")
    sections = {s.title: s for s in parse_document(doc).sections}
    assert sections["基本目標1 子育てしやすいまちをつくる"].kind == GOAL
    assert sections["② 経済的負担の軽減"].kind == MEASURE
    assert sections["■数値目標"].kind == KPI
    # pages: each line's page, and hits carry page_start/page_end
    pages = read_pages(corpus, "test-kosodate-plan")
    assert pages is not None
    line_of = {line: n for n, line in enumerate(doc.lines, start=1)}
    assert pages.span(line_of["1 計画の目的"], line_of["1 計画の目的"]) == (1, 1)
    assert pages.span(line_of["■数値目標"], line_of["■数値目標"]) == (2, 2)
    assert pages.span(line_of["(1) 企業誘致の推進"], line_of["(1) 企業誘致の推進"]) == (3, 3)
    # the index was rebuilt incrementally: the old plans' vectors were reused
    assert report.build.reused == len(before.chunks)
    session = session_for(_searcher(index, fake_embedder), corpus)
    result = session.searcher.search("保育料の負担軽減", k=20, method="lexical")
    hits = result_json(result, session.page_span)["hits"]
    ours = [h for h in hits if h["doc"] == "test-kosodate-plan"]
    assert ours and ours[0]["page_start"] == 2 and ours[0]["page_end"] == 2
    assert all("page_start" not in h for h in hits if h["doc"] != "test-kosodate-plan")
    # the new municipality is a city filter like the others
    only = session.searcher.search("子育て", k=5, method="lexical", filters=Filters(city="テスト市"))
    assert only.hits and {h.chunk.doc for h in only.hits} == {"test-kosodate-plan"}


def test_html_add_keeps_main_content_and_headings(indexed, fake_embedder, tmp_path):
    corpus, index = indexed
    page = tmp_path / "kosodate-web.html"
    page.write_text(WEB_PAGE, encoding="utf-8")
    report = service.add_plan(page, corpus, index, embedder=fake_embedder, info=PlanInfo(title="子育て応援ページ"))
    text = (corpus / f"{report.doc}.txt").read_text(encoding="utf-8")
    assert "## 基本目標1 安心して産み育てる" in text and "出生数\t2,000人\t2,200人" in text
    assert "テスト市役所" not in text and "tracking" not in text and "このページの先頭へ" not in text
    assert read_pages(corpus, report.doc) is None
    doc = next(d for d in load_corpus(corpus) if d.doc == report.doc)
    parsed = parse_document(doc)
    assert parsed.family == "general"
    by_title = {s.title: s for s in parsed.sections}
    assert by_title["施策1 相談体制"].path[1:] == ("テスト市子育て応援計画", "基本目標1 安心して産み育てる", "施策1 相談体制")
    assert by_title["施策1 相談体制"].kind == MEASURE and by_title["数値目標"].kind == KPI
    assert len(load_index(index).chunks) > report.build.reused


def test_shift_jis_html_is_read_in_its_declared_charset(tmp_path):
    from kb.ingest.webpage import extract

    page = tmp_path / "sjis.html"
    page.write_bytes(WEB_PAGE.replace("utf-8", "Shift_JIS").encode("cp932"))
    assert "## 基本目標1 安心して産み育てる" in extract(page).lines


def test_text_add_then_remove_restores_the_corpus(indexed, fake_embedder, tmp_path):
    corpus, index = indexed
    manifest = (corpus / "manifest.toml").read_text(encoding="utf-8")
    plan = tmp_path / "new-plan.txt"
    plan.write_text("第1章 総論\n\n1 目的\n\n本計画は新しい計画です。\n", encoding="utf-8")
    service.add_plan(plan, corpus, index, embedder=fake_embedder)
    assert {d.doc for d in load_corpus(corpus)} >= {"new-plan"}
    service.remove_plan("new-plan", corpus, index, embedder=fake_embedder)
    assert (corpus / "manifest.toml").read_text(encoding="utf-8") == manifest
    assert not (corpus / "new-plan.txt").exists() and not (corpus / "sources").exists()
    assert "new-plan" not in {c.doc for c in load_index(index).chunks}


def test_remove_of_an_unknown_document_names_the_known_ones(indexed, fake_embedder):
    corpus, index = indexed
    with pytest.raises(AddError, match="no document named 'nope'.*kurume-kouiki-web"):
        service.remove_plan("nope", corpus, index, embedder=fake_embedder)


def image_only_pdf(source: Path, target: Path) -> Path:
    """The same plan as pictures of its pages: a scan, with no text layer."""
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(source))
    images = [page.render(scale=1).to_pil().convert("RGB") for page in document]
    document.close()
    images[0].save(target, save_all=True, append_images=images[1:])
    return target


def encrypted_pdf() -> bytes:
    """A PDF that needs a password (standard security handler; its O/U entries match none)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <" + b"11" * 32 + b"> /U <" + b"22" * 32 + b"> /P -4 >>",
    ]
    return assemble_pdf(objects, b" /Encrypt 4 0 R /ID [<" + b"ab" * 16 + b"> <" + b"ab" * 16 + b">]")


def _bad_files(folder: Path, plan_pdf: Path) -> dict[str, tuple[Path, str]]:
    scan = image_only_pdf(plan_pdf, folder / "scanned-plan.pdf")
    word = folder / "plan.docx"
    word.write_bytes(b"PK\x03\x04 not really a word file")
    empty = folder / "empty-plan.txt"
    empty.write_text("\n \n\u3000\n", encoding="utf-8")
    duplicate = folder / "kurume-kouiki-web.html"
    duplicate.write_text(WEB_PAGE, encoding="utf-8")
    locked = folder / "locked-plan.pdf"
    locked.write_bytes(encrypted_pdf())
    broken = folder / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 this is not a PDF body")
    return {
        "image-only PDF": (scan, NO_TEXT),
        "encrypted PDF": (locked, f"encrypted PDF.*{NO_TEXT}"),
        "wrong extension": (word, "unsupported file type '.docx'"),
        "empty text": (empty, "empty"),
        "duplicate stem": (duplicate, "already in"),
        "unreadable PDF": (broken, "not a readable PDF"),
    }


def test_bad_files_leave_corpus_and_index_unchanged(indexed, plan_pdf, fake_embedder, tmp_path):
    corpus, index = indexed
    folder = tmp_path / "bad"
    folder.mkdir()
    before = tree_state(corpus, index)
    for label, (path, message) in _bad_files(folder, plan_pdf).items():
        with pytest.raises(KbError, match=message):
            service.add_plan(path, corpus, index, embedder=fake_embedder)
        assert tree_state(corpus, index) == before, label
    assert not list(corpus.parent.glob(".kb-*")), "staging folders left behind"


def test_a_failed_rebuild_puts_the_corpus_back(indexed, plan_pdf, tmp_path):
    corpus, index = indexed
    before = tree_state(corpus, index)

    with pytest.raises(RuntimeError, match="fell over"):
        service.add_plan(plan_pdf, corpus, index, embedder=BrokenEmbedder())  # type: ignore[arg-type]
    assert tree_state(corpus, index) == before
    with pytest.raises(RuntimeError, match="fell over"):
        service.remove_plan("kurume-kouiki-web", corpus, index, embedder=BrokenEmbedder())  # type: ignore[arg-type]
    assert tree_state(corpus, index) == before


def test_removing_a_manifest_entry_keeps_the_others_and_comments():
    manifest = '# provenance\n\n[[document]]\nfile = "a.txt"\ntitle = "A"\n\n[[document]]\nfile = "b.txt"\ntitle = "B"\n'
    assert without_entry(manifest, "a.txt") == '# provenance\n\n[[document]]\nfile = "b.txt"\ntitle = "B"\n'
    added = with_entry(manifest, manifest_entry("c", PlanInfo(title="C"), source="sources/c.pdf", structure="s"))
    assert tomllib.loads(added)["document"][-1] == {"file": "c.txt", "title": "C", "structure": "s", "source": "sources/c.pdf"}
    assert without_entry(added, "c.txt") == manifest


def test_cli_add_and_remove_report_one_line_errors(two_plan_corpus, tmp_path):
    from typer.testing import CliRunner

    from kb.cli.main import app

    bad = tmp_path / "plan.docx"
    bad.write_bytes(b"x")
    runner = CliRunner()
    result = runner.invoke(app, ["add", str(bad), "--corpus", str(two_plan_corpus), "--index", str(tmp_path / "i")])
    assert result.exit_code != 0 and isinstance(result.exception, AddError)
    assert "unsupported file type" in str(result.exception)
    result = runner.invoke(app, ["remove", "nope", "--corpus", str(two_plan_corpus), "--index", str(tmp_path / "i")])
    assert isinstance(result.exception, AddError)


def test_cli_add_and_search_json_show_pages(two_plan_corpus, plan_pdf, tmp_path, fake_embedder, monkeypatch):
    """The CLI path end to end: `kb add` a PDF, then `kb search --json` hits carry their pages."""
    from typer.testing import CliRunner

    from kb.cli.main import app

    index = tmp_path / "index"
    service.build(two_plan_corpus, index, embedder=fake_embedder)
    real_add = service.add_plan

    def add_with_fake(*args, **kwargs):
        return real_add(*args, embedder=fake_embedder, **kwargs)

    monkeypatch.setattr(service, "add_plan", add_with_fake)
    runner = CliRunner()
    result = runner.invoke(app, ["add", str(plan_pdf), "--city", "テスト市", "--corpus", str(two_plan_corpus),
                                 "--index", str(index)])
    assert result.exit_code == 0, result.output
    assert "added test-kosodate-plan" in result.output and "3 pages" in result.output
    monkeypatch.setattr(service, "open_session", lambda *a, **k: session_for(_searcher(index, fake_embedder), two_plan_corpus))
    result = runner.invoke(app, ["search", "企業誘致 サテライトオフィス", "--json", "--method", "lexical", "--index", str(index)])
    assert result.exit_code == 0, result.output
    hits = json.loads(result.output.splitlines()[-1])["hits"]
    ours = next(h for h in hits if h["doc"] == "test-kosodate-plan")
    assert (ours["page_start"], ours["page_end"]) == (3, 3)
