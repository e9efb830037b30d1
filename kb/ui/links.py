"""The app's own address, for share links that must work outside the page.

A link pasted into an e-mail or read from a CSV cell in Excel has no page to be relative
to, so the search CSV's ``link`` column and the Compare tab's share link are absolute
(:func:`kb.compare.share.absolute`). The address is ``KB_PUBLIC_URL`` when set — behind a
proxy or a DNS name it is the one people use — else the root URL the request came to,
by Gradio's own rule (``X-Forwarded-Host``/``-Proto`` honoured, its API path stripped).
"""

from __future__ import annotations

from typing import Any

from kb.config import settings

#: Where Gradio serves its API under the app's root: stripped to get the root back.
API_PREFIX = "/gradio_api"


def base_url(request: Any | None) -> str:
    """The app's address for a handler's ``gr.Request`` (None: unknown, links stay relative)."""
    configured = settings().public_url
    if configured:
        return configured
    inner = getattr(request, "request", None) if request is not None else None
    if inner is None:
        return ""
    from gradio.route_utils import get_root_url

    path = inner.url.path
    route = path[path.find(API_PREFIX):] if API_PREFIX in path else path
    return str(get_root_url(inner, route, None))
