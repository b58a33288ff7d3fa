#!/usr/bin/env bash
# Benchmarks. Not part of the test suite. Results go to bench/results/ (gitignored), the markdown tables to stdout
# (--update-doc also rewrites their section of BENCHMARKS.md).
#
#   npm run bench [-- FLAGS]                   every benchmark; FLAGS go to image-inventory, and of them
#                                              --update-doc and --runs N to config-assess and vuln-match too
#   npm run bench -- image-inventory [FLAGS]   Hyperward vs `qemu-img convert` + debugfs vs libguestfs on a 4 GiB
#                                              Debian image: --runs N --raw-runs N --guestfs-runs N --no-guestfs
#                                              --cold --images qcow2,vmdk --update-doc. The first run builds the
#                                              fixtures and the bench image under .cache/ (a few minutes).
#   npm run bench -- config-assess [FLAGS]     assessing 10,000 libvirt domain XML files vs parsing them: --runs N
#                                              --cli-runs N --cli-all-runs N --files N --cli-files N --seed S
#                                              --update-doc. The corpus goes to .cache/bench/domains/.
#   npm run bench -- vuln-match [FLAGS]        importing 200,000 OSV records, then matching a 1,000-package Debian
#                                              inventory vs reading it: --import-runs N --reimport-runs N --runs N
#                                              --cli-runs N --sample N --records N --packages N --seed S --update-doc.
#                                              The corpus goes to .cache/bench/osv/.
set -euo pipefail
cd "$(dirname "$0")/.."
which=all
case "${1:-}" in
  image-inventory | config-assess | vuln-match)
    which=$1
    shift
    ;;
esac
if [ "$which" = all ] || [ "$which" = image-inventory ]; then bash scripts/system-deps.sh --bench; fi
[ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
npm run --silent build
case "$which" in
  image-inventory) exec node --import tsx bench/image-inventory.ts "$@" ;;
  config-assess) exec node --expose-gc --import tsx bench/config-assess.ts "$@" ;;
  vuln-match) exec node --expose-gc --import tsx bench/vuln-match.ts "$@" ;;
esac
# All: the flags config-assess and vuln-match share with image-inventory are passed on; a failure of one does not
# skip the others.
shared=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --update-doc) shared+=(--update-doc) ;;
    --runs) shared+=(--runs "${args[i + 1]:-}") ;;
  esac
done
status=0
node --import tsx bench/image-inventory.ts "$@" || status=$?
node --expose-gc --import tsx bench/config-assess.ts ${shared[@]+"${shared[@]}"} || status=$?
node --expose-gc --import tsx bench/vuln-match.ts ${shared[@]+"${shared[@]}"} || status=$?
exit "$status"
