"""The model's Unigram tokenizer, re-done in Python for fast starts.

Building the ``tokenizers`` Unigram trie for a 250k vocabulary costs ~1 s per process;
:class:`UnigramTokenizer` runs the same Viterbi over numpy arrays that the export wrote
(``tokenizer-lite.json``, ``pieces.npy``, ``scores.npy``), with the model's own
normalizer and pre-tokenizer. The export checks it against sentence-transformers'
token ids on probe texts before installing it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kb.embed.onnx.layout import K_UNK_PENALTY
from kb.errors import QueryEncoderUnavailable

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer

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


def write_tokenizer(st_model: SentenceTransformer, target: Path) -> None:
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

