"""``kb model train-ranker`` / ``train-encoder``: kb's learned parts, retrained from the question files
(never by tests, never by a fresh clone's setup)."""

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


def run_train_encoder(index: Path | None, max_pairs: int, top_layers: int, seed: int, adapter: Path | None,
                      report: Path | None) -> None:
    import json

    from kb.embed.adapter import ADAPTER_FILE
    from kb.training.encoder import TrainConfig, run_experiment

    config = TrainConfig(top_layers=top_layers, max_pairs=max_pairs, seed=seed)
    results = run_experiment(str(index or "index"), config=config, adapter=adapter or ADAPTER_FILE)
    if report is not None:
        report.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    typer.echo(f"adapter written to {adapter or ADAPTER_FILE}; now run `kb model prepare`, `kb build`, "
               "`kb model train-ranker`")
