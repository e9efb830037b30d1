"""Who may add a plan from the page: the machine itself, asking for this app by its own name.

Adding a plan writes into the corpus folder, so it is allowed only from the machine that
runs kb. The client address alone does not prove that: a web page on ``evil.example.com``
whose name is re-pointed to 127.0.0.1 (DNS rebinding) makes the user's own browser send
loopback requests with ``Host: evil.example.com`` and ``Origin: http://evil.example.com``.
So the upload route and the add event also require the ``Host`` header, and the
``Origin`` header when there is one, to name the address the app is bound to, a loopback
name, or a name on the allow-list (``KB_ALLOWED_HOSTS``, comma-separated, e.g.
``kb-pc.local``). Searching is not affected: it changes nothing and may be shared.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kb.config import settings

#: Client addresses (and their names) that are this machine.
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
#: Addresses that mean "every interface": not a name a browser asks for.
ANY_ADDRESS = frozenset({"", "0.0.0.0", "::"})

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


def _host_name(authority: str) -> str:
    """``example.com`` from ``example.com:7860``, ``::1`` from ``[::1]:7860``; lower case."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        authority = authority[1:].split("]", 1)[0]
    elif authority.count(":") == 1:
        authority = authority.split(":", 1)[0]
    return authority.rstrip(".")


@dataclass(frozen=True)
class AllowedHosts:
    """The host names the add-a-plan routes answer to."""

    names: frozenset[str] = LOOPBACK

    @classmethod
    def for_bind(cls, host: str, extra: str | None = None) -> AllowedHosts:
        """Loopback names, the bound address (unless it is every interface) and the allow-list."""
        listed = settings().allowed_hosts if extra is None else extra
        names = set(LOOPBACK) | {_host_name(x) for x in listed.split(",") if x.strip()}
        if host.strip() not in ANY_ADDRESS:
            names.add(_host_name(host))
        return cls(frozenset(names))

    def problem(self, headers: Mapping[str, str], client: str | None) -> str:
        """Why this request may not add a plan ("" when it may)."""
        if client not in LOOPBACK:
            return "client"
        host = headers.get("host")
        if host is None or _host_name(host) not in self.names:
            return f"Host {host!r}"
        origin = headers.get("origin")
        if origin is not None:
            try:
                name = urlsplit(origin).hostname or ""
            except ValueError:
                name = ""
            if name.lower() not in self.names:
                return f"Origin {origin!r}"
        return ""


def guard_uploads(app: Any, allowed: AllowedHosts) -> None:
    """Put :meth:`AllowedHosts.problem` in front of Gradio's upload route (``POST …/upload``).

    The only file input of the page is the add-a-plan panel, so an upload from anywhere
    else is refused (403) before a byte of it is stored. The server is already running
    (Starlette adds no middleware then) and Gradio's routes sit in an included router, so
    the app's outermost ASGI callable is wrapped: one check of the path, then the app as it was.
    """
    from starlette.datastructures import Headers
    from starlette.responses import JSONResponse

    inner: Asgi = app.middleware_stack or app.build_middleware_stack()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get("type") == "http" and scope.get("method") == "POST" and \
                str(scope.get("path", "")).rstrip("/").endswith("/upload"):
            client = scope.get("client")
            why = allowed.problem(Headers(scope=scope), client[0] if client else None)
            if why:
                message = f"uploads are accepted only from this machine, by its own address ({why})"
                await JSONResponse({"error": message}, status_code=403)(scope, receive, send)
                return
        await inner(scope, receive, send)

    app.middleware_stack = guarded
