"""What an index records about how it was built, as a typed record.

``manifest.json`` is the index's passport: the model (vectors of two models are not
comparable), the analyzer version (terms must be cut the same way at query time), the
parser version, the corpus hashes (stale warnings) and the sha256 of every artefact
(nothing damaged is searched). :meth:`IndexManifest.from_json` is the one place that
reads it, so a manifest that is valid JSON but not what kb wrote is refused with the
fix instead of failing later on a missing key.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from kb.errors import IndexUnavailable
from kb.index.dense import DenseIndexSpec

#: Bump when the folder layout or a file format changes incompatibly.
#: 2: chunk records are read from disk through an offsets file and filter columns
#: (kb/index/chunkstore.py).
FORMAT_VERSION = 2

_REBUILD = "run `kb build`"


@dataclass(frozen=True)
class ModelInfo:
    """The embedding model that made the vectors."""

    name: str
    dimension: int


@dataclass(frozen=True)
class LexicalInfo:
    """How the lexical field's terms were made."""

    library: str
    analyzer: str
    analyzer_version: str


@dataclass
class IndexManifest:
    """Everything ``manifest.json`` holds, in the order it is written."""

    format_version: int
    kb_version: str
    parser_version: str
    built_at: str
    model: ModelInfo
    dense_index: DenseIndexSpec
    lexical: LexicalInfo
    corpus_dir: str
    corpus: dict[str, str]
    documents: dict[str, dict[str, str]]
    chunk_count: int
    chunk_counts: dict[str, dict[str, int]]
    build_seconds: dict[str, float]
    embedded: int
    reused_embeddings: int
    artefacts: dict[str, str] = field(default_factory=dict)
    #: The second lexical field (Sudachi forms + synonym groups): library, analyzer, version, dictionary.
    sudachi: dict[str, Any] = field(default_factory=dict)
    #: The second encoder's vectors, when built (``kb build --second-encoder``).
    use: dict[str, Any] | None = None
    #: Vectors taken from the resume journals of earlier builds that were killed or failed.
    resumed_embeddings: int = 0
    #: The ranker the index is queried with: the learned model's hash (kb/rank/model.py) or ``formula``.
    ranker: str = ""

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        if record["use"] is None:
            del record["use"]
        return record

    @classmethod
    def from_json(cls, raw: object) -> IndexManifest:
        """Check types and required fields; :class:`IndexUnavailable` names what is wrong."""
        if not isinstance(raw, dict):
            raise IndexUnavailable(f"index manifest is not a JSON object: {_REBUILD}")
        version = raw.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise IndexUnavailable(f"index manifest has no format version: {_REBUILD}")
        if version > FORMAT_VERSION:
            raise IndexUnavailable(
                f"index format {version} is newer than this kb understands ({FORMAT_VERSION}): "
                "upgrade kb or rebuild with `kb build`"
            )
        if version < FORMAT_VERSION:
            raise IndexUnavailable(
                f"index format {version} is older than this kb reads ({FORMAT_VERSION}): {_REBUILD}"
            )
        lexical = dict(_mapping(raw, "lexical"))
        # Indexes from before the field was recorded count as analyzer version 1.
        lexical.setdefault("analyzer_version", "1")
        lexical["analyzer_version"] = str(lexical["analyzer_version"])
        artefacts = _mapping(raw, "artefacts")
        if not artefacts:
            raise IndexUnavailable(f"index manifest lists no artefact checksums, so nothing can be verified: {_REBUILD}")
        try:
            return cls(
                format_version=version,
                kb_version=_typed(raw, "kb_version", str),
                parser_version=_typed(raw, "parser_version", str),
                built_at=_typed(raw, "built_at", str),
                model=_record(ModelInfo, _mapping(raw, "model"), "model"),
                dense_index=_record(DenseIndexSpec, _mapping(raw, "dense_index"), "dense_index"),
                lexical=_record(LexicalInfo, lexical, "lexical"),
                corpus_dir=_typed(raw, "corpus_dir", str),
                corpus=_str_map(raw, "corpus"),
                documents={str(k): _str_values(v, "documents") for k, v in _mapping(raw, "documents").items()},
                chunk_count=_typed(raw, "chunk_count", int),
                chunk_counts={str(k): dict(v) for k, v in _mapping(raw, "chunk_counts").items()},
                build_seconds={str(k): float(v) for k, v in _mapping(raw, "build_seconds").items()},
                embedded=_typed(raw, "embedded", int),
                reused_embeddings=_typed(raw, "reused_embeddings", int),
                artefacts=_str_map(raw, "artefacts"),
                sudachi=dict(_mapping(raw, "sudachi")),
                use=dict(_mapping(raw, "use")) or None,
                resumed_embeddings=int(raw.get("resumed_embeddings", 0)),
                ranker=str(raw.get("ranker", "")),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise IndexUnavailable(f"index manifest has a field of the wrong type ({exc}): {_REBUILD}") from None


def _mapping(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise IndexUnavailable(f"index manifest field {key!r} is not an object: {_REBUILD}")
    return value


def _typed(raw: dict[str, Any], key: str, kind: type) -> Any:
    value = raw.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise IndexUnavailable(f"index manifest field {key!r} is missing or not a {kind.__name__}: {_REBUILD}")
    return value


def _str_map(raw: dict[str, Any], key: str) -> dict[str, str]:
    return _str_values(_mapping(raw, key), key)


def _str_values(value: object, key: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise IndexUnavailable(f"index manifest field {key!r} is not a map of strings: {_REBUILD}")
    return {str(k): v for k, v in value.items()}


def _record(kind: type, value: dict[str, Any], key: str) -> Any:
    names = {f.name: f for f in fields(kind)}
    unknown = set(value) - set(names)
    if unknown:
        raise IndexUnavailable(f"index manifest field {key!r} has unknown keys {sorted(unknown)}: {_REBUILD}")
    record = kind(**value)
    for name, spec in names.items():
        expected = {"str": str, "int": int}.get(str(spec.type))
        if expected is not None and not isinstance(getattr(record, name), expected):
            raise IndexUnavailable(f"index manifest field {key}.{name} is not a {expected.__name__}: {_REBUILD}")
    return record
