"""``kb mentions TERM …``: every passage of the plans that mentions a term, grouped by plan and section.

Registered on the typer app by :mod:`kb.cli.main`. Needs the index (its chunks and Sudachi
field) but not the embedding model, so it starts in well under a second.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from kb.errors import KbError


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def mentions_command(
    terms: Annotated[list[str], typer.Argument(help="Words to find (any of them; --all: every one), e.g. 空き家 文化財.")],
    city: Annotated[str | None, typer.Option(help="久留米市, 熊本市 or 広域 (or kurume, kumamoto, kouiki).")] = None,
    doc: Annotated[str | None, typer.Option(help="Only this document (file name without .txt).")] = None,
    kind: Annotated[str | None, typer.Option(help="Only this kind: measure, goal, kpi or paragraph (施策, 目標, 指標, 本文).")] = None,
    synonyms: Annotated[bool, typer.Option("--synonyms", help="Also find the forms of each term's Sudachi synonym group (listed).")] = False,
    require_all: Annotated[bool, typer.Option("--all", help="Only passages that mention every term (default: any of them).")] = False,
    csv_out: Annotated[str | None, typer.Option("--csv", help="Write one CSV row per mention to PATH (UTF-8 with BOM), or - for stdout.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (counts per plan and every passage) instead of text.")] = False,
    index: Annotated[Path | None, typer.Option("--index", help="Index folder (default: ./index or $KB_INDEX).")] = None,
    corpus: Annotated[Path | None, typer.Option("--corpus", help="Plan texts (default: the corpus the index was built from).")] = None,
) -> None:
    """Every passage that mentions a term (子ども also finds 子供, こども), with its lines; counts per plan."""
    from kb.present_mentions import concordance_csv, concordance_json, text_lines
    from kb.search.concordance import corpus_lines, find_mentions, validate_terms
    from kb.search.results import Filters
    from kb.service import open_session

    try:
        wanted = validate_terms(terms)  # bad input fails before the index loads
        if csv_out is not None and csv_out != "-" and Path(csv_out).is_dir():
            _fail(f"--csv {csv_out} is a folder; give a file name such as mentions.csv")
        session = open_session(index, corpus_dir=corpus, dense=False)
        concordance = find_mentions(session.searcher, corpus_lines(session.corpus_dir), wanted,
                                    filters=Filters(city=city, doc=doc, kind=kind), synonyms=synonyms,
                                    require_all=require_all)
    except KbError as exc:
        _fail(str(exc))
        return
    if session.stale:
        typer.echo(f"warning: {session.stale_warning()}", err=True)
    if csv_out == "-":
        sys.stdout.write(concordance_csv(concordance).decode("utf-8"))
        return
    if csv_out is not None:
        try:
            Path(csv_out).write_bytes(concordance_csv(concordance))
        except OSError as exc:
            _fail(f"cannot write {csv_out}: {exc.strerror or exc}")
        typer.echo(f"wrote {concordance.occurrences} mentions to {csv_out}", err=True)
    if as_json:
        typer.echo(json.dumps(concordance_json(concordance), ensure_ascii=False))
    else:
        typer.echo("\n".join(text_lines(concordance)))
