#!/usr/bin/env bash
# The whole test suite: system packages, dependencies, typecheck, lint, format check, fixtures, tests.
# Usage: npm test            (or: bash scripts/test.sh)
#        npm test -- FILE…   runs only the named test files (after the checks)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh
[ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
echo "== typecheck"; npx tsc -p tsconfig.json --noEmit
echo "== lint"; npx eslint --max-warnings 0 .
echo "== format"; npx prettier --check . >/dev/null || { npx prettier --check .; exit 1; }
echo "== build"; npm run --silent build
echo "== fixtures"; node --import tsx test/fixtures/build.ts; bash scripts/vcsim.sh >/dev/null
if [ $# -gt 0 ]; then files=("$@"); else mapfile -t files < <(find src test -name '*.test.ts' | sort); fi
# Scan caches and libraries of earlier runs (test/helpers/cli.ts, test/e2e/library.test.ts) are not reused.
rm -rf .cache/test-scan-cache .cache/e2e-library
echo "== tests (${#files[@]} files)"
node --import tsx --test --test-concurrency=2 --test-reporter=spec "${files[@]}"
