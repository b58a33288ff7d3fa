/**
 * Config-assessment benchmark: what assessing libvirt domain XML costs on top of parsing it. 10,000 domain files
 * are generated from the real libvirt fixtures (fixtures/libvirt/domains/, deterministic, seeded), then ONE process
 * times, in the same run, interleaved:
 *   (a) read + parse: readFileSync + parseXml (src/platform/xml.ts) with the domain reader's limits;
 *   (b) read + parse + build the LibvirtDomain: readFileSync + parseDomainXml;
 *   (c) the full assessment as `scan config` does it: scanConfigFiles (read, detect the kind, parse, build, run the
 *       whole catalogue with the default profile, apply no waivers), every result kept as the CLI keeps them;
 * and spawns the real CLI, `bin/hyperward scan config --format json -q FILE…`, over a batch of files (node
 * start-up and the JSON report included). The target (issue 3, item 12) is (c) ≤ 2 × (a). Every answer is checked:
 * each method must see every file, and the CLI's findings must equal the in-process ones; otherwise `WRONG`, exit 1.
 * Never part of the test suite.
 *
 * Usage: npm run bench -- config-assess [--runs N --cli-runs N --files N --cli-files N --cli-all-runs N
 *                                       --seed S --update-doc]
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadCatalogue } from '../src/checks/catalogue.js';
import { BUILTIN_PROFILES } from '../src/checks/profile.js';
import type { ScanResult } from '../src/model/report.js';
import { DOMAIN_XML_LIMITS, parseDomainXml } from '../src/platform/libvirt/domain.js';
import { parseXml } from '../src/platform/xml.js';
import { scanConfigFiles, type AssessOptions } from '../src/scan/assess.js';
import { repoRoot } from '../test/fixtures/build.js';
import { log, writeFileAtomic } from '../test/fixtures/tools.js';
import {
  benchCommand,
  cell,
  fmtS,
  hyperwardLauncher,
  type MachineFacts,
  machineFacts,
  measuredOn,
  median,
  npmVersion,
  runMain,
  updateDoc,
  writeResults,
} from './common.js';
import { prng, rngFrom, type Rng } from './rng.js';

const WHO = 'bench:config';
/** Bump when the generator changes, so a cached corpus from an older generator is rebuilt. */
const GENERATOR_VERSION = 3;
const QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0';

interface Options {
  runs: number;
  cliRuns: number;
  files: number;
  cliFiles: number;
  cliAllRuns: number;
  seed: string;
  updateDoc: boolean;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    runs: 7,
    cliRuns: 5,
    files: 10_000,
    cliFiles: 1_000,
    cliAllRuns: 1,
    seed: 'hyperward-bench',
    updateDoc: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`);
      return v;
    };
    const num0 = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer`);
      return v;
    };
    if (a === '--runs') o.runs = num();
    else if (a === '--cli-runs') o.cliRuns = num();
    else if (a === '--files') o.files = num();
    else if (a === '--cli-files') o.cliFiles = num();
    else if (a === '--cli-all-runs') o.cliAllRuns = num0();
    else if (a === '--seed') o.seed = argv[++i] ?? '';
    else if (a === '--update-doc') o.updateDoc = true;
    else throw new Error(`unknown option ${a}`);
  }
  o.cliFiles = Math.min(o.cliFiles, o.files);
  return o;
}

// ---------------------------------------------------------------------------------------------------------------
// The corpus: real libvirt fixtures, varied.

const ROLES = [
  'web',
  'db',
  'cache',
  'build',
  'ci-runner',
  'k8s-node',
  'mail',
  'vpn',
  'ldap',
  'monitor',
  'test',
];
const NETWORKS = ['default', 'prod', 'dmz', 'storage', 'mgmt'];
const BRIDGES = ['br0', 'br1', 'virbr0', 'br-dmz'];

function uuid(r: Rng): string {
  return `${r.hex(8)}-${r.hex(4)}-4${r.hex(3)}-${r.pick(['8', '9', 'a', 'b'])}${r.hex(3)}-${r.hex(12)}`;
}

function mac(r: Rng): string {
  return `52:54:00:${r.hex(2)}:${r.hex(2)}:${r.hex(2)}`;
}

/** A listen address as found in the wild: mostly loopback or a host address, sometimes every interface. */
function listenAddress(r: Rng): string {
  return r.pick([
    '127.0.0.1',
    '127.0.0.1',
    '0.0.0.0',
    '::',
    '::1',
    `192.168.122.${r.int(1, 254)}`,
    `10.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`,
    'localhost',
  ]);
}

/** One extra `<graphics>` for a domain that has none (libvirt allows one per type). */
function graphicsXml(r: Rng): string {
  const type = r.pick(['vnc', 'vnc', 'spice']);
  const passwd = r.chance(0.35) ? ` passwd='${r.hex(12)}'` : '';
  const port = r.chance(0.7) ? ` port='-1' autoport='yes'` : ` port='${5900 + r.int(0, 99)}' autoport='no'`;
  switch (r.int(0, 5)) {
    case 0: {
      const a = listenAddress(r);
      return `    <graphics type='${type}'${port} listen='${a}'${passwd}>\n      <listen type='address' address='${a}'/>\n    </graphics>\n`;
    }
    case 1:
      return `    <graphics type='${type}'${port} listen='${listenAddress(r)}'${passwd}/>\n`;
    case 2:
      return `    <graphics type='${type}'${port}${passwd}>\n      <listen type='network' network='${r.pick(NETWORKS)}'/>\n    </graphics>\n`;
    case 3:
      return `    <graphics type='${type}'${passwd}>\n      <listen type='${type === 'vnc' ? 'socket' : 'none'}'/>\n    </graphics>\n`;
    case 4:
      return `    <graphics type='${type}'${port}${passwd}>\n      <listen type='address'/>\n    </graphics>\n`;
    default:
      return `    <graphics type='${type}'${port}${passwd}/>\n`;
  }
}

function interfaceXml(r: Rng, n: number): string {
  const type = r.pick(['network', 'network', 'bridge', 'bridge', 'direct', 'ethernet']);
  const source =
    type === 'network'
      ? `<source network='${r.pick(NETWORKS)}'/>`
      : type === 'bridge'
        ? `<source bridge='${r.pick(BRIDGES)}'/>`
        : type === 'direct'
          ? `<source dev='eno${r.int(1, 4)}' mode='bridge'/>`
          : `<target dev='tap${r.int(0, 99)}'/>`;
  const filter =
    type !== 'direct' && r.chance(0.5)
      ? r.chance(0.6)
        ? `      <filterref filter='clean-traffic'>\n        <parameter name='IP' value='10.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}'/>\n      </filterref>\n`
        : `      <filterref filter='${r.pick(['clean-traffic', 'no-ip-spoofing', 'allow-dhcp'])}'/>\n`
      : '';
  return (
    `    <interface type='${type}'>\n      <mac address='${mac(r)}'/>\n      ${source}\n      <model type='virtio'/>\n${filter}` +
    `      <address type='pci' domain='0x0000' bus='0x0${(n % 9) + 1}' slot='0x00' function='0x0'/>\n    </interface>\n`
  );
}

function diskXml(r: Rng, name: string, n: number): string {
  const dev = `vd${String.fromCharCode(98 + n)}`;
  if (r.chance(0.1)) {
    return (
      `    <disk type='block' device='disk'>\n      <driver name='qemu' type='raw' cache='none' io='native'/>\n` +
      `      <source dev='/dev/mapper/cluster-${name}-shared${n}'/>\n      <target dev='${dev}' bus='virtio'/>\n      <shareable/>\n    </disk>\n`
    );
  }
  const src = r.chance(0.15)
    ? `<source protocol='rbd' name='vms/${name}-disk${n}'>\n        <host name='ceph-mon1' port='6789'/>\n      </source>`
    : `<source file='/var/lib/libvirt/images/${name}-data${n}.qcow2'/>`;
  const type = src.includes('rbd') ? 'network' : 'file';
  return (
    `    <disk type='${type}' device='disk'>\n      <driver name='qemu' type='${type === 'file' ? 'qcow2' : 'raw'}' discard='unmap'/>\n` +
    `      ${src}\n      <target dev='${dev}' bus='virtio'/>\n    </disk>\n`
  );
}

function hostdevXml(r: Rng): string {
  if (r.chance(0.6)) {
    return (
      `    <hostdev mode='subsystem' type='pci' managed='yes'>\n      <source>\n` +
      `        <address domain='0x0000' bus='0x${r.hex(2)}' slot='0x${r.int(0, 31).toString(16).padStart(2, '0')}' function='0x${r.int(0, 7)}'/>\n` +
      `      </source>\n    </hostdev>\n`
    );
  }
  return (
    `    <hostdev mode='subsystem' type='usb' managed='yes'>\n      <source>\n        <vendor id='0x${r.hex(4)}'/>\n` +
    `        <product id='0x${r.hex(4)}'/>\n      </source>\n    </hostdev>\n`
  );
}

function chardevXml(r: Rng): string {
  if (r.chance(0.12)) {
    const mode = r.pick(['bind', 'connect']);
    return (
      `    <serial type='tcp'>\n      <source mode='${mode}' host='${r.pick(['0.0.0.0', '127.0.0.1', '10.0.0.5'])}' service='${4000 + r.int(0, 999)}'/>\n` +
      `      <protocol type='${r.pick(['raw', 'telnet'])}'/>\n      <target port='0'/>\n    </serial>\n`
    );
  }
  return `    <serial type='pty'>\n      <target type='isa-serial' port='0'/>\n    </serial>\n    <console type='pty'>\n      <target type='serial' port='0'/>\n    </console>\n`;
}

/** What a virt-install'ed q35 guest carries besides the devices the checks judge. */
function padding(r: Rng, name: string): string {
  let s = '';
  const ports = r.int(0, 14);
  for (let i = 1; i <= ports; i++) {
    s +=
      `    <controller type='pci' index='${i}' model='pcie-root-port'>\n      <model name='pcie-root-port'/>\n` +
      `      <target chassis='${i}' port='0x${(0x0f + i).toString(16)}'/>\n` +
      `      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x${(i - 1) % 8}'/>\n    </controller>\n`;
  }
  if (r.chance(0.7)) {
    s +=
      `    <channel type='unix'>\n      <source mode='bind' path='/var/lib/libvirt/qemu/channel/target/domain-${name}/org.qemu.guest_agent.0'/>\n` +
      `      <target type='virtio' name='org.qemu.guest_agent.0'/>\n      <address type='virtio-serial' controller='0' bus='0' port='1'/>\n    </channel>\n`;
  }
  if (r.chance(0.5)) {
    s += `    <rng model='virtio'>\n      <backend model='random'>/dev/urandom</backend>\n    </rng>\n`;
  }
  return s;
}

/** One varied domain from a real fixture: new identity, devices added, display listen addresses changed. */
function varyDomain(base: string, r: Rng, i: number): string {
  const name = `${r.pick(ROLES)}-${String(i).padStart(5, '0')}`;
  let x = base.replace(/<name>[^<]*<\/name>/, `<name>${name}</name>`);
  x = x.replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${uuid(r)}</uuid>`);
  // Existing displays: a new listen address (the same in the attribute and the <listen> child, as libvirt requires),
  // sometimes a password.
  const addr = listenAddress(r);
  x = x.replace(/<graphics\b[^>]*>/g, (tag) => {
    let t = tag.replace(/listen='[^']*'/, `listen='${addr}'`);
    if (!t.includes('passwd=') && r.chance(0.3))
      t = t.replace(/^<graphics/, `<graphics passwd='${r.hex(10)}'`);
    return t;
  });
  x = x.replace(/<listen type='address' address='[^']*'/g, `<listen type='address' address='${addr}'`);

  let dev = '';
  if (!x.includes('<graphics') && r.chance(0.8)) dev += graphicsXml(r);
  const disks = r.int(0, 3);
  for (let n = 0; n < disks; n++) dev += diskXml(r, name, n);
  const nics = r.int(0, 3);
  for (let n = 0; n < nics; n++) dev += interfaceXml(r, n);
  if (r.chance(0.1)) dev += hostdevXml(r);
  if (r.chance(0.1)) {
    dev += `    <redirdev bus='usb' type='spicevmc'>\n      <address type='usb' bus='0' port='${r.int(1, 6)}'/>\n    </redirdev>\n`;
  }
  dev += chardevXml(r);
  dev += padding(r, name);
  x = x.includes('</devices>')
    ? x.replace('</devices>', `${dev}  </devices>`)
    : x.replace('</domain>', `  <devices>\n${dev}  </devices>\n</domain>`);

  let tail = '';
  if (!x.includes('<seclabel')) {
    const s = r.next();
    if (s < 0.08) tail += `  <seclabel type='none'/>\n`;
    else if (s < 0.25)
      tail += `  <seclabel type='dynamic' model='${r.pick(['selinux', 'apparmor'])}' relabel='yes'/>\n`;
  }
  if (!x.includes(QEMU_NS) && r.chance(0.05)) {
    tail +=
      `  <qemu:commandline xmlns:qemu='${QEMU_NS}'>\n    <qemu:arg value='-device'/>\n` +
      `    <qemu:arg value='ivshmem-plain,memdev=shm${r.int(0, 9)}'/>\n    <qemu:env name='QEMU_AUDIO_DRV' value='none'/>\n  </qemu:commandline>\n`;
  }
  if (tail) x = x.replace(/<\/domain>\s*$/, `${tail}</domain>\n`);
  // libvirtd keeps a comment above the root element of the files it writes under /etc/libvirt/qemu/.
  if (r.chance(0.7)) {
    x = `<!--\nGenerated by libvirtd: edit with \`virsh edit ${name}\`, not by hand.\n-->\n\n${x}`;
  }
  return x;
}

interface Corpus {
  dir: string;
  files: string[];
  bytes: number;
  bases: number;
}

/** Writes the corpus into `.cache/bench/domains/` (reused while seed, count, generator and fixtures match). */
function buildCorpus(o: Options): Corpus {
  const root = repoRoot();
  const fixDir = join(root, 'fixtures', 'libvirt', 'domains');
  const baseNames = readdirSync(fixDir)
    .filter((n) => n.endsWith('.xml'))
    .sort();
  const bases = baseNames.map((n) => readFileSync(join(fixDir, n), 'utf8'));
  const key = createHash('sha256')
    .update(JSON.stringify({ v: GENERATOR_VERSION, seed: o.seed, n: o.files, bases }))
    .digest('hex');
  const dir = join(root, '.cache', 'bench', 'domains');
  const stampPath = join(root, '.cache', 'bench', 'domains.stamp.json');
  const names = Array.from({ length: o.files }, (_, i) => `dom-${String(i).padStart(5, '0')}.xml`);
  const files = names.map((n) => join(dir, n));
  if (existsSync(stampPath) && existsSync(dir)) {
    const stamp = JSON.parse(readFileSync(stampPath, 'utf8')) as { key?: string; bytes?: number };
    if (stamp.key === key && stamp.bytes !== undefined) {
      return { dir, files, bytes: stamp.bytes, bases: bases.length };
    }
  }
  log(WHO, `generating ${o.files} domain XML files from ${bases.length} libvirt fixtures (seed ${o.seed})`);
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  const r = rngFrom(prng(o.seed));
  let bytes = 0;
  for (let i = 0; i < o.files; i++) {
    const text = varyDomain(r.pick(bases), r, i);
    bytes += Buffer.byteLength(text);
    writeFileSync(join(tmp, names[i]!), text);
  }
  rmSync(stampPath, { force: true });
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  writeFileAtomic(stampPath, JSON.stringify({ key, seed: o.seed, files: o.files, bytes }) + '\n');
  return { dir, files, bytes, bases: bases.length };
}

// ---------------------------------------------------------------------------------------------------------------
// The methods.

/** What a pass over the corpus saw; every timed run must see the same as the checked one. */
interface Tally {
  files: number;
  errors: number;
  /** Root children (a), judged devices (b) or findings (c). */
  items: number;
  /** (c) only: digest of every outcome, see {@link outcomeDigest}. */
  digest?: string;
}

function parseOnly(files: readonly string[]): Tally {
  const t: Tally = { files: 0, errors: 0, items: 0 };
  for (const f of files) {
    const root = parseXml(readFileSync(f, 'utf8'), f, DOMAIN_XML_LIMITS);
    t.files++;
    t.items += root.children.length;
  }
  return t;
}

function parseAndBuild(files: readonly string[]): Tally {
  const t: Tally = { files: 0, errors: 0, items: 0 };
  for (const f of files) {
    const d = parseDomainXml(readFileSync(f, 'utf8'), f);
    t.files++;
    t.items +=
      d.disks.length + d.interfaces.length + d.graphics.length + d.chardevs.length + d.hostdevs.length;
  }
  return t;
}

/**
 * SHA-256 over one line per finding (file relative to the repository, check, resource, status), in report order:
 * what the CLI's report and every in-process run must agree on. (Finding ids hash the path as given, so they differ
 * between absolute and relative paths; the resource and status do not.)
 */
function outcomeDigest(results: readonly ScanResult[]): string {
  const root = repoRoot();
  const h = createHash('sha256');
  for (const r of results) {
    const file = r.target.startsWith('/') ? relative(root, r.target) : r.target;
    if (r.error) h.update(`${file}\0error\0${r.error.code}\n`);
    for (const f of r.findings) h.update(`${file}\0${f.checkId}\0${f.resource.id}\0${f.status}\n`);
  }
  return h.digest('hex');
}

/** Outcome counts per check over the whole corpus. */
type CheckMix = Record<string, Record<string, number>>;

function checkMix(results: readonly ScanResult[]): CheckMix {
  const mix: CheckMix = {};
  for (const r of results) {
    for (const f of r.findings) {
      const m = (mix[f.checkId] ??= {});
      m[f.status] = (m[f.status] ?? 0) + 1;
    }
  }
  return mix;
}

/** One `bin/hyperward scan config --format json -q FILE…` over relative paths (one argument list). */
function runCli(files: readonly string[]): {
  seconds: number;
  results: number;
  findings: number;
  digest: string;
} {
  const root = repoRoot();
  const bin = hyperwardLauncher();
  const rel = files.map((f) => relative(root, f));
  const t0 = performance.now();
  const r = spawnSync(bin, ['scan', 'config', '--format', 'json', '-q', ...rel], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 1024 * 1024 * 1024,
  });
  const seconds = (performance.now() - t0) / 1000;
  // Exit 1 means "there are failing findings", which the corpus has by construction.
  if (r.error || (r.status !== 0 && r.status !== 1)) {
    throw new Error(
      `hyperward scan config: ${r.error?.message ?? `exit ${r.status}`}: ${(r.stderr ?? '').slice(-300)}`,
    );
  }
  const results = (JSON.parse(r.stdout) as { results?: ScanResult[] }).results ?? [];
  const findings = results.reduce((n, x) => n + x.findings.length, 0);
  return { seconds, results: results.length, findings, digest: outcomeDigest(results) };
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting.

type Facts = MachineFacts & { fastXmlParser: string };

interface MethodSummary {
  id: string;
  label: string;
  files: number;
  seconds: number[];
  medianSeconds?: number;
  minSeconds?: number;
  correct: boolean;
  note: string;
}

function markdown(
  methods: MethodSummary[],
  ratios: { assess: number[]; build: number[] },
  corpus: Corpus,
  mix: CheckMix,
  facts: Facts,
  o: Options,
  command: string,
): string {
  const out: string[] = [];
  const byId = (id: string): MethodSummary | undefined => methods.find((m) => m.id === id);
  const a = byId('parse');
  const perFileA = a?.medianSeconds !== undefined ? a.medianSeconds / a.files : undefined;
  out.push(
    `${measuredOn(facts)}, fast-xml-parser ${facts.fastXmlParser}. (a)–(c) in one process, warm page cache (each ran ` +
      `once untimed first), ${o.runs} timed runs each, round-robin with the order reversed every other round, a forced GC ` +
      `before each run; the CLI rows are child processes spawned in the same rounds.`,
  );
  out.push('');
  out.push(`Reproduce: \`${command}\``);
  out.push('');
  out.push(
    `Corpus: ${corpus.files.length} domain XML files, ${(corpus.bytes / 2 ** 20).toFixed(1)} MiB ` +
      `(${Math.round(corpus.bytes / corpus.files.length)} bytes on average), varied from the ${corpus.bases} libvirt ` +
      `fixtures with seed \`${o.seed}\`.`,
  );
  out.push('');
  out.push('| method | files | median s | min s | runs | files/s | µs/file | × (a) per file | checked |');
  out.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const m of methods) {
    const med = m.medianSeconds;
    out.push(
      `| ${m.label} | ${m.files} | ${fmtS(med)} | ${fmtS(m.minSeconds)} | ${m.seconds.length} | ` +
        `${med ? Math.round(m.files / med) : '—'} | ${med ? ((1e6 * med) / m.files).toFixed(0) : '—'} | ` +
        `${med && perFileA ? `${(med / m.files / perFileA).toFixed(2)}×` : '—'} | ` +
        `${m.correct ? cell(m.note) : `WRONG: ${cell(m.note)}`} |`,
    );
  }
  const c = byId('assess');
  const b = byId('build');
  out.push('');
  if (a?.medianSeconds && c?.medianSeconds && b?.medianSeconds) {
    const ratio = c.medianSeconds / a.medianSeconds;
    const range = (xs: number[]): string =>
      `median ${median(xs).toFixed(2)}×, ${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}×`;
    out.push(
      `**Target: assessing costs at most 2 × parsing, (c) ≤ 2 × (a). Measured (c)/(a) = ${ratio.toFixed(2)}× ` +
        `(ratio of medians) — ${ratio <= 2 ? 'met' : 'NOT met'}.** Within each round: ${range(ratios.assess)}. ` +
        `(b)/(a) = ${(b.medianSeconds / a.medianSeconds).toFixed(2)}× (within each round: ${range(ratios.build)}).`,
    );
  }
  out.push('');
  out.push(
    'Outcomes over the corpus (the checked run of (c); the other checks of the catalogue had nothing to judge):',
  );
  out.push('');
  out.push('| check | fail | pass | unknown |');
  out.push('| --- | ---: | ---: | ---: |');
  for (const [id, m] of Object.entries(mix).sort(([x], [y]) => x.localeCompare(y))) {
    out.push(`| ${id} | ${m['fail'] ?? 0} | ${m['pass'] ?? 0} | ${m['unknown'] ?? 0} |`);
  }
  return out.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------------------------

/** A full GC when node runs with --expose-gc, so no run pays for the garbage of the one before. */
function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) g();
}

interface Method {
  id: string;
  label: string;
  files: number;
  runs: number;
  /** Runs once: the seconds it took and what it saw. */
  run: () => { seconds: number; tally: Tally };
  first?: Tally;
  seconds: number[];
  problems: string[];
}

function inProcess(id: string, label: string, files: number, runs: number, fn: () => Tally): Method {
  return {
    id,
    label,
    files,
    runs,
    run: () => {
      gc();
      const t0 = performance.now();
      const tally = fn();
      return { seconds: (performance.now() - t0) / 1000, tally };
    },
    seconds: [],
    problems: [],
  };
}

function cliMethod(files: readonly string[], runs: number, label: string, id: string): Method {
  return {
    id,
    label,
    files: files.length,
    runs,
    run: () => {
      const r = runCli(files);
      return {
        seconds: r.seconds,
        tally: { files: r.results, errors: 0, items: r.findings, digest: r.digest },
      };
    },
    seconds: [],
    problems: [],
  };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const command = benchCommand('config-assess', process.argv.slice(2));
  if ((globalThis as { gc?: unknown }).gc === undefined) {
    log(WHO, 'node runs without --expose-gc: no forced GC between runs (bench/run.sh passes it)');
  }
  const corpus = buildCorpus(o);
  const files = corpus.files;
  const opts: AssessOptions = {
    profile: BUILTIN_PROFILES['default']!,
    waivers: [],
    catalogue: loadCatalogue(),
  };

  // The checked run of (c), untimed: the outcome digests every other run must reproduce, and the outcome mix.
  log(WHO, 'checking the corpus: one untimed assessment');
  const reference = scanConfigFiles(files, opts);
  const mix = checkMix(reference);
  const expectAll = outcomeDigest(reference);
  const expectBatch = outcomeDigest(reference.slice(0, o.cliFiles));
  const refErrors = reference.filter((r) => r.error).length;
  reference.length = 0;

  const assessRun = (): Tally => {
    const results = scanConfigFiles(files, opts);
    const t: Tally = { files: results.length, errors: 0, items: 0 };
    for (const r of results) {
      t.items += r.findings.length;
      if (r.error) t.errors++;
    }
    return t;
  };
  const methods: Method[] = [
    inProcess('parse', '(a) read + parse (`readFileSync` + `parseXml`)', files.length, o.runs, () =>
      parseOnly(files),
    ),
    inProcess('build', '(b) read + parse + build the domain (`parseDomainXml`)', files.length, o.runs, () =>
      parseAndBuild(files),
    ),
    inProcess(
      'assess',
      '(c) full assessment (`scanConfigFiles`: read, detect, parse, build, whole catalogue, default profile, no waivers)',
      files.length,
      o.runs,
      assessRun,
    ),
    cliMethod(
      files.slice(0, o.cliFiles),
      o.cliRuns,
      `CLI \`hyperward scan config --format json -q\`, one batch (node start-up and the JSON report included)`,
      'cli-batch',
    ),
  ];
  if (o.cliAllRuns > 0 && o.cliFiles < files.length) {
    methods.push(
      cliMethod(
        files,
        o.cliAllRuns,
        'CLI `hyperward scan config --format json -q`, every file in one argument list',
        'cli-all',
      ),
    );
  }
  const assessDigest = (): string => outcomeDigest(scanConfigFiles(files, opts));

  // Untimed first run of each: page cache, JIT, and the tallies every timed run must reproduce.
  for (const m of methods) {
    log(WHO, `${m.id}: warm-up`);
    try {
      m.first = m.run().tally;
      if (m.first.files !== m.files) m.problems.push(`saw ${m.first.files} of ${m.files} files`);
      if (m.first.errors > 0) m.problems.push(`${m.first.errors} files failed`);
      const want = m.id === 'cli-batch' ? expectBatch : m.id === 'cli-all' ? expectAll : undefined;
      if (want !== undefined && m.first.digest !== want)
        m.problems.push('outcomes differ from the in-process assessment');
    } catch (e) {
      m.problems.push((e as Error).message);
      log(WHO, `${m.id} failed: ${(e as Error).message}`);
    }
  }
  if (refErrors > 0) methods[2]!.problems.push(`${refErrors} files failed`);
  if (assessDigest() !== expectAll) methods[2]!.problems.push('outcomes differ between two runs');
  for (const id of Object.keys(mix).filter((k) => k.startsWith('kvm.vm.'))) {
    if (!mix[id]?.['fail'] || !mix[id]?.['pass'])
      methods[2]!.problems.push(`${id} does not both pass and fail`);
  }

  const ratios = { assess: [] as number[], build: [] as number[] };
  const rounds = Math.max(...methods.map((m) => m.runs));
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? methods : [...methods].reverse();
    const times = new Map<string, number>();
    for (const m of order) {
      if (r >= m.runs || m.first === undefined) continue;
      try {
        const { seconds, tally } = m.run();
        m.seconds.push(seconds);
        times.set(m.id, seconds);
        if (JSON.stringify(tally) !== JSON.stringify(m.first))
          m.problems.push(`run ${r + 1} saw ${JSON.stringify(tally)}`);
        log(WHO, `${m.id} run ${r + 1}: ${seconds.toFixed(3)} s (${Math.round(m.files / seconds)} files/s)`);
      } catch (e) {
        m.problems.push((e as Error).message);
        log(WHO, `${m.id} failed: ${(e as Error).message}`);
      }
    }
    const pa = times.get('parse');
    const pb = times.get('build');
    const pc = times.get('assess');
    if (pa && pb) ratios.build.push(pb / pa);
    if (pa && pc) ratios.assess.push(pc / pa);
  }

  const notes: Record<string, (t: Tally) => string> = {
    parse: () => `${files.length} documents`,
    build: () => `${files.length} domains`,
    assess: (t) => `${t.files} results, ${t.items} findings`,
    'cli-batch': (t) => `${t.items} findings = in-process`,
    'cli-all': (t) => `${t.items} findings = in-process`,
  };
  const summaries: MethodSummary[] = methods.map((m) => {
    const s: MethodSummary = {
      id: m.id,
      label: m.label,
      files: m.files,
      seconds: m.seconds,
      correct: m.problems.length === 0 && m.seconds.length > 0,
      note:
        m.problems.length > 0
          ? [...new Set(m.problems)].join('; ')
          : m.first
            ? (notes[m.id]?.(m.first) ?? '')
            : 'no run',
    };
    if (m.seconds.length > 0) {
      s.medianSeconds = median(m.seconds);
      s.minSeconds = Math.min(...m.seconds);
    }
    return s;
  });

  const facts: Facts = machineFacts({ fastXmlParser: npmVersion('fast-xml-parser') });
  const md = markdown(summaries, ratios, corpus, mix, facts, o, command);
  const json = {
    benchmark: 'config-assess',
    options: o,
    command,
    machine: facts,
    corpus: { dir: corpus.dir, files: corpus.files.length, bytes: corpus.bytes, bases: corpus.bases },
    methods: summaries,
    ratios,
    checkMix: mix,
  };
  writeResults('config-assess', facts.date, json, md);
  if (o.updateDoc) updateDoc('config-assess', md);
  process.stdout.write(md);
  const wrong = summaries.filter((s) => !s.correct);
  if (wrong.length > 0) {
    log(WHO, `NOT every method gave the right answer: ${wrong.map((s) => s.id).join(', ')}`);
    process.exitCode = 1;
  }
}

runMain(WHO, main);
