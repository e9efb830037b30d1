"""Data engine, stage 1: every chunk of the corpus as a passage a question writer can read.

A writer sees what a user sees — the plan's title and city, the heading path and the
passage text — and nothing of kb (no vocabulary, rankings or other question files).
Passages are dealt round-robin over the plans into batches, so each writer sees every plan
and no plan's questions come from one writer's habits (leave-one-plan-out stays honest).

    python -m eval.train.passages --out /tmp/kb-train --batches 5
writes batch_N.md (what a writer reads) and passages.jsonl (pid → chunk span; kept by kb).
"""

from __future__ import annotations

import argparse
import json
from itertools import zip_longest
from pathlib import Path

from kb.chunk import Chunk, chunk_corpus
from kb.ingest.corpus import load_corpus


def passage_markdown(pid: str, chunk: Chunk) -> str:
    path = " > ".join(chunk.heading_path)
    return f"### {pid}\nplan: {chunk.title}（{chunk.city}）\nsection: {path}\n\n{chunk.text.strip()}\n"


def interleaved(chunks: list[Chunk]) -> list[Chunk]:
    """Chunks taken in turn from each plan, each plan in reading order."""
    by_doc: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_doc.setdefault(chunk.doc, []).append(chunk)
    return [c for group in zip_longest(*by_doc.values()) for c in group if c is not None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=Path("corpus"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--batches", type=int, default=5)
    args = parser.parse_args()
    chunks = interleaved(chunk_corpus(load_corpus(args.corpus)))
    args.out.mkdir(parents=True, exist_ok=True)
    batches: list[list[str]] = [[] for _ in range(args.batches)]
    with (args.out / "passages.jsonl").open("w", encoding="utf-8") as out:
        for number, chunk in enumerate(chunks):
            pid = f"P{number:04d}"
            batches[number % args.batches].append(passage_markdown(pid, chunk))
            record = {"pid": pid, "chunk": chunk.id, "doc": chunk.doc, "city": chunk.city,
                      "lines": [chunk.line_start, chunk.line_end], "kind": str(chunk.kind),
                      "section": chunk.section, "text": chunk.text}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    for number, passages in enumerate(batches, start=1):
        (args.out / f"batch_{number}.md").write_text("\n".join(passages), encoding="utf-8")
    print(f"{len(chunks)} passages in {args.batches} batches under {args.out}")


if __name__ == "__main__":
    main()
