#!/usr/bin/env bash
# Set up (with test tools), build the index, run the test suite and the recall floor check.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --test
export HF_HUB_OFFLINE=1

# Static checks first: they take seconds and catch what the tests would only hit at run time.
.venv/bin/ruff check kb tests app.py bench eval
.venv/bin/mypy
export KB_TEST_INDEX="${KB_TEST_INDEX:-$PWD/index}"
.venv/bin/kb build --index "$KB_TEST_INDEX"

set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure here" >&2
  exit 1
fi
[ "$status" = 0 ] || exit "$status"

# Held-out recall must not drop below the floor recorded in eval/floor.toml.
.venv/bin/kb eval --index "$KB_TEST_INDEX" --split heldout --check
