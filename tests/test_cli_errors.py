"""Bad input through the real command line: a clear one-line message, a non-zero exit,
no traceback, and nothing lost (an existing index still loads afterwards).

Every case runs ``kb`` in a subprocess, as a user would. Query errors are caught
before the index or the model loads, and corpus errors before the model loads, so
none of these needs the embedding model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kb.index.build import build_index
from kb.index.storage import FORMAT_VERSION, load_index, resolve_build

KB = [sys.executable, "-m", "kb.cli.main"]
ROOT = Path(__file__).resolve().parents[1]


def run_kb(*args: str | bytes, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    env.pop("KB_DEBUG", None)
    proc = subprocess.run([*KB, *args], check=False, cwd=cwd or ROOT, env=env, capture_output=True, timeout=timeout)
    proc.stdout_text = proc.stdout.decode("utf-8", "replace")  # type: ignore[attr-defined]
    proc.stderr_text = proc.stderr.decode("utf-8", "replace")  # type: ignore[attr-defined]
    return proc


def assert_clean_failure(proc: subprocess.CompletedProcess, *needles: str, progress: bool = False) -> str:
    """Exit != 0, one ``error:`` line on stderr, no traceback.

    ``search`` prints nothing else on stderr; ``build`` may print progress lines
    before the error (``progress=True``), and the error is then the last line.
    """
    err = proc.stderr_text.strip()  # type: ignore[attr-defined]
    assert proc.returncode != 0, f"expected failure, got 0; stdout={proc.stdout_text[:300]!r}"  # type: ignore[attr-defined]
    assert "Traceback" not in err and "Traceback" not in proc.stdout_text  # type: ignore[attr-defined]
    lines = [line for line in err.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], f"expected one final error line, got: {err!r}"
    if not progress:
        assert len(lines) == 1, f"expected one stderr line, got: {err!r}"
    for needle in needles:
        assert needle in errors[0], f"{needle!r} not in {errors[0]!r}"
    return errors[0]


# --------------------------------------------------------------------------
# queries
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("", "empty"),
        ("   \t  ", "empty"),
        ("子育て" * 4000, "too long"),
        ("abc\x07def", "control characters"),
        ("\x1b[31m赤\x1b[0m", "control characters"),
        ("・・・！？", "no words"),
    ],
    ids=["empty", "whitespace", "12000-chars", "bell", "ansi-escape", "punctuation-only"],
)
def test_bad_queries_fail_cleanly(query, needle):
    assert_clean_failure(run_kb("search", query, "--json"), needle)


def test_invalid_surrogates_fail_cleanly():
    # Bytes that are not UTF-8 reach Python as lone surrogates (surrogateescape).
    proc = run_kb(b"search", b"\xff\xfe\xed\xa0\x80 abc", b"--json")
    assert_clean_failure(proc, "not valid Unicode")


def test_missing_query_and_bad_options_fail_cleanly():
    assert_clean_failure(run_kb("search"), "give a query")
    proc = run_kb("search", "子育て", "--k", "0")  # click's own usage error: exit 2, no traceback
    assert proc.returncode == 2 and "Traceback" not in proc.stderr_text  # type: ignore[attr-defined]


def test_a_missing_index_names_the_fix(tmp_path):
    assert_clean_failure(run_kb("search", "子育て支援", "--index", str(tmp_path / "none")), "kb build")


# --------------------------------------------------------------------------
# damaged indexes (fake-model index: fast)
# --------------------------------------------------------------------------


@pytest.fixture
def fake_index(tmp_path, corpus_dir, fake_embedder) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(corpus_dir / "kurume-kouiki-web.txt", corpus / "kurume-kouiki-web.txt")
    index = tmp_path / "index"
    build_index(corpus, index, fake_embedder)
    return index


def test_damaged_index_names_the_fix(fake_index):
    chunks = resolve_build(fake_index) / "chunks.jsonl"
    chunks.write_bytes(chunks.read_bytes()[:100])
    assert_clean_failure(run_kb("search", "子育て支援", "--index", str(fake_index), "--method", "lexical"),
                         "damaged", "kb build")


def test_missing_index_file_names_the_fix(fake_index):
    (resolve_build(fake_index) / "dense.faiss").unlink()
    assert_clean_failure(run_kb("search", "子育て支援", "--index", str(fake_index)), "missing", "kb build")


def test_newer_format_and_other_model_name_the_fix(fake_index):
    assert_clean_failure(run_kb("search", "子育て支援", "--index", str(fake_index), "--model", "other-model"),
                         "fake-model", "kb build")
    manifest_path = resolve_build(fake_index) / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["format_version"] = FORMAT_VERSION + 1
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    assert_clean_failure(run_kb("search", "子育て支援", "--index", str(fake_index)), "newer", "kb build")


def test_garbage_manifest_names_the_fix(fake_index):
    (resolve_build(fake_index) / "manifest.json").write_bytes(b"\x00\x01not json")
    assert_clean_failure(run_kb("search", "子育て支援", "--index", str(fake_index)), "kb build")


# --------------------------------------------------------------------------
# corpus folders (kb build fails before loading the model, the old index stays)
# --------------------------------------------------------------------------


def _corpus_with(tmp_path: Path, files: dict[str, bytes], manifest: str | None = None) -> Path:
    corpus = tmp_path / "bad-corpus"
    corpus.mkdir()
    for name, data in files.items():
        (corpus / name).write_bytes(data)
    if manifest is not None:
        (corpus / "manifest.toml").write_text(manifest, encoding="utf-8")
    return corpus


GOOD = "第1章 はじめに\n子育て支援を充実します。\n".encode()


@pytest.mark.parametrize(
    ("files", "manifest", "needles"),
    [
        ({"plan.txt": "子育て支援の充実と待機児童の解消を図ります。\n".encode("cp932")}, None, ("Shift_JIS", "plan.txt")),
        ({"plan.txt": b"", "other.txt": GOOD}, None, ("empty", "plan.txt")),
        ({"plan.txt": b" \n\n \n", "other.txt": GOOD}, None, ("empty",)),
        ({"plan.txt": bytes(range(256)) * 8, "other.txt": GOOD}, None, ("binary", "plan.txt")),
        ({"notes.md": GOOD}, None, ("no documents",)),
        ({"plan.txt": GOOD, "PLAN.txt": GOOD}, None, ("duplicate document name",)),
        ({"plan.txt": GOOD}, '[[document]]\nfile = "plan.txt"\n[[document]]\nfile = "gone.txt"\n', ("gone.txt", "missing")),
        ({"plan.txt": GOOD}, '[[document]]\nfile = "plan.txt"\n[[document]]\nfile = "plan.txt"\n', ("duplicate entry",)),
        ({"plan.txt": GOOD}, "[[document]\nfile = \n", ("manifest",)),
    ],
    ids=["shift-jis", "empty-file", "blank-file", "binary", "no-documents", "duplicate-names",
         "manifest-missing-file", "manifest-duplicate", "manifest-garbage"],
)
def test_bad_corpus_fails_cleanly_and_keeps_the_index(tmp_path, fake_index, files, manifest, needles):
    before = resolve_build(fake_index)
    corpus = _corpus_with(tmp_path, files, manifest)
    assert_clean_failure(run_kb("build", "--corpus", str(corpus), "--index", str(fake_index)), *needles)
    assert resolve_build(fake_index) == before
    assert load_index(fake_index).chunks
    assert not list((fake_index / "builds").glob("*.tmp"))


def test_missing_corpus_folder(tmp_path):
    assert_clean_failure(run_kb("build", "--corpus", str(tmp_path / "nowhere"), "--index", str(tmp_path / "i")),
                         "corpus folder not found")


def test_failing_model_load_fails_cleanly_and_keeps_the_index(tmp_path, fake_index, corpus_dir):
    """A model that cannot load: one line naming it, and no half-written index."""
    before = resolve_build(fake_index)
    corpus = tmp_path / "c"
    corpus.mkdir()
    shutil.copy(corpus_dir / "kurume-kouiki-web.txt", corpus / "kurume-kouiki-web.txt")
    proc = run_kb("build", "--corpus", str(corpus), "--index", str(fake_index), "--model", str(tmp_path / "no-such-model"),
                  timeout=300)
    assert_clean_failure(proc, "cannot load embedding model", progress=True)
    assert resolve_build(fake_index) == before
    assert not list((fake_index / "builds").glob("*.tmp"))
