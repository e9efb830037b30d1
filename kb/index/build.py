"""Build the index: parse → chunk → tokenize → embed → write, atomically.

Vectors of chunks whose content did not change are taken from the current build
(matched by content hash), so a rebuild after editing one plan embeds only what changed.
Everything is written into a temporary build folder that is renamed into place and only
then made ``current`` (:mod:`kb.index.storage`).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb import __version__
from kb.analysis.lemmas import ANALYZER_VERSION, JapaneseAnalyzer
from kb.atomic import lock_for
from kb.chunk import chunk_document
from kb.embed.protocol import Embedder
from kb.errors import DISK_FULL_ERRNOS, DiskFull, IndexUnavailable, KbError
from kb.index.chunkstore import ChunkStore, ChunkStoreWriter
from kb.index.dense import build_dense, choose_spec, save_dense
from kb.index.journal import (
    JournalWriter,
    VectorLookup,
    journal_folder,
    owner_alive,
    read_journals,
    remove_journals,
)
from kb.index.lexical import TERM_BATCH, LexicalIndex
from kb.index.manifest import FORMAT_VERSION, IndexManifest, LexicalInfo, ModelInfo
from kb.index.reuse import GROUP, EmbedPlan, embed_to_file, verified_lookup
from kb.index.signals import build_sudachi, build_use
from kb.index.storage import (
    BUILDS,
    MANIFEST,
    artefact_checksums,
    fsync_tree,
    prune_builds,
    resolve_build,
    swap_current,
    write_stamp,
)
from kb.ingest.corpus import corpus_hashes, load_corpus
from kb.ingest.parse import PARSER_VERSION, parse_document

#: ``progress(stage, done, total)``: the CLI's and the app's progress bars.
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
    #: Vectors taken from the resume journals of earlier builds that did not finish.
    resumed: int = 0


#: errno values that mean "this folder may not be written".
NOT_WRITABLE_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})


def write_error(exc: OSError, index_dir: Path) -> KbError | OSError:
    """The user's view of a failed index write; the previous index is untouched either way.

    numpy reports a short write on a full disk as ``OSError("N requested and M written")``
    without an errno, so that message counts as a full disk too.
    """
    if exc.errno in DISK_FULL_ERRNOS or (exc.errno is None and "requested and" in str(exc)):
        return DiskFull(f"out of disk space writing the index in {index_dir}; the previous index is unchanged: "
                        "free some space and run `kb build` again")
    if exc.errno in NOT_WRITABLE_ERRNOS:
        return IndexUnavailable(f"cannot write the index in {index_dir} ({exc.strerror}): fix the folder's "
                                "permissions or choose another with --index / $KB_INDEX")
    return exc


def _previous_embeddings(index_dir: Path, model: str, dimension: int) -> VectorLookup:
    """Verified vectors of the current build by chunk content hash (read on demand), if it used the same model.

    The manifest is read leniently: ``vectors.npy`` and ``hashes.jsonl`` have kept their
    format since index format 1, so an index that this kb refuses to search (an older
    format) still gives its vectors to the rebuild instead of hours of re-embedding.
    """
    try:
        build = resolve_build(index_dir)
        raw = json.loads((build / MANIFEST).read_text(encoding="utf-8"))
        built_with, artefacts = raw["model"]["name"], dict(raw["artefacts"])
    except (IndexUnavailable, OSError, ValueError, KeyError, TypeError):
        return VectorLookup()
    if built_with != model:
        return VectorLookup()
    return verified_lookup(build, artefacts, "vectors.npy", "hashes.jsonl", dimension)


def _default_ranker() -> str:
    from kb.config import settings
    from kb.rank.model import ranker_identity

    return ranker_identity(settings().ranker)


def build_index(
    corpus_dir: Path,
    index_dir: Path,
    embedder: Embedder,
    *,
    progress: Progress | None = None,
    analyzer: JapaneseAnalyzer | None = None,
    second_encoder: bool = False,
    use_embedder: Embedder | None = None,
    ranker: str | None = None,
) -> BuildReport:
    """Parse → chunk → tokenize → embed → index, written atomically into ``index_dir``.

    The build streams: chunk records and hashes are written as documents are chunked, the
    later stages read the chunks back from the temporary build's chunk store, and each
    group of embeddings goes straight into ``vectors.npy`` and a resume journal
    (kb/index/journal.py), so a killed build's embeddings are reused by the next one.
    ``second_encoder`` also embeds every chunk with multilingual USE (kb/index/signals.py).
    ``ranker``: the identity the manifest records (default: the ranker ``KB_RANKER`` chooses).
    """
    tick = time.perf_counter
    notify = progress or (lambda stage, done, total: None)
    seconds: dict[str, float] = {}
    analyzer = analyzer or JapaneseAnalyzer()
    index_dir = Path(index_dir)

    start = tick()
    documents = load_corpus(corpus_dir)
    builds = index_dir / BUILDS
    now = time.time()
    build_name = time.strftime("%Y%m%dT%H%M%S", time.localtime(now)) + f".{int(now % 1 * 1e6):06d}-{uuid.uuid4().hex[:6]}"
    temporary = builds / f"{build_name}.{os.getpid()}.tmp"
    try:
        builds.mkdir(parents=True, exist_ok=True)
        if temporary.exists():
            shutil.rmtree(temporary)
        temporary.mkdir()
    except OSError as exc:
        raise write_error(exc, index_dir) from None
    journal: JournalWriter | None = None
    sources: list[VectorLookup] = []
    resumed_from: list[Path] = []
    try:
        plan = EmbedPlan()
        kinds: Counter[tuple[str, str]] = Counter()
        writer = ChunkStoreWriter(temporary)
        try:
            with (temporary / "hashes.jsonl").open("w", encoding="utf-8") as out:
                for done, doc in enumerate(documents, start=1):
                    for chunk in chunk_document(doc, parse_document(doc)):
                        writer.add(chunk)
                        out.write(json.dumps({"id": chunk.id, "content_hash": chunk.content_hash}) + "\n")
                        plan.add(chunk)
                        kinds[(chunk.doc, chunk.kind)] += 1
                    notify("parse", done, len(documents))
        except BaseException:
            writer.abort()
            raise
        count = writer.close()
        if not count:
            raise IndexUnavailable(f"{corpus_dir} has no text to index")
        chunks = ChunkStore(temporary, cache_size=2 * GROUP)
        # What the manifest needs of the documents; their text is not held past this stage.
        corpus = corpus_hashes(documents)
        metadata = {d.doc: d.metadata for d in documents}
        del documents
        seconds["parse"] = tick() - start

        start = tick()

        def lemma_terms() -> Iterator[list[str]]:
            for done, chunk in enumerate(chunks, start=1):
                yield analyzer.terms(chunk.search_text)
                if done % 50 == 0 or done == count:
                    notify("tokenize", done, count)

        LexicalIndex.build_to(lemma_terms(), temporary / "lexical", batch=TERM_BATCH)
        seconds["tokenize"] = tick() - start

        start = tick()
        sources = [_previous_embeddings(index_dir, embedder.name, embedder.dimension), VectorLookup()]
        resumed_from = read_journals(index_dir, embedder.name, embedder.dimension, sources[1])
        journal = JournalWriter(journal_folder(index_dir, embedder.name), build_name, embedder.name,
                                embedder.dimension)
        embedded, (reused, resumed) = embed_to_file(
            plan, chunks, embedder, sources, temporary / "vectors.npy", journal,
            lambda done, total: notify("embed", done, total))
        journal.close()
        seconds["embed"] = tick() - start

        start = tick()
        spec = choose_spec(count, embedder.dimension)
        vectors = np.load(temporary / "vectors.npy", mmap_mode="r")
        save_dense(build_dense(vectors, spec), temporary / "dense.faiss")
        del vectors
        seconds["index"] = tick() - start
        start = tick()
        sudachi = build_sudachi(chunks, temporary, progress)
        seconds["sudachi"] = tick() - start
        use = None
        if second_encoder:
            start = tick()
            try:
                previous: Path | None = resolve_build(index_dir)
            except IndexUnavailable:
                previous = None
            use = build_use(chunks, temporary, previous, progress, use_embedder)
            seconds["use"] = tick() - start
        chunks.close()
        counts: dict[str, dict[str, int]] = {}
        for (doc_name, kind), n in kinds.items():
            counts.setdefault(doc_name, {})[kind] = n
        manifest = IndexManifest(
            format_version=FORMAT_VERSION,
            kb_version=__version__,
            parser_version=PARSER_VERSION,
            built_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            model=ModelInfo(name=embedder.name, dimension=embedder.dimension),
            dense_index=spec,
            lexical=LexicalInfo(library="bm25s", analyzer="fugashi+unidic-lite lemmas",
                                analyzer_version=ANALYZER_VERSION),
            corpus_dir=str(Path(corpus_dir).resolve()),
            corpus=corpus,
            documents=metadata,
            chunk_count=count,
            chunk_counts=counts,
            build_seconds={k: round(v, 3) for k, v in seconds.items()},
            embedded=embedded,
            reused_embeddings=reused,
            artefacts=artefact_checksums(temporary),
            sudachi=sudachi,
            use=use,
            resumed_embeddings=resumed,
            ranker=ranker if ranker is not None else _default_ranker(),
        )
        (temporary / MANIFEST).write_text(json.dumps(manifest.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
        write_stamp(temporary, manifest.artefacts)  # the checksums were just computed from these files
        fsync_tree(temporary)
        final = builds / build_name
        os.replace(temporary, final)
    except BaseException as exc:
        # The journal stays: a later build reuses what this one embedded.
        if journal is not None:
            journal.close()
            if not journal.records:
                remove_journals([journal.path])
        shutil.rmtree(temporary, ignore_errors=True)
        if isinstance(exc, OSError) and not isinstance(exc, KbError):
            raise write_error(exc, index_dir) from None
        raise
    finally:
        for source in sources:
            source.close()
    # One build at a time re-points `current` and prunes, so two builds never delete each other's folder.
    with lock_for(index_dir / BUILDS):
        swap_current(index_dir, build_name)
        prune_builds(index_dir, build_name)
    # Its vectors are in `current` now; so are those of the dead builds' journals it read.
    assert journal is not None
    finished = [journal.path] + [p for p in resumed_from if not owner_alive(p)]
    remove_journals(finished)
    return BuildReport(
        build_dir=final, chunk_count=count, counts=counts, seconds=seconds,
        embedded=embedded, reused=reused, dense_type=spec.type, resumed=resumed,
    )
