#!/usr/bin/env bash
# Installs the pinned moto server (S3 with conditional writes, STS, SNS, SQS,
# Kinesis) into a cached virtualenv and prints the path of `moto_server`.
# Idempotent: a second run only checks the installed version.
#
#   bash .ci/tools/moto.sh            # -> ~/.cache/laredo-tools/moto/bin/moto_server
#   export MOTO_SERVER=$(bash .ci/tools/moto.sh)
#
# The tests find moto through $MOTO_SERVER, then $LAREDO_TOOLS_DIR/moto/bin/moto_server
# (default ~/.cache/laredo-tools), then PATH.
set -euo pipefail

# 5.1.5 is the first release that honours If-Match; 5.1.4 silently ignores it.
MOTO_VERSION=5.2.5
TOOLS_DIR="${LAREDO_TOOLS_DIR:-$HOME/.cache/laredo-tools}"
VENV="$TOOLS_DIR/moto"

installed_version() {
    "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true
}

if [[ ! -x "$VENV/bin/moto_server" || "$(installed_version)" != "$MOTO_VERSION" ]]; then
    mkdir -p "$TOOLS_DIR"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION" >&2
fi

echo "$VENV/bin/moto_server"
