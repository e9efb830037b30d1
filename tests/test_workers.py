"""kb build --workers/--scheduler/--device (issue 17): Dask workers embed exactly what the
build embeds in process, bad values fail with one line, and the device choice.

The workers load the real default model by name (once each), so the vectors are
compared with the real in-process model, bit for bit.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
import pytest

from kb.embed.e5q4 import DEFAULT_MODEL_NAME
from kb.errors import DeviceUnavailable, WorkersUnavailable
from tests.test_cli_errors import assert_clean_failure, run_kb

pytest.importorskip("distributed")

TEXTS = [
    "子育て世代への支援を充実します。", "若い女性の転出を抑制する", "公共交通の利便性向上", "KPI: 合計特殊出生率 1.6",
    "地域包括ケアシステムの構築", "筑後川の水辺空間を活かしたまちづくり", "観光客数 200万人", "中心市街地の活性化",
    "デジタル技術を活用した行政サービス", "移住・定住の促進", "農業の担い手の確保・育成", "防災・減災の強化",
    "創業支援と企業誘致により雇用を創出する", "高齢者の健康づくりと介護予防", "学校教育の充実", "熊本地震からの復興",
    "脱炭素社会の実現に向けた取組", "文化・スポーツの振興", "Population decline and regional revitalisation",
    "多文化共生の推進",
]


@dataclass
class FakeChunk:
    embed_text: str
    content_hash: str


@pytest.fixture(scope="module")
def local_embedder():
    from kb.embed.sentence import SentenceEmbedder

    return SentenceEmbedder(DEFAULT_MODEL_NAME, device="cpu")


@pytest.fixture(scope="module")
def dask_embedder():
    from kb.embed.parallel import DaskEmbedder

    # unit=8: 20 texts are three tasks, so the test sees them put back in order.
    with DaskEmbedder(DEFAULT_MODEL_NAME, workers=2, device="cpu", unit=8) as embedder:
        yield embedder


def test_two_workers_embed_exactly_the_in_process_vectors(local_embedder, dask_embedder):
    assert dask_embedder.workers == 2 and dask_embedder.dimension == local_embedder.dimension
    vectors = dask_embedder.encode_documents(TEXTS)
    expected = np.concatenate([local_embedder.encode_documents(TEXTS[i : i + 8]) for i in range(0, len(TEXTS), 8)])
    assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), local_embedder.dimension)
    assert np.array_equal(vectors, expected)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert dask_embedder.encode_documents([]).shape == (0, local_embedder.dimension)


def test_the_build_hands_workers_several_groups_and_gets_the_same_vectors(local_embedder, dask_embedder, monkeypatch):
    """embed_with_reuse asks for ``preferred_group`` texts per call; the groups stay the build's."""
    from kb.index import reuse

    chunks = [FakeChunk(text, str(i)) for i, text in enumerate(TEXTS)]
    calls: list[int] = []

    class Counting:
        name, dimension, preferred_group = dask_embedder.name, dask_embedder.dimension, dask_embedder.preferred_group

        def encode_documents(self, texts):
            calls.append(len(texts))
            return dask_embedder.encode_documents(texts)

    monkeypatch.setattr(reuse, "GROUP", 8)  # the workers' unit here; the build's is 64
    parallel, embedded = reuse.embed_with_reuse(chunks, Counting(), {}, lambda done, total: None)
    single, _ = reuse.embed_with_reuse(chunks, local_embedder, {}, lambda done, total: None)
    assert embedded == len(TEXTS) and calls == [len(TEXTS)]  # one call: 8 × 4 × 2 ≥ 20
    assert np.array_equal(parallel, single)


@pytest.mark.parametrize("value", ["0", "-3"])
def test_workers_below_one_fail_with_one_line(value):
    assert_clean_failure(run_kb("build", "--workers", value, "--index", "/nonexistent/kb-index"), "--workers")


def test_an_unreachable_scheduler_fails_in_seconds_with_one_line(tmp_path):
    started = time.perf_counter()
    proc = run_kb("build", "--scheduler", "tcp://127.0.0.1:9", "--index", str(tmp_path / "index"), timeout=60)
    assert_clean_failure(proc, "cannot reach Dask scheduler", "tcp://127.0.0.1:9", progress=True)
    assert time.perf_counter() - started < 30
    assert not (tmp_path / "index" / "current").exists()


def test_without_dask_the_message_says_how_to_install_it(monkeypatch):
    from kb import service

    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed → ImportError
    monkeypatch.delitem(sys.modules, "kb.embed.parallel", raising=False)
    with pytest.raises(WorkersUnavailable, match=r"pip install 'kb\[workers\]'"):
        service._dask_embedder(DEFAULT_MODEL_NAME, 2, None, "cpu", None)


def test_device_auto_is_cuda_only_when_torch_sees_a_gpu(monkeypatch):
    import torch

    from kb.embed.sentence import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda" and resolve_device("cuda") == "cuda"
    assert resolve_device("cuda:1") == "cuda:1" and resolve_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(DeviceUnavailable, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(DeviceUnavailable, match="unknown device"):
        resolve_device("tpu")


def test_the_model_loads_on_the_chosen_device(monkeypatch):
    import sentence_transformers
    import torch

    from kb.embed.sentence import SentenceEmbedder

    devices: list[str] = []

    class FakeModel:
        def __init__(self, location, device):
            devices.append(device)

        def get_embedding_dimension(self):
            return 384

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", FakeModel)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    SentenceEmbedder(DEFAULT_MODEL_NAME)
    SentenceEmbedder(DEFAULT_MODEL_NAME, device="cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    SentenceEmbedder(DEFAULT_MODEL_NAME)
    assert devices == ["cuda", "cpu", "cpu"]


def test_one_gpu_per_local_worker_and_threads_that_fit_the_cores():
    from kb.embed.parallel import _worker_gpu, worker_threads

    assert [_worker_gpu(i, 2) for i in range(3)] == ["cuda:0", "cuda:1", "cuda:0"]
    assert _worker_gpu(3, 1) == "cuda" and _worker_gpu("tcp://10.0.0.5:4000", 4) == "cuda"
    assert worker_threads(2, 2) == 1 and worker_threads(1, 2) == 2 and worker_threads(4, 16) == 4
    assert worker_threads(8, 2) == 1
