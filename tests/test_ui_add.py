"""The app's 計画を追加 / Add a plan panel, without a browser: loopback only, file types,
and the added plan searchable from the running app without a restart."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kb.index.build import build_index
from kb.index.storage import load_index, resolve_build
from kb.search.searcher import Searcher
from kb.service import session_for
from kb.ui.service import SearchService
from kb.ui.state import UIState


@pytest.fixture
def app(two_plan_corpus, tmp_path, fake_embedder):
    index = tmp_path / "index"
    build_index(two_plan_corpus, index, fake_embedder)

    def opener(folder: Path):
        return session_for(Searcher(load_index(folder), fake_embedder), two_plan_corpus)

    return SearchService(opener(index), two_plan_corpus, index_dir=index, workdir=tmp_path / "ui", opener=opener)


def _plan(tmp_path: Path, name: str = "chikugo-plan.txt") -> Path:
    path = tmp_path / name
    path.write_text("第1章 筑後の未来\n基本目標1 移住を増やす\n施策1 空き家バンクの充実\n空き家の活用で移住者を迎えます。\n",
                    encoding="utf-8")
    return path


def test_a_plan_added_from_the_page_is_searchable_without_a_restart(app, tmp_path, fake_embedder):
    before = resolve_build(app.index_dir)
    message = app.add_plan(_plan(tmp_path), title="筑後市の計画", city="筑後市", embedder=fake_embedder)
    assert "計画を追加しました" in message, message
    deadline = time.monotonic() + 30
    while app.session.searcher.index.path == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "chikugo-plan" in {d.doc for d in app.documents}
    assert ("筑後市", "筑後市") in app.city_choices()
    view = app.search(UIState(q="空き家バンク", city="筑後市"))
    assert view.result is not None and {h.chunk.doc for h in view.result.hits} == {"chikugo-plan"}


@pytest.mark.parametrize(
    ("host", "name", "expected"),
    [("192.168.1.20", "plan.txt", "このパソコンからのみ"), ("127.0.0.1", "plan.docx", "PDF・HTML・TXT のみ")],
)
def test_refusals_change_nothing(app, tmp_path, fake_embedder, host, name, expected):
    corpus_before = sorted(p.name for p in app.corpus_dir.iterdir())
    build_before = resolve_build(app.index_dir)
    message = app.add_plan(_plan(tmp_path, name), embedder=fake_embedder, client_host=host)
    assert expected in message
    assert sorted(p.name for p in app.corpus_dir.iterdir()) == corpus_before
    assert resolve_build(app.index_dir) == build_before


def test_no_file_chosen(app):
    assert "ファイルを選んでください" in app.add_plan(None)
