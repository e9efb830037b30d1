"""A build killed or failed mid-embedding leaves a resume journal; the next build embeds only the rest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kb.index import reuse
from kb.index.build import build_index
from kb.index.journal import RESUME, journal_folder, record_size
from kb.index.storage import BUILDS, load_index, resolve_build
from tests.conftest import FakeEmbedder

HERE = Path(__file__).resolve().parent
#: Chunks per embedding group in these tests: the two-plan corpus has ~70 chunks.
GROUP = 8


@pytest.fixture(autouse=True)
def small_groups(monkeypatch):
    monkeypatch.setattr(reuse, "GROUP", GROUP)


class Failing(FakeEmbedder):
    """Embeds ``groups`` groups, then raises (a crash, an out-of-memory, a Ctrl-C)."""

    def __init__(self, groups: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.groups = groups

    def encode_documents(self, texts, **kwargs):
        if self.groups == 0:
            raise KeyboardInterrupt
        self.groups -= 1
        return super().encode_documents(texts, **kwargs)


@pytest.fixture
def reference(two_plan_corpus, tmp_path) -> np.ndarray:
    """Vectors of an uninterrupted build."""
    index = tmp_path / "reference"
    build_index(two_plan_corpus, index, FakeEmbedder())
    return np.load(resolve_build(index) / "vectors.npy")


def _journals(index: Path, model: str = "fake-model") -> list[Path]:
    folder = journal_folder(index, model)
    return sorted(folder.glob("*.journal")) if folder.is_dir() else []


def _fail(corpus: Path, index: Path, groups: int = 2, **kwargs) -> None:
    with pytest.raises(KeyboardInterrupt):
        build_index(corpus, index, Failing(groups, **kwargs))


def test_a_failed_build_leaves_a_journal_and_the_next_embeds_only_the_rest(two_plan_corpus, tmp_path, reference):
    index = tmp_path / "index"
    _fail(two_plan_corpus, index)
    assert not (index / "current").exists()
    (journal,) = _journals(index)
    assert not list((index / BUILDS).glob("*.tmp"))
    embedder = FakeEmbedder()
    report = build_index(two_plan_corpus, index, embedder)
    assert report.resumed == 2 * GROUP and report.reused == 0
    assert embedder.calls == report.embedded == report.chunk_count - 2 * GROUP
    loaded = load_index(index)
    assert loaded.manifest.resumed_embeddings == 2 * GROUP
    assert np.array_equal(np.asarray(loaded.vectors), reference)
    assert not journal.exists() and not (index / RESUME).exists()


def test_a_failed_build_leaves_current_untouched(two_plan_corpus, tmp_path):
    index = tmp_path / "index"
    build_index(two_plan_corpus, index, FakeEmbedder())
    before = resolve_build(index)
    _fail(two_plan_corpus, index, groups=1, name="other-model")  # another model: nothing to reuse
    assert resolve_build(index) == before
    load_index(index)
    assert len(_journals(index, "other-model")) == 1
    report = build_index(two_plan_corpus, index, FakeEmbedder(name="other-model"))
    assert report.resumed == GROUP and report.embedded == report.chunk_count - GROUP
    assert not _journals(index, "other-model")


def test_a_torn_last_record_and_a_damaged_record_are_dropped(two_plan_corpus, tmp_path, reference):
    index = tmp_path / "index"
    _fail(two_plan_corpus, index)
    (journal,) = _journals(index)
    data = bytearray(journal.read_bytes())
    size = record_size(16)
    records_at = len(data) - 2 * GROUP * size
    data[records_at + 40] ^= 0xFF  # inside the first record's vector: its crc fails
    journal.write_bytes(bytes(data[:-10]))  # the last record is torn
    embedder = FakeEmbedder()
    report = build_index(two_plan_corpus, index, embedder)
    assert report.resumed == 2 * GROUP - 2
    assert embedder.calls == report.chunk_count - report.resumed
    assert np.array_equal(np.asarray(load_index(index).vectors), reference)


@pytest.mark.parametrize("other", [{"name": "another-model"}, {"dimension": 8}])
def test_a_journal_of_another_model_or_dimension_is_ignored(two_plan_corpus, tmp_path, other):
    index = tmp_path / "index"
    _fail(two_plan_corpus, index, **other)
    assert _journals(index, other.get("name", "fake-model"))
    embedder = FakeEmbedder()
    report = build_index(two_plan_corpus, index, embedder)
    assert report.resumed == 0 and embedder.calls == report.chunk_count


def test_journals_of_two_unfinished_builds_are_both_read(two_plan_corpus, tmp_path, reference):
    index = tmp_path / "index"
    _fail(two_plan_corpus, index, groups=1)
    _fail(two_plan_corpus, index, groups=3)  # resumes the first group, embeds three more
    assert len(_journals(index)) == 2
    report = build_index(two_plan_corpus, index, FakeEmbedder())
    assert report.resumed == 4 * GROUP
    assert np.array_equal(np.asarray(load_index(index).vectors), reference)
    assert not _journals(index)


def test_a_build_killed_by_sigkill_is_resumed(two_plan_corpus, tmp_path, reference):
    index = tmp_path / "index"
    run = subprocess.run([sys.executable, str(HERE / "resume_killer.py"), str(two_plan_corpus), str(index), "2", str(GROUP)],
                         check=False, capture_output=True, text=True, timeout=300)
    assert run.returncode == -9, run.stderr
    assert not (index / "current").exists()
    assert list((index / BUILDS).glob("*.tmp"))  # what the killed build left
    (journal,) = _journals(index)
    embedder = FakeEmbedder()
    report = build_index(two_plan_corpus, index, embedder)
    assert report.resumed == 2 * GROUP and embedder.calls == report.chunk_count - 2 * GROUP
    assert np.array_equal(np.asarray(load_index(index).vectors), reference)
    assert not journal.exists() and not list((index / BUILDS).glob("*.tmp"))
