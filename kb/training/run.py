"""``kb model train-ranker``: retrain the shipped ranker, reproducibly, from the question files.

Training questions: the data engine's ``eval/train/questions.jsonl`` plus the evaluation
splits that may be tuned on (tune, dev, blind, blind2). The held-out splits (heldout,
blind_heldout, blind2_heldout) are never read here. ``--exclude-doc`` drops every question
with a judged passage in that plan (leave-one-plan-out: the figure for a plan added later).
Same questions, same index, same seed → the same model text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from kb.evaluation.metrics import DEFAULT_QUERY_FILES, EvalQuery, load_queries, load_query_files
from kb.rank.model import export_onnx
from kb.training.ranker import build_groups, importance, source_keys, train

TRAINING_QUESTIONS = Path("eval/train/questions.jsonl")
#: Evaluation splits that may be trained on (their first-use figures are recorded in eval/README.md).
TRAINABLE_SPLITS = ("tune", "dev", "blind", "blind2")
HELD_OUT_SPLITS = ("heldout", "blind_heldout", "blind2_heldout")
#: Features the shipped ranker is trained without: the JMdict field did not pay in the ablation
#: (eval/train/ablations.md: held-out Recall@10 0.862 without it, 0.855 with it, p = 0.075), so no
#: tree reads it and a search does not compute it. The floor still uses JMdict (kb/search/searcher.py).
DROPPED = ("jmdict_score", "jmdict_norm", "jmdict_log_rank")


@dataclass(frozen=True)
class TrainingReport:
    summary: dict
    importance: list[tuple[str, float]]
    out: Path


def encoder_seen(questions: Sequence[EvalQuery], adapter: Path | None = None) -> set[str]:
    """Ids of the training questions the shipped encoder adapter was tuned on.

    Its cosines on those questions are better than it will ever do on a new one; a ranker
    trained on them learns to trust the dense signal too much (cross-fitting: the ranker
    learns only from questions the encoder never saw). The adapter's sidecar records the
    seeded subset it drew (kb/training/encoder.py), which is reproduced here.
    """
    import random

    from kb.embed.adapter import ADAPTER_FILE, sidecar_path

    info = json.loads(sidecar_path(adapter or ADAPTER_FILE).read_text(encoding="utf-8"))
    available, drawn, seed = info.get("questions_available"), info.get("questions"), info.get("seed")
    if available != len(questions) or not drawn or seed is None:
        raise ValueError(f"the encoder adapter was tuned on {available} training questions, the file has "
                         f"{len(questions)}: retrain the encoder, or the ranker cannot tell which it saw")
    keep = random.Random(seed).sample(range(available), drawn) if drawn < available else range(available)
    return {questions[i].id for i in keep}


def training_questions(
    questions: Path = TRAINING_QUESTIONS, eval_files: Sequence[Path] = DEFAULT_QUERY_FILES,
    *, exclude_docs: Sequence[str] = (), synthetic: bool = True, cross_fit: bool = True,
) -> list[EvalQuery]:
    """The questions a ranker is trained on: synthetic ones the encoder was not tuned on
    (``cross_fit``) and the trainable eval splits."""
    pool = list(load_queries(questions)) if synthetic and questions.is_file() else []
    if pool and cross_fit:
        seen = encoder_seen(pool)
        pool = [q for q in pool if q.id not in seen]
    pool += [q for q in load_query_files(eval_files) if q.split in TRAINABLE_SPLITS]
    assert not any(q.split in HELD_OUT_SPLITS for q in pool)
    return [q for q in pool if not any(p.doc in exclude_docs for p in q.relevant)]


def train_ranker(
    index: Path | str | None, out: Path, *, questions: Path = TRAINING_QUESTIONS,
    eval_files: Sequence[Path] = DEFAULT_QUERY_FILES, exclude_docs: Sequence[str] = (), synthetic: bool = True,
    cross_fit: bool = True, seed: int = 13, cache: Path | None = None, say: Callable[[str], None] = print,
    drop: Sequence[str] = DROPPED,
) -> TrainingReport:
    from kb.service import open_searcher

    searcher = open_searcher(index, ranker="formula", rank_features=True)
    pool = training_questions(questions, eval_files, exclude_docs=exclude_docs, synthetic=synthetic,
                              cross_fit=cross_fit)
    say(f"training on {len(pool)} questions (features of each one's candidates)")
    groups = build_groups(searcher, pool, cache=cache, say=say)
    keys = source_keys(pool)
    text, summary = train(groups, keys, seed=seed, drop=drop)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(out)
    export_onnx(text, out.with_suffix(".onnx"))
    summary["seed"] = seed
    summary["excluded_docs"] = list(exclude_docs)
    summary["dropped_features"] = list(drop)
    (out.with_suffix(".json")).write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return TrainingReport(summary=summary, importance=importance(text), out=out)
