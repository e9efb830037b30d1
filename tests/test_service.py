"""The service both front ends call: open, build, stale warnings, KPIs and highlighting."""

from __future__ import annotations

import pytest

from kb import service
from kb.config import settings
from kb.domain import SourceSpan
from kb.errors import CorpusError, IndexUnavailable, KbError, QueryError
from kb.index.storage import load_index
from kb.search.searcher import Searcher


def test_build_then_open_a_session_and_see_it_go_stale(two_plan_corpus, tmp_path, fake_embedder):
    index = tmp_path / "index"
    report = service.build(two_plan_corpus, index, embedder=fake_embedder)
    assert report.chunk_count > 0 and report.embedded == report.chunk_count
    session = service.session_for(Searcher(load_index(index), None), two_plan_corpus)
    assert session.stale == [] and session.stale_warning() == ""
    result = session.searcher.search("連携中枢都市圏", method="lexical", k=3)
    assert result.hits and all("kb build" not in t for t in session.highlight_terms(result))
    web = two_plan_corpus / "kurume-kouiki-web.txt"
    web.write_text(web.read_text(encoding="utf-8") + "\n追記\n", encoding="utf-8")
    again = service.session_for(Searcher(load_index(index), None), two_plan_corpus)
    assert again.stale == ["kurume-kouiki-web.txt"]
    assert "kurume-kouiki-web.txt" in again.stale_warning() and "kb build" in again.stale_warning()


def test_a_bad_corpus_fails_before_any_model_loads(tmp_path):
    with pytest.raises(CorpusError):
        service.build(tmp_path / "no-such-corpus", tmp_path / "index", model="a-model-that-does-not-exist")


def test_known_errors_are_the_kb_error_family():
    assert all(issubclass(e, KbError) for e in (CorpusError, IndexUnavailable, QueryError))
    assert (KbError,) == service.KNOWN_ERRORS
    assert IndexUnavailable("x").fix == "kb build"


def test_index_folder_and_model_come_from_options_then_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("KB_INDEX", raising=False)
    monkeypatch.delenv("KB_MODEL", raising=False)
    assert service.index_dir(None).name == "index"
    monkeypatch.setenv("KB_INDEX", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("KB_MODEL", "some/model")
    assert service.index_dir(None) == tmp_path / "elsewhere"
    assert service.index_dir(tmp_path / "given") == tmp_path / "given"
    assert service.requested_model(None) == "some/model" and service.requested_model("x") == "x"
    monkeypatch.setenv("KB_PORT", "8123")
    monkeypatch.setenv("KB_DEBUG", "1")
    assert settings().port == 8123 and settings().debug is True


@pytest.mark.parametrize(
    ("address", "span"),
    [("kurume-sousei-senryaku-3:476", ("kurume-sousei-senryaku-3", 476, 476)),
     ("doc:10-20", ("doc", 10, 20)),
     ("a:b:5", ("a:b", 5, 5))],
)
def test_addresses_parse_into_spans(address, span):
    parsed = SourceSpan.parse(address)
    assert (parsed.doc, parsed.line_start, parsed.line_end) == span
    assert SourceSpan.parse(str(parsed)) == parsed


@pytest.mark.parametrize("address", ["nocolon", "doc:", "doc:0", "doc:9-3"])
def test_bad_addresses_are_refused(address):
    with pytest.raises(ValueError):
        SourceSpan.parse(address)
