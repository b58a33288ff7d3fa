#!/usr/bin/env bash
# Installs everything Hyperward needs and runs the main job on the embedded sample image.
# Usage (as root on Debian 12 with Node.js >= 20.19): bash scripts/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("hyperward needs Node.js >= 20.19, this is "+process.version); process.exit(1) }'
bash scripts/system-deps.sh
npm ci --no-audit --no-fund
npm run --silent build
bash scripts/make-sample.sh >&2
# The embedded advisories (real OSV, Debian tracker and Alpine secdb records, fixtures/advisories/) go into a
# database of the sample's own, so a user's real database (~/.cache/hyperward/advisories.db) is left alone.
bin/hyperward db import --quiet --db .cache/sample/advisories.db fixtures/advisories >&2
bin/hyperward scan image --db .cache/sample/advisories.db .cache/sample/debian-sample.qcow2
