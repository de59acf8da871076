#!/usr/bin/env bash
# The benchmark (issue 5): prints a table of up/refresh/destroy times for N
# namespaces on a local lab host, beside the engine's floor, a connection per
# command, and the same commands in one plain SSH session. Usage:
#   bash scripts/bench.sh [10,50,100,200]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=setup.sh
. scripts/setup.sh
exec node dist/bench/run.js "$@"
