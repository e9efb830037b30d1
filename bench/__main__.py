"""One command for every benchmark: ``.venv/bin/python -m bench [SECTION ...]``.

Sections, in the order they run by default: build, query, startup, scale, e2e, load; then
the report (bench/results.md, bench/latency_vs_size.png). Each section saves its
figures to bench/out/<section>.json, so a single section can be re-run and the report
re-rendered with the others kept (``python -m bench report`` renders only).

The full run takes roughly 30-40 minutes on the 2-core machine, most of it the 10^6
scale indexes; ``--scale-sizes 10000,100000`` makes it a few minutes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

SECTIONS = ("build", "query", "startup", "scale", "e2e", "load")
#: Sections run only when named (``python -m bench workers``): embedding on Dask workers, ~5-15 min;
#: ``kb mcp`` start-up and per-call latency through the MCP SDK's stdio client, ~1-3 min.
OPTIONAL = ("workers", "mcp")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*",
                        help=f"any of {', '.join(SECTIONS + OPTIONAL)}, or report (default: {', '.join(SECTIONS)})")
    parser.add_argument("--scale-sizes", default="10000,100000,1000000")
    parser.add_argument("--scale-types", default="flat,hnsw,ivfsq8,ivfpq")
    parser.add_argument("--load-seconds", type=float, default=30)
    parser.add_argument("--load-concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    chosen = args.sections or list(SECTIONS)
    unknown = [s for s in chosen if s not in (*SECTIONS, *OPTIONAL, "report")]
    if unknown:
        parser.error(f"unknown section(s): {', '.join(unknown)}")
    for section in SECTIONS + OPTIONAL:
        if section not in chosen:
            continue
        started = time.perf_counter()
        print(f"== bench {section}", flush=True)
        if section == "build":
            from bench import build

            build.main()
        elif section == "query":
            from bench import query

            query.main([])
        elif section == "startup":
            from bench import startup

            startup.main([])
        elif section == "scale":
            from bench import scale

            scale.main(["--sizes", args.scale_sizes, "--types", args.scale_types])
        elif section == "e2e":
            from bench import e2e

            e2e.main(["--sizes", args.scale_sizes])
        elif section == "workers":
            from bench import workers

            workers.main([])
        elif section == "mcp":
            from bench import mcp

            mcp.main([])
        elif section == "load":
            from bench import load

            load.main(["--seconds", str(args.load_seconds), "--rebuild-seconds", str(args.load_seconds),
                       "--concurrency", str(args.load_concurrency)])
        print(f"== bench {section}: {time.perf_counter() - started:.0f} s", flush=True)
    from bench import report

    print(f"wrote {report.render()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
