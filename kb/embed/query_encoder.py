"""Torch-free query embeddings: the index's model exported once to ONNX, run by onnxruntime.

Why: importing torch + sentence-transformers takes several seconds and a forward pass
of one short query through PyTorch ~20-40 ms on two cores, which alone would break
``kb search``'s 2 s cold start and the 30 ms warm budget. Queries are short, so the
model is split in two at export time (by :func:`export_query_encoder`, run from
``kb build`` / ``kb model prepare`` while torch is loaded anyway):

* ``word_embeddings.npy``: the token-embedding table, memory-mapped at query time
  (250k × 384 floats for e5; only the ~20 rows a query uses are ever read);
* ``encoder.onnx`` (fp32) and ``encoder.int8.onnx`` (dynamic int8, per channel): the
  rest of the network from ``inputs_embeds`` to the pooled, L2-normalised vector,
  i.e. exactly what sentence-transformers computes (same pooling, same prompt);
* ``tokenizer-lite.json`` + ``pieces.npy``/``scores.npy``: the model's own normalizer and
  pre-tokenizer, plus its Unigram vocabulary, segmented by :class:`UnigramTokenizer`
  (the ``tokenizers`` Viterbi, re-done in Python), because building the
  ``tokenizers`` Unigram trie for a 250k vocabulary costs ~1 s per process.

Every export is checked against sentence-transformers before it is installed:
identical token ids on probe texts and cosine >= :data:`MIN_COSINE` per variant.
The folder is written to a temporary sibling and renamed, like the index.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kb.atomic import install_dir
from kb.config import settings
from kb.errors import QueryEncoderUnavailable
from kb.ingest.corpus import sizes_match

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

    from kb.embed.sentence import SentenceEmbedder

FORMAT = 1
META = "meta.json"
VARIANTS = ("int8", "fp32")
#: ``KB_QUERY_ENCODER`` (:mod:`kb.config`): ``int8`` (default), ``fp32`` or ``torch`` (no ONNX at all).
DEFAULT_VARIANT = "int8"
#: ``KB_QUERY_THREADS`` sets onnxruntime's intra-op threads per query (default 1: on a busy
#: 2-core machine one thread is faster, and the app runs queries concurrently).
MIN_COSINE = 0.99
CACHE_SIZE = 2048
K_UNK_PENALTY = 10.0

#: Probe texts for the export check: Japanese and English queries, odd characters,
#: full-width forms, a very long text (truncation) and spaces in odd places.
PROBES = (
    "若い女性の転出を抑える施策は？",
    "子育て支援 保育所 待機児童",
    "ＤＸの推進とデジタル人材の育成",
    "How do the plans attract young women to stay?",
    "KPI 合計特殊出生率 1.8 2030年",
    "①地域経済の活性化（中小企業支援）",
    "観光 インバウンド　熊本城 ﾃｽﾄ 半角ｶﾅ",
    "  leading and trailing  spaces  ",
    "emoji 🙂 and symbols ※ → ★",
    "移住・定住の促進と関係人口の創出に関する取組",
    "公共交通ネットワークの維持・確保と地域公共交通計画" * 40,
)




def encoders_root() -> Path:
    from kb.embed.e5q4 import kb_home

    return kb_home() / "query-encoders"


def encoder_dir(model_name: str, root: Path | None = None) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", model_name).strip("._") or "model"
    import hashlib

    return (root or encoders_root()) / f"{safe}-{hashlib.sha256(model_name.encode()).hexdigest()[:8]}"


# --------------------------------------------------------------------------
# tokenizer
# --------------------------------------------------------------------------


class UnigramTokenizer:
    """Token ids exactly as the model's ``tokenizers`` pipeline gives them, loaded in ~0.1 s.

    The model's normalizer and pre-tokenizer come from ``tokenizers`` itself (a copy
    of ``tokenizer.json`` with a 4-entry vocabulary loads in milliseconds); only the
    Unigram Viterbi segmentation (``Unigram::encode_optimized``: best path by summed
    piece scores, first candidate wins ties, unknown characters scored
    ``min_score - 10`` and fused) runs here, over the sorted vocabulary. Text
    containing an added token (``<s>``, ``<mask>`` …), which ``tokenizers`` would split
    out first, or a NUL character, is handed to the full tokenizer instead.
    """

    def __init__(self, directory: Path) -> None:
        from tokenizers import Tokenizer

        self.directory = Path(directory)
        lite = Tokenizer.from_file(str(self.directory / "tokenizer-lite.json"))
        self.normalizer = lite.normalizer
        self.pre_tokenizer = lite.pre_tokenizer
        data = json.loads((self.directory / "vocab.json").read_text(encoding="utf-8"))
        # Sorted pieces as a fixed-width numpy array, memory-mapped: nothing to build at
        # start-up (a 250k-entry dict costs ~0.3 s), and one searchsorted per word.
        self.sorted_pieces = np.load(self.directory / "pieces.npy", mmap_mode="r")
        self.sorted_ids = np.load(self.directory / "piece_ids.npy", mmap_mode="r")
        self.scores = np.load(self.directory / "scores.npy", mmap_mode="r")
        self.unk_id: int = data["unk_id"]
        self.unk_score = float(data["min_score"]) - K_UNK_PENALTY
        self.max_piece: int = data["max_piece"]
        self.prefix: list[int] = data["prefix"]
        self.suffix: list[int] = data["suffix"]
        self.max_length: int = data["max_length"]
        self.added: tuple[str, ...] = tuple(data["added"])
        self._full: Tokenizer | None = None

    def _full_tokenizer(self) -> Tokenizer:
        if self._full is None:
            from tokenizers import Tokenizer

            full = Tokenizer.from_file(str(self.directory / "tokenizer.json"))
            full.no_truncation()
            full.no_padding()
            self._full = full
        return self._full

    def _matches(self, word: str) -> list[list[tuple[int, int]]]:
        """For each start position, the (end, id) of every vocabulary piece found there, shortest first."""
        size, longest = len(word), self.max_piece
        spans = [(start, end) for start in range(size) for end in range(start + 1, min(size, start + longest) + 1)]
        candidates = np.array([word[a:b] for a, b in spans], dtype=self.sorted_pieces.dtype)
        # side="right" - 1 lands on the last of equal pieces: tokenizers' HashMap keeps the last id.
        positions = np.searchsorted(self.sorted_pieces, candidates, side="right") - 1
        safe = np.maximum(positions, 0)
        found = (positions >= 0) & (self.sorted_pieces[safe] == candidates)
        ids = self.sorted_ids[safe]
        matches: list[list[tuple[int, int]]] = [[] for _ in range(size)]
        for (start, end), hit, piece_id in zip(spans, found.tolist(), ids.tolist()):
            if hit:
                matches[start].append((end, piece_id))
        return matches

    def _segment(self, word: str) -> list[int]:
        size = len(word)
        best_score = [0.0] * (size + 1)
        best_start = [-1] * (size + 1)
        best_id = [0] * (size + 1)
        scores = self.scores
        for start, found in enumerate(self._matches(word)):
            base = best_score[start]
            single = False
            for end, piece_id in found:
                candidate = float(scores[piece_id]) + base
                if best_start[end] < 0 or candidate > best_score[end]:
                    best_score[end], best_start[end], best_id[end] = candidate, start, piece_id
                if end == start + 1:
                    single = True
            if not single:
                end = start + 1
                candidate = self.unk_score + base
                if best_start[end] < 0 or candidate > best_score[end]:
                    best_score[end], best_start[end], best_id[end] = candidate, start, self.unk_id
        # Backtrack; consecutive unknowns fuse into one token whose id is looked up again.
        spans: list[tuple[int, int, int]] = []
        end = size
        while end > 0:
            start, piece_id = best_start[end], best_id[end]
            if piece_id == self.unk_id and spans and spans[-1][2] == self.unk_id:
                spans[-1] = (start, spans[-1][1], self.unk_id)
            else:
                spans.append((start, end, piece_id))
            end = start
        spans.reverse()
        return [self._lookup(word[a:b]) if i == self.unk_id else i for a, b, i in spans]

    def _lookup(self, piece: str) -> int:
        if len(piece) > self.max_piece:
            return self.unk_id
        key = np.array([piece], dtype=self.sorted_pieces.dtype)
        position = int(np.searchsorted(self.sorted_pieces, key, side="right")[0]) - 1
        if position >= 0 and self.sorted_pieces[position] == piece:
            return int(self.sorted_ids[position])
        return self.unk_id

    def content_ids(self, text: str) -> list[int]:
        """Ids of ``text`` without special tokens and without truncation."""
        # NUL cannot live in a fixed-width numpy string (it reads as the end of the piece).
        if "\x00" in text or any(token in text for token in self.added):
            return self._full_tokenizer().encode(text, add_special_tokens=False).ids
        normalized = self.normalizer.normalize_str(text) if self.normalizer else text
        words = self.pre_tokenizer.pre_tokenize_str(normalized) if self.pre_tokenizer else [(normalized, None)]
        ids: list[int] = []
        for word, _ in words:
            if word:
                ids.extend(self._segment(word))
        return ids

    def ids(self, text: str) -> list[int]:
        """Model input ids: specials added, truncated to the model's length like sentence-transformers."""
        content = self.content_ids(text)
        room = self.max_length - len(self.prefix) - len(self.suffix)
        return self.prefix + content[:room] + self.suffix


def _write_tokenizer(st_model: SentenceTransformer, target: Path) -> None:
    """tokenizer.json, tokenizer-lite.json and the vocabulary arrays for :class:`UnigramTokenizer`."""
    backend = st_model.tokenizer.backend_tokenizer
    spec = json.loads(backend.to_str())
    model = spec.get("model", {})
    if model.get("type") != "Unigram" or model.get("byte_fallback"):
        raise QueryEncoderUnavailable(f"tokenizer model {model.get('type')!r} is not supported (Unigram only)")
    vocab = model["vocab"]
    unk_id = model.get("unk_id")
    if unk_id is None:
        raise QueryEncoderUnavailable("Unigram tokenizer without unk_id")
    prefix, suffix = _special_ids(spec)
    spec_full = dict(spec, truncation=None, padding=None)
    (target / "tokenizer.json").write_text(json.dumps(spec_full, ensure_ascii=False), encoding="utf-8")
    lite = dict(spec_full)
    keep = max(unk_id + 1, 4)
    lite["model"] = dict(model, vocab=vocab[:keep])
    lite["added_tokens"] = [t for t in spec.get("added_tokens", []) if t["id"] < keep]
    (target / "tokenizer-lite.json").write_text(json.dumps(lite, ensure_ascii=False), encoding="utf-8")
    strings = [piece for piece, _ in vocab]
    longest = max(len(piece) for piece in strings)
    table = np.array(strings, dtype=f"<U{longest}")
    if any(piece.endswith("\x00") for piece in strings):
        raise QueryEncoderUnavailable("vocabulary pieces ending in NUL cannot be stored")
    order = np.argsort(table, kind="stable")
    np.save(target / "pieces.npy", table[order])
    np.save(target / "piece_ids.npy", order.astype(np.int32))
    np.save(target / "scores.npy", np.array([float(score) for _, score in vocab], dtype=np.float64))
    data = {
        "unk_id": int(unk_id),
        "min_score": min(float(score) for _, score in vocab),
        "max_piece": int(longest),
        "prefix": prefix,
        "suffix": suffix,
        "max_length": int(st_model.max_seq_length or 512),
        "added": [t["content"] for t in spec.get("added_tokens", [])],
    }
    (target / "vocab.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _special_ids(spec: dict) -> tuple[list[int], list[int]]:
    post = spec.get("post_processor") or {}
    kind = post.get("type")
    if kind == "TemplateProcessing":
        specials = post.get("special_tokens", {})
        prefix: list[int] = []
        suffix: list[int] = []
        seen_sequence = False
        for item in post.get("single", []):
            if "Sequence" in item:
                seen_sequence = True
            elif "SpecialToken" in item:
                ids = specials[item["SpecialToken"]["id"]]["ids"]
                (suffix if seen_sequence else prefix).extend(int(i) for i in ids)
        return prefix, suffix
    if kind in ("RobertaProcessing", "BertProcessing"):
        return [int(post["cls"][1])], [int(post["sep"][1])]
    if not post:
        return [], []
    raise QueryEncoderUnavailable(f"post-processor {kind!r} is not supported")


# --------------------------------------------------------------------------
# export (needs torch; run at build / prepare time)
# --------------------------------------------------------------------------


def _pooling_mode(st_model: SentenceTransformer) -> tuple[str, bool]:
    modules: list[Any] = list(st_model)
    names = [type(m).__name__ for m in modules]
    if len(modules) < 2 or names[0] != "Transformer" or names[1] != "Pooling":
        raise QueryEncoderUnavailable(f"unsupported module layout {names}")
    if any(name not in ("Normalize",) for name in names[2:]):
        raise QueryEncoderUnavailable(f"unsupported module layout {names}")
    config = modules[1].get_config_dict() if hasattr(modules[1], "get_config_dict") else {}
    mode = config.get("pooling_mode") or next(
        (key.removeprefix("pooling_mode_").removesuffix("_tokens") for key, on in config.items() if key.startswith("pooling_mode_") and on),
        None,
    )
    mode = {"mean": "mean", "cls": "cls", "cls_token": "cls"}.get(str(mode))
    if config.get("include_prompt") is False:
        mode = None
    if mode is None:
        raise QueryEncoderUnavailable(f"pooling {config} is not supported (mean or cls only)")
    return mode, "Normalize" in names


def _export_onnx(st_model: SentenceTransformer, path: Path, pooling: str) -> None:
    import torch

    auto_model: Any = st_model[0].auto_model
    auto_model.eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = auto_model

        def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.model(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
            if pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=-1)

    dimension = auto_model.get_input_embeddings().weight.shape[1]
    example = (torch.randn(1, 7, dimension), torch.ones(1, 7, dtype=torch.int64))
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder(), example, str(path), input_names=["inputs_embeds", "attention_mask"],
            output_names=["embedding"], opset_version=17, dynamo=False,
            dynamic_axes={"inputs_embeds": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                          "embedding": {0: "batch"}},
        )


def _quantize(source: Path, target: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # its pre-processing hint
    quantize_dynamic(str(source), str(target), weight_type=QuantType.QUInt8, per_channel=True, reduce_range=True)


def _preoptimize(path: Path) -> None:
    """Replace ``path`` by onnxruntime's optimised graph, so sessions start without optimising.

    Saved at the EXTENDED level (fusions that are not specific to this CPU), then
    loaded with optimisations off: a session starts in ~0.1 s instead of ~0.5 s.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.log_severity_level = 3
    optimized = path.with_name(path.name + ".opt")
    options.optimized_model_filepath = str(optimized)
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    os.replace(optimized, path)


def _reference_ids(st_model: SentenceTransformer, text: str) -> list[int]:
    """Input ids as sentence-transformers computes them for ``text`` (prompt included)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tokenize = getattr(st_model, "preprocess", None) or st_model.tokenize
        try:
            features = tokenize([text])
        except TypeError:
            features = st_model.tokenize([text])
    return [int(i) for i in features["input_ids"][0].tolist()]


def _file_sizes(root: Path) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in sorted(root.iterdir()) if p.is_file() and p.name != META}


def export_query_encoder(
    embedder: SentenceEmbedder,
    *,
    root: Path | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Export ``embedder``'s model for torch-free queries; returns the installed folder.

    Raises :class:`QueryEncoderUnavailable` when the model's layout is not supported
    or the export does not reproduce sentence-transformers (nothing is installed then).
    """
    report = progress or (lambda _m: None)
    target = encoder_dir(embedder.name, root)
    if not force and _valid_meta(target, embedder.name) is not None:
        return target
    failed = target.with_name(target.name + ".failed")
    fingerprint = model_fingerprint(embedder.name)
    if not force and failed.is_file():  # do not pay for a doomed export in every process
        try:
            record = json.loads(failed.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = {}
        if record.get("source") == fingerprint and record.get("format") == FORMAT:
            raise QueryEncoderUnavailable(f"an earlier export failed ({record.get('error', '?')}); `kb model prepare` retries")
    try:
        installed = _export(embedder, target, report)
    except Exception as exc:
        target.parent.mkdir(parents=True, exist_ok=True)
        failed.write_text(json.dumps({"format": FORMAT, "source": fingerprint, "error": f"{exc.__class__.__name__}: {exc}"[:300]}),
                          encoding="utf-8")
        raise
    failed.unlink(missing_ok=True)
    return installed


def _export(embedder: SentenceEmbedder, target: Path, report: Callable[[str], None]) -> Path:
    st_model = embedder.model
    pooling, _ = _pooling_mode(st_model)
    prompt = (getattr(st_model, "prompts", None) or {}).get("query", "")
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name}-", dir=target.parent))
    try:
        started = time.perf_counter()
        report("exporting the query encoder to ONNX (once per model)")
        _write_tokenizer(st_model, temporary)
        transformer: Any = st_model[0].auto_model
        weights = transformer.get_input_embeddings().weight.detach().cpu().numpy().astype(np.float32)
        np.save(temporary / "word_embeddings.npy", weights)
        del weights
        _export_onnx(st_model, temporary / "encoder.onnx", pooling)
        _quantize(temporary / "encoder.onnx", temporary / "encoder.int8.onnx")
        for name in ("encoder.onnx", "encoder.int8.onnx"):
            _preoptimize(temporary / name)
        tokenizer = UnigramTokenizer(temporary)
        for text in PROBES:
            expected = _reference_ids(st_model, prompt + text)
            if tokenizer.ids(prompt + text) != expected:
                raise QueryEncoderUnavailable(f"tokenizer check failed on {text[:30]!r}")
        reference = embedder.encode_queries(list(PROBES))
        cosines = {}
        for variant in VARIANTS:
            encoder = QueryEncoder(embedder.name, temporary, variant=variant, _meta={"prompt": prompt, "dimension": int(reference.shape[1])})
            vectors = np.stack([encoder.encode_query(text) for text in PROBES])
            cosines[variant] = float(np.min(np.sum(vectors * reference, axis=1)))
            if cosines[variant] < MIN_COSINE:
                raise QueryEncoderUnavailable(f"{variant} export disagrees with sentence-transformers (cosine {cosines[variant]:.4f})")
        meta = {
            "format": FORMAT,
            "model": embedder.name,
            "dimension": int(reference.shape[1]),
            "prompt": prompt,
            "pooling": pooling,
            "source": model_fingerprint(embedder.name),
            "min_cosine": cosines,
            "files": _file_sizes(temporary),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        (temporary / META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        temporary.chmod(0o755)
        install_dir(temporary, target)
        report(f"query encoder ready in {time.perf_counter() - started:.1f} s (min cosine {cosines})")
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return target


def model_fingerprint(model_name: str) -> str | None:
    """Sizes and times of the model's local files: an export is stale when they change.

    None for a model with no local folder (a hub name resolved elsewhere).
    """
    import hashlib

    from kb.embed.e5q4 import DEFAULT_MODEL_NAME, default_model_dir

    folder = default_model_dir() if model_name == DEFAULT_MODEL_NAME else Path(model_name).expanduser()
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.relative_to(folder).as_posix()}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def installed_meta(model_name: str) -> dict | None:
    """The metadata of a valid installed export for ``model_name``, else None."""
    return _valid_meta(encoder_dir(model_name), model_name)


def _valid_meta(directory: Path, model_name: str) -> dict | None:
    try:
        meta = json.loads((directory / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT or meta.get("model") != model_name:
        return None
    recorded = meta.get("source")
    if recorded is not None and recorded != model_fingerprint(model_name):
        return None
    return meta if sizes_match(directory, meta.get("files", {})) else None


# --------------------------------------------------------------------------
# query time (numpy + onnxruntime + tokenizers, no torch)
# --------------------------------------------------------------------------


class QueryEncoder:
    """Embeds queries like ``Embedder.encode_query`` does, without torch; LRU-cached."""

    def __init__(
        self,
        name: str,
        directory: Path | None = None,
        *,
        variant: str | None = None,
        threads: int | None = None,
        _meta: dict | None = None,
    ) -> None:
        self.name = name
        self.directory = Path(directory) if directory is not None else encoder_dir(name)
        meta = _meta if _meta is not None else _valid_meta(self.directory, name)
        if meta is None:
            raise QueryEncoderUnavailable(f"no valid query encoder for {name!r} in {self.directory}")
        self.meta = meta
        config = settings()
        self.variant = variant or config.query_encoder or DEFAULT_VARIANT
        if self.variant not in VARIANTS:
            raise QueryEncoderUnavailable(f"unknown query encoder variant {self.variant!r} (choose from {VARIANTS})")
        self.prompt: str = meta.get("prompt", "")
        self.dimension = int(meta["dimension"])
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = int(threads or config.query_threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # optimised at export
        model_file = "encoder.onnx" if self.variant == "fp32" else "encoder.int8.onnx"
        self.session = ort.InferenceSession(str(self.directory / model_file), options, providers=["CPUExecutionProvider"])
        self.tokenizer = UnigramTokenizer(self.directory)
        self.word_embeddings = np.load(self.directory / "word_embeddings.npy", mmap_mode="r")
        # Planners repeat and refine queries; an LRU of query vectors answers repeats at once.
        self._cached = functools.lru_cache(maxsize=CACHE_SIZE)(self._embed)
        self.last_seconds = 0.0

    def _embed(self, text: str) -> np.ndarray:
        ids = self.tokenizer.ids(self.prompt + text)
        inputs = np.asarray(self.word_embeddings[ids], dtype=np.float32)[None]
        mask = np.ones((1, len(ids)), dtype=np.int64)
        vector = self.session.run(None, {"inputs_embeds": inputs, "attention_mask": mask})[0][0]
        vector = np.ascontiguousarray(vector, dtype=np.float32)
        vector.setflags(write=False)
        return vector

    def encode_query(self, text: str) -> np.ndarray:
        started = time.perf_counter()
        vector = self._cached(text)
        self.last_seconds = time.perf_counter() - started
        return vector

    def encode_queries(self, texts: Sequence[str], **_: object) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.encode_query(t) for t in texts])

    def clear_cache(self) -> None:
        self._cached.cache_clear()


def open_query_encoder(name: str, *, variant: str | None = None) -> QueryEncoder:
    """The installed ONNX query encoder for model ``name`` (raises if there is none)."""
    return QueryEncoder(name, variant=variant)
