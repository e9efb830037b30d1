"""The MCP server: kb's read-only tools and plan outlines on the official SDK (``MCPServer``).

``MCPServer`` is what mcp 2.x calls FastMCP. Each tool is a thin call into
:class:`kb.mcp.backend.Backend`; this module adds only what MCP needs: argument schemas
with bilingual descriptions, read-only annotations, and error translation. A
:class:`~kb.errors.KbError` becomes a tool error carrying the CLI's one-line message;
anything else is logged with its traceback on stderr and reported as "unexpected",
and the server goes on answering. stdout belongs to the stdio transport, so nothing
here prints.

(No ``from __future__ import annotations``: the SDK evaluates the tools' annotations,
which name module-level types only, to build their input schemas.)
"""

import contextlib
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from mcp_types import Resource as MCPResource
from pydantic import Field

from kb.errors import KbError
from kb.mcp import descriptions as say
from kb.mcp.backend import Backend, plan_uri

log = logging.getLogger(__name__)

#: Every tool only reads the index and corpus: safe to call again, nothing outside is touched.
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

#: ``kb mcp --http`` listens here unless told otherwise (the endpoint is /mcp).
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765

Query = Annotated[str, Field(description=say.QUERY)]
City = Annotated[str | None, Field(description=say.CITY)]
Doc = Annotated[str | None, Field(description=say.DOC)]
Kind = Annotated[str | None, Field(description=say.KIND)]
HitCount = Annotated[int, Field(description=say.K, ge=1, le=50)]
ShowDoc = Annotated[str, Field(description=say.SHOW_DOC)]
Line = Annotated[int, Field(description=say.LINE)]
Context = Annotated[int, Field(description=say.CONTEXT, ge=0, le=50)]
Topic = Annotated[str, Field(description=say.TOPIC)]
Left = Annotated[str | None, Field(description=say.LEFT)]
Right = Annotated[str | None, Field(description=say.RIGHT)]
CompareCount = Annotated[int, Field(description=say.COMPARE_K, ge=1, le=30)]
KpiQuery = Annotated[str | None, Field(description=say.KPI_QUERY)]
Terms = Annotated[list[str], Field(description=say.TERMS, min_length=1, max_length=20)]
Synonyms = Annotated[bool, Field(description=say.SYNONYMS)]
RequireAll = Annotated[bool, Field(description=say.REQUIRE_ALL)]


def tool_error(message: str) -> CallToolResult:
    """A tool error whose text is exactly ``message``.

    Raising :class:`ToolError` would prefix it with "Error executing tool NAME:"; returning the
    result keeps the CLI's one line as it is (the SDK passes a returned ``CallToolResult`` on).
    """
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def guarded(name: str, action: Callable[[], dict[str, Any]]) -> Any:
    """Run one tool call: its dict, or a tool error for what went wrong, never a dead server.

    Typed ``Any`` because the tools declare ``dict[str, Any]`` (their output schema) while an
    error is a ``CallToolResult``, which the SDK recognises at run time.
    """
    try:
        return action()
    except KbError as exc:
        return tool_error(str(exc))
    except Exception as exc:
        log.exception("kb tool %s failed", name)
        return tool_error(f"unexpected {exc.__class__.__name__}: {exc} (the server log has the traceback)")


class PlanServer(MCPServer):
    """An ``MCPServer`` whose resource list is the index's plans *now*.

    Each plan's outline is read through the ``kb://plan/{doc}`` template; listing them
    anew on every ``resources/list`` lets a client see a plan ``kb add`` added (or stop
    seeing one ``kb remove`` took out) without restarting the server.
    """

    def __init__(self, backend: Backend, **settings: Any) -> None:
        super().__init__(**settings)
        self.backend = backend

    async def list_resources(self) -> list[MCPResource]:
        try:
            documents = self.backend.documents()
        except KbError:  # no index yet: the template still answers once there is one
            documents = {}
        return [MCPResource(uri=plan_uri(doc), name=doc, title=f"{meta.get('title', doc)}（{meta.get('city', '')}）",
                            description=f"{say.OUTLINE} {meta.get('period', '')}".strip(), mime_type="text/markdown")
                for doc, meta in sorted(documents.items())] + await super().list_resources()


def build_server(backend: Backend) -> MCPServer:
    """An ``MCPServer`` with kb's tools and the outline of every plan of the index as a resource."""
    server = PlanServer(backend, name="kb", instructions=say.INSTRUCTIONS, log_level="WARNING")

    def search(query: Query, city: City = None, doc: Doc = None, kind: Kind = None,
               k: HitCount = 10) -> dict[str, Any]:
        return guarded("search", lambda: backend.search(query, city=city, doc=doc, kind=kind, k=k))

    def show(doc: ShowDoc, line: Line, context: Context = 3) -> dict[str, Any]:
        return guarded("show", lambda: backend.show(doc, line, context=context))

    def compare(topic: Topic, left: Left = None, right: Right = None, k: CompareCount = 8) -> dict[str, Any]:
        return guarded("compare", lambda: backend.compare(topic, left=left, right=right, k=k))

    def kpi(query: KpiQuery = None, city: City = None, doc: Doc = None) -> dict[str, Any]:
        return guarded("kpi", lambda: backend.kpi(query, city=city, doc=doc))

    def list_plans() -> dict[str, Any]:
        return guarded("list_plans", backend.list_plans)

    def mentions(terms: Terms, city: City = None, doc: Doc = None, kind: Kind = None, synonyms: Synonyms = False,
                 all_terms: RequireAll = False) -> dict[str, Any]:
        return guarded("mentions", lambda: backend.mentions(terms, city=city, doc=doc, kind=kind, synonyms=synonyms,
                                                            require_all=all_terms))

    tools: list[tuple[Callable[..., dict[str, Any]], str, str]] = [
        (search, "計画を検索 / Search the plans", say.SEARCH),
        (show, "原文を表示 / Show the source section", say.SHOW),
        (compare, "二市を比較 / Compare two cities or plans", say.COMPARE),
        (kpi, "KPI・数値目標 / KPIs and targets", say.KPI),
        (list_plans, "計画の一覧 / List the plans", say.LIST_PLANS),
        (mentions, "すべての記述 / All mentions of a term", say.MENTIONS),
    ]
    for fn, title, description in tools:
        server.add_tool(fn, title=title, description=description, annotations=READ_ONLY)

    def read_outline(doc: str) -> str:
        try:
            return backend.outline(doc)
        except KbError as exc:
            raise ResourceError(str(exc)) from None

    server.resource("kb://plan/{doc}", name="plan", title="計画の構成 / Plan outline",
                    description=say.OUTLINE, mime_type="text/markdown")(read_outline)
    return server


def serve(*, index: Path | str | None = None, corpus: Path | str | None = None, model: str | None = None,
          http: bool = False, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Open the index, then answer MCP requests until the client goes away (stdio) or Ctrl-C (HTTP).

    The index is loaded before the transport starts so the first call is as fast as any
    other; when it cannot be loaded the server starts anyway and every call that needs it
    says why (``run `kb build```), the way the CLI would.
    """
    backend = Backend(index, corpus, model)
    with contextlib.redirect_stdout(sys.stderr):  # a library's print must not corrupt the stdio stream
        problem = backend.preload()
    if problem:
        print(f"kb mcp: {problem}", file=sys.stderr)
    server = build_server(backend)
    if http:
        print(f"kb mcp: streamable HTTP on http://{host}:{port}/mcp", file=sys.stderr)
        server.run("streamable-http", host=host, port=port)
    else:
        server.run("stdio")
