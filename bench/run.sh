#!/usr/bin/env bash
# Benchmarks. Not part of the test suite. Results go to bench/results/ (gitignored), the markdown tables to stdout
# (--update-doc also rewrites their section of BENCHMARKS.md).
#
#   npm run bench [-- FLAGS]                   every benchmark; FLAGS go to image-inventory, and of them
#                                              --update-doc --runs N --raw-runs N --guestfs-runs N --no-guestfs
#                                              to image-filesystems, --update-doc and --runs N to config-assess
#                                              and vuln-match too
#   npm run bench -- image-inventory [FLAGS]   Hyperward vs `qemu-img convert` + debugfs vs libguestfs on a 4 GiB
#                                              Debian image: --runs N --raw-runs N --guestfs-runs N --no-guestfs
#                                              --cold --images qcow2,vmdk --update-doc. The first run builds the
#                                              fixtures and the bench image under .cache/ (a few minutes).
#   npm run bench -- image-filesystems [FLAGS] the same question on a 6 GiB RHEL-like disk (XFS root in an LVM2
#                                              LV) and a 6 GiB Fedora-like one (btrfs subvolumes): Hyperward vs
#                                              `qemu-img convert` + xfs_db / btrfs restore vs libguestfs: --runs N
#                                              --raw-runs N --guestfs-runs N --no-guestfs --cold
#                                              --layouts lvm-xfs,btrfs --update-doc. The first run builds both
#                                              images under .cache/bench/fs-images/ (about 2 minutes).
#   npm run bench -- image-library [FLAGS]     `scan image DIR` over a 20-image library, cold and with the scan
#                                              cache warm: --runs N --jobs N --cold --update-doc.
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
  image-inventory | image-filesystems | image-library | config-assess | vuln-match)
    which=$1
    shift
    ;;
esac
case "$which" in all | image-inventory | image-filesystems) bash scripts/system-deps.sh --bench ;; esac
[ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund
npm run --silent build
case "$which" in
  image-inventory) exec node --import tsx bench/image-inventory.ts "$@" ;;
  image-filesystems) exec node --import tsx bench/image-filesystems.ts "$@" ;;
  image-library) exec node --import tsx bench/image-library.ts "$@" ;;
  config-assess) exec node --expose-gc --import tsx bench/config-assess.ts "$@" ;;
  vuln-match) exec node --expose-gc --import tsx bench/vuln-match.ts "$@" ;;
esac
# All: the flags the other benchmarks share with image-inventory are passed on; a failure of one does not skip the
# others.
shared=()
images=()
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --update-doc)
      shared+=(--update-doc)
      images+=(--update-doc)
      ;;
    --runs)
      shared+=(--runs "${args[i + 1]:-}")
      images+=(--runs "${args[i + 1]:-}")
      ;;
    --raw-runs | --guestfs-runs) images+=("${args[i]}" "${args[i + 1]:-}") ;;
    --no-guestfs) images+=(--no-guestfs) ;;
  esac
done
status=0
node --import tsx bench/image-inventory.ts "$@" || status=$?
node --import tsx bench/image-filesystems.ts ${images[@]+"${images[@]}"} || status=$?
node --import tsx bench/image-library.ts ${shared[@]+"${shared[@]}"} || status=$?
node --expose-gc --import tsx bench/config-assess.ts ${shared[@]+"${shared[@]}"} || status=$?
node --expose-gc --import tsx bench/vuln-match.ts ${shared[@]+"${shared[@]}"} || status=$?
exit "$status"
