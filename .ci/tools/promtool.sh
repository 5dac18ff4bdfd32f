#!/usr/bin/env bash
# Installs promtool (Prometheus's rule checker and rule unit-test runner) from
# Debian's `prometheus` package, which ships it in /usr/bin, and prints its path.
# The chart's alert rules are checked and unit-tested with it
# (tests/tests/alert_rules.rs).
#
# Idempotent: with promtool already on PATH (or at $PROMTOOL) it only prints it.
#
#   bash .ci/tools/promtool.sh          # -> /usr/bin/promtool
#   export PROMTOOL=$(bash .ci/tools/promtool.sh)
#
# The tests find promtool through $PROMTOOL, then PATH.
set -euo pipefail

if [[ -n "${PROMTOOL:-}" && -x "$PROMTOOL" ]]; then
    echo "$PROMTOOL"
    exit 0
fi
if found=$(command -v promtool); then
    echo "$found"
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    as_root=()
elif command -v sudo >/dev/null 2>&1; then
    as_root=(sudo -n)
else
    echo "promtool.sh: promtool is missing and installing it needs root (apt-get install prometheus)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "promtool.sh: promtool is missing and there is no apt-get; install Prometheus's promtool and set \$PROMTOOL" >&2
    exit 1
fi

# The package would start a Prometheus server where an init system runs; a
# CI container has none, and promtool is all the tests use.
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq >&2
"${as_root[@]}" apt-get install -y -qq --no-install-recommends prometheus >&2

found=$(command -v promtool)
"$found" --version 2>&1 | head -1 >&2
echo "$found"
