"""Start the search app: ``python app.py [--host 127.0.0.1] [--port 7860] [--index index] [--corpus corpus]``.

The index and the model load once here, before the server starts, so every query is
answered warm. A missing or unusable index does not stop the app: the page says how
to build it (and offers to build it). The page itself lives in :mod:`kb.ui`.
"""

from __future__ import annotations

import argparse
import atexit
import os
import signal
import sys
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="kb search app (Gradio)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None,
                        help="port (default: $KB_PORT or 7860)")
    parser.add_argument("--index", type=Path, default=None, help="index folder (default: ./index or $KB_INDEX)")
    parser.add_argument("--corpus", type=Path, default=Path("corpus"), help="plan texts and manifest.toml")
    args = parser.parse_args(argv)
    if args.port is None:
        from kb.config import settings

        args.port = settings().port
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # Gradio keeps a record of the last N events in memory (default 10,000); fewer is plenty.
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    from kb.ui.service import SearchService, open_service

    service: SearchService = open_service(args.index, args.corpus, log=lambda line: print(line, file=sys.stderr))
    # The download folder (CSV, comparisons) goes when the app stops, by Ctrl-C or by SIGTERM.
    atexit.register(service.close)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    from kb.ui.blocks import build_app, launch

    launch(build_app(service), host=args.host, port=args.port, service=service)


if __name__ == "__main__":
    main()
