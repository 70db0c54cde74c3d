#!/usr/bin/env bash
# Install everything (test tools included) and run the whole test suite, slow real-model
# and browser tests included. Extra arguments go to pytest, e.g. -m "not slow".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --dev
.venv/bin/python -m ruff check playground tests app.py
exec .venv/bin/python -m pytest "$@"
