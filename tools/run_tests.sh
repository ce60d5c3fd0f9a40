#!/usr/bin/env bash
# README command 2: install (if needed), lint (flake8, isort; setup.cfg),
# then run the test suite on the CPU.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/install.sh
# the browser of the demo's end-to-end test (apt-get as root; see there)
bash tools/dev/install_browser.sh
PY="${UAGIT_VENV:-$ROOT/.venv}/bin/python"
echo "uagit_mm: lint (flake8, isort)"
"$PY" -m flake8 uagit_mm tools tests configs setup.py
"$PY" -m isort --check-only --diff uagit_mm tools tests configs setup.py
exec "$PY" -m pytest -q tests "$@"
