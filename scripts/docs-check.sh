#!/usr/bin/env bash
# `npm run docs:check`: regenerates the API reference (TypeDoc fails on any warning: an
# undocumented export, a broken link) and fails when it differs from what is committed, so a
# change to the public API cannot leave docs/reference stale.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

npx typedoc
# Checked on its own: without git (not a checkout), an empty answer would pass silently.
changes=$(git status --porcelain -- docs/reference) || {
  echo "docs:check: git status failed; this check needs a git checkout" >&2
  exit 1
}
if [ -n "$changes" ]; then
  echo "$changes" >&2
  echo "docs:check: docs/reference differs from the code: run \`npm run docs\` and commit docs/reference" >&2
  exit 1
fi
echo "docs:check: docs/reference is up to date"
