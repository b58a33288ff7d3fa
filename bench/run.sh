#!/usr/bin/env bash
# Image-inventory benchmark: Hyperward vs `qemu-img convert` + debugfs vs libguestfs on a 4 GiB Debian image.
# Not part of the test suite. Usage: npm run bench [-- --runs 5 --raw-runs 5 --no-guestfs --cold --update-doc]
# The first run builds the fixtures and the bench image under .cache/ (a few minutes); results go to
# bench/results/ (gitignored) and the markdown table to stdout (--update-doc also rewrites BENCHMARKS.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/system-deps.sh --bench
[ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
npm run --silent build
exec node --import tsx bench/image-inventory.ts "$@"
