#!/usr/bin/env bash
# README command 2: install (if needed), then run the test suite on the CPU.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash tools/install.sh
exec "${UAGIT_VENV:-$ROOT/.venv}/bin/python" -m pytest -q tests "$@"
