"""A plain JSON route beside the page: ``GET /api/search?q=…&city=&doc=&goal=&k=10``.

Gradio's own API (``/gradio_api/call/search``, gradio_client) goes through its event
queue: a join, a server-sent-event stream and per-session bookkeeping for every call,
which costs more CPU than the search itself and caps a 2-core machine at a few dozen
requests a second. Evaluation scripts and other programs want one HTTP request and one
JSON answer, so this route calls :meth:`SearchService.api_search` directly (FastAPI
runs it on its thread pool; each thread has its own tokenisers). The answer is the
contract of ``kb search --json`` or ``{"error": …, "hits": []}`` with status 400.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from kb.ui.service import SearchService

PATH = "/api/search"


def add_rest_api(app: FastAPI, service: SearchService) -> None:
    """Put ``GET /api/search`` in front of Gradio's routes (its catch-all must not shadow it)."""

    def search(
        q: str = Query("", description="question or keywords"),
        city: str = "",
        doc: str = "",
        goal: str = "",
        k: str = "10",
    ) -> Any:
        answer = service.api_search(q, city=city, doc=doc, goal=goal, k=k)
        return JSONResponse(answer, status_code=400 if answer.get("error") else 200)

    app.router.routes.insert(0, APIRoute(PATH, search, methods=["GET"], name="kb_search"))
