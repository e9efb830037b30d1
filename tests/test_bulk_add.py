"""Bulk ``kb add``: a folder (or several files) staged file by file, one rebuild, one summary.

Four small Japanese plans are printed by headless Chromium into one PDF (one launch),
split into four PDFs with pypdfium2, and joined by a fifth file that is not a PDF at all.
Each test adds them to a tiny copy of the corpus indexed with the fake embedder.
"""

from __future__ import annotations

import html
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kb import service
from kb.cli.main import app
from kb.errors import KbError
from kb.index.storage import load_index
from kb.ingest.add import PlanInfo, staging
from kb.ingest.bulk import collect_sources
from kb.ingest.corpus import load_corpus
from kb.ingest.intent import journal_path
from kb.ingest.pages import read_pages
from kb.ingest.parse import parse_document
from kb.kpi.extract import extract_document
from tests.conftest import BrokenEmbedder
from tests.test_add import CHROMIUM, tree_state

#: name → (city, lines of its one page). Different outlines, so each summary row differs.
PLANS = {
    "chikugo-kosodate": ["第1章 計画の概要", "1 計画の目的", "本計画は筑後市の子育て支援の方向を示すものです。",
                         "基本目標1 子育てしやすいまちをつくる", "(1) 相談体制の強化", "① 妊娠期からの相談",
                         "・切れ目なく相談できる体制を整えます。", "② 保育料の軽減", "・保育料の負担を軽減します。",
                         "■数値目標", "合計特殊出生率 1.43 → 1.60"],
    "okawa-ijuu": ["第1章 総論", "基本目標1 移住を増やす", "施策1 空き家バンクの充実", "空き家の活用で移住者を迎えます。",
                   "施策2 お試し移住", "短期滞在の住まいを用意します。", "基本目標2 働く場をつくる",
                   "施策3 サテライトオフィス", "企業の誘致を進めます。"],
    "yame-kankou": ["第1章 観光の振興", "1 現状と課題", "八女茶の産地として知られていますが、宿泊客が少ない状況です。",
                    "2 施策の方向", "(1) 茶のまちの魅力発信", "(2) 滞在型観光の推進", "・農泊の受け入れを広げます。"],
    "miyama-kankyou": ["第1章 環境の保全", "基本目標1 脱炭素のまちをつくる", "(1) 再生可能エネルギーの導入",
                       "① 太陽光発電の普及", "・公共施設に太陽光パネルを設置します。", "(2) ごみの減量",
                       "① 資源化の推進", "・分別収集を徹底します。"],
}
BROKEN = "zz-broken.pdf"


def _print_plans(folder: Path) -> Path:
    """All four plans in one PDF, one page each, without Chromium's header and footer."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    pages = "".join('<div class="page">' + "".join(f"<p>{html.escape(line)}</p>" for line in lines) + "</div>"
                    for lines in PLANS.values())
    source = folder / "plans.html"
    source.write_text('<!doctype html><html lang="ja"><head><meta charset="utf-8"><style>'
                      'body{font-family:"IPAGothic","Noto Sans CJK JP",sans-serif;font-size:12pt}'
                      ".page{page-break-after:always}</style></head><body>" + pages + "</body></html>", encoding="utf-8")
    target = folder / "plans.pdf"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--no-first-run", "--no-pdf-header-footer",
                    f"--print-to-pdf={target}", str(source)], check=True, capture_output=True, timeout=120)
    if not target.is_file():
        pytest.skip("chromium printed no PDF")
    return target


@pytest.fixture(scope="module")
def pdf_folder(tmp_path_factory) -> Path:
    """Five PDFs: the four plans (one page each, split from one print) and one that is not a PDF."""
    import pypdfium2 as pdfium

    work = tmp_path_factory.mktemp("print")
    printed = pdfium.PdfDocument(str(_print_plans(work)))
    assert len(printed) == len(PLANS)
    folder = tmp_path_factory.mktemp("plans")
    for number, name in enumerate(PLANS):
        single = pdfium.PdfDocument.new()
        single.import_pages(printed, [number])
        single.save(str(folder / f"{name}.pdf"))
        single.close()
    printed.close()
    (folder / BROKEN).write_bytes(b"%PDF-1.4 this is not a PDF body")
    (folder / "notes.docx").write_bytes(b"PK\x03\x04 a folder holds other files too")
    return folder


@pytest.fixture
def indexed(tmp_path, two_plan_corpus, fake_embedder):
    index = tmp_path / "index"
    service.build(two_plan_corpus, index, embedder=fake_embedder)
    return two_plan_corpus, index


@pytest.fixture
def builds(monkeypatch) -> list[Path]:
    """The corpus folder of every index build from here on (service._build: what an add runs inside its lock)."""
    called: list[Path] = []
    real = service._build

    def counted(corpus, *args, **kwargs):
        called.append(Path(corpus))
        return real(corpus, *args, **kwargs)

    monkeypatch.setattr(service, "_build", counted)
    return called


def _table_rows(output: str) -> dict[str, list[str]]:
    """The summary table's rows by file name (rich draws cells between │)."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) == 7 and cells[0] not in ("", "file"):
            rows[cells[0]] = cells[1:]
    return rows


def test_a_folder_of_pdfs_adds_the_good_ones_with_one_rebuild(indexed, pdf_folder, fake_embedder, builds, monkeypatch):
    corpus, index = indexed
    before = load_index(index)
    calls_before = fake_embedder.calls
    real_add = service.add_plans
    monkeypatch.setattr(service, "add_plans", lambda *a, **k: real_add(*a, embedder=fake_embedder, **k))
    result = CliRunner().invoke(
        app,
        ["add", str(pdf_folder), "--city", "テスト市", "--corpus", str(corpus), "--index", str(index)],
        env={"COLUMNS": "220"})
    assert result.exit_code == 1, result.output  # some refused
    assert "added 4 of 5 plans; 1 refused" in result.output
    assert len(builds) == 1  # one rebuild for the whole batch
    rows = _table_rows(result.stdout)
    assert set(rows) == {f"{name}.pdf" for name in PLANS} | {BROKEN}  # the .docx is not a plan: not picked
    assert rows[BROKEN][:5] == [""] * 5 and "refused" in rows[BROKEN][5] and "not a readable PDF" in rows[BROKEN][5]
    documents = {d.doc: d for d in load_corpus(corpus)}
    for name in PLANS:
        doc = documents[name]
        parsed = parse_document(doc)
        kinds = [str(s.kind) for s in parsed.sections if s.heading]
        pages = read_pages(corpus, name)
        assert pages is not None and max(pages.pages) == 1
        expected = [name, "1", str(kinds.count("goal")), str(kinds.count("measure")),
                    str(len(extract_document(doc, parsed).kpis)), "added"]
        assert rows[f"{name}.pdf"] == expected, name
        assert doc.municipality == "テスト市"  # --city applies to every file
    assert int(rows["okawa-ijuu.pdf"][2]) == 2 and int(rows["okawa-ijuu.pdf"][3]) == 3  # the outline was read
    entries = tomllib.loads((corpus / "manifest.toml").read_text(encoding="utf-8"))["document"]
    assert [e["file"] for e in entries][-4:] == [f"{name}.txt" for name in sorted(PLANS)]  # sorted, one manifest write
    after = load_index(index)
    assert {c.doc for c in after.chunks} >= set(PLANS)
    assert fake_embedder.calls - calls_before == len(after.chunks) - len(before.chunks)  # only the new plans embedded
    assert f"reused {len(before.chunks)} unchanged (one rebuild)" in result.output
    assert not journal_path(corpus).exists() and not list(corpus.parent.glob(".kb-stage-*"))


def test_a_failed_rebuild_takes_the_whole_batch_back(indexed, pdf_folder):
    corpus, index = indexed
    before = tree_state(corpus, index)

    with pytest.raises(RuntimeError, match="fell over"):
        service.add_plans(collect_sources([pdf_folder]), corpus, index, embedder=BrokenEmbedder())  # type: ignore[arg-type]
    assert tree_state(corpus, index) == before  # corpus, manifest and index byte for byte
    assert not journal_path(corpus).exists() and not list(corpus.parent.glob(".kb-*"))


def _text_plan(folder: Path, name: str, place: str) -> Path:
    path = folder / name
    path.write_text(f"第1章 {place}の未来\n基本目標1 移住を増やす\n施策1 空き家バンクの充実\n{place}の空き家で移住者を迎えます。\n",
                    encoding="utf-8")
    return path


def test_each_file_is_refused_alone_and_the_staged_copy_stays_clean(indexed, fake_embedder, builds, tmp_path):
    corpus, index = indexed
    folder = tmp_path / "mixed"
    folder.mkdir()
    files = [
        _text_plan(folder, "a-plan.txt", "筑後"),
        folder / "b-numbers.txt",  # only page numbers: refused after its text was staged
        _text_plan(folder, "a-plan.html", "大川"),  # the same name as a-plan.txt: a clash inside the batch
        _text_plan(folder, "kurume-kouiki-web.txt", "久留米"),  # a name the corpus already has
        folder / "c-empty.txt",
        _text_plan(folder, "d-plan.txt", "柳川"),
    ]
    files[1].write_text("- 1 -\n\n- 2 -\n\n- 3 -\n", encoding="utf-8")
    files[2].write_text("<html><body><h1>大川市の計画</h1><p>家具のまちです。</p></body></html>", encoding="utf-8")
    files[4].write_text("\n\u3000\n", encoding="utf-8")
    report = service.add_plans(files, corpus, index, info=PlanInfo(city="テスト市"), embedder=fake_embedder)
    assert [row.doc for row in report.added] == ["a-plan", "d-plan"]
    reasons = {row.source.name: row.error for row in report.refused}
    assert "page numbers" in reasons["b-numbers.txt"]
    assert "a-plan.txt of the same batch" in reasons["a-plan.html"]
    assert "already in" in reasons["kurume-kouiki-web.txt"]
    assert "empty" in reasons["c-empty.txt"]
    assert len(builds) == 1 and report.build is not None
    assert not (corpus / "b-numbers.txt").exists()
    listed = [e["file"] for e in tomllib.loads((corpus / "manifest.toml").read_text(encoding="utf-8"))["document"]]
    assert listed.count("a-plan.txt") == 1 and "b-numbers.txt" not in listed and "d-plan.txt" in listed


def test_a_batch_whose_files_are_all_refused_changes_nothing(indexed, fake_embedder, builds, tmp_path):
    corpus, index = indexed
    before = tree_state(corpus, index)
    bad = tmp_path / "plan.docx"
    bad.write_bytes(b"x")
    report = service.add_plans([bad, tmp_path / "missing.pdf"], corpus, index, embedder=fake_embedder)
    assert report.build is None and not report.added and builds == []
    assert "unsupported file type" in report.files[0].error and "no such file" in report.files[1].error
    assert tree_state(corpus, index) == before


def test_an_interrupted_bulk_add_is_undone_by_the_next_add(indexed, fake_embedder, tmp_path):
    corpus, index = indexed
    before = tree_state(corpus)
    with staging(corpus) as batch:
        for name, place in (("p1.txt", "筑後"), ("p2.txt", "大川")):
            batch.stage(_text_plan(tmp_path, name, place), PlanInfo())
        batch.install()  # ... and the process died here: no rebuild, no commit
    assert {"p1", "p2"} <= {d.doc for d in load_corpus(corpus)} and journal_path(corpus).is_file()
    said: list[str] = []
    report = service.add_plans([_text_plan(tmp_path, "p3.txt", "柳川")], corpus, index, embedder=fake_embedder,
                               say=said.append)
    assert any("undid the interrupted `kb add p1 p2`" in line for line in said)
    assert {d.doc for d in load_corpus(corpus)} == {"kurume-sousei-senryaku-3", "kurume-kouiki-web", "p3"}
    assert report.build is not None and "p1" not in {c.doc for c in load_index(index).chunks}
    assert set(tree_state(corpus)) - set(before) == {str(corpus / "p3.txt"), str(corpus / "sources" / "p3.txt")}


def test_a_title_is_refused_for_several_files_and_city_applies_to_all(indexed, fake_embedder, tmp_path):
    corpus, index = indexed
    files = [_text_plan(tmp_path, "p1.txt", "筑後"), _text_plan(tmp_path, "p2.txt", "大川")]
    with pytest.raises(KbError, match="a title names one plan"):
        service.add_plans(files, corpus, index, info=PlanInfo(title="一つの題名"), embedder=fake_embedder)
    result = CliRunner().invoke(app, ["add", *map(str, files), "--title", "x", "--corpus", str(corpus), "--index", str(index)])
    assert isinstance(result.exception, KbError) and "a title names one plan" in str(result.exception)


def test_collect_sources_picks_plans_sorted_and_keeps_named_files(tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    for name in ("b.PDF", "a.txt", "c.htm", "notes.docx", ".hidden.txt", "sub/d.html"):
        (folder / name).write_text("x", encoding="utf-8")
    assert [p.name for p in collect_sources([folder])] == ["a.txt", "b.PDF", "c.htm"]
    assert [p.name for p in collect_sources([folder], recursive=True)] == ["a.txt", "b.PDF", "c.htm", "d.html"]
    named = collect_sources([folder / "notes.docx", folder / "a.txt", folder])
    assert [p.name for p in named] == ["notes.docx", "a.txt", "b.PDF", "c.htm"]  # a.txt once; .docx kept, to be refused
    (tmp_path / "empty").mkdir()
    with pytest.raises(KbError, match="no .txt, .pdf, .html or .htm files.*--recursive"):
        collect_sources([tmp_path / "empty"])


def test_the_add_panel_adds_several_files_with_one_rebuild_and_a_table(indexed, fake_embedder, builds, tmp_path):
    from kb.search.searcher import Searcher
    from kb.service import session_for
    from kb.ui.add_summary import is_summary
    from kb.ui.service import SearchService

    corpus, index = indexed
    panel = SearchService(session_for(Searcher(load_index(index), fake_embedder), corpus), corpus, index_dir=index,
                        workdir=tmp_path / "ui")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    files = [_text_plan(uploads, "p1.txt", "筑後"), uploads / "p2.docx", _text_plan(uploads, "p3.txt", "大川")]
    files[1].write_bytes(b"PK")
    refused = panel.add_plan([str(f) for f in files], title="一つの題名", embedder=fake_embedder)
    assert "1 ファイルのときだけ" in refused and not is_summary(refused) and builds == []
    answer = panel.add_plan([str(f) for f in files], city="テスト市", embedder=fake_embedder)
    assert is_summary(answer) and "一部の計画を追加しました" in answer
    assert len(builds) == 1
    rows = answer.split("<tr")[2:]  # header row first
    assert [row.split("<td>")[1].split("<")[0] for row in rows] == ["p1.txt", "p2.docx", "p3.txt"]
    assert 'kb-add-refused' in rows[1] and "PDF・HTML・TXT のみ" in rows[1]
    assert all('kb-add-added' in row for row in (rows[0], rows[2]))
    assert {"p1", "p3"} <= {c.doc for c in load_index(index).chunks}


def test_python_m_kb_cli_main_has_the_add_command():
    """`kb add` lives in kb/cli/plans.py; run as `python -m kb.cli.main` (as the tests and MCP configs do) it is there too."""
    result = subprocess.run([sys.executable, "-m", "kb.cli.main", "add", "--help"], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.returncode == 0 and "--recursive" in result.stdout and "Exit status" in result.stdout
