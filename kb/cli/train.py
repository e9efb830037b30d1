"""``kb model train-ranker``: the learned ranker, retrained from the question files (never by tests)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer


def run_train_ranker(index: Path | None, out: Path, exclude_docs: Sequence[str], synthetic: bool, seed: int,
                     cache: Path | None) -> None:
    from kb.training.run import train_ranker

    report = train_ranker(index, out, exclude_docs=exclude_docs, synthetic=synthetic, seed=seed, cache=cache,
                          say=lambda m: typer.echo(m, err=True))
    s = report.summary
    typer.echo(f"{report.out}: {s['trees']} trees from {s['train']} questions ({s['rows']} rows), "
               f"{s['valid']} held back for early stopping, {s['seconds']} s")
    for name, gain in report.importance[:8]:
        typer.echo(f"  {name:20s} {gain:.3f}")
