#!/usr/bin/env bash
# The whole test suite, as CI runs it: set up the machine (scripts/setup.sh),
# lint and format, then the unit, host, engine and consumer tiers, each with its own counts. Needs root: the host and
# engine tiers build lab hosts from network namespaces. A tier that cannot run
# fails with the reason; nothing is skipped into a green result.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# shellcheck source=setup.sh
. scripts/setup.sh

echo "== lint, format and type-check (the tests too: vitest runs them without checking types)"
# docs:check: TypeDoc fails on an undocumented export or broken link, or when docs/reference is stale.
npx eslint . && npx prettier --check . && npx tsc -p tsconfig.test.json && npm run docs:check || exit 1

rm -rf test-results && mkdir -p test-results
status=0
for tier in unit host engine consumer; do
  echo "== $tier tier"
  npx vitest run --project "$tier" --reporter=default --reporter=json \
    --outputFile.json="test-results/$tier.json" || status=1
done
node scripts/summarize-tests.js unit host engine consumer || status=1
exit $status
