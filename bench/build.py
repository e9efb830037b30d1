"""Build benchmark: a full build of corpus/, a rebuild with nothing changed, and one after
a single file changed, each in a fresh process (wall time, seconds and peak memory by stage).

Stages are those of :func:`kb.index.build.build_index` (parse, tokenize, embed, index; the
manifest records their seconds) plus loading the model. Peak memory per stage is
sampled every 50 ms from /proc; the whole process's high-water mark is VmHWM.

Usage: python -m bench.build            (parent: runs the three builds)
       python -m bench.build child CORPUS INDEX   (one build, prints JSON)
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ROOT, MemorySampler, load_average, peak_rss_mb, run_child, save

#: The edit for the incremental case: one sentence in one document changes.
CHANGED_FILE = "kurume-sousei-senryaku-3.txt"


def child(corpus: str, index: str) -> dict:
    from kb.embed.e5q4 import DEFAULT_MODEL_NAME

    with MemorySampler() as sampler:
        started = time.perf_counter()
        sampler.stage = "model"
        from kb.embed.sentence import SentenceEmbedder
        from kb.index.build import build_index

        embedder = SentenceEmbedder(DEFAULT_MODEL_NAME, lazy=True)
        model_s = time.perf_counter() - started

        def progress(stage: str, done: int, total: int) -> None:
            # build_index reports a stage's progress after each step, so the next stage
            # starts when one reports done (the lazy model load then counts as "embed").
            finished = done >= total
            sampler.stage = {"tokenize": "embed", "embed": "index"}.get(stage, stage) if finished else stage

        report = build_index(Path(corpus), Path(index), embedder, progress=progress)
        wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "model_s": model_s,
        "seconds": report.seconds,
        "peak_mb_by_stage": sampler.peaks,
        "peak_mb": peak_rss_mb(),
        "chunks": report.chunk_count,
        "embedded": report.embedded,
        "reused": report.reused,
        "dense_type": report.dense_type,
    }


def change_one_file(corpus: Path) -> str:
    path = corpus / CHANGED_FILE
    lines = path.read_text(encoding="utf-8").split("\n")
    for number, line in enumerate(lines):
        if len(line.strip()) > 30 and number > len(lines) // 2:
            lines[number] = line.rstrip() + "（ベンチマークによる変更）"
            break
    path.write_text("\n".join(lines), encoding="utf-8")
    return f"{CHANGED_FILE}:{number + 1}"


def main() -> dict:
    result: dict = {"load_before": load_average()}
    with tempfile.TemporaryDirectory(prefix="kb-bench-build-") as tmp:
        corpus, index = Path(tmp) / "corpus", Path(tmp) / "index"
        shutil.copytree(ROOT / "corpus", corpus)
        for case in ("full", "unchanged"):
            result[case] = run_child("bench.build", ["child", str(corpus), str(index)])
            print(f"{case}: {json.dumps(result[case])}", flush=True)
        result["changed_line"] = change_one_file(corpus)
        result["one_file_changed"] = run_child("bench.build", ["child", str(corpus), str(index)])
        print(f"one_file_changed: {json.dumps(result['one_file_changed'])}", flush=True)
    result["load_after"] = load_average()
    save("build", result)
    return result


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        print(json.dumps(child(sys.argv[2], sys.argv[3])))
    else:
        main()
