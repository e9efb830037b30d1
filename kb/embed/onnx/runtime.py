"""Query time: numpy + onnxruntime + the Python tokenizer, no torch (starts in ~0.2 s)."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kb.config import settings
from kb.embed.onnx.layout import CACHE_SIZE, DEFAULT_VARIANT, VARIANTS, encoder_dir, valid_meta
from kb.embed.onnx.tokenizer import UnigramTokenizer
from kb.errors import QueryEncoderUnavailable

log = logging.getLogger(__name__)


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
        meta = _meta if _meta is not None else valid_meta(self.directory, name)
        if meta is None:
            raise QueryEncoderUnavailable(f"no valid query encoder for {name!r} in {self.directory}")
        self.meta = meta
        config = settings()
        self.variant = variant or config.query_encoder or DEFAULT_VARIANT
        if self.variant not in VARIANTS:
            raise QueryEncoderUnavailable(f"unknown query encoder variant {self.variant!r} (choose from {VARIANTS})")
        usable = meta.get("usable", list(VARIANTS))  # exports from before the per-variant gate passed all
        if self.variant not in usable:
            if variant or config.query_encoder:  # asked for by name: refuse rather than drift
                raise QueryEncoderUnavailable(
                    f"the {self.variant} query encoder of {name!r} disagrees with the model "
                    f"(cosine {meta.get('min_cosine', {}).get(self.variant, 0):.4f}); use {usable[0]}")
            # Said loudly once, when the export was made (kb model prepare / kb build); here it is
            # only logged: a warning on stderr would break every command's one-line output.
            log.info("the %s query encoder of %r disagrees with the model (cosine %.4f); using %s",
                        self.variant, name, meta.get("min_cosine", {}).get(self.variant, 0.0), usable[0])
            self.variant = usable[0]
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

