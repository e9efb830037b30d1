"""Exporting a sentence-transformers model for torch-free queries (needs torch; run at
build / ``kb model prepare`` time, once per model)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kb.atomic import install_dir
from kb.embed.onnx.layout import (
    FORMAT,
    META,
    MIN_COSINE,
    VARIANTS,
    encoder_dir,
    file_sizes,
    model_fingerprint,
    valid_meta,
)
from kb.embed.onnx.runtime import QueryEncoder
from kb.embed.onnx.tokenizer import UnigramTokenizer, write_tokenizer
from kb.errors import QueryEncoderUnavailable

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from kb.embed.protocol import ExportableEmbedder as SentenceEmbedder  # not kb.embed.sentence: no import circle

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
    if not force and valid_meta(target, embedder.name) is not None:
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
        write_tokenizer(st_model, temporary)
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
        # A variant below the gate is installed but never used: a fine-tuned model's int8 export
        # can drift (0.98) while its fp32 export agrees (1.0); queries then use fp32, and say so.
        usable = [variant for variant in VARIANTS if cosines[variant] >= MIN_COSINE]
        if not usable:
            raise QueryEncoderUnavailable(f"every export disagrees with sentence-transformers (cosines {cosines})")
        for variant in set(VARIANTS) - set(usable):
            report(f"warning: the {variant} query encoder disagrees with sentence-transformers "
                   f"(cosine {cosines[variant]:.4f} < {MIN_COSINE}); queries use {usable[0]}")
        meta = {
            "usable": usable,
            "format": FORMAT,
            "model": embedder.name,
            "dimension": int(reference.shape[1]),
            "prompt": prompt,
            "pooling": pooling,
            "source": model_fingerprint(embedder.name),
            "min_cosine": cosines,
            "files": file_sizes(temporary),
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

