"""Faults while building: SIGKILL at every step and at random moments, a full disk,
a failing model. The previous index must always still load and answer, and no
half-written build may ever become ``current``.

Builds run in child processes with a fake, fast embedder; the child announces each
step of :func:`kb.index.build.build_index` on stdout (and pauses there briefly) so the
parent can kill it exactly inside that step.
"""

from __future__ import annotations

import errno
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from kb.index.build import build_index
from kb.index.storage import load_index, resolve_build
from kb.search.searcher import Searcher

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent(
    r'''
    import hashlib, json, os, sys, time
    import numpy as np
    import kb.index.build as ix

    PAUSE = float(os.environ.get("FAULT_PAUSE", "0.15"))

    def step(name):
        print("STEP " + name, flush=True)
        time.sleep(PAUSE)

    class Fake:
        name, dimension = "fake-model", 16
        def encode_documents(self, texts, **_):
            step("embed")
            out = []
            for t in texts:
                seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
                v = np.random.default_rng(seed).standard_normal(16).astype(np.float32)
                out.append(v / np.linalg.norm(v))
            return np.stack(out)

    def wrap(owner, attr, label):
        original = getattr(owner, attr)
        def wrapped(*a, **k):
            step(label)
            return original(*a, **k)
        setattr(owner, attr, wrapped)

    wrap(ix, "load_corpus", "parse")
    wrap(ix, "embed_to_file", "write-vectors")  # vectors go to the file group by group
    wrap(ix, "save_dense", "write-dense")
    wrap(ix.LexicalIndex, "save", "write-lexical")
    wrap(ix, "artefact_checksums", "checksums")
    wrap(ix, "fsync_tree", "fsync")
    wrap(ix, "swap_current", "swap")
    wrap(ix, "prune_builds", "prune")
    report = ix.build_index(sys.argv[1], sys.argv[2], Fake(),
                            progress=lambda stage, done, total: step(stage) if done in (1, total) else None)
    print("DONE " + str(report.build_dir), flush=True)
    '''
)
STEPS = ("parse", "tokenize", "embed", "write-vectors", "write-dense", "write-lexical", "checksums", "fsync", "swap", "prune")


@pytest.fixture
def small_corpus(tmp_path, corpus_dir) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in ("kurume-kouiki-web.txt", "kurume-sousei-senryaku-3.txt"):
        shutil.copy(corpus_dir / name, corpus / name)
    return corpus


@pytest.fixture
def built(tmp_path, small_corpus, fake_embedder) -> tuple[Path, Path]:
    index = tmp_path / "index"
    build_index(small_corpus, index, fake_embedder)
    # the next build has something new to embed, so every stage does real work
    path = small_corpus / "kurume-kouiki-web.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\n新たに追加された施策の説明です。\n", encoding="utf-8")
    return small_corpus, index


def _child_env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")


def _start_child(tmp_path: Path, corpus: Path, index: Path, **popen) -> subprocess.Popen:
    script = tmp_path / "child_build.py"
    script.write_text(CHILD, encoding="utf-8")
    return subprocess.Popen([sys.executable, str(script), str(corpus), str(index)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_child_env(), **popen)


def _assert_index_answers(index: Path, fake_embedder, allowed_builds: set[Path]) -> None:
    loaded = load_index(index)  # verifies every checksum
    assert loaded.path in allowed_builds
    searcher = Searcher(loaded, fake_embedder)
    result = searcher.search("子育て支援", k=5)
    assert result.hits
    assert searcher.search("広域連携", k=3, method="lexical").hits


def test_sigkill_inside_every_step_leaves_a_loadable_index(tmp_path, built, fake_embedder):
    corpus, index = built
    old = resolve_build(index)
    seen_steps = set()
    for target in STEPS:
        child = _start_child(tmp_path, corpus, index)
        killed = False
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == f"STEP {target}":
                child.send_signal(signal.SIGKILL)
                killed = True
                break
        child.wait(timeout=60)
        assert killed, f"the build never reached step {target!r}: {child.stderr.read()[-2000:] if child.stderr else ''}"
        seen_steps.add(target)
        builds = {p.resolve() for p in (index / "builds").iterdir() if p.is_dir() and not p.name.endswith(".tmp")}
        _assert_index_answers(index, fake_embedder, builds)
        current = resolve_build(index)
        # before the swap the old build answers; from the swap on, a complete new one may
        if STEPS.index(target) < STEPS.index("swap"):
            assert current == old, f"killed in {target}: current moved to an unfinished build"
    assert seen_steps == set(STEPS)
    # the next build completes and sweeps away what the killed ones left behind
    report = build_index(corpus, index, fake_embedder)
    assert resolve_build(index) == report.build_dir
    assert not list((index / "builds").glob("*.tmp"))
    assert not list(index.glob(".current.*"))


def test_sigkill_at_random_moments(tmp_path, built, fake_embedder):
    corpus, index = built
    rng = random.Random(8)
    env_pause = {"FAULT_PAUSE": "0.05"}
    for _ in range(6):
        script_env = dict(_child_env(), **env_pause)
        script = tmp_path / "child_build.py"
        script.write_text(CHILD, encoding="utf-8")
        child = subprocess.Popen([sys.executable, str(script), str(corpus), str(index)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=script_env)
        time.sleep(rng.uniform(0.3, 4.0))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        builds = {p.resolve() for p in (index / "builds").iterdir() if p.is_dir() and not p.name.endswith(".tmp")}
        _assert_index_answers(index, fake_embedder, builds)


def test_full_disk_in_process_leaves_no_half_written_index(built, fake_embedder, monkeypatch):
    corpus, index = built
    old = resolve_build(index)
    import kb.index.build as ix

    def no_space(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    for target in ("save_dense", "artefact_checksums", "fsync_tree"):
        with monkeypatch.context() as patch:
            patch.setattr(ix, target, no_space)
            with pytest.raises(OSError, match="out of disk space"):
                build_index(corpus, index, fake_embedder)
        assert resolve_build(index) == old
        assert not list((index / "builds").glob("*.tmp"))
        _assert_index_answers(index, fake_embedder, {old})


def test_file_size_limit_in_a_child_leaves_the_old_index(tmp_path, built, fake_embedder):
    """A real write failure from the OS (RLIMIT_FSIZE → EFBIG, like a full disk)."""
    corpus, index = built
    old = resolve_build(index)

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    child = _start_child(tmp_path, corpus, index, preexec_fn=limit)
    out, err = child.communicate(timeout=120)
    assert child.returncode != 0 and "DONE" not in out
    assert "out of disk space" in err  # EFBIG reads as a full disk (kb.index.build.write_error)
    assert resolve_build(index) == old
    assert not list((index / "builds").glob("*.tmp"))
    _assert_index_answers(index, fake_embedder, {old})


def test_cli_build_on_a_full_disk_says_so_in_one_line(tmp_path, real_index, corpus_dir):
    """``kb build`` hitting a full disk: one clear line, exit != 0, the old index intact.

    The copy of the real index supplies every embedding, so no model is needed.
    """
    index = tmp_path / "index"
    shutil.copytree(resolve_build(real_index), index / "builds" / "seed")
    os.symlink(Path("builds") / "seed", index / "current")
    old = resolve_build(index)

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))

    proc = subprocess.run([sys.executable, "-m", "kb.cli.main", "build", "--corpus", str(corpus_dir), "--index", str(index)],
                          check=False, capture_output=True, text=True, env=_child_env(), preexec_fn=limit, timeout=600, cwd=ROOT)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert lines and lines[-1].startswith("error: ") and "disk" in lines[-1] and "kb build" in lines[-1], proc.stderr[-800:]
    assert resolve_build(index) == old
    assert load_index(index).chunks
    assert not list((index / "builds").glob("*.tmp"))


def test_searches_during_a_rebuild_answer_from_the_old_index(built, fake_embedder):
    corpus, index = built
    searcher = Searcher(load_index(index), fake_embedder)
    first = [h.chunk.id for h in searcher.search("子育て支援", k=5).hits]
    errors: list[BaseException] = []
    done = threading.Event()

    def rebuild() -> None:
        try:
            for _ in range(3):  # three builds: the first build's folder is pruned on the way
                build_index(corpus, index, type(fake_embedder)())
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=rebuild)
    worker.start()
    answered = 0
    while not done.is_set() or answered == 0:
        assert [h.chunk.id for h in searcher.search("子育て支援", k=5).hits] == first
        fresh = load_index(index)  # a process starting meanwhile gets a complete build
        assert fresh.chunks
        answered += 1
    worker.join()
    assert not errors
    assert [h.chunk.id for h in searcher.search("子育て支援", k=5).hits] == first
    assert np.isfinite(np.asarray(searcher.index.vectors[:3])).all()  # memory-mapped vectors of a pruned build
    assert len([p for p in (index / "builds").iterdir() if p.is_dir()]) <= 2
    json.dumps(first)
