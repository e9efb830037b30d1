"""``kb build`` holds the corpus lock like ``kb add``/``kb remove`` (issue 23's leftover).

A plain build that ran beside an add could read a half-installed plan; one that ran after a
killed add would index a corpus the next add is about to undo.
"""

from __future__ import annotations

import threading

from kb import service
from kb.index.storage import load_index
from kb.ingest.add import PlanInfo, staging
from kb.ingest.corpus import load_corpus
from kb.ingest.intent import corpus_lock, journal_path

PLAN = "筑後市総合計画\n第1章 基本目標1 若者の定住\n（１）住まいの支援\n空き家を若い世帯に紹介します。\n"


def test_build_waits_for_an_add_in_progress(two_plan_corpus, fake_embedder, tmp_path):
    index = tmp_path / "index"
    said: list[str] = []
    lock = corpus_lock(two_plan_corpus)
    lock.acquire()  # another process's kb add, halfway through
    done = threading.Event()

    def run() -> None:
        service.build(two_plan_corpus, index, embedder=fake_embedder, say=said.append)
        done.set()

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert not done.wait(1.0), "the build ran while the corpus lock was held"
        assert any("waiting for another kb add/remove" in line for line in said)
    finally:
        lock.release()
    worker.join(60)
    assert done.is_set() and load_index(index).chunks


def test_build_first_undoes_a_killed_add(two_plan_corpus, fake_embedder, tmp_path):
    source = tmp_path / "chikugo.txt"
    source.write_text(PLAN, encoding="utf-8")
    with staging(two_plan_corpus) as batch:
        batch.stage(source, PlanInfo())
        batch.install()  # ... and the process died here: no rebuild, no commit
    assert journal_path(two_plan_corpus).is_file()
    said: list[str] = []
    index = tmp_path / "index"
    service.build(two_plan_corpus, index, embedder=fake_embedder, say=said.append)
    assert any("undid" in line for line in said)
    assert not journal_path(two_plan_corpus).exists()
    docs = {d.doc for d in load_corpus(two_plan_corpus)}
    assert docs == {"kurume-sousei-senryaku-3", "kurume-kouiki-web"}
    assert {c.doc for c in load_index(index).chunks} == docs

