#!/usr/bin/env bash
# Builds the embedded sample image (.cache/sample/debian-sample.qcow2) from fixtures/sample/root: a GPT disk with
# one reproducible ext4 partition, converted to compressed qcow2 v3. Idempotent; rebuilt when the tree changes.
set -euo pipefail
cd "$(dirname "$0")/.."
src=fixtures/sample/root
out=.cache/sample
img=$out/debian-sample.qcow2
stamp=$(tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$src" -cf - . | sha256sum | cut -c1-16)
if [ -f "$img" ] && [ "$(cat "$out/stamp" 2>/dev/null)" = "$stamp" ]; then
  echo "sample image up to date: $img"
  exit 0
fi
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
uuid=5a3c1e0b-7d9f-4b2a-9c8e-1f2a3b4c5d6e
truncate -s 64M "$tmp/disk.raw"
sgdisk -o -n 1:2048:0 -t 1:8300 -c 1:root -u 1:8e0f6c2a-4b1d-4e3f-9a5b-6c7d8e9f0a1b "$tmp/disk.raw" >/dev/null
E2FSPROGS_FAKE_TIME=1764115200 mkfs.ext4 -q -F -U "$uuid" -E "offset=1048576,hash_seed=$uuid" -d "$src" "$tmp/disk.raw" 15872
qemu-img convert -c -O qcow2 "$tmp/disk.raw" "$tmp/sample.qcow2"
mv "$tmp/sample.qcow2" "$img"
echo "$stamp" > "$out/stamp"
echo "built sample image: $img"
