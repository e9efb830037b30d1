"""Build memory at scale: the real :func:`kb.index.build.build_index` on K copies of corpus/.

The five real plans are copied K times under different file names (K × 449 chunks) and
built with a fast deterministic fake embedder (384-d), so what is measured is parsing,
tokenising, writing, the lexical and dense indexes and the Sudachi field, not the model
(its cost is in bench/results.md). Each build runs in a fresh process; peak resident
memory is sampled per stage (every 50 ms) and the process's high-water mark is VmHWM.

Usage: python -m bench.bigbuild --copies 40 [--no-sudachi] [--label after]   (parent, prints JSON)
       python -m bench.bigbuild child CORPUS INDEX [--no-sudachi]  (one build)

The same file runs against an older checkout (``PYTHONPATH=<checkout>``) for a before/after.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import ROOT, MemorySampler, load, load_average, peak_rss_mb, run_child, save


class FastEmbedder:
    """Deterministic unit vectors from the text's hash (~10 µs a chunk)."""

    name = "bench-fake"
    dimension = 384

    def encode_documents(self, texts, **_):  # type: ignore[no-untyped-def]
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            out[row] = np.random.default_rng(seed).standard_normal(self.dimension, dtype=np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out

    def encode_query(self, text):  # type: ignore[no-untyped-def]
        return self.encode_documents([text])[0]


def make_corpus(target: Path, copies: int) -> None:
    target.mkdir(parents=True)
    for path in sorted((ROOT / "corpus").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for k in range(copies):
            (target / f"{path.stem}-c{k:04d}.txt").write_text(text, encoding="utf-8")


def child(corpus: str, index: str, sudachi: bool) -> dict:
    from kb.index import build

    if not sudachi:
        build.build_sudachi = lambda chunks, directory, progress=None: {"skipped": True}  # type: ignore[assignment]
    with MemorySampler() as sampler:
        started = time.perf_counter()

        def progress(stage: str, done: int, total: int) -> None:
            finished = done >= total
            sampler.stage = {"embed": "index", "sudachi": "finish"}.get(stage, stage) if finished else stage

        report = build.build_index(Path(corpus), Path(index), FastEmbedder(), progress=progress)
        wall = time.perf_counter() - started
    return {"wall_s": round(wall, 1), "seconds": {k: round(v, 1) for k, v in report.seconds.items()},
            "peak_mb_by_stage": {k: round(v) for k, v in sampler.peaks.items()}, "peak_mb": round(peak_rss_mb()),
            "chunks": report.chunk_count, "dense_type": report.dense_type}


def main(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.bigbuild")
    parser.add_argument("--copies", type=int, default=40)
    parser.add_argument("--no-sudachi", action="store_true")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--label", help="also keep the run in bench/out/bigbuild.json under LABEL (e.g. before, after)")
    args = parser.parse_args(argv)
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="kb-bench-bigbuild-") as tmp:
        corpus, index = Path(tmp) / "corpus", Path(tmp) / "index"
        make_corpus(corpus, args.copies)
        extra = ["--no-sudachi"] if args.no_sudachi else []
        result = run_child("bench.bigbuild", ["child", str(corpus), str(index), *extra], timeout=7200)
        shutil.rmtree(index, ignore_errors=True)
    result.update(copies=args.copies, sudachi=not args.no_sudachi, load_before=load_before, load_after=load_average())
    print(json.dumps(result), flush=True)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    if args.label:
        runs = (load("bigbuild") or {}).get("runs", {})
        runs[f"{args.label} {result['chunks']}{'' if result['sudachi'] else ' no-sudachi'}"] = result
        save("bigbuild", {"runs": runs})
    return result


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], "--no-sudachi" not in sys.argv)), flush=True)
    else:
        main(sys.argv[1:])
