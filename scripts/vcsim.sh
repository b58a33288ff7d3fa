#!/usr/bin/env bash
# Builds govmomi's vSphere simulator (`vcsim`) and CLI (`govc`) from Debian's golang-github-vmware-govmomi SOURCE
# package with Debian's Go, in GOPATH mode against the Go libraries Debian ships in /usr/share/gocode. The binaries
# are cached under .cache/vcsim/bin/<source version>/; a second run only prints where they are.
# The source is fetched through a private deb-src list (.cache/vcsim/apt): the system's apt sources are not touched.
# Usage (as root on Debian 12 the first time, to install Go): bash scripts/vcsim.sh
# Prints two lines: `vcsim=/abs/path` and `govc=/abs/path`. Progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cache=$root/.cache/vcsim
src_pkg=golang-github-vmware-govmomi
# Debian's Go and the Go libraries govmomi 0.24's vcsim and govc import that are not in the standard library.
pkgs=(golang-go golang-github-google-uuid-dev golang-github-kr-pretty-dev golang-github-davecgh-go-xdr-dev
  golang-github-vmware-vmw-guestinfo-dev dpkg-dev)

log() { echo "vcsim.sh [${SECONDS}s]: $*" >&2; }

# --- private apt configuration: deb-src entries derived from the system's Debian mirror ---
aptdir=$cache/apt
apt_opts=(-o "Dir::Etc::SourceList=$aptdir/sources.list" -o "Dir::Etc::SourceParts=$aptdir/sources.list.d"
  -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache=$aptdir/cache" -o "APT::Sandbox::User=root")

write_private_sources() {
  mkdir -p "$aptdir/sources.list.d" "$aptdir/lists/partial" "$aptdir/cache/archives/partial"
  local out=$aptdir/sources.list.new
  : >"$out"
  # One-line sources: every `deb URI SUITE main...` becomes `deb-src ...` (options such as [signed-by=] are kept).
  if [ -f /etc/apt/sources.list ]; then
    sed -n 's/^[[:space:]]*deb\([[:space:]]\)/deb-src\1/p' /etc/apt/sources.list >>"$out"
  fi
  # deb822 sources: each stanza whose Types has `deb` and whose suites are Debian's gets a deb-src line.
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '
      function flush() {
        if (types ~ /(^|[ \t])deb([ \t]|$)/ && uris != "" && suites != "") {
          n = split(uris, u, /[ \t]+/); m = split(suites, s, /[ \t]+/)
          for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) {
            if (u[i] == "" || s[j] == "") continue
            print "deb-src" (signed != "" ? " [signed-by=" signed "]" : "") " " u[i] " " s[j] " " comps
          }
        }
        types = ""; uris = ""; suites = ""; comps = ""; signed = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      { line = $0; key = tolower(line); sub(/:.*/, "", key); sub(/^[^:]*:[ \t]*/, "", line)
        if (key == "types") types = line; else if (key == "uris") uris = line
        else if (key == "suites") suites = line; else if (key == "components") comps = line
        else if (key == "signed-by") signed = line }
      END { flush() }' "$f" >>"$out"
  done
  # Keep only the release's own suites (codename, codename-updates, codename-security): third-party repositories
  # (nodistro, cloud-sdk-bookworm...) carry no Debian source packages.
  local codename
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  awk -v c="$codename" '{ l = $0; sub(/\[[^]]*\][ \t]*/, "", l); split(l, f, /[ \t]+/)
    if (f[3] == c || index(f[3], c "-") == 1) print }' "$out" | sort -u >"$out.release" || true
  mv "$out.release" "$out"
  if [ ! -s "$out" ]; then
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $codename main" >"$out"
  fi
  if ! cmp -s "$out" "$aptdir/sources.list"; then
    mv "$out" "$aptdir/sources.list"
    rm -f "$aptdir/lists/"*_Sources* 2>/dev/null || true
  else
    rm -f "$out"
  fi
}

# The newest source version the private lists know (empty when the lists are absent).
source_version() {
  apt-cache "${apt_opts[@]}" showsrc "$src_pkg" 2>/dev/null | awk '/^Version:/ { print $2 }' |
    sort -V | tail -n 1 || true
}

write_private_sources
version=$(source_version)
bindir=$cache/bin/$version
if [ -n "$version" ] && [ -x "$bindir/vcsim" ] && [ -x "$bindir/govc" ]; then
  echo "vcsim=$bindir/vcsim"
  echo "govc=$bindir/govc"
  exit 0
fi

# --- cold path: packages, source, build ---
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: ${missing[*]}; run this script as root once to install them"
    exit 1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

log "updating the private deb-src list"
apt-get "${apt_opts[@]}" update -qq >&2
version=$(source_version)
if [ -z "$version" ]; then
  log "no source package $src_pkg in $(tr '\n' ' ' <"$aptdir/sources.list")"
  exit 1
fi
bindir=$cache/bin/$version
if [ -x "$bindir/vcsim" ] && [ -x "$bindir/govc" ]; then
  echo "vcsim=$bindir/vcsim"
  echo "govc=$bindir/govc"
  exit 0
fi

work=$(mktemp -d "$cache/build.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
log "fetching $src_pkg $version"
(cd "$work" && apt-get "${apt_opts[@]}" source --download-only -qq "$src_pkg=$version" >&2)
dsc=$(ls "$work"/*.dsc)
gp=$work/gopath
mkdir -p "$gp/src/github.com/vmware"
# --no-check: the uploader keyring is not installed; apt already verified the files against the signed index.
dpkg-source --no-check -x "$dsc" "$gp/src/github.com/vmware/govmomi" >/dev/null

log "building vcsim and govc with $(go version)"
mkdir -p "$work/out"
(
  cd "$gp/src/github.com/vmware/govmomi"
  export GO111MODULE=off GOPATH=$gp:/usr/share/gocode GOCACHE=$work/gocache CGO_ENABLED=0 GOFLAGS=
  go build -ldflags='-s -w' -o "$work/out/" github.com/vmware/govmomi/vcsim github.com/vmware/govmomi/govc
) >&2
log "built in ${SECONDS}s"
mkdir -p "$bindir"
mv "$work/out/vcsim" "$work/out/govc" "$bindir/"
echo "$version" >"$bindir/VERSION"
echo "vcsim=$bindir/vcsim"
echo "govc=$bindir/govc"
