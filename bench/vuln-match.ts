/**
 * Vulnerability-matching benchmark (issue 4, item 8): import 200,000 OSV records, then match a 1,000-package
 * Debian 12 inventory against them — and what matching costs next to merely reading the inventory.
 *
 * The corpus is generated (deterministic, seeded, cached under `.cache/bench/osv/`): one zip archive laid out like
 * osv.dev's `all.zip` (one JSON file per record, ZIP64 as the real one needs past 65,535 members) with records shaped
 * like the distributions' own — DSA, DLA, DEBIAN-CVE, USN, UBUNTU-CVE, ALSA, RHSA, RLSA, SUSE-SU, ALPINE-CVE, and a
 * few PyPI records the importer must ignore — plus a root tree holding a Debian 12 `/etc/os-release` and a dpkg
 * `status` file of a KVM host with 1,000 installed packages. Every Debian 12 range about a package of the inventory
 * is built relative to the installed version with a known outcome (affected with a fix, affected without one, fixed,
 * not affected), so the number of findings is known in advance.
 *
 * Timed, in one run:
 *   (1) `hyperward db import all.zip --db fresh.db` (the real CLI, a new database every run);
 *   (2) the same import again into the filled database (incremental: every record unchanged);
 *   (3) in-process, reading the inventory: readFileSync + parseDpkgStatus + os-release (detectOs);
 *   (4) in-process, matching: AdvisoryDb.open(readonly) + matchInventory over the parsed inventory + close;
 *   (5) the CLI end to end, `hyperward scan host --root TREE --format json -q --db DB`, against `--no-vulns`.
 * (3) and (4) alternate in rounds (order reversed every other round, forced GC before each); so do both rows of (5).
 * Target: matching adds at most the cost of reading the inventory, (4) ≤ (3).
 *
 * Every answer is checked: each import's summary (added / unchanged / ignored / no issues); every run of (4) must give
 * the same findings, as many as the construction says, and for a sample of packages exactly the (package, vulnerability)
 * pairs that evaluating the generated ranges with `dpkg --compare-versions` gives; the CLI must report the same
 * vulnerability findings as (4). Otherwise `WRONG`, exit 1. Never part of the test suite.
 *
 * Usage: npm run bench -- vuln-match [--records N --packages N --import-runs N --reimport-runs N --runs N
 *                                     --cli-runs N --sample N --seed S --update-doc]
 * `--import-runs 0 --reimport-runs 0` matches against the database an earlier run imported (to iterate on matching).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { crc32 } from '../src/disk/crc32.js';
import { parseDpkgStatus } from '../src/inspect/dpkg.js';
import { detectOs } from '../src/inspect/os-release.js';
import type { Finding } from '../src/model/finding.js';
import type { SystemInventory } from '../src/model/inventory.js';
import { AdvisoryDb } from '../src/vuln/db/store.js';
import { matchInventory, matchPackages, type PackageMatch } from '../src/vuln/match.js';
import { repoRoot } from '../test/fixtures/build.js';
import { log, writeFileAtomic } from '../test/fixtures/tools.js';
import {
  benchCommand,
  cell,
  fmtMiB,
  fmtS,
  hyperwardLauncher,
  type MachineFacts,
  machineFacts,
  median,
  npmVersion,
  runMain,
  toolVersion,
  updateDoc,
  writeResults,
} from './common.js';
import { prng, rngFrom, type Rng } from './rng.js';

const WHO = 'bench:vuln';
/** Bump when the generator changes, so a cached corpus from an older generator is rebuilt. */
const GENERATOR_VERSION = 3;

interface Options {
  records: number;
  packages: number;
  importRuns: number;
  reimportRuns: number;
  runs: number;
  cliRuns: number;
  sample: number;
  seed: string;
  updateDoc: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    records: 200_000,
    packages: 1_000,
    importRuns: 3,
    reimportRuns: 3,
    runs: 51,
    cliRuns: 10,
    sample: 200,
    seed: 'hyperward-bench',
    updateDoc: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (min: number): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < min) throw new Error(`${a} needs an integer ≥ ${min}`);
      return v;
    };
    if (a === '--records') o.records = num(1_000);
    else if (a === '--packages') o.packages = num(50);
    else if (a === '--import-runs') o.importRuns = num(0);
    else if (a === '--reimport-runs') o.reimportRuns = num(0);
    else if (a === '--runs') o.runs = num(1);
    else if (a === '--cli-runs') o.cliRuns = num(0);
    else if (a === '--sample') o.sample = num(0);
    else if (a === '--seed') o.seed = argv[++i] ?? '';
    else if (a === '--update-doc') o.updateDoc = true;
    else throw new Error(`unknown option ${a}`);
  }
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// Randomness.

/** Draws indexes 0..n-1 with probability ∝ 1/(i+1) (Zipf, s = 1): a few packages draw most advisories. */
function zipf(n: number): (r: Rng) => number {
  const cum: number[] = [];
  let total = 0;
  for (let i = 0; i < n; i++) cum.push((total += 1 / (i + 1)));
  return (r) => {
    const x = r.next() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Debian versions, built so that their order is known without comparing them.

/** `[epoch:]upstream[-revision][(+|~)debNNuK]`, in parts. */
interface DebVersion {
  epoch: number;
  /** Numeric upstream components as written (`06` stays `06`; dpkg compares them as numbers). */
  up: string[];
  /** What follows the numeric upstream part: `.dfsg`, `+dfsg2`, `p1`, `a`, `+20221128`, `~rc1`... */
  upTail: string;
  /** Debian revision; null for a native package. */
  rev: number | null;
  sec: { sep: '+' | '~'; rel: number; k: number } | null;
}

const DEB_RE =
  /^(?:(\d+):)?(\d+(?:\.\d+)*)((?:[.+]?(?!deb\d)[a-z][a-z0-9]*|\+\d+))?(?:-(\d+))?(?:([+~])deb(\d+)u(\d+))?$/;

function parseDeb(s: string): DebVersion {
  const m = DEB_RE.exec(s);
  if (!m) throw new Error(`bench generator: cannot take apart the version ${s}`);
  const v: DebVersion = {
    epoch: m[1] ? Number(m[1]) : 0,
    up: m[2]!.split('.'),
    upTail: m[3] ?? '',
    rev: m[4] !== undefined ? Number(m[4]) : null,
    sec: m[5] ? { sep: m[5] as '+' | '~', rel: Number(m[6]), k: Number(m[7]) } : null,
  };
  if (fmtDeb(v) !== s) throw new Error(`bench generator: ${s} does not round-trip (${fmtDeb(v)})`);
  return v;
}

function fmtDeb(v: DebVersion): string {
  return (
    (v.epoch > 0 ? `${v.epoch}:` : '') +
    v.up.join('.') +
    v.upTail +
    (v.rev !== null ? `-${v.rev}` : '') +
    (v.sec ? `${v.sec.sep}deb${v.sec.rel}u${v.sec.k}` : '')
  );
}

/** A version dpkg orders strictly after `v` (one of the ways a fix is numbered). */
function higher(v: DebVersion, r: Rng): DebVersion {
  const c: DebVersion[] = [];
  if (v.sec) c.push({ ...v, sec: { ...v.sec, k: v.sec.k + 1 } });
  if (v.sec?.sep === '~') c.push({ ...v, sec: null }); // `1~deb12u1` < `1`
  if (!v.sec) c.push({ ...v, sec: { sep: '+', rel: 12, k: 1 } });
  if (v.rev !== null) c.push({ ...v, rev: v.rev + 1, sec: null });
  const up = v.up.slice();
  up[up.length - 1] = String(Number(up[up.length - 1]!) + 1);
  c.push({
    ...v,
    up,
    upTail: v.upTail.startsWith('~') ? '' : v.upTail,
    rev: v.rev === null ? null : 1,
    sec: null,
  });
  return r.pick(c);
}

/**
 * A version dpkg orders strictly before `v`, including the ones that trip naive comparisons: a higher upstream
 * without the epoch, a higher revision with a lower upstream, a `~` pre-release, `~deb11u` below `~deb12u`.
 */
function lower(v: DebVersion, r: Rng, tricky = true): DebVersion {
  const c: DebVersion[] = [];
  if (v.sec?.sep === '+') c.push({ ...v, sec: v.sec.k >= 2 ? { ...v.sec, k: v.sec.k - 1 } : null });
  if (v.sec?.sep === '~' && v.sec.rel >= 2) c.push({ ...v, sec: { ...v.sec, rel: v.sec.rel - 1 } });
  if (v.rev !== null && v.rev >= 2) c.push({ ...v, rev: v.rev - 1, sec: null });
  const last = Number(v.up[v.up.length - 1]!);
  if (last >= 1) {
    const up = v.up.slice();
    up[up.length - 1] = String(last - 1);
    c.push({ ...v, up, rev: v.rev === null ? null : v.rev + 3, sec: null });
  }
  if (tricky && v.epoch >= 1) {
    c.push({ epoch: 0, up: [String(Number(v.up[0]!) + 1), '0'], upTail: '', rev: 1, sec: null });
  }
  // A `~rc1` pre-release of the same upstream — except where a native version's own `~debNNuK` would sort below it
  // (`1.2~deb12u1` < `1.2~rc1`: after the tildes, `d` < `r`).
  if ((tricky || c.length === 0) && !(v.rev === null && v.sec?.sep === '~')) {
    c.push({ ...v, upTail: `${v.upTail}~rc1`, rev: v.rev === null ? null : 1, sec: null });
  }
  return r.pick(c);
}

/** `n` distinct versions below `v`, each below the one before. */
function lowerChain(v: DebVersion, n: number, r: Rng): string[] {
  const out: string[] = [];
  let cur = v;
  for (let i = 0; i < n; i++) {
    cur = lower(cur, r, false);
    out.push(fmtDeb(cur));
  }
  return out.reverse();
}

/** A made-up Debian 12 version: epochs on some, security suffixes on many, `.dfsg`/`+ds` repacks. */
function randomDeb(r: Rng, opts: { rel?: number; epoch?: boolean } = {}): DebVersion {
  const up = (r.chance(0.2) ? [r.int(1, 40), r.int(0, 30)] : [r.int(0, 12), r.int(0, 40), r.int(0, 30)]).map(
    String,
  );
  const s = r.next();
  const rev = r.chance(0.05) ? null : r.int(1, 12);
  return {
    epoch: opts.epoch !== false && r.chance(0.12) ? r.pick([1, 1, 1, 2, 3]) : 0,
    up,
    upTail: r.chance(0.12) ? r.pick(['+dfsg', '.dfsg', '+ds', '+dfsg1', 'a', 'p1']) : '',
    rev,
    // Native packages number their updates `+debNNuK` (base-files 12.4+deb12u6), never with a tilde.
    sec:
      s < 0.3
        ? { sep: '+', rel: opts.rel ?? 12, k: r.int(1, 9) }
        : s < 0.4 && rev !== null
          ? { sep: '~', rel: opts.rel ?? 12, k: r.int(1, 4) }
          : null,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The inventory: a Debian 12 KVM host.

/**
 * Debian 12 source packages a KVM host carries, with versions of the kind bookworm ships: `source version binary…`,
 * where `bin:all` is architecture-independent, `bin@+bN` a binNMU of the source version, and `bin@VERSION` a binary
 * whose version is not the source's (dpkg then writes `Source: src (version)`).
 */
const REAL_SOURCES = `
acl 2.3.1-3 libacl1 acl
adduser 3.134 adduser:all
apparmor 3.0.8-3 apparmor libapparmor1
apt 2.6.1 apt libapt-pkg6.0 apt-utils
attr 1:2.5.1-4 libattr1 attr
audit 1:3.0.9-1 libaudit1 libaudit-common:all
base-files 12.4+deb12u6 base-files
base-passwd 3.6.1 base-passwd
bash 5.2.15-2 bash@+b7
bind9 1:9.18.28-1~deb12u2 bind9-host bind9-libs bind9-dnsutils
binutils 2.40-2 binutils binutils-common libbinutils binutils-x86-64-linux-gnu libctf0 libgprofng0
brotli 1.0.9-2 libbrotli1@+b6
bzip2 1.0.8-5 libbz2-1.0@+b1 bzip2@+b1
ca-certificates 20230311 ca-certificates:all
ceph 16.2.15+ds-0+deb12u1 librbd1 librados2
coreutils 9.1-1 coreutils
cron 3.0pl1-162 cron cron-daemon-common:all
curl 7.88.1-10+deb12u7 curl libcurl4 libcurl3-gnutls
cyrus-sasl2 2.1.28+dfsg-10 libsasl2-2 libsasl2-modules-db
dash 0.5.12-2 dash
db5.3 5.3.28+dfsg2-1 libdb5.3
dbus 1.14.10-1~deb12u1 dbus dbus-bin dbus-daemon dbus-session-bus-common:all dbus-system-bus-common:all dbus-user-session libdbus-1-3
debconf 1.5.82 debconf:all debconf-i18n:all
debian-archive-keyring 2023.3+deb12u1 debian-archive-keyring:all
debianutils 5.7-1 debianutils
diffutils 1:3.8-4 diffutils
dnsmasq 2.90-4~deb12u1 dnsmasq-base
dpkg 1.21.22 dpkg
e2fsprogs 1.47.0-2 e2fsprogs libcom-err2 libext2fs2 libss2 logsave
ebtables 2.0.11-5 ebtables
expat 2.5.0-1+deb12u1 libexpat1
file 1:5.44-3 file libmagic1 libmagic-mgc
findutils 4.9.0-4 findutils
fontconfig 2.14.1-4 libfontconfig1 fontconfig-config:all
freetype 2.12.1+dfsg-5+deb12u3 libfreetype6
gcc-12 12.2.0-14 gcc-12-base libgcc-s1 libstdc++6 libgomp1 libatomic1 libquadmath0
gdbm 1.23-3 libgdbm6 libgdbm-compat4
git 1:2.39.5-0+deb12u1 git git-man:all
glib2.0 2.74.6-2+deb12u3 libglib2.0-0 libglib2.0-data:all
glibc 2.36-9+deb12u7 libc6 libc-bin libc-l10n:all locales:all
glusterfs 10.3-5 libglusterfs0 libgfapi0 libgfrpc0 libgfxdr0
gmp 2:6.2.1+dfsg1-1 libgmp10
gnupg2 2.2.40-1 gnupg:all gpg gpgv gpg-agent dirmngr gpgconf gpgsm gnupg-l10n:all gnupg-utils gpg-wks-client gpg-wks-server
gnutls28 3.7.9-2+deb12u3 libgnutls30
grep 3.8-5 grep
groff 1.22.4-10 groff-base
grub2 2.06-13+deb12u1 grub-pc grub-pc-bin grub-common grub2-common
gzip 1.12-1 gzip
hostname 3.23+nmu1 hostname
htop 3.2.2-2 htop
icu 72.1-3 libicu72
ifupdown 0.8.41 ifupdown
init-system-helpers 1.65.2 init-system-helpers:all init
iproute2 6.1.0-3 iproute2
iptables 1.8.9-2 iptables libip4tc2 libip6tc2 libxtables12
iputils 3:20221126-1 iputils-ping
jq 1.6-2 jq libjq1
kmod 30+20221128-1 kmod libkmod2
krb5 1.20.1-2+deb12u2 libgssapi-krb5-2 libk5crypto3 libkrb5-3 libkrb5support0 krb5-locales:all
less 590-2 less
libcap2 1:2.66-4 libcap2 libcap2-bin
libffi 3.4.4-1 libffi8
libgcrypt20 1.10.1-3 libgcrypt20
libgpg-error 1.46-1 libgpg-error0
libidn2 2.3.3-1 libidn2-0@+b1
libiscsi 1.19.0-3 libiscsi7
libjpeg-turbo 1:2.1.5-2 libjpeg62-turbo
libnftnl 1.2.4-2 libnftnl11
libpcap 1.10.3-1 libpcap0.8
libpng1.6 1.6.39-2 libpng16-16
libpsl 0.21.2-1 libpsl5@+b1
libseccomp 2.5.4-1 libseccomp2@+b1
libselinux 3.4-1 libselinux1@+b6
libsemanage 3.4-1 libsemanage2@+b5 libsemanage-common:all
libsepol 3.4-2 libsepol2
libssh 0.10.6-0+deb12u1 libssh-4
libssh2 1.10.0-3 libssh2-1@+b1
libtasn1-6 4.19.0-2 libtasn1-6
libunistring 1.0-2 libunistring2
libusb-1.0 2:1.0.26-1 libusb-1.0-0
libvirt 9.0.0-4+deb12u1 libvirt0 libvirt-daemon libvirt-daemon-system libvirt-clients libvirt-daemon-driver-qemu libvirt-daemon-system-systemd:all libvirt-daemon-config-network:all libvirt-daemon-config-nwfilter:all
libx11 2:1.8.4-2+deb12u2 libx11-6 libx11-data:all
libxml2 2.9.14+dfsg-1~deb12u1 libxml2
libxslt 1.1.35-1 libxslt1.1
libyajl 2.1.0-3+deb12u2 libyajl2
libzstd 1.5.4+dfsg2-5 libzstd1
linux-signed-amd64 6.1.112+1 linux-image-6.1.0-26-amd64@6.1.112-1 linux-image-amd64@6.1.112-1
logrotate 3.21.0-1 logrotate
lsof 4.95.0-1 lsof
lvm2 2.03.16-2 lvm2 libdevmapper1.02.1@2:1.02.185-2 dmsetup@2:1.02.185-2 libdevmapper-event1.02.1@2:1.02.185-2 liblvm2cmd2.03
lz4 1.9.4-1 liblz4-1
man-db 2.11.2-2 man-db
mariadb 1:10.11.6-0+deb12u1 mariadb-server mariadb-client mariadb-common:all libmariadb3
mawk 1.3.4.20200120-3 mawk
nano 7.2-1+deb12u1 nano
ncurses 6.4-4 libncursesw6 libtinfo6 ncurses-base:all ncurses-bin
netbase 6.4 netbase:all
nettle 3.8.1-2 libnettle8 libhogweed6
nftables 1.0.6-2+deb12u2 nftables libnftables1
nghttp2 1.52.0-1+deb12u2 libnghttp2-14
nginx 1.22.1-9 nginx nginx-common:all
numactl 2.0.16-1 libnuma1
oniguruma 6.9.8-1 libonig5
openldap 2.5.13+dfsg-5 libldap-2.5-0 libldap-common:all
openssh 1:9.2p1-2+deb12u3 openssh-client openssh-server openssh-sftp-server
openssl 3.0.14-1~deb12u2 libssl3 openssl
openvswitch 3.1.0-2+deb12u1 openvswitch-switch openvswitch-common
ovmf 2022.11-6+deb12u1 ovmf:all
p11-kit 0.24.1-2 libp11-kit0
pam 1.5.2-6+deb12u1 libpam0g libpam-modules libpam-modules-bin libpam-runtime:all
pcre2 10.42-1 libpcre2-8-0
perl 5.36.0-7+deb12u1 perl perl-base perl-modules-5.36:all libperl5.36
pixman 0.42.2-1 libpixman-1-0
postgresql-15 15.8-0+deb12u1 postgresql-15 postgresql-client-15 libpq5
procps 2:4.0.2-3 procps libproc2-0
python-apt 2.6.0 python3-apt
python-cryptography 38.0.4-3 python3-cryptography@+b1
python-requests 2.28.1+dfsg-1 python3-requests:all
python-urllib3 1.26.12-1 python3-urllib3:all
python3-defaults 3.11.2-1 python3@+b1 python3-minimal@+b1 libpython3-stdlib@+b1
python3.11 3.11.2-6+deb12u3 python3.11 python3.11-minimal libpython3.11-minimal libpython3.11-stdlib
pyyaml 6.0-3 python3-yaml@+b2
qemu 1:7.2+dfsg-7+deb12u7 qemu-system-x86 qemu-system-common qemu-system-data:all qemu-utils qemu-block-extra
readline 8.2-1 libreadline8 readline-common:all
rsync 3.2.7-1+deb12u1 rsync
rsyslog 8.2302.0-1 rsyslog
screen 4.9.0-4 screen
seabios 1.16.2-1 seabios:all
sed 4.9-1 sed
shadow 1:4.13+dfsg1-1 login passwd
spice 0.15.1-1 libspice-server1
sqlite3 3.40.1-2+deb12u1 libsqlite3-0
strace 6.1-1 strace
sudo 1.9.13p3-1+deb12u1 sudo
systemd 252.30-1~deb12u2 systemd libsystemd0 libudev1 udev systemd-sysv systemd-timesyncd libsystemd-shared libpam-systemd libnss-systemd
tar 1.34+dfsg-1+deb12u1 tar
tcpdump 4.99.3-1 tcpdump
tiff 4.5.0-6+deb12u1 libtiff6
tmux 3.3a-3 tmux
tzdata 2024a-0+deb12u1 tzdata:all
unattended-upgrades 2.9.1+nmu3 unattended-upgrades:all
usbredir 0.13.0-2+deb12u1 libusbredirparser1
util-linux 2.38.1-5+deb12u1 util-linux libblkid1 libmount1 libsmartcols1 libuuid1 fdisk libfdisk1 mount bsdutils util-linux-extra
vim 2:9.0.1378-2 vim vim-common:all vim-runtime:all vim-tiny xxd
wget 1.21.3-1 wget@+b2
xz-utils 5.4.1-1 liblzma5 xz-utils
zlib 1:1.2.13.dfsg-1 zlib1g
`;

interface InvBinary {
  name: string;
  version: string;
  arch: 'amd64' | 'all';
}

interface InvSource {
  name: string;
  /** The installed source version: what Debian's advisories are compared against. */
  version: string;
  binaries: InvBinary[];
}

const SYLLABLES = [
  'ab', 'ac', 'ad', 'al', 'am', 'an', 'ar', 'as', 'at', 'ba', 'be', 'bi', 'bo', 'bu', 'ca', 'ce', 'ci', 'co',
  'cu', 'da', 'de', 'di', 'do', 'du', 'el', 'em', 'en', 'er', 'es', 'ex', 'fa', 'fe', 'fi', 'fo', 'ga', 'ge',
  'gi', 'go', 'ha', 'he', 'hi', 'ho', 'id', 'il', 'im', 'in', 'io', 'ir', 'is', 'ja', 'ka', 'ke', 'ki', 'ko',
  'la', 'le', 'li', 'lo', 'lu', 'ma', 'me', 'mi', 'mo', 'mu', 'na', 'ne', 'ni', 'no', 'nu', 'ob', 'od', 'ol',
  'om', 'on', 'op', 'or', 'os', 'pa', 'pe', 'pi', 'po', 'pu', 'qu', 'ra', 're', 'ri', 'ro', 'ru', 'sa', 'se',
  'si', 'so', 'su', 'ta', 'te', 'ti', 'to', 'tu', 'ul', 'um', 'un', 'ur', 'us', 'va', 've', 'vi', 'vo', 'xa',
  'xe', 'ya', 'yo', 'za', 'ze', 'zi', 'zo',
]; // prettier-ignore

/** A made-up source package name in one of the shapes Debian's archive uses. */
function syntheticName(r: Rng): string {
  const n = r.int(2, 3);
  let stem = '';
  for (let i = 0; i < n; i++) stem += r.pick(SYLLABLES);
  switch (r.int(0, 9)) {
    case 0:
    case 1:
    case 2:
      return `lib${stem}`;
    case 3:
      return `python-${stem}`;
    case 4:
      return `golang-github-${r.pick(SYLLABLES)}${r.pick(SYLLABLES)}-${stem}`;
    case 5:
      return `node-${stem}`;
    case 6:
      return `lib${stem}-perl`;
    case 7:
      return `ruby-${stem}`;
    default:
      return stem;
  }
}

/** The binaries a made-up source builds, by the naming conventions of its kind. */
function syntheticBinaries(src: string, r: Rng): Array<{ name: string; arch: 'amd64' | 'all' }> {
  if (src.startsWith('python-'))
    return [{ name: `python3-${src.slice(7)}`, arch: r.chance(0.7) ? 'all' : 'amd64' }];
  if (src.startsWith('node-') || src.startsWith('ruby-') || src.endsWith('-perl'))
    return [{ name: src, arch: 'all' }];
  if (src.startsWith('golang-')) return [{ name: `${src}-dev`, arch: 'all' }];
  if (src.startsWith('lib')) {
    const so = r.int(0, 9);
    const out: Array<{ name: string; arch: 'amd64' | 'all' }> = [
      { name: `${src}${/\d$/.test(src) ? '-' : ''}${so}`, arch: 'amd64' },
    ];
    if (r.chance(0.3)) out.push({ name: `${src}-dev`, arch: 'amd64' });
    if (r.chance(0.15)) out.push({ name: `${src}-common`, arch: 'all' });
    if (r.chance(0.1)) out.push({ name: `${src.slice(3)}-tools`, arch: 'amd64' });
    return out;
  }
  const out: Array<{ name: string; arch: 'amd64' | 'all' }> = [{ name: src, arch: 'amd64' }];
  if (r.chance(0.25)) out.push({ name: `${src}-common`, arch: 'all' });
  if (r.chance(0.1)) out.push({ name: `${src}-doc`, arch: 'all' });
  return out;
}

/** The inventory's sources: the real list, then made-up ones until `packages` binaries. */
function buildInventory(packages: number, r: Rng, taken: Set<string>): InvSource[] {
  const out: InvSource[] = [];
  const binNames = new Set<string>();
  let count = 0;
  for (const line of REAL_SOURCES.trim().split('\n')) {
    if (count >= packages) break;
    const [name, version, ...bins] = line.trim().split(/\s+/);
    parseDeb(version!); // every source version must be one the range builder understands
    const src: InvSource = { name: name!, version: version!, binaries: [] };
    for (const b of bins) {
      if (count >= packages) break;
      const m = /^([^:@]+)(?::(all))?(?:@(.+))?$/.exec(b)!;
      if (binNames.has(m[1]!)) throw new Error(`bench generator: binary ${m[1]} listed twice`);
      const at = m[3];
      const v = at === undefined ? version! : at.startsWith('+') ? `${version!}${at}` : at;
      src.binaries.push({ name: m[1]!, version: v, arch: m[2] === 'all' ? 'all' : 'amd64' });
      binNames.add(m[1]!);
      count++;
    }
    taken.add(src.name);
    out.push(src);
  }
  while (count < packages) {
    const name = syntheticName(r);
    if (taken.has(name)) continue;
    const bins = syntheticBinaries(name, r).filter((b) => !binNames.has(b.name));
    if (bins.length === 0) continue;
    taken.add(name);
    const version = fmtDeb(randomDeb(r));
    const binNmu = r.chance(0.08) ? `+b${r.int(1, 3)}` : '';
    const src: InvSource = { name, version, binaries: [] };
    for (const b of bins) {
      if (count >= packages) break;
      src.binaries.push({
        name: b.name,
        version: b.arch === 'amd64' ? version + binNmu : version,
        arch: b.arch,
      });
      binNames.add(b.name);
      count++;
    }
    out.push(src);
  }
  return out;
}

const WORDS = [
  'buffer', 'overflow', 'heap', 'stack', 'use-after-free', 'NULL', 'pointer', 'dereference', 'integer', 'out-of-bounds',
  'read', 'write', 'crafted', 'remote', 'attacker', 'local', 'user', 'denial', 'of', 'service', 'arbitrary', 'code',
  'execution', 'memory', 'corruption', 'parser', 'request', 'header', 'certificate', 'validation', 'race', 'condition',
  'privilege', 'escalation', 'information', 'disclosure', 'the', 'a', 'in', 'when', 'handling', 'processing', 'via',
  'could', 'allow', 'cause', 'crash', 'leak', 'sensitive', 'data', 'input', 'file', 'archive', 'image', 'packet',
  'function', 'library', 'module', 'configuration', 'authentication', 'bypass', 'session', 'token', 'path',
  'traversal', 'injection', 'signature', 'verification', 'length', 'check', 'missing', 'incorrect', 'improper',
]; // prettier-ignore

function prose(r: Rng, pkg: string, chars: number, opening = `A flaw was found in ${pkg}.`): string {
  let s = opening;
  while (s.length < chars) {
    const n = r.int(8, 18);
    const words: string[] = [];
    for (let i = 0; i < n; i++) words.push(r.pick(WORDS));
    const w = words.join(' ');
    s += ` ${w[0]!.toUpperCase()}${w.slice(1)}.`;
  }
  return s;
}

function isoDate(year: number, r: Rng): string {
  const m = String(r.int(1, 12)).padStart(2, '0');
  const d = String(r.int(1, 28)).padStart(2, '0');
  const t = `${String(r.int(0, 23)).padStart(2, '0')}:${String(r.int(0, 59)).padStart(2, '0')}:${String(r.int(0, 59)).padStart(2, '0')}`;
  return `${year}-${m}-${d}T${t}Z`;
}

function laterIso(iso: string, r: Rng): string {
  const t = Date.parse(iso) + r.int(0, 600) * 86_400_000 + r.int(0, 86_399) * 1000;
  return new Date(Math.min(t, Date.parse('2025-06-30T00:00:00Z'))).toISOString().replace(/\.\d+Z$/, 'Z');
}

function cvss3(r: Rng): string {
  const p = (xs: string[]): string => r.pick(xs);
  return (
    `CVSS:3.1/AV:${p(['N', 'N', 'A', 'L', 'P'])}/AC:${p(['L', 'L', 'H'])}/PR:${p(['N', 'L', 'H'])}/UI:${p(['N', 'R'])}` +
    `/S:${p(['U', 'U', 'C'])}/C:${p(['N', 'L', 'H'])}/I:${p(['N', 'L', 'H'])}/A:${p(['N', 'L', 'H'])}`
  );
}

function cvss4(r: Rng): string {
  const p = (xs: string[]): string => r.pick(xs);
  const hln = ['H', 'L', 'N'];
  return (
    `CVSS:4.0/AV:${p(['N', 'A', 'L', 'P'])}/AC:${p(['L', 'H'])}/AT:${p(['N', 'P'])}/PR:${p(['N', 'L', 'H'])}` +
    `/UI:${p(['N', 'P', 'A'])}/VC:${p(hln)}/VI:${p(hln)}/VA:${p(hln)}/SC:${p(hln)}/SI:${p(hln)}/SA:${p(hln)}`
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The corpus.

/** How a Debian 12 range about an installed source package relates to the installed version, by construction. */
type Label =
  'affected-fix' | 'affected-nofix' | 'affected-last' | 'fixed' | 'unaffected-last' | 'unaffected-intro';

type OsvEvent = { introduced: string } | { fixed: string } | { last_affected: string };

/** One Debian 12 entry about a source package of the inventory, as the oracle needs it. */
interface EntryFact {
  id: string;
  /** The record's `aliases`, `upstream` and `related` ids, as written. */
  aliases: string[];
  upstream: string[];
  related: string[];
  withdrawn: boolean;
  events: OsvEvent[];
  versions: string[];
  label: Label;
}

interface CorpusFacts {
  records: number;
  byKind: Record<string, number>;
  /** Records with at least one entry per ecosystem. */
  byEcosystem: Record<string, number>;
  debian12Records: number;
  /** Records the importer must store (every record of a distribution it knows) and ignore (PyPI). */
  stored: number;
  ignored: number;
  withdrawn: number;
  zipBytes: number;
  jsonBytes: number;
  names: number;
  cves: number;
  /** Debian 12 entries about sources of the inventory, and how many of each label. */
  inventoryEntries: number;
  labels: Record<string, number>;
}

interface Corpus {
  dir: string;
  zip: string;
  root: string;
  /** The root tree as a whole-disk ext4 image (absent when mkfs.ext4 is not there). */
  image: string;
  statusBytes: number;
  inventory: InvSource[];
  debian12: Record<string, EntryFact[]>;
  facts: CorpusFacts;
}

interface Expect {
  inventory: InvSource[];
  debian12: Record<string, EntryFact[]>;
  facts: CorpusFacts;
  statusBytes: number;
}

/** A DOS date of 2025-01-01 and time 00:00 for every member. */
const DOS_DATE = ((2025 - 1980) << 9) | (1 << 5) | 1;

/** Writes a zip archive member by member (deflate), with ZIP64 end records when the members outnumber 65,535. */
function zipWriter(path: string): { add(name: string, data: Buffer): void; finish(): number } {
  const fd = openSync(path, 'w');
  const central: Buffer[] = [];
  let entries = 0;
  let offset = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = (): void => {
    if (pendingBytes === 0) return;
    writeSync(fd, Buffer.concat(pending, pendingBytes));
    pending = [];
    pendingBytes = 0;
  };
  const push = (b: Buffer): void => {
    pending.push(b);
    pendingBytes += b.length;
    offset += b.length;
    if (pendingBytes >= 8 * 1024 * 1024) flush();
  };
  return {
    add(name, data) {
      const nameBuf = Buffer.from(name, 'utf8');
      const comp = deflateRawSync(data);
      const crc = crc32(data);
      if (offset + 30 + nameBuf.length + comp.length >= 0xffffffff) {
        throw new Error('bench corpus: archive past 4 GiB needs ZIP64 member records, not written here');
      }
      const lh = Buffer.alloc(30);
      lh.writeUInt32LE(0x04034b50, 0);
      lh.writeUInt16LE(20, 4);
      lh.writeUInt16LE(0x0800, 6); // UTF-8 names
      lh.writeUInt16LE(8, 8); // deflate
      lh.writeUInt16LE(0, 10);
      lh.writeUInt16LE(DOS_DATE, 12);
      lh.writeUInt32LE(crc, 14);
      lh.writeUInt32LE(comp.length, 18);
      lh.writeUInt32LE(data.length, 22);
      lh.writeUInt16LE(nameBuf.length, 26);
      lh.writeUInt16LE(0, 28);
      const cd = Buffer.alloc(46);
      cd.writeUInt32LE(0x02014b50, 0);
      cd.writeUInt16LE(0x031e, 4); // made by: Unix, 3.0
      cd.writeUInt16LE(20, 6);
      cd.writeUInt16LE(0x0800, 8);
      cd.writeUInt16LE(8, 10);
      cd.writeUInt16LE(0, 12);
      cd.writeUInt16LE(DOS_DATE, 14);
      cd.writeUInt32LE(crc, 16);
      cd.writeUInt32LE(comp.length, 20);
      cd.writeUInt32LE(data.length, 24);
      cd.writeUInt16LE(nameBuf.length, 28);
      cd.writeUInt32LE((0o100644 << 16) >>> 0, 38);
      cd.writeUInt32LE(offset, 42);
      central.push(cd, nameBuf);
      push(lh);
      push(nameBuf);
      push(comp);
      entries++;
    },
    finish() {
      const cdOffset = offset;
      for (const b of central) push(b);
      const cdSize = offset - cdOffset;
      const zip64 = entries >= 0xffff || cdOffset + cdSize >= 0xffffffff;
      if (zip64) {
        const recOffset = offset;
        const rec = Buffer.alloc(56);
        rec.writeUInt32LE(0x06064b50, 0);
        rec.writeBigUInt64LE(44n, 4);
        rec.writeUInt16LE(45, 12);
        rec.writeUInt16LE(45, 14);
        rec.writeBigUInt64LE(BigInt(entries), 24);
        rec.writeBigUInt64LE(BigInt(entries), 32);
        rec.writeBigUInt64LE(BigInt(cdSize), 40);
        rec.writeBigUInt64LE(BigInt(cdOffset), 48);
        push(rec);
        const loc = Buffer.alloc(20);
        loc.writeUInt32LE(0x07064b50, 0);
        loc.writeBigUInt64LE(BigInt(recOffset), 8);
        loc.writeUInt32LE(1, 16);
        push(loc);
      }
      const end = Buffer.alloc(22);
      end.writeUInt32LE(0x06054b50, 0);
      end.writeUInt16LE(Math.min(entries, 0xffff), 8);
      end.writeUInt16LE(Math.min(entries, 0xffff), 10);
      end.writeUInt32LE(Math.min(cdSize, 0xffffffff), 12);
      end.writeUInt32LE(zip64 ? 0xffffffff : cdOffset, 16);
      push(end);
      flush();
      closeSync(fd);
      return offset;
    },
  };
}

/** Share of each kind of record (the rest, 1 %, are PyPI records a distribution scanner ignores). */
const KINDS: ReadonlyArray<[string, number]> = [
  ['DEBIAN-CVE', 0.3],
  ['DSA', 0.06],
  ['DLA', 0.04],
  ['USN', 0.1],
  ['UBUNTU-CVE', 0.19],
  ['ALSA', 0.05],
  ['RHSA', 0.08],
  ['RLSA', 0.04],
  ['SUSE-SU', 0.07],
  ['ALPINE-CVE', 0.06],
  ['PYSEC', 0.01],
];

const UBUNTU = [
  { eco: 'Ubuntu:20.04:LTS', tag: '20.04' },
  { eco: 'Ubuntu:22.04:LTS', tag: '22.04' },
  { eco: 'Ubuntu:24.04:LTS', tag: '24.04' },
];

/** Everything the generator needs while it writes records. */
interface Gen {
  r: Rng;
  o: Options;
  names: string[];
  inventory: Map<string, InvSource>;
  invOrder: string[];
  drawInv: (r: Rng) => number;
  cveIds: string[];
  cvePkg: string[];
  cvesOf: Map<string, number[]>;
  debian12: Record<string, EntryFact[]>;
  labels: Record<string, number>;
}

/** A package a vulnerability is about: 6 % a source of the inventory (Zipf: a few get most), else any name. */
function drawPackage(g: Gen): string {
  if (g.r.chance(0.06)) return g.invOrder[g.drawInv(g.r)]!;
  return g.r.pick(g.names);
}

/** A made-up upstream version per package name, the same in every distribution. */
function upstreamOf(name: string, seed: string): number[] {
  const r = rngFrom(prng(`${seed}\0up\0${name}`));
  return r.chance(0.2) ? [r.int(1, 40), r.int(0, 30)] : [r.int(0, 12), r.int(0, 40), r.int(0, 30)];
}

/** Ranges (and some listed versions) of a Debian 12 entry about an installed source, with their known outcome. */
function labelledRange(v: DebVersion, r: Rng): { label: Label; events: OsvEvent[]; versions: string[] } {
  const x = r.next();
  const list = r.chance(0.3);
  if (x < 0.38) {
    const fixed = higher(v, r);
    const events: OsvEvent[] = r.chance(0.1)
      ? [{ introduced: fmtDeb(lower(v, r)) }, { fixed: fmtDeb(fixed) }]
      : [{ introduced: '0' }, { fixed: fmtDeb(fixed) }];
    return { label: 'affected-fix', events, versions: list ? lowerChain(v, r.int(2, 6), r) : [] };
  }
  if (x < 0.53) {
    return {
      label: 'affected-nofix',
      events: [{ introduced: '0' }],
      versions: list ? lowerChain(v, r.int(2, 6), r) : [],
    };
  }
  if (x < 0.58) {
    const last = r.chance(0.5) ? v : higher(v, r);
    return {
      label: 'affected-last',
      events: [{ introduced: '0' }, { last_affected: fmtDeb(last) }],
      versions: list ? lowerChain(v, r.int(2, 6), r) : [],
    };
  }
  if (x < 0.88) {
    const fixed = r.chance(0.3) ? v : lower(v, r);
    return {
      label: 'fixed',
      events: [{ introduced: '0' }, { fixed: fmtDeb(fixed) }],
      versions: list ? lowerChain(fixed, r.int(2, 6), r) : [],
    };
  }
  if (x < 0.93) {
    const last = lower(v, r);
    return {
      label: 'unaffected-last',
      events: [{ introduced: '0' }, { last_affected: fmtDeb(last) }],
      versions: list ? [...lowerChain(last, r.int(1, 4), r), fmtDeb(last)] : [],
    };
  }
  const intro = higher(v, r);
  const fixed = higher(intro, r);
  return {
    label: 'unaffected-intro',
    events: [{ introduced: fmtDeb(intro) }, { fixed: fmtDeb(fixed) }],
    versions: list ? [fmtDeb(intro)] : [],
  };
}

type Json = Record<string, unknown>;

/** A Debian entry (source package) of release 11 or 12; Debian 12 entries on inventory sources are labelled. */
function debianEntry(
  g: Gen,
  pkg: string,
  rel: 11 | 12,
  rec: Pick<EntryFact, 'id' | 'aliases' | 'upstream' | 'related' | 'withdrawn'>,
  urgency: boolean,
): Json {
  const r = g.r;
  const inv = rel === 12 ? g.inventory.get(pkg) : undefined;
  let events: OsvEvent[];
  let versions: string[] = [];
  if (inv) {
    const lr = labelledRange(parseDeb(inv.version), r);
    events = lr.events;
    versions = lr.versions;
    (g.debian12[pkg] ??= []).push({
      id: rec.id,
      aliases: rec.aliases,
      upstream: rec.upstream,
      related: rec.related,
      withdrawn: rec.withdrawn,
      events,
      versions,
      label: lr.label,
    });
    g.labels[lr.label] = (g.labels[lr.label] ?? 0) + 1;
  } else {
    const v = randomDeb(r, { rel });
    v.up = upstreamOf(pkg, g.o.seed).map(String);
    const x = r.next();
    events =
      x < 0.72
        ? [{ introduced: '0' }, { fixed: fmtDeb(v) }]
        : x < 0.95
          ? [{ introduced: '0' }]
          : [{ introduced: '0' }, { last_affected: fmtDeb(v) }];
    if (r.chance(0.3)) versions = lowerChain(v, r.int(2, 6), r);
  }
  const e: Json = {
    package: { ecosystem: `Debian:${rel}`, name: pkg, purl: `pkg:deb/debian/${pkg}?arch=source` },
    ranges: [{ type: 'ECOSYSTEM', events }],
  };
  if (versions.length > 0) e.versions = versions;
  if (urgency) {
    e.ecosystem_specific = {
      urgency: r.pick(['not yet assigned', 'unimportant', 'low', 'low', 'medium', 'medium', 'high']),
    };
  }
  return e;
}

function ubuntuEntry(g: Gen, pkg: string, rel: { eco: string; tag: string }): Json {
  const r = g.r;
  const up = upstreamOf(pkg, g.o.seed).join('.');
  const base = `${up}-${r.int(0, 4)}ubuntu${r.chance(0.5) ? `${r.int(1, 9)}.${r.int(1, 20)}` : `0.${rel.tag}.${r.int(1, 9)}`}`;
  const fixed = r.chance(0.8);
  const e: Json = {
    package: { ecosystem: rel.eco, name: pkg, purl: `pkg:deb/ubuntu/${pkg}?arch=source` },
    ranges: [
      { type: 'ECOSYSTEM', events: fixed ? [{ introduced: '0' }, { fixed: base }] : [{ introduced: '0' }] },
    ],
    ecosystem_specific: {
      binaries: [{ binary_name: pkg, binary_version: base }],
      ubuntu_priority: r.pick(['negligible', 'low', 'medium', 'medium', 'high', 'critical']),
    },
  };
  if (r.chance(0.4)) e.versions = [`${up}-1ubuntu1`, `${up}-1ubuntu1.1`, `${up}-1ubuntu1.2`];
  return e;
}

const RPM_SUFFIXES = ['', '-libs', '-devel', '-tools', '-common', '-debuginfo'];

function rpmEntries(g: Gen, pkg: string, eco: string, dist: string, max = 3): Json[] {
  const r = g.r;
  const up = upstreamOf(pkg, g.o.seed).join('.');
  const epoch = r.chance(0.15) ? `${r.int(1, 2)}:` : r.chance(0.3) ? '0:' : '';
  const evr = `${epoch}${up}-${r.int(1, 40)}.${dist}`;
  const n = r.int(1, Math.max(1, max));
  const out: Json[] = [];
  for (const suffix of RPM_SUFFIXES.slice(0, n)) {
    out.push({
      package: { ecosystem: eco, name: `${pkg}${suffix}` },
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: evr }] }],
    });
  }
  return out;
}

function suseEntry(g: Gen, pkg: string): Json {
  const r = g.r;
  const up = upstreamOf(pkg, g.o.seed).join('.');
  const evr = `${up}-150500.${r.int(1, 9)}.${r.int(1, 40)}.1`;
  const e: Json = {
    package: {
      ecosystem: 'SUSE:Linux Enterprise Server 15 SP5',
      name: pkg,
      purl: `pkg:rpm/suse/${pkg}?distro=sles-15-sp5`,
    },
    ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: evr }] }],
  };
  if (r.chance(0.3)) {
    const bins: Record<string, string> = { [pkg]: evr, [`${pkg}-devel`]: evr };
    if (r.chance(0.5)) bins[`lib${pkg}${r.int(0, 9)}`] = evr;
    e.ecosystem_specific = { binaries: [bins] };
  }
  return e;
}

function alpineEntry(g: Gen, pkg: string, rel: string): Json {
  const r = g.r;
  const up = upstreamOf(pkg, g.o.seed).join('.');
  return {
    package: { ecosystem: `Alpine:${rel}`, name: pkg, purl: `pkg:apk/alpine/${pkg}` },
    ranges: [
      {
        type: 'ECOSYSTEM',
        events: r.chance(0.9)
          ? [{ introduced: '0' }, { fixed: `${up}-r${r.int(0, 9)}` }]
          : [{ introduced: '0' }],
      },
    ],
  };
}

/** 1–4 CVEs about `pkg` (its own when it has some, else new ones are not made: any CVE will do). */
function cvesFor(g: Gen, pkg: string): string[] {
  const own = g.cvesOf.get(pkg);
  const n = g.r.int(1, 4);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const c = own && own.length > 0 ? g.cveIds[g.r.pick(own)]! : g.cveIds[g.r.int(0, g.cveIds.length - 1)]!;
    if (!out.includes(c)) out.push(c);
  }
  return out;
}

/** One record of `kind`, number `seq` of its kind. */
function makeRecord(g: Gen, kind: string, seq: number): Json {
  const r = g.r;
  const year = r.pick([2019, 2020, 2021, 2022, 2023, 2023, 2024, 2024, 2024, 2025]);
  const published = isoDate(year, r);
  const modified = laterIso(published, r);
  // A withdrawn PyPI record would be stored (withdrawn records are kept), not ignored: none are made.
  const withdrawn = kind !== 'PYSEC' && r.chance(0.003);
  const refs: Json[] = [];
  let id: string;
  let pkg: string;
  let cves: string[];
  const rec: Json = { schema_version: '1.7.0' };
  const affected: Json[] = [];
  const nCve = g.cveIds.length;
  // Per-CVE feeds take the CVE table in different orders (both strides are prime to the table size), so one CVE
  // shows up in several feeds about the same package, as in the real data.
  const perCve = (stride: number, offset: number): number => (seq * stride + offset) % nCve;
  switch (kind) {
    case 'DEBIAN-CVE': {
      const c = seq % nCve;
      pkg = g.cvePkg[c]!;
      cves = [g.cveIds[c]!];
      id = `DEBIAN-${cves[0]}`;
      break;
    }
    case 'UBUNTU-CVE':
    case 'ALPINE-CVE': {
      const c = kind === 'UBUNTU-CVE' ? perCve(7919, 11) : perCve(104_729, 29);
      pkg = g.cvePkg[c]!;
      cves = [g.cveIds[c]!];
      id = `${kind.split('-')[0]}-${cves[0]}`;
      break;
    }
    default:
      pkg = drawPackage(g);
      cves = cvesFor(g, pkg);
      id =
        kind === 'DSA'
          ? `DSA-${5000 + seq}-1`
          : kind === 'DLA'
            ? `DLA-${3000 + seq}-1`
            : kind === 'USN'
              ? `USN-${4000 + seq}-${r.chance(0.9) ? 1 : 2}`
              : kind === 'PYSEC'
                ? `PYSEC-${year}-${100 + seq}`
                : kind === 'SUSE-SU'
                  ? `SUSE-SU-${year}:${String(seq).padStart(5, '0')}-1`
                  : `${kind}-${year}:${String(seq).padStart(5, '0')}`;
  }
  rec.id = id;
  // DSA/DLA/USN name their CVEs as `upstream` (osv.dev since 2025); older DSAs as `aliases`.
  let aliases: string[] = [];
  if (kind === 'DSA' || kind === 'DLA') {
    if (r.chance(0.3)) aliases = cves;
    else rec.upstream = cves;
  } else if (kind === 'USN') {
    rec.upstream = cves.map((c) => `UBUNTU-${c}`);
  } else if (kind === 'DEBIAN-CVE') {
    rec.upstream = cves;
  } else if (kind === 'UBUNTU-CVE') {
    rec.related = [cves[0]!, `USN-${4000 + r.int(0, 20_000)}-1`];
  } else if (kind === 'ALPINE-CVE') {
    rec.upstream = cves;
  } else if (kind === 'PYSEC') {
    aliases = [`GHSA-${r.hex(4)}-${r.hex(4)}-${r.hex(4)}`, cves[0]!];
  } else {
    rec.related = cves;
  }
  rec.aliases = aliases;
  const fact = {
    id,
    aliases,
    upstream: (rec.upstream as string[] | undefined) ?? [],
    related: (rec.related as string[] | undefined) ?? [],
    withdrawn,
  };

  const summaryOf: Record<string, string> = {
    DSA: `${pkg} - security update`,
    DLA: `${pkg} - security update`,
    USN: `${pkg} vulnerabilities`,
    ALSA: `${r.pick(['Important', 'Moderate', 'Low'])}: ${pkg} security update`,
    RHSA: `${r.pick(['Important', 'Moderate', 'Low', 'Critical'])}: ${pkg} security update`,
    RLSA: `${r.pick(['Important', 'Moderate', 'Low'])}: ${pkg} security update`,
    'SUSE-SU': `Security update for ${pkg}`,
  };
  const summary = summaryOf[kind];
  if (summary !== undefined) rec.summary = summary;
  rec.details = prose(r, pkg, r.int(200, 700));
  rec.published = published;
  rec.modified = modified;
  if (withdrawn) rec.withdrawn = modified;

  const severity: Json[] = [];
  const v3 =
    { 'UBUNTU-CVE': 0.7, RHSA: 0.6, ALSA: 0.6, RLSA: 0.6, 'SUSE-SU': 0.5, 'DEBIAN-CVE': 0.15 }[kind] ?? 0;
  if (r.chance(v3)) severity.push({ type: 'CVSS_V3', score: cvss3(r) });
  if ((kind === 'SUSE-SU' || kind === 'UBUNTU-CVE') && r.chance(0.2))
    severity.push({ type: 'CVSS_V4', score: cvss4(r) });
  if (kind === 'UBUNTU-CVE')
    severity.push({ type: 'Ubuntu', score: r.pick(['negligible', 'low', 'medium', 'high']) });

  // A second package on some records (a CVE in two sources, a notice covering two).
  const second = (): string | undefined => {
    const p = r.pick(g.names);
    return r.chance(0.15) && p !== pkg ? p : undefined;
  };
  switch (kind) {
    case 'DEBIAN-CVE': {
      for (const p of [pkg, second()]) {
        if (p === undefined) continue;
        if (r.chance(0.7)) affected.push(debianEntry(g, p, 11, fact, true));
        if (p === pkg || r.chance(0.95)) affected.push(debianEntry(g, p, 12, fact, true));
      }
      refs.push({ type: 'ADVISORY', url: `https://security-tracker.debian.org/tracker/${cves[0]}` });
      break;
    }
    case 'DSA': {
      const twelve = r.chance(0.85);
      for (const p of [pkg, second()]) {
        if (p === undefined) continue;
        if (twelve) affected.push(debianEntry(g, p, 12, fact, false));
        if (!twelve || r.chance(0.6)) affected.push(debianEntry(g, p, 11, fact, false));
      }
      refs.push({
        type: 'ADVISORY',
        url: `https://www.debian.org/security/${year}/${id.slice(0, -2).toLowerCase()}`,
      });
      break;
    }
    case 'DLA':
      affected.push(debianEntry(g, pkg, 11, fact, false));
      refs.push({ type: 'ADVISORY', url: `https://www.debian.org/lts/security/${year}/${id.toLowerCase()}` });
      break;
    case 'USN':
    case 'UBUNTU-CVE': {
      const rels = UBUNTU.filter(() => r.chance(0.6));
      if (rels.length === 0) rels.push(r.pick(UBUNTU));
      for (const rel of rels) affected.push(ubuntuEntry(g, pkg, rel));
      const p2 = rels.length < 3 ? second() : undefined;
      if (p2 !== undefined) affected.push(ubuntuEntry(g, p2, rels[0]!));
      refs.push({
        type: kind === 'USN' ? 'ADVISORY' : 'REPORT',
        url:
          kind === 'USN'
            ? `https://ubuntu.com/security/notices/${id}`
            : `https://ubuntu.com/security/${cves[0]}`,
      });
      break;
    }
    case 'RHSA': {
      const major = r.pick([8, 9]);
      const stream = r.pick(['appstream', 'baseos']);
      affected.push(
        ...rpmEntries(g, pkg, `Red Hat:enterprise_linux:${major}::${stream}`, `el${major}_${r.int(0, 5)}`),
      );
      if (affected.length <= 2 && r.chance(0.3)) {
        const other = major === 8 ? 9 : 8;
        affected.push(
          ...rpmEntries(
            g,
            pkg,
            `Red Hat:enterprise_linux:${other}::${stream}`,
            `el${other}_${r.int(0, 5)}`,
            4 - affected.length,
          ),
        );
      }
      refs.push({ type: 'ADVISORY', url: `https://access.redhat.com/errata/${id}` });
      refs.push({
        type: 'REPORT',
        url: `https://bugzilla.redhat.com/show_bug.cgi?id=${r.int(1_000_000, 2_400_000)}`,
      });
      break;
    }
    case 'ALSA':
      affected.push(...rpmEntries(g, pkg, 'AlmaLinux:9', `el9_${r.int(0, 5)}`));
      refs.push({ type: 'ADVISORY', url: `https://errata.almalinux.org/9/${id.replace(':', '-')}.html` });
      break;
    case 'RLSA':
      affected.push(...rpmEntries(g, pkg, 'Rocky Linux:9', `el9_${r.int(0, 5)}`));
      refs.push({ type: 'ADVISORY', url: `https://errata.rockylinux.org/${id}` });
      break;
    case 'SUSE-SU':
      affected.push(suseEntry(g, pkg));
      if (r.chance(0.3)) affected.push(suseEntry(g, `${pkg}-devel`));
      refs.push({
        type: 'ADVISORY',
        url: `https://www.suse.com/support/update/announcement/${year}/${id.toLowerCase()}/`,
      });
      break;
    case 'ALPINE-CVE':
      for (const rel of r.chance(0.5) ? ['v3.18', 'v3.19'] : [r.pick(['v3.18', 'v3.19'])]) {
        affected.push(alpineEntry(g, pkg, rel));
      }
      refs.push({ type: 'ADVISORY', url: `https://security.alpinelinux.org/vuln/${cves[0]}` });
      break;
    default: // PYSEC
      affected.push({
        package: { ecosystem: 'PyPI', name: pkg.replace(/^python-/, ''), purl: `pkg:pypi/${pkg}` },
        ranges: [
          {
            type: 'ECOSYSTEM',
            events: [{ introduced: '0' }, { fixed: `${r.int(0, 9)}.${r.int(0, 20)}.${r.int(0, 9)}` }],
          },
        ],
      });
  }
  if (r.chance(0.4)) {
    refs.push({ type: 'FIX', url: `https://github.com/${pkg}/${pkg}/commit/${r.hex(40)}` });
  }
  if (cves[0] !== undefined && kind !== 'PYSEC') {
    refs.push({ type: 'WEB', url: `https://www.cve.org/CVERecord?id=${cves[0]}` });
  }
  if (severity.length > 0) rec.severity = severity;
  rec.affected = affected;
  rec.references = refs;
  return rec;
}

/** The dpkg `status` file: 1,000 installed packages in dpkg's own format, a few removed ones left with conffiles. */
function statusFile(inv: InvSource[], r: Rng): string {
  const out: string[] = [];
  const stanza = (b: InvBinary, src: InvSource, state: string): string => {
    const lines = [
      `Package: ${b.name}`,
      `Status: ${state}`,
      `Priority: ${r.pick(['optional', 'optional', 'important', 'required', 'standard'])}`,
      `Section: ${b.name.startsWith('lib') ? 'libs' : r.pick(['admin', 'utils', 'net', 'misc', 'python', 'perl', 'devel'])}`,
      `Installed-Size: ${r.int(8, 40_000)}`,
      `Maintainer: ${r.pick(['Debian QA Group <packages@qa.debian.org>', 'Debian Security Tools <team+pkg-security@tracker.debian.org>', 'Debian Python Team <team+python@tracker.debian.org>', 'Debian Perl Group <pkg-perl-maintainers@lists.alioth.debian.org>', `${src.name} Maintainers <${src.name}@packages.debian.org>`])}`,
      `Architecture: ${b.arch}`,
    ];
    if (b.arch === 'amd64' && b.name.startsWith('lib')) lines.push('Multi-Arch: same');
    else if (b.arch === 'all' && r.chance(0.5)) lines.push('Multi-Arch: foreign');
    // dpkg writes Source: when the source name differs, with the version when that differs too.
    if (src.name !== b.name || src.version !== b.version) {
      lines.push(src.version !== b.version ? `Source: ${src.name} (${src.version})` : `Source: ${src.name}`);
    }
    lines.push(`Version: ${b.version}`);
    if (r.chance(0.85)) {
      lines.push(
        `Depends: libc6 (>= 2.${r.int(14, 36)})${r.chance(0.5) ? `, libssl3 (>= 3.0.${r.int(0, 9)})` : ''}${r.chance(0.4) ? ', zlib1g (>= 1:1.1.4)' : ''}`,
      );
    }
    if (r.chance(0.2)) {
      lines.push('Conffiles:');
      for (let i = r.int(1, 4); i > 0; i--)
        lines.push(` /etc/${src.name}/${r.pick(WORDS)}${i}.conf ${r.hex(32)}`);
    }
    lines.push(`Description: ${src.name} - ${r.pick(SYNOPSES)}`);
    const desc = prose(r, b.name, r.int(200, 600), `This package is part of ${src.name}.`);
    for (let i = 0; i < desc.length; i += 72) lines.push(` ${desc.slice(i, i + 72).trim() || '.'}`);
    lines.push(`Homepage: https://${src.name}.example.org/`);
    return lines.join('\n');
  };
  for (const src of inv) {
    for (const b of src.binaries)
      out.push(stanza(b, src, r.chance(0.01) ? 'hold ok installed' : 'install ok installed'));
    if (r.chance(0.02)) {
      const gone: InvBinary = { name: `${src.name}-old${r.int(1, 9)}`, version: src.version, arch: 'amd64' };
      out.push(stanza(gone, src, 'deinstall ok config-files'));
    }
  }
  return out.join('\n\n') + '\n';
}

const SYNOPSES = [
  'shared library',
  'command-line tools',
  'common files',
  'documentation',
  'daemon',
  'Python 3 module',
  'Perl module',
  'runtime support',
  'development files',
  'utilities',
];

const OS_RELEASE = `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
SUPPORT_URL="https://www.debian.org/support"
BUG_REPORT_URL="https://bugs.debian.org/"
`;

/** Builds (or reuses) the corpus under `.cache/bench/osv/`. */
function buildCorpus(o: Options): Corpus {
  const base = join(repoRoot(), '.cache', 'bench');
  const dir = join(base, 'osv');
  const key = createHash('sha256')
    .update(JSON.stringify({ v: GENERATOR_VERSION, seed: o.seed, records: o.records, packages: o.packages }))
    .digest('hex');
  const stampPath = join(dir, 'stamp.json');
  const paths = (d: string): { zip: string; root: string; expect: string; image: string } => ({
    zip: join(d, 'all.zip'),
    root: join(d, 'root'),
    expect: join(d, 'expect.json'),
    image: join(d, 'root.img'),
  });
  const p = paths(dir);
  if (existsSync(stampPath) && existsSync(p.zip) && existsSync(p.expect)) {
    const stamp = JSON.parse(readFileSync(stampPath, 'utf8')) as { key?: string };
    if (stamp.key === key) {
      const e = JSON.parse(readFileSync(p.expect, 'utf8')) as Expect;
      return { dir, zip: p.zip, root: p.root, image: p.image, ...e };
    }
  }

  const t0 = performance.now();
  log(
    WHO,
    `generating ${o.records} OSV records and a ${o.packages}-package Debian 12 inventory (seed ${o.seed})`,
  );
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  let expect: Expect;
  try {
    expect = generate(o, paths(tmp));
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileAtomic(
    stampPath,
    JSON.stringify({ key, seed: o.seed, records: o.records, packages: o.packages }) + '\n',
  );
  log(
    WHO,
    `corpus ready in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${(expect.facts.zipBytes / 2 ** 20).toFixed(1)} MiB zip`,
  );
  return { dir, zip: p.zip, root: p.root, image: p.image, ...expect };
}

/** Writes the archive, the root tree (and an ext4 image of it) and the expectations into `t`. */
function generate(o: Options, t: { zip: string; root: string; expect: string; image: string }): Expect {
  mkdirSync(join(t.root, 'etc'), { recursive: true });
  mkdirSync(join(t.root, 'var', 'lib', 'dpkg'), { recursive: true });
  const r = rngFrom(prng(o.seed));

  const taken = new Set<string>();
  const inventory = buildInventory(o.packages, r, taken);
  // ~25,000 names (scaled with the record count), every inventory source among them.
  const nameCount = Math.max(inventory.length * 4, Math.round(o.records / 8));
  const names = inventory.map((s) => s.name);
  while (names.length < nameCount) {
    const n = syntheticName(r);
    if (taken.has(n)) continue;
    taken.add(n);
    names.push(n);
  }
  const invOrder = inventory.map((s) => s.name);
  for (let i = invOrder.length - 1; i > 0; i--) {
    const j = r.int(0, i);
    [invOrder[i], invOrder[j]] = [invOrder[j]!, invOrder[i]!];
  }
  const gen: Gen = {
    r,
    o,
    names,
    inventory: new Map(inventory.map((s) => [s.name, s])),
    invOrder,
    drawInv: zipf(invOrder.length),
    cveIds: [],
    cvePkg: [],
    cvesOf: new Map(),
    debian12: {},
    labels: {},
  };
  // The CVE table: enough for every per-CVE record of the largest feed; numbers unique per year.
  // Both strides of `makeRecord` must be prime to the table size, so no two records of a feed share a CVE.
  let nCve = Math.ceil(o.records * 0.35);
  while (nCve % 7919 === 0 || nCve % 104_729 === 0) nCve++;
  const perYear = new Map<number, number>();
  for (let i = 0; i < nCve; i++) {
    const year = r.pick([2014, 2016, 2018, 2019, 2020, 2021, 2022, 2022, 2023, 2023, 2024, 2024, 2024, 2025]);
    const n = (perYear.get(year) ?? 1000) + r.int(1, 9);
    perYear.set(year, n);
    const pkg = drawPackage(gen);
    gen.cveIds.push(`CVE-${year}-${n}`);
    gen.cvePkg.push(pkg);
    let list = gen.cvesOf.get(pkg);
    if (!list) gen.cvesOf.set(pkg, (list = []));
    list.push(i);
  }

  const facts: CorpusFacts = {
    records: o.records,
    byKind: {},
    byEcosystem: {},
    debian12Records: 0,
    stored: 0,
    ignored: 0,
    withdrawn: 0,
    zipBytes: 0,
    jsonBytes: 0,
    names: names.length,
    cves: nCve,
    inventoryEntries: 0,
    labels: {},
  };
  const zip = zipWriter(t.zip);
  const seqs = new Map<string, number>();
  const ids = new Set<string>();
  let made = 0;
  while (made < o.records) {
    let x = r.next();
    let kind = KINDS[KINDS.length - 1]![0];
    for (const [k, share] of KINDS) {
      if (x < share) {
        kind = k;
        break;
      }
      x -= share;
    }
    const seq = seqs.get(kind) ?? 0;
    seqs.set(kind, seq + 1);
    if ((kind === 'DEBIAN-CVE' || kind === 'UBUNTU-CVE' || kind === 'ALPINE-CVE') && seq >= nCve) continue;
    const rec = makeRecord(gen, kind, seq);
    const id = rec.id as string;
    if (ids.has(id)) throw new Error(`bench generator: duplicate id ${id}`);
    ids.add(id);
    const data = Buffer.from(JSON.stringify(rec, null, 2) + '\n');
    zip.add(`${id}.json`, data);
    facts.jsonBytes += data.length;
    facts.byKind[kind] = (facts.byKind[kind] ?? 0) + 1;
    const ecos = new Set(
      (rec.affected as Array<{ package: { ecosystem: string } }>).map((a) => a.package.ecosystem),
    );
    for (const e of ecos) facts.byEcosystem[e] = (facts.byEcosystem[e] ?? 0) + 1;
    if (ecos.has('Debian:12')) facts.debian12Records++;
    if (kind === 'PYSEC') facts.ignored++;
    else facts.stored++;
    if (rec.withdrawn !== undefined) facts.withdrawn++;
    made++;
    if (made % 20_000 === 0) log(WHO, `  ${made} records`);
  }
  facts.zipBytes = zip.finish();
  facts.labels = gen.labels;
  facts.inventoryEntries = Object.values(gen.debian12).reduce((n, l) => n + l.length, 0);

  // The archive must be one `unzip` reads in full: every member, every CRC.
  if (spawnSync('unzip', ['-v'], { stdio: 'ignore' }).status === 0) {
    const list = spawnSync('unzip', ['-Z1', t.zip], { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 });
    const members = list.stdout.split('\n').filter((l) => l !== '').length;
    if (list.status !== 0 || members !== o.records) {
      throw new Error(
        `bench corpus: unzip lists ${members} members, ${o.records} written (exit ${list.status})`,
      );
    }
    const test = spawnSync('unzip', ['-tqq', t.zip], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (test.status !== 0) throw new Error(`bench corpus: unzip -t failed: ${test.stdout.slice(-300)}`);
  }

  // Every label the generator gave a range about the inventory must be what dpkg says: the expected count rests on
  // them. (Each run checks a sample again, against the matcher.)
  log(
    WHO,
    `checking ${facts.inventoryEntries} Debian 12 ranges about the inventory with dpkg --compare-versions`,
  );
  const items = inventory.flatMap((src) =>
    (gen.debian12[src.name] ?? []).map((e) => ({ e, v: src.version })),
  );
  const states = dpkgStates(items);
  for (const { e, v } of items) {
    const d = states.get(e)!;
    if (!sameState(d, stateOfLabel(e.label))) {
      throw new Error(
        `bench generator: ${e.id} at ${v} was built ${e.label}, dpkg says ${JSON.stringify(d)}`,
      );
    }
  }

  const status = statusFile(inventory, r);
  writeFileSync(join(t.root, 'var', 'lib', 'dpkg', 'status'), status);
  writeFileSync(join(t.root, 'etc', 'os-release'), OS_RELEASE);
  writeFileSync(join(t.root, 'etc', 'hostname'), 'kvm-bench-01\n');
  // The same tree as a whole-disk ext4 image, for `scan image` (the CLI path that reads an OS from a tree today).
  const mk = spawnSync(
    'mkfs.ext4',
    [
      '-q',
      '-F',
      '-d',
      t.root,
      '-L',
      'benchroot',
      '-U',
      '6f1b8a2e-0c57-4d3e-9b7a-2a4c1d9e5f30',
      t.image,
      '32M',
    ],
    { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } },
  );
  if (mk.status !== 0) {
    log(
      WHO,
      `no ext4 image of the tree (mkfs.ext4: ${mk.error?.message ?? mk.stderr.trim()}): scan image rows skipped`,
    );
    rmSync(t.image, { force: true });
  }
  const expect: Expect = { inventory, debian12: gen.debian12, facts, statusBytes: Buffer.byteLength(status) };
  writeFileSync(t.expect, JSON.stringify(expect) + '\n');
  return expect;
}

// ---------------------------------------------------------------------------------------------------------------
// The oracle: what the matcher must find, from the construction and from dpkg itself.

type State = { state: 'affected'; hasFix: boolean } | { state: 'fixed' } | { state: 'unaffected' };

const CVE_RE = /^CVE-\d{4}-\d{4,}$/;
const EMBEDDED_CVE_RE = /^[A-Z][A-Z0-9]*-(CVE-\d{4}-\d{4,})$/;

/** The CVE an id names: itself, or the one a feed's per-CVE id restates (`DEBIAN-CVE-2024-1` → `CVE-2024-1`). */
function cveIn(id: string): string | undefined {
  return CVE_RE.test(id) ? id : EMBEDDED_CVE_RE.exec(id)?.[1];
}

/**
 * The vulnerabilities one record is about, by the rule the matcher documents (`vulnerabilityIds` in
 * src/vuln/match.ts): its id if a CVE; else the CVEs among its `aliases` and those its `upstream` ids name (a USN's
 * `UBUNTU-CVE-…`); else the CVEs among `related`; else the CVE its id restates; else the id itself.
 */
function vulnIdsOf(e: Pick<EntryFact, 'id' | 'aliases' | 'upstream' | 'related'>): string[] {
  if (CVE_RE.test(e.id)) return [e.id];
  const out = new Set<string>();
  for (const a of e.aliases) if (CVE_RE.test(a)) out.add(a);
  for (const u of e.upstream) {
    const c = cveIn(u);
    if (c !== undefined) out.add(c);
  }
  if (out.size === 0) for (const x of e.related) if (CVE_RE.test(x)) out.add(x);
  if (out.size > 0) return [...out];
  return [cveIn(e.id) ?? e.id];
}

function stateOfLabel(l: Label): State {
  switch (l) {
    case 'affected-fix':
      return { state: 'affected', hasFix: true };
    case 'affected-nofix':
    case 'affected-last':
      return { state: 'affected', hasFix: false };
    case 'fixed':
      return { state: 'fixed' };
    default:
      return { state: 'unaffected' };
  }
}

/**
 * The vulnerabilities reported for one installed source, from the state of each of its entries: per vulnerability,
 * some record says affected, and either one of them offers a fix or no record says the version is fixed (a fixed
 * record beats records that know no fix). Withdrawn records say nothing.
 */
function reportedVulns(entries: readonly EntryFact[], stateOf: (e: EntryFact) => State): Set<string> {
  const groups = new Map<string, State[]>();
  for (const e of entries) {
    if (e.withdrawn) continue;
    const s = stateOf(e);
    if (s.state === 'unaffected') continue;
    for (const v of vulnIdsOf(e)) {
      let g = groups.get(v);
      if (!g) groups.set(v, (g = []));
      g.push(s);
    }
  }
  const out = new Set<string>();
  for (const [v, states] of groups) {
    const affected = states.filter((s) => s.state === 'affected');
    if (affected.length === 0) continue;
    const fix = affected.some((s) => s.state === 'affected' && s.hasFix);
    if (fix || !states.some((s) => s.state === 'fixed')) out.add(v);
  }
  return out;
}

/** Expected (binary package, vulnerability) pairs for some sources. */
function expectedPairs(
  sources: readonly InvSource[],
  debian12: Record<string, EntryFact[]>,
  stateOf: (e: EntryFact, installed: string) => State,
): Set<string> {
  const out = new Set<string>();
  for (const s of sources) {
    const vulns = reportedVulns(debian12[s.name] ?? [], (e) => stateOf(e, s.version));
    for (const b of s.binaries) for (const v of vulns) out.add(`${b.name}\0${v}`);
  }
  return out;
}

/** Answers many `dpkg --compare-versions A OP B` questions with one shell. */
function dpkgCompare(questions: ReadonlyArray<[string, 'lt' | 'le' | 'eq', string]>): boolean[] {
  const safe = /^[A-Za-z0-9.+~:-]+$/;
  const script = questions
    .map(([a, op, b]) => {
      if (!safe.test(a) || !safe.test(b)) throw new Error(`oracle: unexpected characters in ${a} / ${b}`);
      return `dpkg --compare-versions '${a}' ${op} '${b}'; echo $?`;
    })
    .join('\n');
  const r = spawnSync('sh', ['-s'], { input: script + '\n', encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`oracle: sh exited ${r.status}: ${r.stderr.slice(-300)}`);
  const codes = r.stdout.trim().split('\n');
  if (codes.length !== questions.length)
    throw new Error(`oracle: ${codes.length} answers to ${questions.length} questions`);
  return codes.map((c, i) => {
    if (c !== '0' && c !== '1')
      throw new Error(`oracle: dpkg exited ${c} on ${questions[i]!.join(' ')}: ${r.stderr.slice(-200)}`);
    return c === '0';
  });
}

/** The state of each entry about an installed version by the OSV evaluation algorithm, each comparison by dpkg. */
function dpkgStates(items: ReadonlyArray<{ e: EntryFact; v: string }>): Map<EntryFact, State> {
  const qs: Array<[string, 'lt' | 'le' | 'eq', string]> = [];
  const index = new Map<string, number>();
  const ask = (a: string, op: 'lt' | 'le' | 'eq', b: string): void => {
    const k = `${a}\0${op}\0${b}`;
    if (!index.has(k)) {
      index.set(k, qs.length);
      qs.push([a, op, b]);
    }
  };
  const versionOf = (ev: OsvEvent): string =>
    'introduced' in ev ? ev.introduced : 'fixed' in ev ? ev.fixed : ev.last_affected;
  for (const { e, v } of items) {
    // The walk below needs the events in ascending order: dpkg checks that too.
    for (let i = 1; i < e.events.length; i++) {
      const a = versionOf(e.events[i - 1]!);
      if (a !== '0') ask(a, 'le', versionOf(e.events[i]!));
    }
    for (const ev of e.events) {
      if ('introduced' in ev) {
        if (ev.introduced !== '0') ask(ev.introduced, 'le', v);
      } else if ('fixed' in ev) ask(ev.fixed, 'le', v);
      else ask(ev.last_affected, 'lt', v);
    }
    for (const x of e.versions) ask(x, 'eq', v);
  }
  const answers = dpkgCompare(qs);
  const q = (a: string, op: 'lt' | 'le' | 'eq', b: string): boolean =>
    answers[index.get(`${a}\0${op}\0${b}`)!]!;
  const out = new Map<EntryFact, State>();
  for (const { e, v } of items) {
    for (let i = 1; i < e.events.length; i++) {
      const a = versionOf(e.events[i - 1]!);
      if (a !== '0' && !q(a, 'le', versionOf(e.events[i]!))) {
        throw new Error(`oracle: the events of ${e.id} are not in ascending order`);
      }
    }
    // The events are written in ascending order; the walk sets "affected" at introduced ≤ v, clears it at
    // fixed ≤ v and at last_affected < v.
    let affected = false;
    let fixedLast = false;
    let pos = 0;
    for (; pos < e.events.length; pos++) {
      const ev = e.events[pos]!;
      if ('introduced' in ev) {
        if (ev.introduced !== '0' && !q(ev.introduced, 'le', v)) break;
        affected = true;
        fixedLast = false;
      } else if ('fixed' in ev) {
        if (!q(ev.fixed, 'le', v)) break;
        affected = false;
        fixedLast = true;
      } else {
        if (!q(ev.last_affected, 'lt', v)) break;
        affected = false;
        fixedLast = false;
      }
    }
    // The interval v lies in ends at the next fixed (a fix on offer) or last_affected (none).
    const next = affected ? e.events.slice(pos).find((ev) => !('introduced' in ev)) : undefined;
    const hasFix = next !== undefined && 'fixed' in next;
    const listed = e.versions.some((x) => q(x, 'eq', v));
    out.set(
      e,
      affected || listed
        ? { state: 'affected', hasFix: affected && hasFix }
        : fixedLast
          ? { state: 'fixed' }
          : { state: 'unaffected' },
    );
  }
  return out;
}

function sameState(a: State, b: State): boolean {
  return a.state === b.state && (a.state !== 'affected' || b.state !== 'affected' || a.hasFix === b.hasFix);
}

// ---------------------------------------------------------------------------------------------------------------
// The methods.

/** (3): what a scan does to learn the inventory of a root tree. */
function readInventory(root: string): SystemInventory {
  const statusPath = join(root, 'var', 'lib', 'dpkg', 'status');
  const packages = parseDpkgStatus(readFileSync(statusPath, 'utf8'), '/var/lib/dpkg/status');
  const os = detectOs({
    tryReadFile: (path) => {
      try {
        return readFileSync(join(root, path));
      } catch {
        return undefined;
      }
    },
  });
  const inv: SystemInventory = { packages };
  if (os) inv.os = os;
  return inv;
}

/** SHA-256 over one line per finding (vulnerability, package, fix state, fixed version), sorted. */
function findingDigest(findings: readonly Finding[]): string {
  const lines = findings.map(
    (f) =>
      `${f.checkId}\0${f.vulnerability?.package.name ?? f.resource.id}\0${f.vulnerability?.fixState ?? ''}\0${f.vulnerability?.fixedVersion ?? ''}`,
  );
  lines.sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/**
 * SHA-256 over the findings' JSON exactly as the matcher returned them, in order: every run must give the same
 * bytes, and a change to the matcher that must not change its output can be checked against the figure of an
 * earlier run (it is in the table's notes).
 */
function jsonDigest(findings: readonly Finding[]): string {
  return createHash('sha256').update(JSON.stringify(findings)).digest('hex');
}

/** The (package, vulnerability) pairs of a list of findings. */
function pairsOf(findings: readonly Finding[]): Set<string> {
  return new Set(findings.map((f) => `${f.vulnerability?.package.name ?? ''}\0${f.checkId}`));
}

interface ImportRun {
  seconds: number;
  maxRssKiB?: number;
  added: number;
  updated: number;
  unchanged: number;
  ignored: number;
  issues: number;
}

/** `hyperward db import ZIP --db DB -f json -q` under `/usr/bin/time` (peak RSS) when it is there. */
function cliImport(zip: string, db: string, tmpDir: string): ImportRun {
  const bin = hyperwardLauncher();
  const args = [bin, 'db', 'import', zip, '--db', db, '--format', 'json', '-q'];
  const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  const rssFile = join(tmpDir, 'rss.txt');
  rmSync(rssFile, { force: true });
  const t0 = performance.now();
  const r = timeBin
    ? spawnSync(timeBin, ['-o', rssFile, '-f', '%M', ...args], {
        encoding: 'utf8',
        maxBuffer: 256 * 1024 * 1024,
      })
    : spawnSync(bin, args.slice(1), { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const seconds = (performance.now() - t0) / 1000;
  if (r.error || r.status !== 0) {
    throw new Error(
      `hyperward db import: ${r.error?.message ?? `exit ${r.status}`}: ${(r.stderr ?? '').slice(-400)}`,
    );
  }
  const s = JSON.parse(r.stdout) as {
    added: number;
    updated: number;
    unchanged: number;
    ignored: number;
    issues: unknown[];
  };
  const run: ImportRun = {
    seconds,
    added: s.added,
    updated: s.updated,
    unchanged: s.unchanged,
    ignored: s.ignored,
    issues: s.issues.length,
  };
  if (timeBin && existsSync(rssFile)) {
    const kib = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
    if (Number.isFinite(kib) && kib > 0) run.maxRssKiB = kib;
  }
  return run;
}

interface ScanJson {
  results?: Array<{ packages?: unknown[]; findings?: Finding[]; error?: { message?: string } | null }>;
}

/** What one CLI scan reported. */
interface ScanOut {
  seconds: number;
  vulns: Finding[];
  other: number;
  packages: number;
}

/** `hyperward scan host --root TREE` or `scan image IMG`, `--format json -q --db DB [--no-vulns]`. */
function cliScan(target: ['host' | 'image', string], db: string, vulns: boolean): ScanOut {
  const bin = hyperwardLauncher();
  const args =
    target[0] === 'host' ? [bin, 'scan', 'host', '--root', target[1]] : [bin, 'scan', 'image', target[1]];
  args.push('--format', 'json', '-q', '--db', db);
  if (!vulns) args.push('--no-vulns');
  const t0 = performance.now();
  const r = spawnSync(bin, args.slice(1), { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 });
  const seconds = (performance.now() - t0) / 1000;
  const what = `hyperward scan ${target[0]}`;
  // Exit 1 means "findings at or above --fail-on"; the host has them by construction.
  if (r.error || (r.status !== 0 && r.status !== 1)) {
    throw new Error(`${what}: ${r.error?.message ?? `exit ${r.status}`}: ${(r.stderr ?? '').slice(-400)}`);
  }
  const res = (JSON.parse(r.stdout) as ScanJson).results?.[0];
  if (!res) throw new Error(`${what}: the report has no result`);
  if (res.error) throw new Error(`${what} reported: ${res.error.message ?? 'an error'}`);
  const all = res.findings ?? [];
  const v = all.filter((f) => f.vulnerability !== undefined);
  return { seconds, vulns: v, other: all.length - v.length, packages: res.packages?.length ?? 0 };
}

/** One CLI command timed with and without the vulnerability step. */
interface CliPair {
  id: string;
  target: ['host' | 'image', string];
  with: Row & { problems: string[] };
  without: Row & { problems: string[] };
  /** Per round: with − without. */
  diff: number[];
  other: number;
  dead: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting.

/** The machine's facts and this benchmark's own: library and tool versions, the load when the run started. */
function vulnMachineFacts(
  loadAtStart: number,
): MachineFacts & Record<'betterSqlite3' | 'sqlite' | 'dpkg', string> & { loadStart: number } {
  let sqlite = 'unknown';
  try {
    const mem = new Database(':memory:');
    sqlite = String(mem.prepare('SELECT sqlite_version()').pluck().get());
    mem.close();
  } catch {
    // reported as unknown
  }
  return machineFacts({
    betterSqlite3: npmVersion('better-sqlite3'),
    sqlite,
    dpkg: /version (\S+)/.exec(toolVersion('dpkg', ['--version']))?.[1] ?? 'unknown',
    loadStart: Math.round(loadAtStart * 100) / 100,
  });
}

interface Row {
  id: string;
  label: string;
  seconds: number[];
  correct: boolean;
  note: string;
}

const fmtMs = (s: number): string => (Number.isNaN(s) ? '—' : (s * 1000).toFixed(s < 0.01 ? 2 : 1));
const checked = (r: Row): string => (r.correct ? cell(r.note, 200) : `WRONG: ${cell(r.note, 200)}`);
const minOf = (xs: readonly number[]): number => (xs.length === 0 ? NaN : Math.min(...xs));

interface Report {
  facts: ReturnType<typeof vulnMachineFacts>;
  o: Options;
  command: string;
  corpus: Corpus;
  imports: { cold: Row & { rss: number[] }; re: Row & { rss: number[] } };
  dbBytes: number;
  read: Row;
  match: Row & { open: number[] };
  full: Row;
  fullRatios: number[];
  sum: number[];
  ratios: number[];
  cli: CliPair[];
  findings: {
    total: number;
    expected: number;
    byFix: Record<string, number>;
    packages: number;
    /** `jsonDigest` of the first run's findings. */
    json: string;
  };
  oracle: {
    packages: number;
    sources: number;
    entries: number;
    pairs: number;
    note: string;
    correct: boolean;
  };
}

function markdown(x: Report): string {
  const { facts, o, corpus, imports } = x;
  const f = corpus.facts;
  const out: string[] = [];
  out.push(
    `Measured ${facts['date']} on ${facts['nproc']} × ${facts['cpu']}, ${facts['memoryGiB']} GiB RAM, Linux ${facts['kernel']}, ` +
      `Node ${facts['node']}, better-sqlite3 ${facts['betterSqlite3']} (SQLite ${facts['sqlite']}), dpkg ${facts['dpkg']}. ` +
      `Imports and CLI scans are child processes; (3) and (4) run in the harness, ${o.runs} rounds after one untimed run ` +
      `each, alternating, the order reversed every other round, a forced GC and a 100 ms pause before each run. Warm page cache. 1-minute load average ${facts['loadStart']} at the start, ${facts['loadEnd']} at the end (${facts['nproc']} cores).`,
  );
  out.push('');
  out.push(`Reproduce: \`${x.command}\``);
  out.push('');
  const share = (100 * f.debian12Records) / f.records;
  out.push(
    `Corpus: ${f.records} OSV records in one zip (${fmtMiB(f.zipBytes)}; ${fmtMiB(f.jsonBytes)} of JSON), ` +
      `${Object.entries(f.byKind)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${n} ${k}`)
        .join(
          ', ',
        )}; ${f.debian12Records} (${share.toFixed(1)} %) name Debian:12; ${f.withdrawn} withdrawn; ` +
      `${f.names} package names, ${f.cves} CVEs. Inventory: ${x.findings.packages} installed packages from ` +
      `${corpus.inventory.length} source packages (dpkg \`status\` of ${fmtMiB(corpus.statusBytes)}), Debian 12; ` +
      `${f.inventoryEntries} Debian:12 entries name one of its sources.`,
  );
  out.push('');
  out.push('#### Import');
  out.push('');
  out.push('| method | median s | min s | runs | records/s | peak RSS | checked |');
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of [imports.cold, imports.re]) {
    const med = median(r.seconds);
    out.push(
      `| ${r.label} | ${fmtS(med)} | ${fmtS(minOf(r.seconds))} | ${r.seconds.length} | ` +
        `${Number.isNaN(med) ? '—' : Math.round(f.records / med)} | ` +
        `${r.rss.length > 0 ? `${Math.round(Math.max(...r.rss) / 1024)} MiB` : '—'} | ${checked(r)} |`,
    );
  }
  out.push('');
  out.push(`Database after the import: ${fmtMiB(x.dbBytes)}.`);
  out.push('');
  out.push('#### Matching');
  out.push('');
  out.push('| method | median ms | min ms | runs | × (3) | checked |');
  out.push('| --- | ---: | ---: | ---: | ---: | --- |');
  const readMed = median(x.read.seconds);
  const rel = (s: number): string =>
    Number.isNaN(s) || Number.isNaN(readMed) ? '—' : `${(s / readMed).toFixed(2)}×`;
  const matchMed = median(x.match.seconds);
  const sumMed = median(x.sum);
  out.push(
    `| ${x.read.label} | ${fmtMs(readMed)} | ${fmtMs(minOf(x.read.seconds))} | ${x.read.seconds.length} | 1.00× | ${checked(x.read)} |`,
  );
  out.push(
    `| ${x.match.label} | ${fmtMs(matchMed)} | ${fmtMs(minOf(x.match.seconds))} | ${x.match.seconds.length} | ${rel(matchMed)} | ${checked(x.match)} |`,
  );
  const fullMed = median(x.full.seconds);
  out.push(
    `| ${x.full.label} | ${fmtMs(fullMed)} | ${fmtMs(minOf(x.full.seconds))} | ${x.full.seconds.length} | ${rel(fullMed)} | ${checked(x.full)} |`,
  );
  out.push(
    `| (3) + (4), per round | ${fmtMs(sumMed)} | ${fmtMs(minOf(x.sum))} | ${x.sum.length} | ${rel(sumMed)} | — |`,
  );
  for (const r of x.cli.flatMap((c) => [c.with, c.without])) {
    const med = median(r.seconds);
    out.push(
      `| ${r.label} | ${fmtMs(med)} | ${fmtMs(minOf(r.seconds))} | ${r.seconds.length} | — | ${checked(r)} |`,
    );
  }
  out.push('');
  if (!Number.isNaN(matchMed) && !Number.isNaN(readMed)) {
    const ratio = matchMed / readMed;
    const range =
      x.ratios.length > 0
        ? `median ${median(x.ratios).toFixed(2)}×, ${Math.min(...x.ratios).toFixed(2)}–${Math.max(...x.ratios).toFixed(2)}×`
        : '—';
    out.push(
      `**Target: matching adds at most the cost of reading the inventory, (4) ≤ (3). Measured (4)/(3) = ` +
        `${ratio.toFixed(2)}× (ratio of medians) — ${ratio <= 1 ? 'met' : 'NOT met'}.** Within each round: ${range}. ` +
        `Reading and matching together take ${(sumMed / readMed).toFixed(2)}× the read alone. Opening the database ` +
        `is ${fmtMs(median(x.match.open))} ms of (4). With the findings built — their text, advisories, aliases, ` +
        `scores and references, read from the database's packed rows — (4′)/(3) = ${(fullMed / readMed).toFixed(2)}× ` +
        `(within each round: median ${median(x.fullRatios).toFixed(2)}×).` +
        x.cli
          .filter((c) => c.diff.length > 0)
          .map(
            (c) =>
              ` In \`scan ${c.target[0]}\` the vulnerability step adds ${fmtMs(median(c.diff))} ms (median of per-round differences).`,
          )
          .join(''),
    );
  }
  out.push('');
  const fx = Object.entries(x.findings.byFix)
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  out.push(
    `Findings: ${x.findings.total} (${fx}); the construction expects ${x.findings.expected}; ` +
      `SHA-256 of their JSON \`${x.findings.json.slice(0, 16)}…\`, the same every run. ` +
      `dpkg oracle: ${x.oracle.packages} sampled packages (${x.oracle.sources} sources, ${x.oracle.entries} Debian:12 ` +
      `entries evaluated with \`dpkg --compare-versions\`) — ${x.oracle.correct ? '' : 'WRONG: '}${x.oracle.note}.`,
  );
  return out.join('\n') + '\n';
}

/**
 * A full GC when node runs with --expose-gc, so no run pays for the garbage of the one before, then a pause of
 * 100 ms: V8 finishes sweeping on background threads after the collection, and on this 2-core machine a run started
 * at once paid for it (the read measured 20 ms instead of 5).
 */
function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) g();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
}

/** A digest of matches: package, vulnerability, fix, fix state and severity of each, in order. */
function matchDigest(ms: readonly PackageMatch[]): string {
  const h = createHash('sha256');
  for (const m of ms) {
    for (const v of m.vulnerabilities) {
      h.update(
        `${m.package.name}\0${m.package.arch}\0${v.vulnId}\0${v.fixedVersion ?? ''}\0${v.fixState}\0${v.severity}\n`,
      );
    }
  }
  return h.digest('hex');
}

/** The same digest, of what the findings say. */
function findingsMatchDigest(fs: readonly Finding[]): string {
  const h = createHash('sha256');
  for (const f of fs) {
    const v = f.vulnerability!;
    h.update(
      `${v.package.name}\0${v.package.arch}\0${v.id}\0${v.fixedVersion ?? ''}\0${v.fixState}\0${f.severity}\n`,
    );
  }
  return h.digest('hex');
}

/** How many vulnerabilities the matches hold. */
function matchCount(ms: readonly PackageMatch[]): number {
  let n = 0;
  for (const m of ms) n += m.vulnerabilities.length;
  return n;
}

function dbSize(db: string): number {
  let n = 0;
  for (const p of [db, `${db}-wal`, `${db}-shm`]) if (existsSync(p)) n += statSync(p).size;
  return n;
}

function removeDb(db: string): void {
  for (const p of [db, `${db}-wal`, `${db}-shm`, `${db}-journal`]) rmSync(p, { force: true });
}

function row(id: string, label: string): Row & { problems: string[] } {
  return { id, label, seconds: [], correct: true, note: '', problems: [] };
}

function settle(r: Row & { problems: string[] }, note: string): void {
  r.correct = r.problems.length === 0 && r.seconds.length > 0;
  r.note =
    r.problems.length > 0 ? [...new Set(r.problems)].join('; ') : r.seconds.length > 0 ? note : 'no run';
}

async function main(): Promise<void> {
  const loadAtStart = loadavg()[0] ?? 0;
  const o = parseArgs(process.argv.slice(2));
  const command = benchCommand('vuln-match', process.argv.slice(2));
  if ((globalThis as { gc?: unknown }).gc === undefined) {
    log(WHO, 'node runs without --expose-gc: no forced GC between runs (bench/run.sh passes it)');
  }
  const corpus = buildCorpus(o);
  const f = corpus.facts;
  const tmpDir = join(corpus.dir, 'db');
  mkdirSync(tmpDir, { recursive: true });
  const db = join(tmpDir, 'bench.db');
  readFileSync(corpus.zip); // page cache: every import reads the archive from memory

  // (1) and (2): cold import into a new database, then the same archive again, alternating.
  const cold = {
    ...row('import', '(1) `hyperward db import all.zip --db new.db` (CLI, new database)'),
    rss: [] as number[],
  };
  const re = {
    ...row('reimport', '(2) the same import into the filled database (all unchanged)'),
    rss: [] as number[],
  };
  let dbBytes = 0;
  const rounds = Math.max(o.importRuns, o.reimportRuns);
  for (let i = 0; i < rounds; i++) {
    if (i < o.importRuns) {
      removeDb(db);
      try {
        const run = cliImport(corpus.zip, db, tmpDir);
        spawnSync('sync');
        cold.seconds.push(run.seconds);
        if (run.maxRssKiB !== undefined) cold.rss.push(run.maxRssKiB);
        const want = { added: f.stored, updated: 0, unchanged: 0, ignored: f.ignored, issues: 0 };
        const got = {
          added: run.added,
          updated: run.updated,
          unchanged: run.unchanged,
          ignored: run.ignored,
          issues: run.issues,
        };
        if (JSON.stringify(got) !== JSON.stringify(want))
          cold.problems.push(`summary ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
        dbBytes = dbSize(db);
        log(
          WHO,
          `import run ${i + 1}: ${run.seconds.toFixed(1)} s, ${Math.round(f.records / run.seconds)} records/s`,
        );
      } catch (e) {
        cold.problems.push((e as Error).message);
        log(WHO, `import failed: ${(e as Error).message}`);
        break;
      }
    }
    if (i < o.reimportRuns) {
      try {
        const run = cliImport(corpus.zip, db, tmpDir);
        spawnSync('sync');
        re.seconds.push(run.seconds);
        if (run.maxRssKiB !== undefined) re.rss.push(run.maxRssKiB);
        const want = { added: 0, updated: 0, unchanged: f.stored, ignored: f.ignored, issues: 0 };
        const got = {
          added: run.added,
          updated: run.updated,
          unchanged: run.unchanged,
          ignored: run.ignored,
          issues: run.issues,
        };
        if (JSON.stringify(got) !== JSON.stringify(want))
          re.problems.push(`summary ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
        log(WHO, `re-import run ${i + 1}: ${run.seconds.toFixed(1)} s`);
      } catch (e) {
        re.problems.push((e as Error).message);
        log(WHO, `re-import failed: ${(e as Error).message}`);
      }
    }
  }
  dbBytes = existsSync(db) ? dbSize(db) : dbBytes;
  settle(cold, `${f.stored} added, ${f.ignored} ignored (PyPI), no issues`);
  settle(re, `${f.stored} unchanged, nothing added or updated`);

  // The expected findings: by construction for every package, by dpkg for a sample.
  const byLabel = (e: EntryFact): State => stateOfLabel(e.label);
  const expectedAll = expectedPairs(corpus.inventory, corpus.debian12, byLabel);
  const sampleR = rngFrom(prng(`${o.seed}\0sample`));
  const allBins = corpus.inventory.flatMap((s) => s.binaries.map((b) => ({ s, b })));
  const sampleBins =
    o.sample === 0 || o.sample >= allBins.length
      ? allBins
      : (() => {
          const pool = allBins.slice();
          const out: typeof allBins = [];
          while (out.length < o.sample) out.push(pool.splice(sampleR.int(0, pool.length - 1), 1)[0]!);
          return out;
        })();
  const sampleNames = new Set(sampleBins.map((x) => x.b.name));
  const sampleSources = [...new Set(sampleBins.map((x) => x.s))].map((s) => ({
    ...s,
    binaries: s.binaries.filter((b) => sampleNames.has(b.name)),
  }));
  const oracle = {
    packages: sampleBins.length,
    sources: sampleSources.length,
    entries: 0,
    pairs: 0,
    note: '',
    correct: true,
  };
  let oraclePairs = new Set<string>();
  try {
    const items = sampleSources.flatMap((s) =>
      (corpus.debian12[s.name] ?? []).map((e) => ({ e, v: s.version })),
    );
    oracle.entries = items.length;
    const states = dpkgStates(items);
    const disagree: string[] = [];
    for (const { e, v } of items) {
      const d = states.get(e)!;
      if (!sameState(d, stateOfLabel(e.label)))
        disagree.push(`${e.id} at ${v}: built ${e.label}, dpkg says ${JSON.stringify(d)}`);
    }
    oraclePairs = expectedPairs(sampleSources, corpus.debian12, (e) => states.get(e)!);
    oracle.pairs = oraclePairs.size;
    if (disagree.length > 0) {
      oracle.correct = false;
      oracle.note = `the generator's labels disagree with dpkg on ${disagree.length} entries: ${disagree.slice(0, 3).join('; ')}`;
    }
  } catch (e) {
    oracle.correct = false;
    oracle.note = (e as Error).message;
  }

  // (3) and (4), alternating.
  const read = row(
    'read',
    '(3) read the inventory: `readFileSync` + `parseDpkgStatus` + os-release (`detectOs`)',
  );
  const match = {
    ...row(
      'match',
      '(4) matching: `AdvisoryDb.open` (read-only) + `matchPackages` (which vulnerability, fix, severity) + `close`',
    ),
    open: [] as number[],
  };
  const full = row(
    'match-findings',
    "(4′) matching and the findings: `AdvisoryDb.open` + `matchInventory` (findings' text, advisories, scores, references) + `close`",
  );
  const fullRatios: number[] = [];
  const sum: number[] = [];
  const ratios: number[] = [];
  let inv: SystemInventory | undefined;
  let reference: Finding[] = [];
  let refDigest = '';
  let refMatches = '';
  const findings = {
    total: 0,
    expected: expectedAll.size,
    byFix: {} as Record<string, number>,
    packages: 0,
    json: '',
  };
  const readOnce = (): { seconds: number; inv: SystemInventory } => {
    gc();
    const t0 = performance.now();
    const v = readInventory(corpus.root);
    return { seconds: (performance.now() - t0) / 1000, inv: v };
  };
  const decideOnce = (
    target: SystemInventory,
  ): { seconds: number; open: number; matches: PackageMatch[]; notes: string[] } => {
    gc();
    const t0 = performance.now();
    const adb = AdvisoryDb.open(db, { readonly: true });
    const t1 = performance.now();
    let m: { matches: PackageMatch[]; notes: string[] };
    try {
      m = matchPackages(target, adb, { target: corpus.root });
    } finally {
      adb.close();
    }
    const t2 = performance.now();
    return { seconds: (t2 - t0) / 1000, open: (t1 - t0) / 1000, matches: m.matches, notes: m.notes };
  };
  const matchOnce = (
    target: SystemInventory,
  ): { seconds: number; open: number; findings: Finding[]; notes: string[] } => {
    gc();
    const t0 = performance.now();
    const adb = AdvisoryDb.open(db, { readonly: true });
    const t1 = performance.now();
    let m: { findings: Finding[]; notes: string[] };
    try {
      m = matchInventory(target, adb, { target: corpus.root });
    } finally {
      adb.close();
    }
    const t2 = performance.now();
    return { seconds: (t2 - t0) / 1000, open: (t1 - t0) / 1000, ...m };
  };
  try {
    // Untimed first runs: page cache, JIT, and the answers every timed run must reproduce.
    inv = readOnce().inv;
    findings.packages = inv.packages.length;
    const invBins = corpus.inventory.reduce((n, s) => n + s.binaries.length, 0);
    if (inv.packages.length !== invBins)
      read.problems.push(`${inv.packages.length} packages read, ${invBins} installed`);
    if (inv.os?.id !== 'debian' || inv.os.versionId !== '12')
      read.problems.push(`OS read as ${inv.os?.id} ${inv.os?.versionId}`);
    if (!existsSync(db)) throw new Error('no advisory database: the import failed');
    const first = matchOnce(inv);
    reference = first.findings;
    refDigest = findingDigest(reference);
    findings.json = jsonDigest(reference);
    findings.total = reference.length;
    for (const x of reference) {
      const k = x.vulnerability?.fixState ?? 'none';
      findings.byFix[k] = (findings.byFix[k] ?? 0) + 1;
    }
    if (first.notes.length > 0) match.problems.push(`matcher notes: ${first.notes.slice(0, 2).join(' / ')}`);
    // Matching alone must decide exactly what the findings say.
    const decided = decideOnce(inv);
    refMatches = matchDigest(decided.matches);
    if (refMatches !== findingsMatchDigest(reference))
      match.problems.push('the matches differ from the findings built from them');
    const got = pairsOf(reference);
    if (got.size !== reference.length)
      match.problems.push(`${reference.length - got.size} duplicate findings`);
    if (reference.length !== expectedAll.size) {
      const missing = [...expectedAll].filter((p) => !got.has(p));
      const extra = [...got].filter((p) => !expectedAll.has(p));
      match.problems.push(
        `${reference.length} findings, the construction expects ${expectedAll.size} ` +
          `(missing e.g. ${
            missing
              .slice(0, 2)
              .map((p) => p.replace('\0', ' '))
              .join(', ') || 'none'
          }; ` +
          `extra e.g. ${
            extra
              .slice(0, 2)
              .map((p) => p.replace('\0', ' '))
              .join(', ') || 'none'
          })`,
      );
    }
    // The sample against dpkg: exactly the pairs dpkg's answers give, for the sampled packages.
    const gotSample = new Set([...got].filter((p) => sampleNames.has(p.split('\0')[0]!)));
    const missing = [...oraclePairs].filter((p) => !gotSample.has(p));
    const extra = [...gotSample].filter((p) => !oraclePairs.has(p));
    if (oracle.correct) {
      if (missing.length > 0 || extra.length > 0) {
        oracle.correct = false;
        oracle.note =
          `the matcher differs from dpkg on ${missing.length + extra.length} pairs ` +
          `(missing e.g. ${
            missing
              .slice(0, 2)
              .map((p) => p.replace('\0', ' '))
              .join(', ') || 'none'
          }; ` +
          `extra e.g. ${
            extra
              .slice(0, 2)
              .map((p) => p.replace('\0', ' '))
              .join(', ') || 'none'
          })`;
      } else {
        oracle.note = `the matcher's ${gotSample.size} findings for them are exactly dpkg's`;
      }
    }
    if (!oracle.correct) match.problems.push('dpkg oracle disagrees (below)');
  } catch (e) {
    match.problems.push((e as Error).message);
    log(WHO, `matching failed: ${(e as Error).message}`);
  }

  if (inv && match.problems.length === 0) {
    const orders = [
      ['read', 'match', 'full'],
      ['full', 'match', 'read'],
      ['match', 'read', 'full'],
      ['full', 'read', 'match'],
    ];
    for (let i = 0; i < o.runs; i++) {
      const order = orders[i % orders.length]!;
      let tr = NaN;
      let tm = NaN;
      let tf = NaN;
      for (const which of order) {
        if (which === 'read') {
          const x = readOnce();
          tr = x.seconds;
          read.seconds.push(tr);
          if (x.inv.packages.length !== findings.packages)
            read.problems.push(`run ${i + 1} read ${x.inv.packages.length} packages`);
        } else if (which === 'match') {
          const x = decideOnce(inv);
          tm = x.seconds;
          match.seconds.push(tm);
          match.open.push(x.open);
          if (matchCount(x.matches) !== reference.length || matchDigest(x.matches) !== refMatches)
            match.problems.push(
              `run ${i + 1} gave ${matchCount(x.matches)} matches, different from the first run`,
            );
        } else {
          const x = matchOnce(inv);
          tf = x.seconds;
          full.seconds.push(tf);
          if (
            x.findings.length !== reference.length ||
            findingDigest(x.findings) !== refDigest ||
            jsonDigest(x.findings) !== findings.json
          ) {
            full.problems.push(
              `run ${i + 1} gave ${x.findings.length} findings, different from the first run`,
            );
          }
        }
      }
      sum.push(tr + tm);
      ratios.push(tm / tr);
      fullRatios.push(tf / tr);
      if ((i + 1) % 10 === 0)
        log(
          WHO,
          `round ${i + 1}: read ${fmtMs(tr)} ms, match ${fmtMs(tm)} ms, with findings ${fmtMs(tf)} ms`,
        );
    }
  }
  settle(read, `${findings.packages} packages, Debian 12`);
  settle(match, `${findings.total} matches every run = the findings of (4′)`);
  settle(full, `${findings.total} findings every run = construction`);

  // (5) the CLI, with and without the vulnerability step: `scan host` on the tree as the issue asks, and `scan image`
  // on the same tree as an ext4 image.
  const pair = (id: string, target: ['host' | 'image', string], label: string): CliPair => ({
    id,
    target,
    with: row(`${id}-vulns`, `${label} (CLI, node start-up included)`),
    without: row(`${id}-novulns`, 'the same with `--no-vulns`'),
    diff: [],
    other: -1,
    dead: false,
  });
  const pairs: CliPair[] = [
    pair('cli-host', ['host', corpus.root], '`hyperward scan host --root TREE --format json -q --db DB`'),
  ];
  if (existsSync(corpus.image)) {
    pairs.push(
      pair('cli-image', ['image', corpus.image], '`hyperward scan image TREE.img --format json -q --db DB`'),
    );
  }
  if (o.cliRuns > 0 && existsSync(db) && reference.length > 0) {
    const refPairs = pairsOf(reference);
    const check = (r: ScanOut, vulns: boolean, into: Row & { problems: string[] }): void => {
      if (r.packages !== findings.packages) into.problems.push(`${r.packages} packages in the report`);
      if (!vulns) {
        if (r.vulns.length > 0)
          into.problems.push(`${r.vulns.length} vulnerability findings with --no-vulns`);
        return;
      }
      const p = pairsOf(r.vulns);
      if (r.vulns.length !== reference.length || [...p].some((x) => !refPairs.has(x))) {
        into.problems.push(`${r.vulns.length} vulnerability findings, in-process ${reference.length}`);
      }
    };
    const fail = (c: CliPair, e: unknown): void => {
      c.with.problems.push((e as Error).message);
      c.dead = true;
      log(WHO, `${c.id} failed: ${(e as Error).message}`);
    };
    // Untimed first runs.
    for (const c of pairs) {
      try {
        const a = cliScan(c.target, db, true);
        check(a, true, c.with);
        c.other = a.other;
        const b = cliScan(c.target, db, false);
        check(b, false, c.without);
        if (b.other !== a.other)
          c.without.problems.push(`${b.other} other findings, ${a.other} with vulnerabilities`);
      } catch (e) {
        fail(c, e);
      }
    }
    for (let i = 0; i < o.cliRuns; i++) {
      const order = i % 2 === 0 ? pairs : [...pairs].reverse();
      for (const c of order) {
        if (c.dead) continue;
        let tw = NaN;
        let tn = NaN;
        try {
          for (const v of i % 2 === 0 ? [true, false] : [false, true]) {
            const r = cliScan(c.target, db, v);
            check(r, v, v ? c.with : c.without);
            if (v) c.with.seconds.push((tw = r.seconds));
            else c.without.seconds.push((tn = r.seconds));
          }
          c.diff.push(tw - tn);
        } catch (e) {
          fail(c, e);
        }
      }
    }
  }
  for (const c of pairs) {
    settle(c.with, `${reference.length} vulnerability findings = (4), ${c.other} others`);
    settle(c.without, `no vulnerability findings, ${c.other} others`);
  }

  const facts = vulnMachineFacts(loadAtStart);
  const report: Report = {
    facts,
    o,
    command,
    corpus,
    imports: { cold, re },
    dbBytes,
    read,
    match,
    full,
    fullRatios,
    sum,
    ratios,
    cli: pairs,
    findings,
    oracle,
  };
  const md = markdown(report);
  const json = {
    benchmark: 'vuln-match',
    options: o,
    command,
    machine: facts,
    corpus: {
      dir: corpus.dir,
      zip: corpus.zip,
      root: corpus.root,
      statusBytes: corpus.statusBytes,
      ...f,
    },
    databaseBytes: dbBytes,
    methods: [cold, re, read, match, full, ...pairs.flatMap((c) => [c.with, c.without])],
    readPlusMatch: sum,
    matchOverRead: ratios,
    withFindingsOverRead: fullRatios,
    cliDifference: Object.fromEntries(pairs.map((c) => [c.id, c.diff])),
    findings,
    oracle,
  };
  writeResults('vuln-match', facts.date, json, md);
  if (o.updateDoc) updateDoc('vuln-match', md);
  process.stdout.write(md);
  const wrong = [cold, re, read, match, full, ...pairs.flatMap((c) => [c.with, c.without])].filter(
    (r) => !r.correct && (r.seconds.length > 0 || r.problems.length > 0),
  );
  if (!oracle.correct || wrong.length > 0 || match.seconds.length === 0) {
    log(
      WHO,
      `NOT every answer was right: ${[...wrong.map((r) => r.id), ...(oracle.correct ? [] : ['oracle'])].join(', ') || 'no timed match runs'}`,
    );
    process.exitCode = 1;
  }
}

runMain(WHO, main);
