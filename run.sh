#!/usr/bin/env bash
# Set up, build the index from corpus/ and open the search app on http://127.0.0.1:7860
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1}
.venv/bin/kb build
exec .venv/bin/python app.py "$@"
