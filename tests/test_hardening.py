"""What an adversarial user found (issue 14): corrupt artefacts, odd corpus entries, huge
lines, bad encodings, unwritable folders, a rebuilt index under a running app, threads."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from kb.errors import CorpusError, DiskFull, IndexUnavailable, SourceError
from kb.index.build import build_index
from kb.index.storage import load_index, resolve_build
from kb.ingest.corpus import decode_text, load_corpus
from kb.service import open_session
from kb.sourceview import source_view


@pytest.fixture
def built(two_plan_corpus, tmp_path, fake_embedder):
    index = tmp_path / "index"
    build_index(two_plan_corpus, index, fake_embedder)
    return two_plan_corpus, index


def _expected_vectors(index: Path, embedder) -> np.ndarray:
    loaded = load_index(index)
    return np.stack([embedder._vector(c.embed_text) for c in loaded.chunks])


# -- 1. reuse of previous embeddings verifies them ---------------------------------------


@pytest.mark.parametrize("damage", ["flip a byte", "permute rows", "NaN"])
def test_a_rebuild_re_embeds_instead_of_reusing_damaged_vectors(built, fake_embedder, damage):
    corpus, index = built
    path = resolve_build(index) / "vectors.npy"
    vectors = np.load(path)
    if damage == "flip a byte":
        data = bytearray(path.read_bytes())
        data[-7] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "permute rows":
        np.save(path, vectors[::-1].copy())
    else:
        vectors[3, 2] = np.nan
        np.save(path, vectors)
    with pytest.raises(IndexUnavailable, match="kb build"):
        load_index(index)  # search refuses the damaged index …
    report = build_index(corpus, index, fake_embedder)  # … and the rebuild does not copy the damage
    assert report.reused == 0 and report.embedded == report.chunk_count
    np.testing.assert_allclose(load_index(index).vectors, _expected_vectors(index, fake_embedder), atol=1e-6)


def test_an_intact_index_is_still_reused(built, fake_embedder):
    corpus, index = built
    report = build_index(corpus, index, fake_embedder)
    assert report.embedded == 0 and report.reused == report.chunk_count


# -- 2. a huge line is analysed in pieces instead of crashing MeCab -------------------------


def test_a_line_of_700k_characters_builds(tmp_path, fake_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # ~630k characters on one line killed the process inside fugashi (exit 139).
    (corpus / "huge.txt").write_text("第1章 子育て\n" + "子育て支援を充実します。" * 60_000 + "\n", encoding="utf-8")
    report = build_index(corpus, tmp_path / "index", fake_embedder)
    assert report.chunk_count >= 1
    session = open_session(tmp_path / "index", dense=False)
    assert session.searcher.search("子育て支援", method="lexical").hits


# -- 3. folders, dangling links and loops named *.txt -----------------------------------------


def test_non_files_in_the_corpus_are_skipped_by_build_and_staleness_check(built, fake_embedder, caplog):
    corpus, index = built
    (corpus / "folder.txt").mkdir()
    (corpus / "dangling.txt").symlink_to(corpus / "nowhere.txt")
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    names = [d.doc for d in load_corpus(corpus)]
    assert names == ["kurume-kouiki-web", "kurume-sousei-senryaku-3"]
    assert "skipping" in caplog.text and "folder.txt" in caplog.text
    build_index(corpus, index, fake_embedder)
    loaded = load_index(index)
    assert loaded.stale_documents(corpus) == []  # did raise "unexpected OSError" for every search
    session = open_session(index, dense=False)
    assert session.stale == [] and session.searcher.search("子育て", method="lexical").hits


def test_a_file_name_that_is_not_utf8_is_refused_with_the_fix(tmp_path):
    os.close(os.open(os.path.join(os.fsencode(tmp_path), b"bad-\xff.txt"), os.O_CREAT | os.O_WRONLY))
    with pytest.raises(CorpusError, match="not valid UTF-8: rename it"):
        load_corpus(tmp_path)


# -- 8. corpus manifests and index folders kb cannot use ---------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda c: (c / "manifest.toml").unlink() or (c / "manifest.toml").mkdir(), "not a readable file"),
        (lambda c: (c / "manifest.toml").write_text('document = ["a"]\n', encoding="utf-8"), r"\[\[document\]\] tables"),
        (lambda c: (c / "manifest.toml").write_text("document = 3\n", encoding="utf-8"), r"\[\[document\]\] tables"),
    ],
)
def test_bad_corpus_manifests_are_refused_and_nothing_is_written(two_plan_corpus, tmp_path, fake_embedder, make, message):
    make(two_plan_corpus)
    with pytest.raises(CorpusError, match=message):
        build_index(two_plan_corpus, tmp_path / "index", fake_embedder)
    assert not (tmp_path / "index").exists()


def test_a_read_only_index_folder_says_how_to_fix_it(two_plan_corpus, tmp_path, fake_embedder, monkeypatch):
    """Simulated (tests may run as root, who writes anywhere)."""
    import errno

    import kb.index.build as ix

    def read_only(*_a, **_k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(ix.LexicalIndex, "save", read_only)
    with pytest.raises(IndexUnavailable, match="cannot write the index .*--index"):
        build_index(two_plan_corpus, tmp_path / "index", fake_embedder)
    assert not list((tmp_path / "index" / "builds").iterdir())


def test_numpy_short_write_on_a_full_disk_is_disk_full(built, fake_embedder, monkeypatch):
    corpus, index = built
    old = resolve_build(index)
    import kb.index.build as ix

    def short_write(*_a, **_k):
        raise OSError("1234 requested and 0 written")  # what numpy's tofile says, errno-less

    monkeypatch.setattr(ix.np, "save", short_write)
    with pytest.raises(DiskFull, match="out of disk space .* previous index is unchanged"):
        build_index(corpus, index, fake_embedder)
    assert resolve_build(index) == old and not list((index / "builds").glob("*.tmp"))


def test_an_unreadable_artefact_names_the_fix(built, monkeypatch):
    _, index = built
    from kb.index import storage

    def denied(path, *_a, **_k):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(storage, "sha256_file", denied)  # tests may run as root, who reads anything
    build = resolve_build(index)
    artefact = build / "vectors.npy"
    os.utime(artefact, ns=(artefact.stat().st_atime_ns, artefact.stat().st_mtime_ns + 1))  # any change voids the stamp
    with pytest.raises(IndexUnavailable, match="cannot be read .*permissions"):
        load_index(index)


def test_the_manifest_records_the_corpus_folder_absolutely(built, monkeypatch, tmp_path):
    corpus, index = built
    recorded = json.loads((resolve_build(index) / "manifest.json").read_text(encoding="utf-8"))["corpus_dir"]
    assert Path(recorded).is_absolute() and Path(recorded) == corpus.resolve()
    monkeypatch.chdir(tmp_path / "index")  # run from elsewhere: the same corpus, no stale warning
    assert open_session(index, dense=False).stale == []


# -- 9. encodings, NUL bytes and addresses ----------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("第1章 本文\n".encode("utf-16"), "UTF-16LE; convert"),
        ("第1章 本文\n".encode("utf-16-be"), "UTF-16BE"),
        ("plain ascii text\n".encode("utf-16-le"), "UTF-16LE"),
        (b"a" * 9000 + b"\x00rest", "NUL byte at byte 9000"),
    ],
)
def test_encodings_are_named(data, message):
    with pytest.raises(CorpusError, match=message):
        decode_text(data, "x.txt")


def test_addresses_with_colons_file_names_and_bad_lines(tmp_path):
    (tmp_path / "a:b.txt").write_text("第1章\n一行目\n二行目\n", encoding="utf-8")
    assert source_view(tmp_path, "a:b:2").line_start == 2
    assert source_view(tmp_path, "a:b.txt:2").doc == "a:b"
    with pytest.raises(SourceError, match="lines from 1"):
        source_view(tmp_path, "a:b:0")
    with pytest.raises(SourceError, match="--context must be 0 or more"):
        source_view(tmp_path, "a:b:2", context=-5)


# -- 6. the app follows a rebuild -----------------------------------------------------------------


def test_the_app_switches_to_a_rebuilt_index_between_requests(built, fake_embedder, tmp_path):
    from kb.search.searcher import Searcher
    from kb.service import session_for
    from kb.ui import service as ui
    from kb.ui.service import SearchService
    from kb.ui.state import UIState

    corpus, index = built

    def opener(folder: Path):
        return session_for(Searcher(load_index(folder), fake_embedder), corpus)

    app = SearchService(opener(index), corpus, index_dir=index, workdir=tmp_path / "ui", opener=opener)
    before = app.session.searcher.index.path
    extra = corpus / "kurume-extra.txt"
    extra.write_text("第1章 新しい計画\n宇宙港の誘致を進めます。\n", encoding="utf-8")
    build_index(corpus, index, fake_embedder)
    shutil.rmtree(before)  # the old build may be pruned while the app still holds it
    app._checked_at = 0.0  # no need to wait for the next once-a-second check
    app.current()
    deadline = time.monotonic() + 30
    while app.session.searcher.index.path == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert app.session.searcher.index.path == resolve_build(index)
    assert "kurume-extra" in {d.doc for d in app.documents}
    assert ui.RELOAD_CHECK_S <= 1.0
    view = app.search(UIState(q="宇宙港"))
    assert view.result is not None and view.result.hits, view.results_html


# -- 7. searches from several threads give the sequential answers -----------------------------------


def test_concurrent_searches_agree_with_sequential_ones(searcher):
    queries = ["若い女性の転出", "子育て支援", "How does Kumamoto support startups?", "公共交通の利便性", "観光 インバウンド",
               "空き家対策", "高齢者の見守り", "DX 行政手続き"] * 3
    expected = {q: [h.chunk.id for h in searcher.search(q).hits] for q in set(queries)}
    answers: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def worker(i: int, query: str) -> None:
        try:
            answers[i] = [h.chunk.id for h in searcher.search(query).hits]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i, q)) for i, q in enumerate(queries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert all(answers[i] == expected[q] for i, q in enumerate(queries))


# -- 9. linear parsing, and no download folders left behind ------------------------------------


def test_measure_titles_match_the_per_goal_definition(documents, parsed):
    """The one-pass outline (was a scan of all sections per goal: quadratic in file size)."""
    from kb.chunk import measure_titles
    from kb.ingest.parse.model import GOAL, MEASURE

    for name, result in parsed.items():
        outlines = measure_titles(result.sections)
        for section in (s for s in result.sections if s.kind == GOAL):
            depth = len(section.path)
            naive: list[str] = []
            for other in result.sections:
                below = other.kind == MEASURE and len(other.path) > depth and other.path[:depth] == section.path
                if below and other.path[depth] not in naive:
                    naive.append(other.path[depth])
            assert outlines.get(section.path, ()) == tuple(naive), (name, section.path)


def test_the_app_removes_its_download_folder_when_stopped(real_index, corpus_dir, tmp_path):
    import signal
    import socket
    import subprocess
    import sys
    import urllib.request

    root = Path(__file__).resolve().parents[1]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch), "HF_HUB_OFFLINE": "1"}
    app = subprocess.Popen([sys.executable, str(root / "app.py"), "--port", str(port), "--index", str(real_index),
                            "--corpus", str(corpus_dir)], env=env, cwd=root,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=%E5%AD%90%E8%82%B2%E3%81%A6", timeout=5):
                    break
            except OSError:
                time.sleep(0.5)
        assert list(scratch.glob("kb-ui-*")), "the app makes its download folder at start"
    finally:
        app.send_signal(signal.SIGTERM)
        app.wait(timeout=30)
    assert not list(scratch.glob("kb-ui-*"))
