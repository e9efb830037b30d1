#!/usr/bin/env bash
# Run every benchmark and write bench/results.md (+ latency_vs_size.png). Arguments go to `python -m bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1
[ -d index/current ] || .venv/bin/kb build
exec .venv/bin/python -m bench "$@"
