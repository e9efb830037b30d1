"""Shared fixtures: the real corpus, its chunks, and one real index per test session.

The index is built once with the real default model (or taken from $KB_TEST_INDEX,
which test.sh builds before running pytest) because search quality is only
meaningful with the real embeddings.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
FIXTURES = Path(__file__).parent / "fixtures"


#: Fixtures that need the index of the real corpus built with the real model.
INDEX_FIXTURES = frozenset({"real_index", "searcher"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs the built index (directly or through a fixture) with
    ``index``, so ``pytest -m "not index"`` runs the pure tests in seconds."""
    for item in items:
        if INDEX_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.index)


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def documents():
    from kb.ingest.corpus import load_corpus

    return {d.doc: d for d in load_corpus(CORPUS)}


@pytest.fixture(scope="session")
def parsed(documents):
    from kb.ingest.parse import parse_document

    return {name: parse_document(doc) for name, doc in documents.items()}


@pytest.fixture(scope="session")
def chunks(documents, parsed):
    from kb.chunk import chunk_document

    return {name: chunk_document(doc, parsed[name]) for name, doc in documents.items()}


class FakeEmbedder:
    """Deterministic stand-in for a model: fast, for tests of index mechanics only."""

    def __init__(self, name: str = "fake-model", dimension: int = 16) -> None:
        self.name = name
        self.dimension = dimension
        self.calls = 0

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        vector = np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
        return vector / np.linalg.norm(vector)

    def encode_documents(self, texts, **_):
        self.calls += len(texts)
        return np.stack([self._vector(t) for t in texts]) if texts else np.zeros((0, self.dimension), np.float32)

    def encode_query(self, text):
        return self._vector(text)


class BrokenEmbedder:
    """A model that falls over on first use, under another name than the index's (so nothing
    can be reused and a rebuild must embed): for tests that a failed rebuild undoes a change."""

    name, dimension = "broken-model", 16

    def encode_documents(self, texts, **_):
        raise RuntimeError("the model fell over")

    def encode_query(self, text):
        raise RuntimeError("the model fell over")


TWO_PLANS = ("kurume-sousei-senryaku-3.txt", "kurume-kouiki-web.txt")


def copy_two_plans(target: Path) -> Path:
    """``target`` made a corpus folder with two of the real plans and their manifest entries (builds in seconds).

    For tests that add or remove plans: never the real corpus. Module-scoped fixtures call it
    directly; :func:`two_plan_corpus` is the per-test fixture.
    """
    import shutil

    target.mkdir()
    for name in TWO_PLANS:
        shutil.copy(CORPUS / name, target / name)
    entries = (CORPUS / "manifest.toml").read_text(encoding="utf-8").split("[[document]]")
    keep = [e for e in entries[1:] if any(name in e for name in TWO_PLANS)]
    (target / "manifest.toml").write_text(entries[0] + "".join("[[document]]" + e for e in keep), encoding="utf-8")
    return target


@pytest.fixture
def two_plan_corpus(tmp_path: Path) -> Path:
    """A corpus folder with two of the real plans and their manifest entries (builds in seconds)."""
    return copy_two_plans(tmp_path / "corpus")


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_index(tmp_path_factory) -> Path:
    """Path of an index of the real corpus built with the default model."""
    from kb.errors import IndexUnavailable
    from kb.index.storage import load_index

    given = os.environ.get("KB_TEST_INDEX")
    if given:
        try:
            loaded = load_index(Path(given))
            if not loaded.stale_documents(CORPUS):
                return Path(given)
        except IndexUnavailable:
            pass
    from kb.embed.e5q4 import DEFAULT_MODEL_NAME
    from kb.embed.sentence import SentenceEmbedder
    from kb.index.build import build_index

    target = tmp_path_factory.mktemp("index")
    build_index(CORPUS, target, SentenceEmbedder(DEFAULT_MODEL_NAME))
    return target


@pytest.fixture(scope="session")
def searcher(real_index):
    from kb.service import open_searcher

    return open_searcher(real_index)


# Browser tests (tests/test_app_*.py): one app per module on the session's searcher, one Chromium per module.
@pytest.fixture(scope="module")
def app_url(searcher, corpus_dir, tmp_path_factory):
    from bench.load import free_port
    from kb.ui.blocks import build_app, launch
    from kb.ui.service import SearchService
    from tests.browser import wait_for_http

    service = SearchService(searcher, corpus_dir, workdir=tmp_path_factory.mktemp("ui"))
    demo = build_app(service)
    port = free_port()
    launch(demo, host="127.0.0.1", port=port, quiet=True, prevent_thread_lock=True)
    url = f"http://127.0.0.1:{port}/"
    wait_for_http(url, 30)
    yield url
    demo.close()


@pytest.fixture(scope="module")
def browser():
    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package (pip install -e .[test])")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    from tests.browser import TIMEOUT_MS

    context = browser.new_context(viewport={"width": 1440, "height": 1000}, locale="ja-JP")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
