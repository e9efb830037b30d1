"""The index folder: manifest, atomic swaps, refusals, embedding reuse (fake model: fast)."""

from __future__ import annotations

import json
import shutil
import time

import numpy as np
import pytest

from kb.analysis.lemmas import ANALYZER_VERSION
from kb.errors import IndexUnavailable
from kb.index.build import build_index
from kb.index.manifest import ModelInfo
from kb.index.storage import FORMAT_VERSION, load_index, resolve_build


@pytest.fixture
def small_corpus(tmp_path, corpus_dir):
    target = tmp_path / "corpus"
    target.mkdir()
    for name in ("kurume-sousei-senryaku-3.txt", "kurume-kouiki-web.txt", "manifest.toml"):
        shutil.copy(corpus_dir / name, target / name)
    # the manifest lists documents this small corpus does not have: keep only ours
    manifest = (corpus_dir / "manifest.toml").read_text(encoding="utf-8")
    entries = manifest.split("[[document]]")
    keep = [e for e in entries[1:] if "kurume-sousei-senryaku-3.txt" in e or "kurume-kouiki-web.txt" in e]
    (target / "manifest.toml").write_text(entries[0] + "".join("[[document]]" + e for e in keep), encoding="utf-8")
    return target


def test_build_writes_manifest_and_loads(small_corpus, tmp_path, fake_embedder):
    report = build_index(small_corpus, tmp_path / "index", fake_embedder)
    loaded = load_index(tmp_path / "index")
    manifest = loaded.manifest
    assert manifest.format_version == FORMAT_VERSION
    assert manifest.model == ModelInfo(name="fake-model", dimension=16)
    assert manifest.parser_version
    assert set(manifest.corpus) == {"kurume-sousei-senryaku-3.txt", "kurume-kouiki-web.txt"}
    assert manifest.dense_index.type == "flat"
    assert {"parse", "tokenize", "embed", "index"} <= set(manifest.build_seconds)
    assert len(loaded.chunks) == report.chunk_count == manifest.chunk_count
    assert (tmp_path / "index" / "current").is_symlink()


def test_rebuild_reuses_embeddings_of_unchanged_chunks(small_corpus, tmp_path, fake_embedder):
    build_index(small_corpus, tmp_path / "index", fake_embedder)
    first_calls = fake_embedder.calls
    again = build_index(small_corpus, tmp_path / "index", fake_embedder)
    assert again.embedded == 0 and fake_embedder.calls == first_calls
    web = small_corpus / "kurume-kouiki-web.txt"
    web.write_text(web.read_text(encoding="utf-8").replace("人口20万人以上", "人口30万人以上"), encoding="utf-8")
    changed = build_index(small_corpus, tmp_path / "index", fake_embedder)
    assert 1 <= changed.embedded <= 2 and changed.reused == changed.chunk_count - changed.embedded


def test_a_different_model_is_refused(small_corpus, tmp_path, fake_embedder):
    build_index(small_corpus, tmp_path / "index", fake_embedder)
    with pytest.raises(IndexUnavailable, match="built with model 'fake-model'"):
        load_index(tmp_path / "index", model="intfloat/multilingual-e5-small")


def test_an_index_tokenised_by_another_analyzer_is_refused(small_corpus, tmp_path, fake_embedder):
    build_index(small_corpus, tmp_path / "index", fake_embedder)
    manifest_file = resolve_build(tmp_path / "index") / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    assert manifest["lexical"]["analyzer_version"] == ANALYZER_VERSION
    del manifest["lexical"]["analyzer_version"]  # indexes from before the field count as version 1
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(IndexUnavailable, match="analyzer version 1.*run `kb build`"):
        load_index(tmp_path / "index")


def test_damaged_missing_or_newer_indexes_are_refused(small_corpus, tmp_path, fake_embedder):
    build_index(small_corpus, tmp_path / "index", fake_embedder)
    build = resolve_build(tmp_path / "index")
    chunks_file = build / "chunks.jsonl"
    original = chunks_file.read_bytes()
    chunks_file.write_bytes(original[: len(original) // 2])
    with pytest.raises(IndexUnavailable, match="damaged"):
        load_index(tmp_path / "index")
    chunks_file.unlink()
    with pytest.raises(IndexUnavailable, match="missing"):
        load_index(tmp_path / "index")
    chunks_file.write_bytes(original)
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    (build / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexUnavailable, match="newer"):
        load_index(tmp_path / "index")


def test_no_index_says_how_to_build(tmp_path):
    with pytest.raises(IndexUnavailable, match="kb build"):
        load_index(tmp_path / "nothing")


def test_a_failing_build_leaves_the_previous_index(small_corpus, tmp_path, fake_embedder):
    build_index(small_corpus, tmp_path / "index", fake_embedder)
    before = resolve_build(tmp_path / "index")

    class Broken(type(fake_embedder)):
        def encode_documents(self, texts, **_):
            raise OSError("No space left on device")

    (small_corpus / "kurume-kouiki-web.txt").write_text("新しい本文です。\n", encoding="utf-8")
    with pytest.raises(OSError):
        build_index(small_corpus, tmp_path / "index", Broken())
    assert resolve_build(tmp_path / "index") == before
    assert load_index(tmp_path / "index").chunks
    assert not [p for p in (tmp_path / "index" / "builds").iterdir() if p.name.endswith(".tmp")]


def test_stale_documents_are_reported(small_corpus, tmp_path, fake_embedder):
    build_index(small_corpus, tmp_path / "index", fake_embedder)
    loaded = load_index(tmp_path / "index")
    assert loaded.stale_documents(small_corpus) == []
    (small_corpus / "new.txt").write_text("追加の計画です。\n", encoding="utf-8")
    assert loaded.stale_documents(small_corpus) == ["new.txt"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: [1, 2], "not a JSON object"),
        (lambda m: {**m, "model": "e5"}, "'model' is not an object"),
        (lambda m: {**m, "chunk_count": "449"}, "'chunk_count' is missing or not a int"),
        (lambda m: {k: v for k, v in m.items() if k != "artefacts"}, "no artefact checksums"),
        (lambda m: {**m, "corpus": {"a.txt": 1}}, "'corpus' is not a map of strings"),
        (lambda m: {**m, "model": {"name": "x", "dimension": "16"}}, "model.dimension is not a int"),
    ],
)
def test_a_manifest_kb_did_not_write_is_refused_with_the_fix(small_corpus, tmp_path, fake_embedder, edit, message):
    build_index(small_corpus, tmp_path / "index", fake_embedder)
    manifest_file = resolve_build(tmp_path / "index") / "manifest.json"
    manifest_file.write_text(json.dumps(edit(json.loads(manifest_file.read_text()))))
    with pytest.raises(IndexUnavailable, match=message) as caught:
        load_index(tmp_path / "index")
    assert "kb build" in str(caught.value)


def test_the_sudachi_field_is_built_and_an_index_without_it_is_refused(small_corpus, tmp_path, fake_embedder):
    from kb.analysis.sudachi import SUDACHI_VERSION

    build_index(small_corpus, tmp_path / "index", fake_embedder)
    loaded = load_index(tmp_path / "index")
    assert loaded.manifest.sudachi["version"] == SUDACHI_VERSION
    assert "sudachidict-core" in loaded.manifest.sudachi["dictionary"]
    assert loaded.sudachi is not None and loaded.sudachi.has_term("子育て")
    assert loaded.use_dense is None and loaded.manifest.use is None  # the second encoder is opt-in
    manifest_file = resolve_build(tmp_path / "index") / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest["sudachi"]["version"] = "0"
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(IndexUnavailable, match="Sudachi terms were made by version 0.*run `kb build`"):
        load_index(tmp_path / "index")
    del manifest["sudachi"]  # an index of the previous kb
    manifest_file.write_text(json.dumps(manifest))
    with pytest.raises(IndexUnavailable, match="no Sudachi field.*run `kb build`"):
        load_index(tmp_path / "index")


def test_second_encoder_vectors_are_stored_and_reused(small_corpus, tmp_path, fake_embedder):
    from tests.conftest import FakeEmbedder

    second = FakeEmbedder("fake-use", dimension=8)
    first = build_index(small_corpus, tmp_path / "index", fake_embedder, second_encoder=True, use_embedder=second)
    loaded = load_index(tmp_path / "index")
    assert loaded.manifest.use["name"] == "fake-use" and loaded.use_dense.d == 8
    assert loaded.use_dense.ntotal == first.chunk_count == second.calls
    assert loaded.manifest.use["embedded"] == first.chunk_count
    build_index(small_corpus, tmp_path / "index", fake_embedder, second_encoder=True, use_embedder=second)
    assert second.calls == first.chunk_count  # nothing re-embedded
    assert load_index(tmp_path / "index").manifest.use["reused"] == first.chunk_count


def test_the_build_hands_an_embedder_on_many_workers_several_groups_per_call(small_corpus, tmp_path, fake_embedder,
                                                                             monkeypatch):
    """``kb build --workers N``: the build streams ``preferred_group`` texts per call
    (whole groups of 64, written and journalled as they come back), and the vectors are
    those of a build that embeds one group per call."""
    from kb.index import reuse

    monkeypatch.setattr(reuse, "GROUP", 8)  # 68 chunks here: several groups of 8 per call of 24
    GROUP = reuse.GROUP
    calls: list[int] = []

    class Busy:
        name, dimension, preferred_group = fake_embedder.name, fake_embedder.dimension, 3 * GROUP

        def encode_documents(self, texts):
            calls.append(len(texts))
            return fake_embedder.encode_documents(texts)

        def encode_query(self, text):
            return fake_embedder.encode_query(text)

    many = build_index(small_corpus, tmp_path / "many", Busy())
    one = build_index(small_corpus, tmp_path / "one", fake_embedder)
    assert sum(calls) == many.chunk_count > 3 * GROUP
    assert calls[0] == 3 * GROUP and all(n <= 3 * GROUP for n in calls)
    assert np.array_equal(np.load(many.build_dir / "vectors.npy"), np.load(one.build_dir / "vectors.npy"))


def test_checksums_are_trusted_by_stamp_until_a_file_changes(small_corpus, tmp_path, fake_embedder, monkeypatch):
    """A 10^6-chunk index is 6 GB: hashing it on every `kb search` costs ~35 s. The build
    (and any full check) leaves the files' stats; loads compare them, and any write to a
    file, even one that keeps its size, brings the full check back."""
    from kb.index import storage

    build_index(small_corpus, tmp_path / "index", fake_embedder)
    build = resolve_build(tmp_path / "index")
    assert (build / storage.VERIFIED).is_file()
    hashed: list[str] = []
    real_hash = storage.sha256_file
    monkeypatch.setattr(storage, "sha256_file", lambda path: hashed.append(path.name) or real_hash(path))
    load_index(tmp_path / "index")
    assert hashed == []  # the stamp of the build vouched for every file
    vectors = build / "vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-1] ^= 0xFF  # same size, other content
    vectors.write_bytes(bytes(data))
    with pytest.raises(IndexUnavailable, match="vectors.npy is damaged"):
        load_index(tmp_path / "index")
    assert hashed
    data[-1] ^= 0xFF
    vectors.write_bytes(bytes(data))
    hashed.clear()
    load_index(tmp_path / "index")  # restored: verified in full once, stamped again
    assert "vectors.npy" in hashed
    hashed.clear()
    load_index(tmp_path / "index")
    assert hashed == []
    time.sleep(0.01)
    vectors.chmod(0o600)  # a permission change (ctime) also brings the full check back
    load_index(tmp_path / "index")
    assert "vectors.npy" in hashed


def test_an_index_of_an_older_format_still_gives_its_vectors_to_the_rebuild(small_corpus, tmp_path, fake_embedder):
    """Format 1 kept every chunk in chunks.jsonl only; this kb refuses to search it, but its
    vectors and hashes have the same format, so upgrading costs no re-embedding."""
    from kb.index.chunkstore import COLUMNS, OFFSETS

    build_index(small_corpus, tmp_path / "index", fake_embedder)
    build = resolve_build(tmp_path / "index")
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["format_version"] = 1
    for name in (OFFSETS, COLUMNS):
        (build / name).unlink()
        manifest["artefacts"].pop(name)
    (build / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexUnavailable, match="older"):
        load_index(tmp_path / "index")
    fake_embedder.calls = 0
    report = build_index(small_corpus, tmp_path / "index", fake_embedder)
    assert fake_embedder.calls == 0 and report.reused == report.chunk_count
    load_index(tmp_path / "index")
