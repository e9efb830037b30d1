"""Loading the corpus: coordinates, metadata and clear refusals of bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.ingest.corpus import CorpusError, SourceSpan, load_corpus, split_lines


def test_real_corpus_has_five_plans_with_manifest_metadata(documents):
    assert set(documents) == {
        "kurume-sousei-senryaku-3", "kurume-mirai-design-2035", "kurume-kouiki-vision-3",
        "kurume-kouiki-web", "kumamoto-sousei-senryaku-2",
    }
    assert documents["kumamoto-sousei-senryaku-2"].city == "熊本市"
    assert documents["kurume-kouiki-vision-3"].city == "久留米市"
    assert documents["kurume-kouiki-vision-3"].area == "広域"
    assert documents["kurume-sousei-senryaku-3"].title == "第3期久留米市地方創生総合戦略（骨子案）"


def test_line_numbers_match_cat_n(documents):
    # The last line of the strategy has no trailing newline; it is still line 510.
    doc = documents["kurume-sousei-senryaku-3"]
    assert len(doc.lines) == 510
    assert doc.line(444) == "【基本目標1 安心して働き、暮らせる地域をつくる】"
    assert split_lines("a\nb\n") == ("a", "b")
    assert split_lines("a\u2028b") == ("a\u2028b",)  # only \n separates lines


def test_source_span_overlap():
    a = SourceSpan("d", 10, 20)
    assert a.overlaps(SourceSpan("d", 20, 30))
    assert not a.overlaps(SourceSpan("d", 21, 30))
    assert not a.overlaps(SourceSpan("e", 10, 20))
    with pytest.raises(ValueError):
        SourceSpan("d", 5, 4)


def _corpus(tmp_path: Path, files: dict[str, bytes], manifest: str | None = None) -> Path:
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    if manifest is not None:
        (tmp_path / "manifest.toml").write_text(manifest, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("files", "manifest", "message"),
    [
        ({}, None, "no documents"),
        ({"a.txt": b""}, None, "empty"),
        ({"a.txt": b"  \n\n"}, None, "empty"),
        ({"a.txt": b"\x00\x01\x02binary"}, None, "binary"),
        ({"a.txt": "久留米市の施策".encode("cp932")}, None, "Shift_JIS"),
        ({"a.txt": "本文".encode()}, '[[document]]\nfile = "missing.txt"\n', "missing"),
        ({"a.txt": "本文".encode()}, '[[document]]\nfile = "a.txt"\n[[document]]\nfile = "a.txt"\n', "duplicate"),
        ({"a.txt": "本文".encode(), "A.TXT.txt": b"x"}, None, None),
    ],
)
def test_bad_corpora_are_refused_with_a_clear_message(tmp_path, files, manifest, message):
    folder = _corpus(tmp_path, files, manifest)
    if message is None:
        assert len(load_corpus(folder)) == 2
        return
    with pytest.raises(CorpusError, match=message):
        load_corpus(folder)


def test_duplicate_names_differing_in_case_are_refused(tmp_path):
    folder = _corpus(tmp_path, {"plan.txt": "本文".encode(), "PLAN.txt": "本文".encode()})
    if len(list(folder.iterdir())) < 2:
        pytest.skip("case-insensitive filesystem: the two names are one file")
    with pytest.raises(CorpusError, match="duplicate document name"):
        load_corpus(folder)


def test_missing_folder(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        load_corpus(tmp_path / "nope")
