"""Build, store and load the search index: chunks, BM25, FAISS and a manifest.

Layout of an index folder (``index/`` by default)::

    index/current -> builds/<id>        a symlink, swapped atomically
    index/builds/<id>/manifest.json     what built it, checksums of every artefact
    index/builds/<id>/chunks.jsonl      chunk records (text, spans, heading paths)
    index/builds/<id>/vectors.npy       embeddings, reused for unchanged chunks
    index/builds/<id>/dense.faiss       FAISS index (type chosen by size)
    index/builds/<id>/lexical/          bm25s index over lemma terms

A build is written into ``builds/<id>.tmp``, renamed, and only then is ``current``
re-pointed, so a build killed at any moment leaves the previous index answering.
Loading checks the manifest before anything else: format version, model, and the
sha256 of every artefact, so a truncated or edited file is refused with the fix.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from kb import __version__
from kb.analysis.lemmas import ANALYZER_VERSION, JapaneseAnalyzer
from kb.chunk import Chunk, chunk_document
from kb.errors import IndexUnavailable
from kb.index.dense import DenseIndexSpec, build_dense, choose_spec, load_dense, save_dense
from kb.index.lexical import LexicalIndex
from kb.ingest.corpus import corpus_hashes, load_corpus, sha256_bytes, sha256_file
from kb.ingest.parse import PARSER_VERSION, parse_document

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CURRENT = "current"
BUILDS = "builds"
KEEP_BUILDS = 2

Progress = Callable[[str, int, int], None]




@dataclass
class BuildReport:
    build_dir: Path
    chunk_count: int
    counts: dict[str, dict[str, int]]
    seconds: dict[str, float]
    embedded: int
    reused: int
    dense_type: str


@dataclass
class LoadedIndex:
    """An index in memory, ready to search."""

    path: Path
    manifest: dict
    chunks: list[Chunk]
    vectors: np.ndarray
    dense: object
    lexical: LexicalIndex
    documents: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def model(self) -> str:
        return str(self.manifest["model"]["name"])

    def stale_documents(self, corpus_dir: Path | None = None) -> list[str]:
        """Corpus files that changed (or appeared/disappeared) since this index was built."""
        corpus_dir = Path(corpus_dir or self.manifest.get("corpus_dir", "corpus"))
        if not corpus_dir.is_dir():
            return []
        recorded: dict[str, str] = self.manifest.get("corpus", {})
        current = {p.name: sha256_bytes(p.read_bytes()) for p in corpus_dir.glob("*.txt")}
        names = set(recorded) | set(current)
        return sorted(n for n in names if recorded.get(n) != current.get(n))


def chunk_record(chunk: Chunk) -> dict:
    return asdict(chunk)


def chunk_from_record(record: dict) -> Chunk:
    names = {f.name for f in fields(Chunk)}
    values = {k: v for k, v in record.items() if k in names}
    for key in ("heading_path", "lines", "outline"):
        values[key] = tuple(values.get(key, ()))
    return Chunk(**values)


def _fsync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` to disk before it is renamed into place,
    so that after a power cut the rename never points at empty files."""
    for path in sorted(root.rglob("*"), reverse=True) + [root]:
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner_pid(name: str) -> int | None:
    """The build process that owns a temporary ``<id>.<pid>.tmp`` / ``.current.<pid>``, if named."""
    parts = name.removesuffix(".tmp").rsplit(".", 1)
    return int(parts[1]) if len(parts) == 2 and parts[1].isdigit() else None


def _artefact_checksums(build_dir: Path) -> dict[str, str]:
    return {
        str(p.relative_to(build_dir)): sha256_file(p)
        for p in sorted(build_dir.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def resolve_build(index_dir: Path) -> Path:
    """The build folder an index folder points at (or the folder itself if it is one)."""
    index_dir = Path(index_dir)
    if (index_dir / MANIFEST).is_file():
        return index_dir
    current = index_dir / CURRENT
    if current.exists() and (current / MANIFEST).is_file():
        return current.resolve()
    raise IndexUnavailable(f"no index in {index_dir}: run `kb build` first")


def _previous_embeddings(index_dir: Path, model: str) -> dict[str, np.ndarray]:
    """Vectors of the current build by chunk content hash, if it used the same model."""
    try:
        build = resolve_build(index_dir)
        manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("model", {}).get("name") != model:
            return {}
        vectors = np.load(build / "vectors.npy")
        hashes = [json.loads(line)["content_hash"] for line in (build / "hashes.jsonl").read_text().splitlines()]
    except (IndexUnavailable, OSError, ValueError, KeyError):
        return {}
    if len(hashes) != len(vectors):
        return {}
    return dict(zip(hashes, vectors))


def _prune(index_dir: Path, keep: str) -> None:
    builds = index_dir / BUILDS
    if not builds.is_dir():
        return
    finished = sorted(p for p in builds.iterdir() if p.is_dir() and not p.name.endswith(".tmp"))
    stale = [p for p in finished if p.name != keep][: max(0, len(finished) - KEEP_BUILDS)]
    # Leftovers of killed builds; a temporary folder of a build still running is kept.
    for path in builds.iterdir():
        if path.name.endswith(".tmp"):
            owner = _owner_pid(path.name)
            if owner is None or not _pid_alive(owner):
                stale.append(path)
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    for link in index_dir.glob(f".{CURRENT}.*"):
        owner = _owner_pid(link.name)
        if link.is_symlink() and (owner is None or not _pid_alive(owner)):
            link.unlink(missing_ok=True)


def _swap_current(index_dir: Path, build_name: str) -> None:
    link = index_dir / CURRENT
    temporary = index_dir / f".{CURRENT}.{os.getpid()}"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(Path(BUILDS) / build_name)
    if link.exists() and not link.is_symlink():
        raise IndexUnavailable(f"{link} exists and is not a symlink; move it away and rebuild")
    os.replace(temporary, link)


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder,  # type: ignore[no-untyped-def]  # kb.embed.sentence.Embedder (kept loose so tests can fake it)
    *,
    progress: Progress | None = None,
    analyzer: JapaneseAnalyzer | None = None,
) -> BuildReport:
    """Parse → chunk → tokenize → embed → index, written atomically into ``index_dir``."""
    tick = time.perf_counter
    notify = progress or (lambda stage, done, total: None)
    seconds: dict[str, float] = {}
    analyzer = analyzer or JapaneseAnalyzer()

    start = tick()
    documents = load_corpus(corpus_dir)
    chunks: list[Chunk] = []
    for done, doc in enumerate(documents, start=1):
        chunks.extend(chunk_document(doc, parse_document(doc)))
        notify("parse", done, len(documents))
    if not chunks:
        raise IndexUnavailable(f"{corpus_dir} has no text to index")
    seconds["parse"] = tick() - start

    start = tick()
    term_lists = []
    for done, chunk in enumerate(chunks, start=1):
        term_lists.append(analyzer.terms(chunk.search_text))
        if done % 50 == 0 or done == len(chunks):
            notify("tokenize", done, len(chunks))
    seconds["tokenize"] = tick() - start

    start = tick()
    cache = _previous_embeddings(index_dir, embedder.name)
    vectors = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
    missing: list[int] = []
    for i, chunk in enumerate(chunks):
        cached = cache.get(chunk.content_hash)
        if cached is not None and cached.shape == (embedder.dimension,):
            vectors[i] = cached
        else:
            missing.append(i)
    # Length-sorted groups waste little compute on padding; groups keep progress moving.
    missing.sort(key=lambda i: len(chunks[i].embed_text))
    group = 64
    for offset in range(0, len(missing), group):
        ids = missing[offset : offset + group]
        vectors[ids] = embedder.encode_documents([chunks[i].embed_text for i in ids])
        notify("embed", min(offset + group, len(missing)), len(missing))
    if not missing:
        notify("embed", 0, 0)
    seconds["embed"] = tick() - start

    start = tick()
    index_dir = Path(index_dir)
    builds = index_dir / BUILDS
    builds.mkdir(parents=True, exist_ok=True)
    now = time.time()
    build_name = time.strftime("%Y%m%dT%H%M%S", time.localtime(now)) + f".{int(now % 1 * 1e6):06d}-{uuid.uuid4().hex[:6]}"
    temporary = builds / f"{build_name}.{os.getpid()}.tmp"
    if temporary.exists():
        shutil.rmtree(temporary)
    temporary.mkdir()
    try:
        spec = choose_spec(len(chunks), embedder.dimension)
        with (temporary / "chunks.jsonl").open("w", encoding="utf-8") as out:
            for chunk in chunks:
                out.write(json.dumps(chunk_record(chunk), ensure_ascii=False) + "\n")
        with (temporary / "hashes.jsonl").open("w", encoding="utf-8") as out:
            for chunk in chunks:
                out.write(json.dumps({"id": chunk.id, "content_hash": chunk.content_hash}) + "\n")
        np.save(temporary / "vectors.npy", vectors)
        save_dense(build_dense(vectors, spec), temporary / "dense.faiss")
        LexicalIndex.build(term_lists).save(temporary / "lexical")
        counts: dict[str, dict[str, int]] = {}
        for (doc, kind), n in Counter((c.doc, c.kind) for c in chunks).items():
            counts.setdefault(doc, {})[kind] = n
        seconds["index"] = tick() - start
        manifest = {
            "format_version": FORMAT_VERSION,
            "kb_version": __version__,
            "parser_version": PARSER_VERSION,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "model": {"name": embedder.name, "dimension": embedder.dimension},
            "dense_index": spec.to_dict(),
            "lexical": {"library": "bm25s", "analyzer": "fugashi+unidic-lite lemmas",
                        "analyzer_version": ANALYZER_VERSION},
            "corpus_dir": str(Path(corpus_dir)),
            "corpus": corpus_hashes(documents),
            "documents": {d.doc: d.metadata for d in documents},
            "chunk_count": len(chunks),
            "chunk_counts": counts,
            "build_seconds": {k: round(v, 3) for k, v in seconds.items()},
            "embedded": len(missing),
            "reused_embeddings": len(chunks) - len(missing),
            "artefacts": _artefact_checksums(temporary),
        }
        (temporary / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        _fsync_tree(temporary)
        final = builds / build_name
        os.replace(temporary, final)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    _swap_current(index_dir, build_name)
    _prune(index_dir, build_name)
    return BuildReport(
        build_dir=final, chunk_count=len(chunks), counts=counts, seconds=seconds,
        embedded=len(missing), reused=len(chunks) - len(missing), dense_type=spec.type,
    )


def read_manifest(index_dir: Path) -> tuple[Path, dict]:
    build = resolve_build(index_dir)
    try:
        manifest = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexUnavailable(f"index manifest unreadable ({exc.__class__.__name__}): run `kb build`") from None
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise IndexUnavailable("index manifest has no format version: run `kb build`")
    if version > FORMAT_VERSION:
        raise IndexUnavailable(
            f"index format {version} is newer than this kb understands ({FORMAT_VERSION}): "
            "upgrade kb or rebuild with `kb build`"
        )
    return build, manifest


def check_model(manifest: dict, model: str | None) -> None:
    built_with = manifest.get("model", {}).get("name")
    if model and model != built_with:
        raise IndexUnavailable(
            f"index was built with model {built_with!r}, not {model!r}: "
            f"rebuild with `kb build --model {model}` or search without --model"
        )


def check_analyzer(manifest: dict) -> None:
    """Queries must be cut into terms the way the index was, or words silently stop matching."""
    built_with = str(manifest.get("lexical", {}).get("analyzer_version", "1"))
    if built_with != ANALYZER_VERSION:
        raise IndexUnavailable(
            f"index terms were made by analyzer version {built_with}, this kb uses {ANALYZER_VERSION}: run `kb build`"
        )


def load_index(index_dir: Path, *, model: str | None = None, verify: bool = True) -> LoadedIndex:
    build, manifest = read_manifest(index_dir)
    check_model(manifest, model)
    check_analyzer(manifest)
    if verify:
        for name, digest in manifest.get("artefacts", {}).items():
            path = build / name
            if not path.is_file():
                raise IndexUnavailable(f"index file {name} is missing: run `kb build`")
            if sha256_file(path) != digest:
                raise IndexUnavailable(f"index file {name} is damaged or was modified: run `kb build`")
    try:
        chunks = [
            chunk_from_record(json.loads(line))
            for line in (build / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        # Memory-mapped: search reads vectors from the FAISS index; these are for reuse.
        vectors = np.load(build / "vectors.npy", mmap_mode="r")
        spec = DenseIndexSpec(**manifest["dense_index"])
        dense = load_dense(build / "dense.faiss", spec)
        lexical = LexicalIndex.load(build / "lexical", len(chunks))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise IndexUnavailable(f"index in {build} cannot be read ({exc.__class__.__name__}): run `kb build`") from None
    if len(chunks) != manifest.get("chunk_count") or len(vectors) != len(chunks) or dense.ntotal != len(chunks):
        raise IndexUnavailable("index files disagree on the number of chunks: run `kb build`")
    dimension = manifest.get("model", {}).get("dimension")
    if vectors.ndim != 2 or vectors.shape[1] != dimension or dense.d != dimension:
        raise IndexUnavailable(
            f"index vectors are not {dimension}-dimensional as the manifest says: run `kb build`"
        )
    return LoadedIndex(
        path=build, manifest=manifest, chunks=chunks, vectors=vectors, dense=dense,
        lexical=lexical, documents=manifest.get("documents", {}),
    )
