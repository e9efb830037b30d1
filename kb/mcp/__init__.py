"""``kb mcp``: kb as a Model Context Protocol server, so AI assistants answer with citations.

:mod:`kb.mcp.backend` does the work (plain functions over :mod:`kb.service`, the same calls
the CLI makes, returning JSON-ready dicts) and knows nothing of MCP; :mod:`kb.mcp.server`
registers those as MCP tools and resources on the official SDK and runs a transport.
"""
