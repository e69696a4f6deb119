#!/usr/bin/env bash
# Creates .venv and installs every package of the repository (editable) and the test tools.
# Re-running is cheap: nothing is reinstalled unless a pyproject or requirements file changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 11))'; then
      PYTHON="$candidate"; break
    fi
  done
fi
[[ -n "$PYTHON" ]] || { echo "bootstrap: Python 3.11 or newer is required" >&2; exit 1; }

PACKAGES=(contracts chassis services/identity services/enrolment services/booking services/billing services/backoffice gateway)
STAMP=.venv/.marelle-installed
if [[ ! -x .venv/bin/python ]]; then
  echo "bootstrap: creating .venv with $PYTHON" >&2
  "$PYTHON" -m venv .venv
fi
inputs=(requirements-test.txt)
for p in "${PACKAGES[@]}"; do inputs+=("$p/pyproject.toml"); done
if [[ -f "$STAMP" ]] && [[ -z "$(find "${inputs[@]}" -newer "$STAMP" 2>/dev/null)" ]]; then
  exit 0
fi
echo "bootstrap: installing the packages into .venv (first run takes a minute)" >&2
.venv/bin/python -m pip install -q --upgrade pip >&2
args=()
for p in "${PACKAGES[@]}"; do args+=(-e "./$p"); done
.venv/bin/python -m pip install -q "${args[@]}" -r requirements-test.txt >&2
touch "$STAMP"
