"""The kb command line as users and evaluation scripts call it (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONTRACT = {"rank", "score", "doc", "title", "city", "section", "kind", "line_start", "line_end", "text"}


def kb(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "kb.cli.main", *args], cwd=ROOT, env=env, input=stdin,
        capture_output=True, text=True, timeout=300, check=False,
    )


@pytest.fixture(scope="module")
def index_arg(real_index) -> list[str]:
    return ["--index", str(real_index)]


def test_search_json_contract(index_arg):
    result = kb("search", "若い女性の転出超過", "--k", "10", "--json", *index_arg)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["query"] == "若い女性の転出超過"
    assert len(payload["hits"]) == 10
    for hit in payload["hits"]:
        assert set(hit) >= CONTRACT
        assert not hit["doc"].endswith(".txt")
        assert 1 <= hit["line_start"] <= hit["line_end"]
    assert {h["city"] for h in payload["hits"]} >= {"久留米市", "熊本市"}


def test_no_clear_match_is_in_the_json_contract(index_arg):
    for query, expected in (("qzxwvkjh", True), ("' OR 1=1 --", True), ("子育て支援", False),
                            ("How does Kumamoto help people who want to start a business?", False)):
        result = kb("search", query, "--json", *index_arg)
        assert result.returncode == 0, result.stderr
        payload = json.loads(result.stdout)
        assert payload["no_clear_match"] is expected, query
        assert payload["hits"]  # listed either way


def test_batch_honours_the_method(tmp_path, index_arg):
    """--batch --method lexical needs no model and ranks differently from hybrid and dense."""
    queries = tmp_path / "q.jsonl"
    queries.write_text("".join(json.dumps({"id": str(i), "query": q}, ensure_ascii=False) + "\n" for i, q in enumerate(
        ("子育て支援", "若い女性の転出を抑える施策は？", "How is Kurume attracting companies?"))), encoding="utf-8")
    spans = {}
    for method in ("hybrid", "lexical", "dense"):
        result = kb("search", "--batch", str(queries), "--method", method, "--k", "5", *index_arg)
        assert result.returncode == 0, result.stderr
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert [item["method"] for item in lines] == [method] * 3
        assert all(len(item["hits"]) == 5 and "error" not in item for item in lines)
        spans[method] = [[(h["doc"], h["line_start"]) for h in item["hits"]] for item in lines]
    assert spans["lexical"] != spans["hybrid"] and spans["dense"] != spans["hybrid"]
    assert spans["lexical"] != spans["dense"]
    bad = kb("search", "--batch", str(queries), "--method", "fuzzy", *index_arg)
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown method")


def test_batch_mode_reports_malformed_lines_and_answers_the_rest(tmp_path, index_arg):
    """Every bad line gets its own error object (BOM, lone surrogate, deep nesting, not JSON, blank query)."""
    queries = tmp_path / "q.jsonl"
    lines_in = [
        '{"id": "a", "query": "病児保育", "extra": 1}',
        "not json",
        '{"id": "b", "query": "   "}',
        '{"id": "s", "query": "\\ud800"}',
        "[" * 100_000 + "]" * 100_000,
        '{"id": "c", "query": "public transport"}',
    ]
    queries.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines_in).encode("utf-8") + b"\n")  # saved with a BOM
    result = kb("search", "--batch", str(queries), "--k", "3", *index_arg)
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [item["line"] for item in out] == [1, 2, 3, 4, 5, 6]
    assert [item["id"] for item in out] == ["a", None, "b", "s", None, "c"]
    assert len(out[0]["hits"]) == 3 and set(out[0]["hits"][0]) >= CONTRACT  # line 1 despite the BOM
    assert "malformed" in out[1]["error"] and "nested too deeply" in out[4]["error"]
    assert out[2]["hits"] == [] and "empty" in out[2]["error"]
    assert "not valid Unicode" in out[3]["error"]
    assert len(out[5]["hits"]) == 3 and "error" not in out[5]
    assert "q.jsonl:2" in result.stderr
    assert result.returncode == 1


def test_human_output_shows_rank_span_and_path(index_arg):
    result = kb("search", "病児保育", "--k", "2", *index_arg)
    assert result.returncode == 0
    assert "kurume-kouiki-vision-3:" in result.stdout
    assert "連携事業" in result.stdout
    assert " 1. 関連度 高 / High " in result.stdout  # the calibrated label the app shows, before the raw score


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", ""], "empty"),
        (["search", "子育て", "--doc", "nope"], "unknown document"),
        (["search", "子育て", "--index", "/nonexistent/index"], "kb build"),
        (["show", "nope:1"], "unknown document"),
        (["show", "kurume-kouiki-web:9999"], "does not exist"),
        (["show", "garbage"], "not DOC:LINE"),
    ],
)
def test_errors_are_one_line_and_non_zero(args, message, index_arg):
    if args[0] == "search" and "--index" not in args:
        args = args + index_arg
    result = kb(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_show_prints_the_section_with_line_numbers():
    result = kb("show", "kurume-sousei-senryaku-3:476")
    assert result.returncode == 0
    assert ">  476  - ⑩魅力を語りたくなる久留米イメージの創出・PR" in result.stdout
    assert "【基本目標3 久留米市への新しい人の流れをつくる】" in result.stdout


def test_city_kind_and_file_name_forms(index_arg):
    result = kb("search", "子育て支援", "--city", "kumamoto", "--kind", "measure", "--json", *index_arg)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)["hits"]
    assert hits and {(h["city"], h["kind"]) for h in hits} == {("熊本市", "measure")}
    shown = kb("show", "kurume-sousei-senryaku-3.txt:476")
    assert shown.returncode == 0 and ">  476" in shown.stdout


def test_kpi_query_uses_search_understanding(index_arg):
    for query in ("転出", "young women"):
        result = kb("kpi", "--query", query, "--json", *index_arg)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip(), query  # found nothing before (substring of the KPI name only)


def test_help_lists_whole_descriptions_and_no_index_says_where(tmp_path):
    text = kb("--help").stdout
    assert "Find the measures that answer a question, with their source lines." in text
    result = subprocess.run([sys.executable, "-m", "kb.cli.main", "search", "子育て"], cwd=tmp_path,
                            env={**os.environ, "HF_HUB_OFFLINE": "1", "KB_INDEX": ""}, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert str(tmp_path) in result.stderr and "--index" in result.stderr and "KB_INDEX" in result.stderr
