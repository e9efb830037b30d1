"""Fine-tuning the top layers of kb's e5-small on the data engine's questions, on a CPU.

Why only the top layers, and why a cache: on two cores a full-model step of e5-small took
45 s (issue 26). The lower layers are frozen, so their output for a given text never
changes during training; it is computed once per text (449 chunks, a few thousand
questions) and the step only runs the top ``N`` layers, forward and backward. That is
what makes an epoch fit in minutes on one thread.

What is trained on is exactly what kb embeds: a query is the searcher's expanded dense
text (``expander.expand(q).dense_text``) behind e5's ``query: `` prompt, a passage is the
chunk's ``embed_text`` behind ``passage: `` (the prompts of the model directory, as
sentence-transformers' ``encode_query`` / ``encode_document`` add them). The loss is
sentence-transformers' MultipleNegativesRankingLoss over in-batch negatives plus one hard
negative per question: the best-ranked chunk of the base model's dense signal that is not
one of the question's positives. Batches never put a chunk that answers question A into
A's row as a negative (the corpus is small, so collisions would be common otherwise).

Seeded and single-threaded: the same questions, index and seed give the same adapter.
The result is saved with :mod:`kb.embed.adapter`; nothing here runs during a search
or in the test suite.
"""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kb.embed.adapter import ADAPTER_FILE, apply_adapter, read_adapter, save_adapter
from kb.evaluation.metrics import load_queries
from kb.training.encoder_eval import dense_metrics, eval_questions

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

    from kb.chunk import Chunk
    from kb.search.searcher import Searcher

DEFAULT_TOP_LAYERS = 2
TRAINING_QUESTIONS = Path("eval/train/questions.jsonl")
TUNED_MODEL_NAME = "multilingual-e5-small-q4-kb1"


@dataclass(frozen=True)
class TrainConfig:
    top_layers: int = DEFAULT_TOP_LAYERS
    batch_size: int = 32
    max_pairs: int | None = None  # a seeded subset, so training fits a time budget
    lr: float = 5e-5
    warmup: float = 0.1
    scale: float = 20.0  # MNRL's default (cosine / 0.05)
    seed: int = 13


@dataclass(frozen=True)
class Pair:
    """One training row: query text index, positive and hard-negative chunk, all positives."""

    query: int
    positive: int
    negative: int
    positives: frozenset[int] = field(default_factory=frozenset)


def set_seed(seed: int) -> None:
    """One thread (the machine's other core belongs to someone else) and every RNG seeded."""
    import torch

    torch.set_num_threads(1)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)


def overlapping(chunks: Sequence[Chunk], doc: str, start: int, end: int) -> list[int]:
    """Chunks of ``doc`` whose line span overlaps [start, end] (the evaluation's hit rule)."""
    return [i for i, c in enumerate(chunks) if c.doc == doc and c.line_start <= end and start <= c.line_end]


def dense_query_text(searcher: Searcher, query: str) -> str:
    """What :meth:`Searcher.query_vector` embeds for ``query`` (before the ``query: `` prompt)."""
    from kb.search.searcher import validate_query

    expanded = searcher.expander.expand(validate_query(query))
    return expanded.dense_text if searcher.config.expand else expanded.text


class SplitEncoder:
    """The e5 BertModel cut at layer ``L - top``: a frozen bottom run once per text, a top run per step.

    The top is called on cached bottom states with the same attention mask BertModel builds,
    so base top layers on cached states give the same vectors as ``encode_query`` /
    ``encode_document`` (checked in :func:`run_experiment`).
    """

    def __init__(self, st_model: SentenceTransformer, top_layers: int) -> None:
        self.st = st_model
        transformer: Any = st_model[0]
        self.bert: Any = transformer.auto_model
        self.bert.eval()
        count = len(self.bert.encoder.layer)
        if not 0 < top_layers <= count:
            raise ValueError(f"top_layers must be in 1..{count}")
        self.split = count - top_layers
        self.prompts: dict[str, str] = dict(getattr(st_model, "prompts", None) or {})

    def layer_indices(self) -> list[int]:
        return list(range(self.split, len(self.bert.encoder.layer)))

    def base_top(self) -> torch.nn.ModuleList:
        """A trainable copy of the base model's top layers."""
        return copy.deepcopy(self.bert.encoder.layer[self.split:])

    def _mask(self, hidden: torch.Tensor, mask: torch.Tensor) -> Any:
        from transformers.masking_utils import create_bidirectional_mask

        return create_bidirectional_mask(config=self.bert.config, inputs_embeds=hidden, attention_mask=mask)

    def bottom(self, texts: Sequence[str], prompt: str, batch_size: int = 16) -> list[torch.Tensor]:
        """Hidden states after the frozen layers, one unpadded [tokens, dim] tensor per text."""
        import torch

        tokenize = getattr(self.st, "preprocess", None) or self.st.tokenize
        out: list[torch.Tensor | None] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # little padding
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                features = tokenize([prompt + texts[i] for i in rows])
                ids, mask = features["input_ids"], features["attention_mask"]
                hidden = self.bert.embeddings(input_ids=ids, token_type_ids=features.get("token_type_ids"))
                extended = self._mask(hidden, mask)
                for layer in self.bert.encoder.layer[: self.split]:
                    hidden = layer(hidden, extended)
                for row, i in enumerate(rows):
                    out[i] = hidden[row, : int(mask[row].sum())].clone()
        return [t for t in out if t is not None]

    def top(self, layers: torch.nn.ModuleList, states: Sequence[torch.Tensor]) -> torch.Tensor:
        """L2-normalised mean-pooled embeddings of cached bottom ``states`` through ``layers``."""
        import torch

        width = max(s.shape[0] for s in states)
        hidden = torch.zeros(len(states), width, states[0].shape[1])
        mask = torch.zeros(len(states), width, dtype=torch.long)
        for row, state in enumerate(states):
            hidden[row, : state.shape[0]] = state
            mask[row, : state.shape[0]] = 1
        extended = self._mask(hidden, mask)
        for layer in layers:
            hidden = layer(hidden, extended)
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, p=2.0, dim=-1)

    def top_packed(self, layers: torch.nn.ModuleList, states: Sequence[torch.Tensor], micro: int = 8) -> torch.Tensor:
        """:meth:`top` over length-sorted micro-batches, rows back in input order.

        Padding a batch of chunks to its longest (512 tokens) more than doubles the work
        of a step; grouping similar lengths keeps it near the real token count. The loss
        sees the same embeddings, so the gradient is that of one big batch.
        """
        import torch

        order = sorted(range(len(states)), key=lambda i: states[i].shape[0])
        parts = [self.top(layers, [states[i] for i in order[start : start + micro]])
                 for start in range(0, len(order), micro)]
        inverse = torch.empty(len(order), dtype=torch.long)
        inverse[torch.tensor(order)] = torch.arange(len(order))
        return torch.cat(parts)[inverse]

    def embed(self, layers: torch.nn.ModuleList, states: Sequence[torch.Tensor], batch_size: int = 32) -> np.ndarray:
        """:meth:`top` in inference mode over many texts, as a float32 matrix."""
        import torch

        layers.eval()
        order = sorted(range(len(states)), key=lambda i: states[i].shape[0])
        out = np.zeros((len(states), states[0].shape[1]), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                out[rows] = self.top(layers, [states[i] for i in rows]).numpy()
        return out


def make_pairs(
    questions: Sequence[Any], chunks: Sequence[Chunk], query_vectors: np.ndarray, chunk_vectors: np.ndarray,
    rng: random.Random,
) -> tuple[list[Pair], int]:
    """One pair per question: a (seeded) random positive chunk and the base model's hardest non-positive.

    Returns the pairs and the number of questions that no chunk overlaps (skipped).
    """
    pairs, skipped = [], 0
    scores = query_vectors @ chunk_vectors.T
    for number, question in enumerate(questions):
        positives = sorted({i for p in question.relevant for i in overlapping(chunks, p.doc, p.start, p.end)})
        if not positives:
            skipped += 1
            continue
        ranked = np.argsort(-scores[number], kind="stable")
        negative = next(int(i) for i in ranked if int(i) not in positives)
        pairs.append(Pair(number, rng.choice(positives), negative, frozenset(positives)))
    return pairs, skipped


def make_batches(pairs: Sequence[Pair], batch_size: int, rng: random.Random) -> list[list[Pair]]:
    """Shuffled batches in which no row's positive or negative answers another row's question.

    In a corpus of a few hundred chunks, a random batch of 32 often holds a chunk that is a
    positive of two questions; MNRL would then push a question away from its own answer.
    Pairs that fit no open batch start a new one; incomplete batches at the end are dropped.
    """
    order = list(pairs)
    rng.shuffle(order)
    open_batches: list[tuple[list[Pair], set[int], set[int]]] = []  # rows, chunks used, positives
    full: list[list[Pair]] = []
    for pair in order:
        for rows, used, answers in open_batches:
            if not ({pair.positive, pair.negative} & answers) and not (pair.positives & used):
                rows.append(pair)
                used.update((pair.positive, pair.negative))
                answers.update(pair.positives)
                if len(rows) == batch_size:
                    full.append(rows)
                    open_batches = [b for b in open_batches if b[0] is not rows]
                break
        else:
            open_batches.append(([pair], {pair.positive, pair.negative}, set(pair.positives)))
    return full


def train_top(
    encoder: SplitEncoder, batches: Sequence[Sequence[Pair]], query_states: Sequence[torch.Tensor],
    chunk_states: Sequence[torch.Tensor], config: TrainConfig, say: Callable[[str], None] = print,
) -> torch.nn.ModuleList:
    """One pass over ``batches`` with MultipleNegativesRankingLoss; returns the tuned top layers."""
    import torch
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    layers = encoder.base_top()
    layers.train()  # dropout on, as sentence-transformers trains
    loss_fn = MultipleNegativesRankingLoss(layers, scale=config.scale)  # type: ignore[arg-type]
    optimizer = torch.optim.AdamW(layers.parameters(), lr=config.lr, weight_decay=0.01)
    total = len(batches)
    warm = max(1, int(total * config.warmup))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warm, max(0.0, (total - step) / max(1, total - warm))))
    started = time.perf_counter()
    for step, rows in enumerate(batches):
        needed = sorted({p.positive for p in rows} | {p.negative for p in rows})  # each chunk once
        where = {c: i for i, c in enumerate(needed)}
        docs = encoder.top_packed(layers, [chunk_states[c] for c in needed])
        queries = encoder.top(layers, [query_states[p.query] for p in rows])
        positives = docs[[where[p.positive] for p in rows]]
        negatives = docs[[where[p.negative] for p in rows]]
        loss = loss_fn.compute_loss_from_embeddings([queries, positives, negatives], None)  # type: ignore[arg-type]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 10 == 0 or step == total - 1:
            say(f"step {step + 1}/{total} loss {loss.item():.4f} ({time.perf_counter() - started:.0f} s)")
    layers.eval()
    return layers


def layer_state(encoder: SplitEncoder, layers: torch.nn.ModuleList) -> dict[str, np.ndarray]:
    """The tuned layers' tensors under BertModel's names (``encoder.layer.<i>.…``)."""
    return {f"encoder.layer.{encoder.split + offset}.{name}": value.detach().cpu().numpy()
            for offset, layer in enumerate(layers) for name, value in layer.state_dict().items()}


def load_top(encoder: SplitEncoder, adapter: Path) -> torch.nn.ModuleList:
    """The base top layers with the adapter's (fp16-rounded) weights loaded: what ships."""
    import torch

    tensors, info = read_adapter(adapter)
    if sorted(info["layers"]) != encoder.layer_indices():
        raise ValueError(f"adapter layers {info['layers']} are not this split's {encoder.layer_indices()}")
    layers = encoder.base_top()
    for offset, layer in enumerate(layers):
        prefix = f"encoder.layer.{encoder.split + offset}."
        layer.load_state_dict({k[len(prefix):]: torch.from_numpy(v) for k, v in tensors.items() if k.startswith(prefix)})
    return layers.eval()


def run_experiment(index: str = "index", base_dir: Path | None = None, config: TrainConfig = TrainConfig(),
                   adapter: Path = ADAPTER_FILE, tuned_dir: Path | None = None,
                   say: Callable[[str], None] = print, exclude_doc: str | None = None) -> dict[str, Any]:
    """Train, save the adapter, apply it, and measure dense-only retrieval before and after.

    ``exclude_doc`` (a leave-one-doc-out run) drops every training question with a relevant
    passage in that doc *before* the seeded subset is drawn, so the pair budget still applies.
    """
    import torch
    from sentence_transformers import SentenceTransformer

    from kb.embed.e5q4 import DEFAULT_MODEL_NAME, default_model_dir, prepare_default_model
    from kb.service import open_searcher

    set_seed(config.seed)
    clock = time.perf_counter()
    base_dir = base_dir or prepare_default_model()
    searcher = open_searcher(index, ranker="formula")
    chunks = searcher.chunks
    st = SentenceTransformer(str(base_dir), device="cpu")
    encoder = SplitEncoder(st, config.top_layers)
    passage_prompt = encoder.prompts.get("document", encoder.prompts.get("passage", ""))
    query_prompt = encoder.prompts.get("query", "")
    base = encoder.base_top().eval()
    chunk_states = encoder.bottom([c.embed_text for c in chunks], passage_prompt)
    base_chunks = encoder.embed(base, chunk_states)
    questions = load_queries(TRAINING_QUESTIONS)
    excluded = 0
    if exclude_doc is not None:
        kept = [q for q in questions if not any(p.doc == exclude_doc for p in q.relevant)]
        excluded = len(questions) - len(kept)
        questions = kept
        say(f"--exclude-doc {exclude_doc}: {excluded} training questions dropped, {len(questions)} left")
    if config.max_pairs is not None and len(questions) > config.max_pairs * 5 // 4:
        # Only the subset is cached (a question costs ~40 ms of frozen layers); a quarter
        # spare, because batching sets aside pairs that collide.
        keep = sorted(random.Random(config.seed).sample(range(len(questions)), config.max_pairs * 5 // 4))
        questions = [questions[i] for i in keep]
    query_states = encoder.bottom([dense_query_text(searcher, q.query) for q in questions], query_prompt)
    pairs, skipped = make_pairs(questions, chunks, encoder.embed(base, query_states), base_chunks,
                                random.Random(config.seed))
    batches = make_batches(pairs, config.batch_size, random.Random(config.seed))
    if config.max_pairs is not None:
        batches = batches[: config.max_pairs // config.batch_size]
    used = [p for b in batches for p in b]
    cached_s = time.perf_counter() - clock
    say(f"cache ready in {cached_s:.0f} s: {len(pairs)} pairs ({skipped} questions without a chunk), "
        f"{len(batches)} batches")
    tuned = train_top(encoder, batches, query_states, chunk_states, config, say)
    train_s = time.perf_counter() - clock
    info = {"base_model": DEFAULT_MODEL_NAME, "layers": encoder.layer_indices(), "seed": config.seed,
            "questions": len(questions), "questions_available": len(load_queries(TRAINING_QUESTIONS)), "pairs": len(used), "batches": len(batches),
            "positive_chunks": len({p.positive for p in used}), "chunks": len(chunks),
            "config": dict(config.__dict__), "train_seconds": round(train_s),
            "torch_threads": torch.get_num_threads(), "date": time.strftime("%Y-%m-%d"),
            "data": str(TRAINING_QUESTIONS), "loss": "MultipleNegativesRankingLoss + 1 hard negative"}
    if exclude_doc is not None:
        info.update({"exclude_doc": exclude_doc, "excluded_questions": excluded})
    save_adapter(layer_state(encoder, tuned), adapter, info)
    tuned_dir = tuned_dir or default_model_dir().with_name(TUNED_MODEL_NAME)
    apply_adapter(base_dir, adapter, tuned_dir, force=True)
    shipped = load_top(encoder, adapter)
    tuned_chunks = encoder.embed(shipped, chunk_states)
    # Consistency: the split path reproduces sentence-transformers and the index, before and after.
    reference = SentenceTransformer(str(tuned_dir), device="cpu").encode_document(
        [c.embed_text for c in chunks[:8]], normalize_embeddings=True)
    checks = {"tuned_dir_vs_split_min_cos": float(np.min(np.sum(reference * tuned_chunks[:8], axis=1))),
              "base_split_vs_index_min_cos": float(np.min(np.sum(np.asarray(searcher.index.vectors) * base_chunks, axis=1)))}
    results: dict[str, Any] = {"info": info, "checks": checks, "cache_seconds": round(cached_s), "eval": {}}
    for name, items in eval_questions().items():
        states = encoder.bottom([dense_query_text(searcher, q.query) for q in items], query_prompt)
        rows = {"base": dense_metrics(items, chunks, encoder.embed(base, states), base_chunks),
                "tuned": dense_metrics(items, chunks, encoder.embed(shipped, states), tuned_chunks)}
        table: dict[str, Any] = {}
        for lang in ("all", "ja", "en"):
            keep = [i for i, q in enumerate(items) if lang == "all" or q.lang == lang]
            table[lang] = {"n": len(keep), **{model: {"recall@10": round(float(np.mean([m[i][0] for i in keep])), 4),
                                                        "mrr@10": round(float(np.mean([m[i][1] for i in keep])), 4)}
                                              for model, m in rows.items()}}
        results["eval"][name] = table
        say(f"{name}: {json.dumps(table)}")
    return results


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="fine-tune e5's top layers and measure dense retrieval")
    parser.add_argument("--max-pairs", type=int, default=None)
    parser.add_argument("--top-layers", type=int, default=DEFAULT_TOP_LAYERS)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--index", default="index")
    parser.add_argument("--out", type=Path, default=Path("/tmp/encoder-experiment.json"))
    parser.add_argument("--exclude-doc", default=None,
                        help="leave out every training question with a relevant passage in this doc")
    parser.add_argument("--adapter", type=Path, default=ADAPTER_FILE, help="where to write the adapter")
    parser.add_argument("--tuned-dir", type=Path, default=None, help="where to write the tuned model directory")
    args = parser.parse_args()
    report = run_experiment(args.index, config=TrainConfig(top_layers=args.top_layers, max_pairs=args.max_pairs, seed=args.seed),
                            adapter=args.adapter, tuned_dir=args.tuned_dir, exclude_doc=args.exclude_doc)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8")
