#!/usr/bin/env bash
# The main job. `up`: set up the machine (scripts/setup.sh), start local lab
# hosts unless a host is configured, build the lab stack and prove it with
# pings. `down`: destroy the stack and remove the lab hosts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=setup.sh
. scripts/setup.sh
exec node dist/lab/main.js "${1:-up}"
