"""The torch-free query path: the ONNX encoder, its start-up laziness, and export failures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed():
    from kb.embed.e5q4 import DEFAULT_MODEL_NAME
    from kb.embed.onnx.layout import installed_meta

    if installed_meta(DEFAULT_MODEL_NAME) is None:
        pytest.skip("no ONNX query encoder installed (kb build / kb model prepare makes it)")
    return DEFAULT_MODEL_NAME


def test_int8_and_fp32_agree_and_vectors_are_unit_length(installed):
    from kb.embed.onnx.layout import MIN_COSINE
    from kb.embed.onnx.runtime import QueryEncoder

    queries = ["若い女性の転出を抑える施策は？", "How do the plans support childcare?", "ＤＸ推進 KPI"]
    fp32 = QueryEncoder(installed, variant="fp32").encode_queries(queries)
    int8 = QueryEncoder(installed, variant="int8").encode_queries(queries)
    assert fp32.shape == (3, 384)
    assert np.allclose(np.linalg.norm(fp32, axis=1), 1, atol=1e-4)
    assert (np.sum(fp32 * int8, axis=1) >= MIN_COSINE).all()


def test_repeated_queries_come_from_the_cache(installed):
    from kb.embed.onnx.runtime import QueryEncoder

    encoder = QueryEncoder(installed)
    first = encoder.encode_query("子育て支援")
    assert encoder.encode_query("子育て支援") is first
    assert not first.flags.writeable


def _python(code: str) -> str:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(ROOT))
    env.pop("KB_QUERY_ENCODER", None)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip()


def test_searching_never_imports_torch(installed, real_index):
    out = _python(
        "import sys\n"
        "from kb.service import open_searcher\n"
        f"s = open_searcher({str(real_index)!r})\n"
        "assert s.search('子育て支援').hits\n"
        "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers', 'bm25s', 'numba') if m in sys.modules))"
    )
    assert out == "[]"


def test_help_imports_nothing_heavy():
    out = _python(
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from kb.cli.main import app\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
        "print(sorted(m for m in ('torch', 'numpy', 'faiss', 'fugashi', 'gradio', 'onnxruntime', 'rich.markdown') "
        "if m in sys.modules))"
    )
    assert out == "[]"


def test_a_failed_export_is_remembered_not_retried_every_time(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_HOME", str(tmp_path))
    from kb.embed.sentence import ensure_query_encoder

    calls = []

    class Broken:
        name, dimension = "broken-model", 4

        @property
        def model(self):
            calls.append(1)
            raise RuntimeError("cannot export")

    messages: list[str] = []
    assert ensure_query_encoder(Broken(), progress=messages.append) is False
    assert ensure_query_encoder(Broken(), progress=messages.append) is False
    assert len(calls) == 1 and "earlier export failed" in messages[-1]
    assert ensure_query_encoder(Broken(), progress=messages.append, retry=True) is False
    assert len(calls) == 2
