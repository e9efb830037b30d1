#!/usr/bin/env bash
# Create .venv and install kb with everything it needs; safe to run again (skips when up to date).
# Usage: scripts/setup.sh [--test]   (--test adds pytest, hypothesis, playwright and Debian chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3

stamp=.venv/.kb-setup-stamp
fingerprint="$(sha256sum pyproject.toml | cut -d' ' -f1)-test$want_test"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$fingerprint" ]; then
  echo "setup: installing (torch first, pinned CPU build)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch before sentence-transformers: an unpinned torch would pull a multi-GB CUDA build.
  .venv/bin/python -m pip install --quiet "torch==2.13.0"
  # [workers]: Dask distributed for `kb build --workers N` (kb runs without it).
  if [ "$want_test" = 1 ]; then
    .venv/bin/python -m pip install --quiet -e ".[test,workers]"
  else
    .venv/bin/python -m pip install --quiet -e ".[workers]"
  fi
  echo "$fingerprint" > "$stamp"
fi

if [ "$want_test" = 1 ] && { ! command -v chromium >/dev/null 2>&1 || ! fc-list 2>/dev/null | grep -qi ipa; }; then
  echo "setup: installing Debian chromium for the browser test"
  sudo_cmd=""
  [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1 && sudo_cmd="sudo"
  if ! { $sudo_cmd apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium chromium-driver fonts-ipafont-gothic >/dev/null; }; then
    echo "setup: could not install chromium; the browser test will be skipped" >&2
  fi
fi

# Convert the built-in embedding model once (a few seconds; cached in $KB_HOME or ~/.cache/kb).
HF_HUB_OFFLINE=1 .venv/bin/kb model prepare >/dev/null
