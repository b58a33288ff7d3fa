#!/usr/bin/env bash
# Installs the Debian packages Hyperward's tests and benchmarks use. Idempotent: installs only what is missing.
# Usage: scripts/system-deps.sh [--bench]   (--bench adds libguestfs, a kernel and sleuthkit for the peers)
set -euo pipefail
pkgs=(qemu-utils debootstrap gdisk fdisk e2fsprogs zstd zip unzip dosfstools ntfs-3g sleuthkit xfsprogs btrfs-progs mtools lvm2 db5.3-util lzop dpkg ca-certificates openssl libvirt-clients openssh-server openssh-client sudo chromium libxml2-utils
  golang-go golang-github-google-uuid-dev golang-github-kr-pretty-dev golang-github-davecgh-go-xdr-dev
  golang-github-vmware-vmw-guestinfo-dev dpkg-dev rpm)
if [ "${1:-}" = "--bench" ]; then
  pkgs+=(libguestfs-tools linux-image-amd64 hyperfine)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "system-deps: missing ${missing[*]}; run as root to install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi
