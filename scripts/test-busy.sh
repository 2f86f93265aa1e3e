#!/usr/bin/env bash
# Run the test suite while two CPU-bound processes occupy two cores, as on a busy CI runner or
# a laptop doing other work. The load processes stop when this script exits, even on failure.
# Usage: scripts/test-busy.sh [pytest arguments]   (default: the whole suite, quietly)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
LOAD_PIDS=()
stop_load() {
  for pid in "${LOAD_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
}
trap stop_load EXIT INT TERM
for _ in 1 2; do
  "$PYTHON" -c 'while True: pass' &
  LOAD_PIDS+=("$!")
done
if [ "$#" -eq 0 ]; then
  set -- -q -p no:cacheprovider
fi
"$PYTHON" -m pytest "$@"
