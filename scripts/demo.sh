#!/usr/bin/env bash
# The Quickstart's main job: set up, index the demo corpus, answer a sample question.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

CORPUS=/usr/share/doc/python3.11/html
if [ -d "$CORPUS" ]; then
  QUESTION=${QUESTION:-"How do I give a dataclass field a mutable default like a list?"}
else
  echo "warning: $CORPUS is not available (apt-get install -y python3.11-doc failed);" >&2
  echo "         falling back to cairn's own docs/ as the demo corpus." >&2
  CORPUS=docs
  QUESTION=${QUESTION:-"How does cairn decide to abstain?"}
fi
export CAIRN_WORKSPACE=${CAIRN_WORKSPACE:-.cairn}
echo "==> ingesting $CORPUS into $CAIRN_WORKSPACE"
# exit status 1: some files failed to parse (listed above), or nothing was ingestible;
# 3: files of an unsupported type were left out (the Python docs ship two .gz files).
# Either way go on: the summary lists each file with its reason, the question below says
# what it finds.
.venv/bin/cairn ingest "$CORPUS" --prune || { status=$?; [ $status -eq 1 ] || [ $status -eq 3 ]; }
echo "==> cairn ask \"$QUESTION\""
.venv/bin/cairn ask "$QUESTION"
PORT=$(.venv/bin/python -c 'from cairn.config import load_settings; print(load_settings().server.port)')
echo
echo "==> the web UI: run '.venv/bin/cairn serve --workspace $CAIRN_WORKSPACE', then open"
echo "    http://127.0.0.1:$PORT/"
