#!/usr/bin/env bash
# Create (or reuse) the project venv with the pinned OpenMMLab stack and
# uagit_mm installed in editable mode. Safe to run again: it does nothing when
# the venv already matches requirements/ and setup.py.
#   UAGIT_VENV  where the venv lives (default: <repo>/.venv)
#   PYTHON      interpreter that creates it (default: python3; 3.11 on x86_64
#               finds the torch 2.14.1 wheels on this kind of machine's disk)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${UAGIT_VENV:-$ROOT/.venv}"
STAMP="$VENV/.uagit-installed"
WANT="$(cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" | sha256sum | cut -d' ' -f1)"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/python" ]; then
    echo "uagit_mm: environment up to date in $VENV"
    exit 0
fi

echo "uagit_mm: installing into $VENV (first time: about 2-3 minutes)"
[ -x "$VENV/bin/python" ] || "${PYTHON:-python3}" -m venv "$VENV"
pip_install() {
    # this machine's pip config names local wheel folders that may be
    # absent; drop that one harmless warning, keep every other message
    "$VENV/bin/python" -m pip install -q "$@" \
        2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
}
cd "$ROOT"
pip_install --upgrade pip
pip_install -r requirements/runtime.txt -r requirements/mmagic_deps.txt \
    -r requirements/tests.txt -r requirements/deploy.txt \
    -r requirements/demo.txt
# mmagic 1.2.0 needs 2.0.0 <= mmcv < 2.2.0: keep a full mmcv build that fits,
# otherwise install the pure-Python mmcv-lite.
if ! "$VENV/bin/python" - <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
from packaging.version import Version
v = Version(version('mmcv'))
sys.exit(0 if Version('2.0.0') <= v < Version('2.2.0') else 1)
PY
then
    pip_install -r requirements/mmcv.txt
fi
pip_install --no-deps -r requirements/mmagic.txt
pip_install --no-deps -e "$ROOT"
"$VENV/bin/python" -W ignore -c "import uagit_mm" >/dev/null
echo "$WANT" > "$STAMP"
echo "uagit_mm: installed in $VENV"
