"""``kb eval``'s report: tables per split, the results file and the floor check."""

from __future__ import annotations

import json
from pathlib import Path

from kb.evaluation.report import run_eval
from kb.index.build import build_index


def _queries(path: Path) -> Path:
    rows = [
        {"id": "t1", "query": "若い女性の転出超過", "lang": "ja", "type": "keyword", "split": "tune",
         "relevant": [{"doc": "kurume-sousei-senryaku-3", "lines": [1, 509]}]},
        {"id": "t2", "query": "月面基地の誘致", "lang": "ja", "type": "keyword", "split": "tune",
         "relevant": [{"doc": "kumamoto-sousei-senryaku-2", "lines": [1, 10]}]},
        {"id": "h1", "query": "連携中枢都市圏", "lang": "ja", "type": "keyword", "split": "heldout",
         "relevant": [{"doc": "kurume-kouiki-web", "lines": [1, 93]}]},
        {"id": "h2", "query": "宇宙ステーションの建設", "lang": "ja", "type": "keyword", "split": "heldout",
         "relevant": [{"doc": "kumamoto-sousei-senryaku-2", "lines": [1, 10]}]},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    return path


def _floor(path: Path, floor: float) -> Path:
    path.write_text(f'method = "lexical"\nsplit = "heldout"\nmetric = "recall@10"\nfloor = {floor}\n', encoding="utf-8")
    return path


def test_report_tables_results_file_and_floor(two_plan_corpus, tmp_path, fake_embedder, capsys):
    index = tmp_path / "index"
    build_index(two_plan_corpus, index, fake_embedder)
    queries = _queries(tmp_path / "q.jsonl")
    out = tmp_path / "results.md"
    code = run_eval(queries=[queries], split="all", methods=["lexical"], out=out, check=True,
                    floor_file=_floor(tmp_path / "floor.toml", 0.5), index=index, model=None)
    printed = capsys.readouterr().out
    assert code == 0, printed
    # h1 is found, h2 (a document this index does not have) is not: held-out recall@10 is 0.5.
    assert "floor check: lexical heldout recall@10 = 0.500 (floor 0.5) ok" in printed
    text = out.read_text(encoding="utf-8")
    assert "### tune (2 queries)" in text and "### heldout (2 queries)" in text
    # The worst queries are listed for splits one may tune on, never for held-out ones.
    assert "t2 [keyword] 月面基地の誘致" in text
    assert "h2 [keyword]" not in text
    assert out.with_suffix(".png").is_file()
    code = run_eval(queries=[queries], split="heldout", methods=["lexical"], out=None, check=True,
                    floor_file=_floor(tmp_path / "floor.toml", 0.9), index=index, model=None)
    assert code == 1 and "BELOW FLOOR" in capsys.readouterr().out


def test_unknown_method_or_split_is_refused(tmp_path, capsys):
    assert run_eval(queries=[], split="nope", methods=["lexical"], out=None, check=False,
                    floor_file=tmp_path / "f.toml", index=tmp_path, model=None) == 2
    assert "split one of" in capsys.readouterr().out
