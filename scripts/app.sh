#!/usr/bin/env bash
# Install everything and start the app on the bundled offline models at 127.0.0.1:7860.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python app.py "$@"
