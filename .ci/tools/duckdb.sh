#!/usr/bin/env bash
# Installs the pinned DuckDB Python package and its httpfs extension (as a pip
# package: DuckDB cannot download extensions where the network is closed) into
# a cached virtualenv and prints the path of its `python`. The Parquet tests
# run DuckDB through it as a consumer written by others.
# Idempotent: a second run only checks the installed versions.
#
#   bash .ci/tools/duckdb.sh          # -> ~/.cache/laredo-tools/duckdb/bin/python
#   export DUCKDB_PYTHON=$(bash .ci/tools/duckdb.sh)
#
# The tests find it through $DUCKDB_PYTHON, then $LAREDO_TOOLS_DIR/duckdb/bin/python
# (default ~/.cache/laredo-tools).
set -euo pipefail

DUCKDB_VERSION=1.4.4
HTTPFS_VERSION=1.4.4.20260205
TOOLS_DIR="${LAREDO_TOOLS_DIR:-$HOME/.cache/laredo-tools}"
VENV="$TOOLS_DIR/duckdb"

installed_version() {
    "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("duckdb"), m.version("duckdb-ext-httpfs"))' 2>/dev/null || true
}

if [[ ! -x "$VENV/bin/python" || "$(installed_version)" != "$DUCKDB_VERSION $HTTPFS_VERSION" ]]; then
    mkdir -p "$TOOLS_DIR"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "duckdb==$DUCKDB_VERSION" "duckdb-ext-httpfs==$HTTPFS_VERSION" >&2
fi

echo "$VENV/bin/python"
