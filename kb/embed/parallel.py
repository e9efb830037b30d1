"""Embedding documents on many workers with Dask distributed (``kb build --workers N``).

The first embedding pass of a large corpus is the one slow stage of a build (~8 chunks/s
per 2-core machine), and it is embarrassingly parallel. :class:`DaskEmbedder` is an
:class:`~kb.embed.protocol.Embedder` whose ``encode_documents`` cuts its texts into the
same 64-text groups the in-process build embeds (:data:`kb.index.reuse.GROUP`) and runs
each group as one Dask task on some worker. Every worker loads the model once, when it
joins (:class:`ModelPlugin`, a Dask ``WorkerPlugin``), and embeds a group exactly as the
in-process :class:`~kb.embed.sentence.SentenceEmbedder` would (same group, same
``batch_size``, hence the same padding): the vectors are the single-process ones.

By default the workers are local processes (``distributed.LocalCluster``); with a
scheduler address (``--scheduler tcp://host:8786``) they are whatever machines joined
that scheduler, each of which resolves the model by name itself (the built-in model is
converted into its own ``$KB_HOME``). With ``--device cuda`` each local worker gets one
GPU (``dask_cuda.LocalCUDACluster`` when dask-cuda is installed, else worker *i* uses
``cuda:i mod count``).

This module imports Dask; nothing imports this module until a build asks for workers
(:func:`kb.service.build` with ``workers > 1`` or a ``scheduler``), so ``kb`` works without Dask and
``kb --help`` stays fast; ``pip install 'kb[workers]'`` installs it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Self

import numpy as np
from distributed import Client, LocalCluster, WorkerPlugin, get_worker

from kb.errors import WorkersUnavailable

#: Name under which each worker keeps its loaded model.
PLUGIN_NAME = "kb-embedder"
#: Groups handed to each worker per ``encode_documents`` call when the build asks how
#: much to pass at once (``preferred_group``): enough to keep every worker busy, few
#: enough that the progress bar still moves.
GROUPS_PER_WORKER = 4
#: Seconds to wait for a scheduler (and for its first worker) before giving up.
CONNECT_TIMEOUT_S = 5.0

def worker_threads(workers: int, cores: int | None = None) -> int:
    """torch threads per local worker so that ``workers × threads ≤ cores`` (at least 1)."""
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, workers))


class ModelPlugin(WorkerPlugin):
    """Loads :class:`~kb.embed.sentence.SentenceEmbedder` once per worker process.

    Registered with the client, it also runs on workers that join later. ``threads``
    (torch intra-op threads) is left to torch when None (a remote worker owns its machine); ``device`` is ``auto``/``cpu``/``cuda``, and ``cuda`` on
    a worker named by an integer (local clusters) means ``cuda:<name mod GPUs>``.
    """

    name = PLUGIN_NAME
    idempotent = True

    def __init__(self, model: str, *, device: str = "cpu", threads: int | None = None, batch_size: int = 16) -> None:
        self.model = model
        self.device = device
        self.threads = threads
        self.batch_size = batch_size
        self.embedder: Any = None

    def setup(self, worker: Any) -> None:
        import torch

        from kb.embed.sentence import SentenceEmbedder, resolve_device

        if self.threads:
            torch.set_num_threads(self.threads)
        device = resolve_device(self.device)
        if device == "cuda":
            device = _worker_gpu(getattr(worker, "name", None), torch.cuda.device_count())
        self.embedder = SentenceEmbedder(self.model, device=device)

    def teardown(self, worker: Any) -> None:
        self.embedder = None


def _worker_gpu(worker_name: object, count: int) -> str:
    """``cuda:i`` for local worker ``i`` (one worker per GPU, wrapping around); else ``cuda``."""
    if count > 1 and isinstance(worker_name, int | str) and str(worker_name).isdigit():
        return f"cuda:{int(worker_name) % count}"
    return "cuda"


def _loaded_embedder() -> Any:
    plugin = get_worker().plugins[PLUGIN_NAME]
    assert isinstance(plugin, ModelPlugin)
    return plugin.embedder, plugin.batch_size


def _encode_group(texts: list[str]) -> np.ndarray:
    """One Dask task: a group of texts embedded by the worker's model (loaded once)."""
    embedder, batch_size = _loaded_embedder()
    return embedder.encode_documents(texts, batch_size=batch_size)


def _encode_query(text: str) -> np.ndarray:
    embedder, _ = _loaded_embedder()
    return embedder.encode_query(text)


def _describe() -> tuple[int, str]:
    embedder, _ = _loaded_embedder()
    return int(embedder.dimension), str(embedder.model.device)


class DaskEmbedder:
    """An :class:`~kb.embed.protocol.Embedder` that embeds on Dask workers.

    Use it as a context manager: the local cluster (or the connection to a remote
    scheduler) is closed when the block ends, also on an error or Ctrl-C.
    ``workers`` is the size of the local cluster (ignored with ``scheduler``).
    """

    def __init__(
        self,
        name: str,
        *,
        workers: int = 2,
        scheduler: str | None = None,
        device: str = "auto",
        unit: int | None = None,
        batch_size: int = 16,
        say: Callable[[str], None] | None = None,
    ) -> None:
        from kb.index.reuse import GROUP

        if workers < 1:
            raise WorkersUnavailable(f"--workers must be at least 1, not {workers}")
        self.name = name
        self.unit = unit or GROUP
        self.batch_size = batch_size
        self._say = say or (lambda message: None)
        self._cluster: Any = None
        self._client: Client | None = None
        self.dimension = 0
        self.device = ""
        try:
            self._start(workers, scheduler, device)
        except BaseException:
            self.close()
            raise

    def _start(self, workers: int, scheduler: str | None, device: str) -> None:
        from kb.embed.sentence import resolve_device

        if scheduler:
            self._say(f"connecting to Dask scheduler {scheduler} …")
            try:
                self._client = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
            except (OSError, TimeoutError, ValueError) as exc:
                raise WorkersUnavailable(f"cannot reach Dask scheduler {scheduler!r}: {_reason(exc)}") from None
            plugin = ModelPlugin(self.name, device=device, batch_size=self.batch_size)
        else:
            resolved = resolve_device(device)
            self._cluster = self._local_cluster(workers, resolved)
            self._client = Client(self._cluster, set_as_default=False)
            threads = None if resolved.startswith("cuda") else worker_threads(workers)
            plugin = ModelPlugin(self.name, device=resolved, threads=threads, batch_size=self.batch_size)
        client = self._client
        try:
            client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S if scheduler else None)
        except (OSError, TimeoutError) as exc:
            raise WorkersUnavailable(f"no Dask worker joined {scheduler or 'the local cluster'}: {_reason(exc)}") from None
        self._say(f"loading model {self.name} on {len(client.scheduler_info(n_workers=-1)['workers'])} Dask worker(s) …")
        client.register_plugin(plugin, name=PLUGIN_NAME)
        self.dimension, self.device = client.submit(_describe, pure=False).result()

    @staticmethod
    def _local_cluster(workers: int, device: str) -> Any:
        if device.startswith("cuda"):
            try:
                from dask_cuda import LocalCUDACluster  # optional: one worker per GPU, CUDA_VISIBLE_DEVICES each
            except ImportError:
                pass
            else:
                return LocalCUDACluster(n_workers=workers, threads_per_worker=1, dashboard_address=None)
        # One task at a time per worker process; its torch threads are set by ModelPlugin.
        return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)

    @property
    def workers(self) -> int:
        """Workers connected now."""
        if self._client is None:
            return 0
        return len(self._client.scheduler_info(n_workers=-1)["workers"])

    @property
    def preferred_group(self) -> int:
        """How many texts a build should pass per call: a few groups per worker."""
        return self.unit * GROUPS_PER_WORKER * max(1, self.workers)

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors in the order of ``texts``; each ``unit`` texts are one task (one worker)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        client = self._require_client()
        groups = [list(texts[i : i + self.unit]) for i in range(0, len(texts), self.unit)]
        futures = client.map(_encode_group, groups, pure=False)
        parts = client.gather(futures)
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self._require_client().submit(_encode_query, text, pure=False).result()

    def _require_client(self) -> Client:
        if self._client is None:
            raise WorkersUnavailable("the Dask workers were already closed")
        return self._client

    def close(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        # A loaded worker may take more than the nanny's 4 s to exit and is then killed, which
        # Dask logs as a warning per worker: expected here, so not shown during the close.
        nanny = logging.getLogger("distributed.nanny")
        level = nanny.level
        nanny.setLevel(logging.ERROR)
        try:
            for part in (client, cluster):
                if part is not None:
                    with contextlib.suppress(Exception):  # shutting down: nothing left to save
                        part.close()
        finally:
            nanny.setLevel(level)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{exc.__class__.__name__}: {text}" if text else exc.__class__.__name__
