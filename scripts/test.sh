#!/usr/bin/env bash
# The whole suite: system test tools, type check, build (the CLI tests run the built bin),
# then unit, end-to-end and security (bypass) tests as separate runs, each printing its own totals.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh
npx tsc -p tsconfig.json --noEmit
npm run lint --silent
npm run build --silent

status=0
npm run test:unit --silent || status=1
npm run test:e2e --silent || status=1
npm run test:security --silent || status=1
exit $status
