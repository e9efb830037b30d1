"""``kb mcp``: the MCP server, driven the way an assistant drives it.

The server runs as a subprocess (``kb mcp --index …``) and is spoken to with the official
SDK's own client over stdio (and once over streamable HTTP on loopback), so these tests
see exactly what Claude Desktop or VS Code would: tool listings, results, tool errors.
Answers are checked against ``kb search --json`` (same documents and spans) and error
texts against the CLI's one-line messages. Tests that need the real index take the
``real_index`` fixture (marked ``index`` by conftest.py); the rest need no index.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = "若い女性の転出を抑える施策は？"
KURUME, KUMAMOTO = "久留米市", "熊本市"
TOOLS = {"search", "show", "compare", "kpi", "list_plans", "mentions"}
COMPARE_TOPIC = "移住定住"


def _env() -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k.startswith("KB_") and k != "KB_INDEX"}
    return keep | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _server(index: Path, *extra: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "kb.cli.main", "mcp", "--index", str(index), *extra],
                                 env=_env(), cwd=str(ROOT))


Talk = Callable[[Client], Awaitable[dict[str, Any]]]


def converse(target: StdioServerParameters | str, talk: Talk) -> dict[str, Any]:
    """Connect the SDK client, run ``talk``, return what it gathered."""

    async def main() -> dict[str, Any]:
        async with Client(target, read_timeout_seconds=120) as client:
            return await talk(client)

    return anyio.run(main)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kb.cli.main", *args], cwd=ROOT, env=dict(os.environ, **_env()),
                          capture_output=True, text=True, timeout=300, check=False)


def cli_error(*args: str) -> str:
    """The CLI's one-line message for a failing command (without ``error: ``)."""
    proc = cli(*args)
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    return line.removeprefix("error: ")


def cli_spans(index: Path, query: str, *options: str) -> list[tuple[str, int, int]]:
    proc = cli("search", query, "--json", "--index", str(index), *options)
    assert proc.returncode == 0, proc.stderr
    return [(h["doc"], h["line_start"], h["line_end"]) for h in json.loads(proc.stdout)["hits"]]


def spans(result: Any) -> list[tuple[str, int, int]]:
    return [(h["doc"], h["line_start"], h["line_end"]) for h in result.structured_content["hits"]]


SAME_AS_CLI = [
    ({"query": FLAGSHIP, "k": 10}, ["--k", "10"]),
    ({"query": "子育て支援", "city": "kumamoto", "kind": "measure", "k": 5},
     ["--city", "kumamoto", "--kind", "measure", "--k", "5"]),
    ({"query": "tourism promotion", "doc": "kurume-kouiki-vision-3", "k": 5}, ["--doc", "kurume-kouiki-vision-3", "--k", "5"]),
]


@pytest.fixture(scope="module")
def transcript(real_index: Path) -> dict[str, Any]:
    """One stdio session that calls every tool, bad arguments in between, in this order."""

    async def talk(client: Client) -> dict[str, Any]:
        out: dict[str, Any] = {"tools": (await client.list_tools()).tools}
        out["flagship"] = await client.call_tool("search", {"query": FLAGSHIP, "k": 10})
        out["empty"] = await client.call_tool("search", {"query": "   "})
        out["after_empty"] = await client.call_tool("search", {"query": "移住定住 支援", "k": 3})
        out["too_long"] = await client.call_tool("search", {"query": "転出" * 600})
        out["unknown_doc"] = await client.call_tool("search", {"query": "観光", "doc": "no-such-plan"})
        out["bad_k"] = await client.call_tool("search", {"query": "観光", "k": 0})
        out["missing"] = await client.call_tool("show", {"line": 3})
        out["same"] = [await client.call_tool("search", args) for args, _ in SAME_AS_CLI]
        out["nonsense"] = await client.call_tool("search", {"query": "qzxwvkjh"})
        out["show"] = await client.call_tool("show", {"doc": "kurume-sousei-senryaku-3", "line": 476, "context": 1})
        out["show_bad"] = await client.call_tool("show", {"doc": "no-such-plan", "line": 1})
        out["compare"] = await client.call_tool("compare", {"topic": COMPARE_TOPIC})
        out["compare_bad"] = await client.call_tool("compare", {"topic": "観光", "left": "osaka"})
        out["kpi"] = await client.call_tool("kpi", {"query": "転出", "city": "kumamoto"})
        out["kpi_doc"] = await client.call_tool("kpi", {"doc": "kurume-sousei-senryaku-3"})
        out["plans"] = await client.call_tool("list_plans", {})
        out["resources"] = (await client.list_resources()).resources
        out["outline"] = await client.read_resource("kb://plan/kumamoto-sousei-senryaku-2")
        out["last"] = await client.call_tool("list_plans", {})
        return out

    return converse(_server(real_index), talk)


def test_lists_the_read_only_tools_with_bilingual_descriptions(transcript):
    tools = {t.name: t for t in transcript["tools"]}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.annotations is not None and tool.annotations.read_only_hint
        assert any("\u3040" <= c <= "\u30ff" for c in tool.description or "")  # kana: the Japanese half
        assert any(w in (tool.description or "") for w in ("the ", "The "))  # and the English half
    assert set(tools["search"].input_schema["properties"]) == {"query", "city", "doc", "kind", "k"}
    assert tools["search"].input_schema["required"] == ["query"]


def test_flagship_question_cites_kurume_and_kumamoto_measures(transcript):
    result = transcript["flagship"]
    assert not result.is_error
    answer = result.structured_content
    assert answer["no_clear_match"] is False
    measures = {h["city"] for h in answer["hits"] if h["kind"] == "measure"}
    assert {KURUME, KUMAMOTO} <= measures
    for hit in answer["hits"]:
        assert hit["citation"].startswith(f"{hit['city']} {hit['title']} ")
        assert hit["citation"].endswith(f"({hit['doc']}:{hit['line_start']}-{hit['line_end']})")
        assert hit["text"] and hit["section"]
    assert json.loads(result.content[0].text) == answer  # clients that read only text see the same


def test_answers_agree_with_kb_search_json(transcript, real_index):
    for (args, options), result in zip(SAME_AS_CLI, transcript["same"]):
        assert not result.is_error, result.content[0].text
        assert spans(result) == cli_spans(real_index, args["query"], *options), args


def test_bad_arguments_are_tool_errors_and_the_server_answers_on(transcript, real_index):
    assert transcript["empty"].is_error
    assert transcript["empty"].content[0].text == "the query is empty; type a question or keywords"
    assert not transcript["after_empty"].is_error and transcript["after_empty"].structured_content["hits"]
    assert transcript["too_long"].is_error
    assert transcript["too_long"].content[0].text == cli_error("search", "転出" * 600, "--index", str(real_index))
    assert transcript["unknown_doc"].is_error
    assert transcript["unknown_doc"].content[0].text == cli_error(
        "search", "観光", "--doc", "no-such-plan", "--index", str(real_index))
    assert transcript["bad_k"].is_error and transcript["missing"].is_error  # schema violations
    assert transcript["show_bad"].is_error
    assert transcript["show_bad"].content[0].text == cli_error("show", "no-such-plan:1")
    assert transcript["compare_bad"].is_error and "unknown side 'osaka'" in transcript["compare_bad"].content[0].text
    assert not transcript["last"].is_error


def test_nonsense_is_flagged_not_an_error(transcript):
    result = transcript["nonsense"]
    assert not result.is_error and result.structured_content["no_clear_match"] is True


def test_show_returns_the_source_section(transcript):
    view = transcript["show"].structured_content
    assert view["doc"] == "kurume-sousei-senryaku-3" and view["city"] == KURUME
    assert ">  476  " in view["text"]
    assert view["line_start"] <= 476 <= view["line_end"]
    assert view["citation"].endswith(f"(kurume-sousei-senryaku-3:{view['line_start']}-{view['line_end']})")


def test_compare_gives_pairs_and_only_in_lists(transcript, real_index):
    memo = transcript["compare"].structured_content
    assert memo["left"]["city"] == KURUME and memo["right"]["city"] == KUMAMOTO
    assert memo["left_measures"] and memo["right_measures"] and memo["rows"]
    proc = cli("compare", COMPARE_TOPIC, "--json", "--index", str(real_index))
    assert proc.returncode == 0, proc.stderr
    memo_cli = json.loads(proc.stdout)

    def places(measures: list[dict[str, Any]]) -> list[tuple[str, int, int]]:
        return [(m["doc"], m["line_start"], m["line_end"]) for m in measures]

    for key in ("left_measures", "right_measures", "only_left", "only_right"):
        assert places(memo[key]) == places(memo_cli[key]), key
    assert places([r["measure"] for r in memo["rows"]]) == places([r["measure"] for r in memo_cli["rows"]])
    for row in memo["rows"]:
        assert row["measure"]["citation"].endswith(f"{row['measure']['line_end']})")
        for counterpart in row["counterparts"]:
            assert counterpart["strength"] and counterpart["measure"]["city"] == KUMAMOTO


def test_kpi_records(transcript):
    answer = transcript["kpi"].structured_content
    assert answer["count"] > 0
    assert all(k["city"] == KUMAMOTO or k["area"] == KUMAMOTO for k in answer["kpis"])
    assert all(k["citation"].endswith(f"({k['doc']}:{k['line_start']}-{k['line_end']})") for k in answer["kpis"])
    assert {k["doc"] for k in transcript["kpi_doc"].structured_content["kpis"]} == {"kurume-sousei-senryaku-3"}


def test_plans_and_their_outline_resources(transcript):
    plans = {p["doc"]: p for p in transcript["plans"].structured_content["plans"]}
    assert {"kurume-sousei-senryaku-3", "kumamoto-sousei-senryaku-2"} <= set(plans)
    assert plans["kumamoto-sousei-senryaku-2"]["city"] == KUMAMOTO and plans["kumamoto-sousei-senryaku-2"]["period"]
    uris = {str(r.uri) for r in transcript["resources"]}
    assert uris == {f"kb://plan/{doc}" for doc in plans}
    outline = transcript["outline"].contents[0].text
    assert outline.startswith("# 第2期熊本市") and "基本目標" in outline and "(kumamoto-sousei-senryaku-2:" in outline


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_streamable_http_on_loopback(real_index):
    import psutil

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kb.cli.main", "mcp", "--http", "--port", str(port),
                             "--index", str(real_index)], cwd=ROOT, env=dict(os.environ, **_env()),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "kb mcp --http did not start listening"
            time.sleep(0.2)
        listening = [c.laddr for c in psutil.Process(proc.pid).net_connections("tcp") if c.status == "LISTEN"]
        assert listening and all(address.ip == "127.0.0.1" for address in listening)

        async def talk(client: Client) -> dict[str, Any]:
            return {"tools": (await client.list_tools()).tools,
                    "hit": await client.call_tool("search", {"query": FLAGSHIP, "k": 10})}

        got = converse(f"http://127.0.0.1:{port}/mcp", talk)
        assert {t.name for t in got["tools"]} == TOOLS
        assert spans(got["hit"]) == cli_spans(real_index, FLAGSHIP, "--k", "10")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_without_an_index_every_call_says_so_like_the_cli(tmp_path):
    missing = tmp_path / "no-index"

    async def talk(client: Client) -> dict[str, Any]:
        return {"search": await client.call_tool("search", {"query": "観光"}),
                "show": await client.call_tool("show", {"doc": "kurume-sousei-senryaku-3", "line": 476}),
                "plans": await client.call_tool("list_plans", {}),
                "kpi": await client.call_tool("kpi", {"query": "転出"})}

    got = converse(_server(missing), talk)
    expected = cli_error("search", "観光", "--index", str(missing))
    assert got["search"].is_error and got["search"].content[0].text == expected
    assert got["plans"].is_error and got["plans"].content[0].text == expected
    assert not got["show"].is_error  # the source view needs only the corpus, as `kb show` does
    assert not got["kpi"].is_error and got["kpi"].structured_content["note"].endswith(f"search unavailable: {expected})")


def test_unexpected_failures_become_tool_errors():
    from kb.mcp.server import guarded

    def broken() -> dict[str, Any]:
        raise ZeroDivisionError("division by zero")

    result = guarded("search", broken)
    assert result.is_error and result.content[0].text.startswith("unexpected ZeroDivisionError: division by zero")


def test_citation_format():
    from kb.mcp.backend import citation

    assert citation(KURUME, "第3期久留米市地方創生総合戦略", ["基本目標3", "施策⑩"], "kurume-sousei-senryaku-3", 472, 481) == \
        "久留米市 第3期久留米市地方創生総合戦略 施策⑩ (kurume-sousei-senryaku-3:472-481)"
    long = citation(KUMAMOTO, "T", ["x" * 80], "d", 1, 2)
    assert len(long) < 80 and "…" in long


def test_the_resource_list_follows_plans_added_and_removed_without_a_restart():
    import asyncio

    from kb.errors import IndexUnavailable
    from kb.mcp.server import build_server

    class Plans:
        """The backend's plan list as `kb add`/`kb remove`/`kb build` change it."""

        def __init__(self) -> None:
            self.docs: dict[str, dict[str, str]] | None = {"kurume-sousei-senryaku-3": {"title": "総合戦略"}}

        def documents(self) -> dict[str, dict[str, str]]:
            if self.docs is None:
                raise IndexUnavailable("no index yet; run `kb build`")
            return self.docs

    plans = Plans()
    server = build_server(plans)  # type: ignore[arg-type]

    def listed() -> set[str]:
        return {str(r.uri) for r in asyncio.run(server.list_resources())}

    assert listed() == {"kb://plan/kurume-sousei-senryaku-3"}
    plans.docs = {"kurume-sousei-senryaku-3": {}, "筑後川市若者定住促進計画": {"title": "若者定住", "city": "筑後川市"}}
    assert listed() == {"kb://plan/kurume-sousei-senryaku-3",
                        "kb://plan/%E7%AD%91%E5%BE%8C%E5%B7%9D%E5%B8%82%E8%8B%A5%E8%80%85%E5%AE%9A%E4%BD%8F%E4%BF%83%E9%80%B2%E8%A8%88%E7%94%BB"}
    plans.docs = None
    assert listed() == set()


def test_the_backend_follows_a_rebuild_keeping_its_loaded_encoder(two_plan_corpus, fake_embedder, tmp_path, monkeypatch):
    """After `kb add` in another terminal, the next call answers from the new build, with the
    query encoder already loaded (kb.follow.reopen), as the app does."""
    from kb import service
    from kb.index.storage import load_index
    from kb.mcp import backend as mcp_backend
    from kb.mcp.backend import Backend
    from kb.search.searcher import Searcher
    from kb.service import session_for

    index = tmp_path / "index"
    service.build(two_plan_corpus, index, embedder=fake_embedder)
    backend = Backend(index, two_plan_corpus)
    backend._session = session_for(Searcher(load_index(index), fake_embedder), two_plan_corpus)
    plan = tmp_path / "chikugo.txt"
    plan.write_text("筑後川市 定住計画\n基本目標1 若者の定住\n（１）住まいの支援\n空き家を若い世帯に紹介します。\n", encoding="utf-8")
    service.add_plan(plan, two_plan_corpus, index, embedder=fake_embedder)
    monkeypatch.setattr(mcp_backend, "RELOAD_CHECK_S", 0.0)
    session = backend.session()
    assert "chikugo" in backend.documents()
    assert session.searcher.embedder is fake_embedder  # reused, not loaded again
