import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { Finding } from '../model/finding.js';
import type { OsInfo } from '../model/inventory.js';
import { DirRoot } from '../source/dir.js';
import { loadFixtureManifest } from '../../test/fixtures/build.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { readClamAv } from './clamav.js';
import { eolTable } from './eol.js';
import { readRpmDatabase } from './rpm/index.js';
import {
  lastPackageActivity,
  readPackageActivity,
  scanDpkgLog,
  stalenessFindings,
  STALENESS_CHECKS,
  type MtimeReader,
  type PackageActivityResult,
} from './staleness.js';

const DAY = 86_400_000;
let dir = '';
let cleanup = (): void => {};
before(() => {
  ({ dir, cleanup } = tempDir('hyperward-staleness-'));
});
after(() => cleanup());

/** The real dpkg.log debootstrap's dpkg wrote into the Debian 12 fixture tree. */
const realLog = (): string => join(loadFixtureManifest().trees.base!.root, 'var/log/dpkg.log');

/** The newest install/upgrade/`status installed` time of log files, as grep, sort and tail see it (UTC). */
function newestByShell(files: string[]): string {
  const line = run('sh', [
    '-c',
    `zcat -f "$@" | grep -E '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} (install|upgrade|status installed) ' | sort | tail -n 1`,
    'sh',
    ...files,
  ]).trim();
  assert.ok(line !== '', 'the log has installs');
  return `${line.slice(0, 10)}T${line.slice(11, 19)}.000Z`;
}

function rootWithLogs(name: string, logs: Record<string, Buffer | string>): string {
  const root = join(dir, name);
  mkdirSync(join(root, 'var/log'), { recursive: true });
  for (const [n, data] of Object.entries(logs)) writeFileSync(join(root, 'var/log', n), data);
  return root;
}

test('dpkg.log of the Debian fixture tree: newest install as grep sees it', () => {
  const log = realLog();
  const root = rootWithLogs('deb', { 'dpkg.log': readFileSync(log) });
  const got = lastPackageActivity(new DirRoot(root))!;
  assert.equal(got.manager, 'dpkg');
  assert.equal(got.source, '/var/log/dpkg.log');
  assert.equal(got.when.toISOString(), newestByShell([log]));
  const lines = readFileSync(log, 'utf8').split('\n');
  assert.equal(lines[got.line! - 1]!.slice(20), got.entry);
  assert.deepEqual(readPackageActivity(new DirRoot(root)).problems, []);
});

test('rotated dpkg logs: plain, .1 and .N.gz all read, the newest of all wins', () => {
  const lines = readFileSync(realLog(), 'utf8').trimEnd().split('\n');
  const third = Math.floor(lines.length / 3);
  const [a, b, c] = [lines.slice(0, third), lines.slice(third, 2 * third), lines.slice(2 * third)];
  const text = (l: string[]): string => l.join('\n') + '\n';
  // Normal rotation: oldest in .2.gz (made by the real gzip), middle in .1, newest in dpkg.log.
  const rot = rootWithLogs('rotated', { 'dpkg.log': text(c), 'dpkg.log.1': text(b) });
  writeFileSync(join(rot, 'var/log/dpkg.log.2'), text(a));
  run('gzip', ['-9', join(rot, 'var/log/dpkg.log.2')]);
  const files = ['dpkg.log', 'dpkg.log.1', 'dpkg.log.2.gz'].map((n) => join(rot, 'var/log', n));
  const r1 = readPackageActivity(new DirRoot(rot));
  assert.deepEqual(r1.problems, []);
  assert.equal(r1.last?.when.toISOString(), newestByShell(files));
  assert.equal(r1.last?.source, '/var/log/dpkg.log');
  // The newest lines only in an old rotation (dpkg.log emptied): still found, in the .gz.
  const odd = rootWithLogs('odd', {
    'dpkg.log': '',
    'dpkg.log.1': text(a),
    'dpkg.log.7.gz': gzipSync(text(c)),
  });
  const r2 = readPackageActivity(new DirRoot(odd));
  assert.equal(r2.last?.source, '/var/log/dpkg.log.7.gz');
  assert.equal(r2.last?.when.toISOString(), newestByShell([join(odd, 'var/log/dpkg.log.7.gz')]));
});

test('damaged and oversized logs are problems; the others are still read', () => {
  const good = readFileSync(realLog());
  const bomb = gzipSync(Buffer.alloc(80 * 1024 * 1024)); // 80 MiB of zeros, ~80 KiB compressed
  const broken = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(64, 0xaa)]);
  const root = rootWithLogs('damaged', {
    'dpkg.log': 'not a dpkg line\n2024-13-01 10:00:00 install x:amd64 <none> 1\n',
    'dpkg.log.1': good,
    'dpkg.log.2.gz': bomb,
    'dpkg.log.3.gz': broken,
  });
  const r = readPackageActivity(new DirRoot(root));
  assert.equal(r.last?.when.toISOString(), newestByShell([realLog()]));
  const byFile = new Map(r.problems.map((p) => [p.location.file, p]));
  assert.equal(byFile.get('/var/log/dpkg.log')?.code, 'E_CONFIG_SYNTAX');
  assert.equal(byFile.get('/var/log/dpkg.log')?.location.line, 1);
  assert.match(byFile.get('/var/log/dpkg.log')!.message, /^.*2 line/);
  assert.equal(byFile.get('/var/log/dpkg.log.2.gz')?.code, 'E_LIMIT');
  assert.equal(byFile.get('/var/log/dpkg.log.3.gz')?.code, 'E_UNSUPPORTED_FORMAT');
});

test('fuzz: dpkg log scan never throws, and finds the newest generated install or upgrade', () => {
  fc.assert(fc.property(fc.string({ maxLength: 500 }), (s) => void scanDpkgLog(s)));
  const ts = fc
    .date({ min: new Date('2000-01-01'), max: new Date('2099-12-31'), noInvalidDate: true })
    .map((d) => new Date(Math.floor(d.getTime() / 1000) * 1000));
  const action = fc.constantFrom(
    ['install', true],
    ['upgrade', true],
    ['status installed', true],
    ['status half-configured', false],
    ['configure', false],
    ['trigproc', false],
    ['remove', false],
    ['startup archives unpack', false],
  ) as fc.Arbitrary<[string, boolean]>;
  fc.assert(
    fc.property(fc.array(fc.tuple(ts, action), { maxLength: 30 }), (rows) => {
      const text = rows
        .map(
          ([t, [a]]) =>
            `${t.toISOString().slice(0, 19).replace('T', ' ')} ${a} pkg:amd64 1.0-1${a === 'install' || a === 'upgrade' ? ' 1.0-2' : ''}`,
        )
        .join('\n');
      const scan = scanDpkgLog(text);
      const counted = rows.filter(([, [, c]]) => c).map(([t]) => t.getTime());
      assert.equal(scan.badLines, 0);
      assert.equal(scan.newest?.when.getTime(), counted.length ? Math.max(...counted) : undefined);
    }),
  );
});

test('RPM: newest INSTALLTIME as rpm itself reports it', () => {
  const top = join(dir, 'rpmbuild');
  mkdirSync(join(top, 'SPECS'), { recursive: true });
  const rpms: string[] = [];
  for (const name of ['hw-one', 'hw-two']) {
    writeFileSync(
      join(top, 'SPECS', `${name}.spec`),
      `Name: ${name}\nVersion: 1.0\nRelease: 1\nSummary: s\nLicense: MIT\nBuildArch: noarch\n%description\nd\n%files\n`,
    );
    run('rpmbuild', ['--define', `_topdir ${top}`, '-bb', join(top, 'SPECS', `${name}.spec`)]);
    rpms.push(run('find', [join(top, 'RPMS'), '-name', `${name}-*.rpm`]).trim());
  }
  const root = join(dir, 'rocky');
  mkdirSync(join(root, 'etc'), { recursive: true });
  const rpm = (args: string[]): string => run('rpm', ['--root', root, '--dbpath', '/var/lib/rpm', ...args]);
  rpm(['--initdb']);
  for (const f of rpms) rpm(['-i', '--nodeps', '--ignoreos', '--ignorearch', f]);
  const want = Math.max(...rpm(['-qa', '--qf', '%{INSTALLTIME}\\n']).trim().split('\n').map(Number));
  const r = readPackageActivity(new DirRoot(root));
  assert.equal(r.last?.manager, 'rpm');
  assert.equal(r.last?.source, '/var/lib/rpm/rpmdb.sqlite');
  assert.equal(r.last?.when.getTime(), want * 1000);
  assert.match(r.last!.entry!, /^install hw-(one|two)-1\.0-1\.noarch$/);
  // The database the caller already read is used as given.
  const db = readRpmDatabase(new DirRoot(root))!;
  assert.equal(lastPackageActivity(new DirRoot(root), { rpm: db })?.when.getTime(), want * 1000);
  assert.equal(lastPackageActivity(new DirRoot(root), { rpm: null }), undefined);
});

/** A DirRoot that can give modification times, as an image root could. */
class MtimeDirRoot extends DirRoot implements MtimeReader {
  mtime(path: string): number | undefined {
    const local = this.resolve(path);
    return local === undefined ? undefined : Math.floor(statSync(local).mtimeMs / 1000);
  }
}

test('apk: build times are not install times; the database mtime only when the root gives it', () => {
  const root = join(dir, 'alpine');
  mkdirSync(join(root, 'lib/apk/db'), { recursive: true });
  const db = join(root, 'lib/apk/db/installed');
  copyFileSync(new URL('../../fixtures/apk/installed-trivy', import.meta.url), db);
  const at = new Date('2024-03-10T07:25:00Z');
  utimesSync(db, at, at);
  const plain = readPackageActivity(new DirRoot(root));
  assert.equal(plain.last, undefined);
  assert.match(plain.notes.join(' '), /build time/);
  const withMtime = readPackageActivity(new MtimeDirRoot(root));
  assert.equal(withMtime.last?.manager, 'apk');
  assert.equal(withMtime.last?.when.getTime(), at.getTime());
});

const debian12: OsInfo = {
  id: 'debian',
  idLike: [],
  family: 'debian',
  source: '/etc/os-release',
  versionId: '12',
  prettyName: 'Debian GNU/Linux 12 (bookworm)',
};

function byCheck(fs: Finding[]): Map<string, Finding> {
  return new Map(fs.map((f) => [f.checkId, f]));
}

test('findings: package age against the threshold, with evidence and stable fingerprints', () => {
  const when = new Date('2026-10-01T10:00:00Z');
  const pkgs: PackageActivityResult = {
    last: { when, source: '/var/log/dpkg.log', manager: 'dpkg', line: 7, entry: 'upgrade libc6:amd64 1 2' },
    problems: [],
    notes: [],
  };
  const at = (days: number): Date => new Date(when.getTime() + days * DAY);
  const f31 = stalenessFindings({ target: 'vm.qcow2', now: at(31), packages: pkgs })[0]!;
  assert.equal(f31.checkId, STALENESS_CHECKS.packagesStale);
  assert.equal(f31.status, 'fail');
  assert.equal(f31.severity, 'medium');
  assert.match(f31.message, /31 days/);
  assert.deepEqual(f31.evidence, {
    file: '/var/log/dpkg.log',
    line: 7,
    key: 'last package install or upgrade',
    value: when.toISOString(),
  });
  assert.equal(f31.resource.id, 'vm.qcow2#packages');
  const f30 = stalenessFindings({ target: 'vm.qcow2', now: at(30), packages: pkgs })[0]!;
  assert.equal(f30.status, 'pass');
  assert.equal(f30.id, f31.id, 'same check and target, same fingerprint');
  assert.notEqual(stalenessFindings({ target: 'other.qcow2', now: at(31), packages: pkgs })[0]!.id, f31.id);
  assert.equal(
    stalenessFindings({ target: 't', now: at(10), packages: pkgs }, { maxPackageAgeDays: 7 })[0]!.status,
    'fail',
  );
  assert.equal(stalenessFindings({ target: 't', now: at(-3), packages: pkgs })[0]!.status, 'unknown');
  const hostile = { ...pkgs, last: { ...pkgs.last!, entry: 'upgrade \u001b[2Jx 1 2' } };
  const h = stalenessFindings({ target: 'h', resourceType: 'host', now: at(40), packages: hostile })[0]!;
  assert.ok(!h.message.includes('\u001b'));
  assert.equal(h.platform, undefined);
  assert.equal(f31.platform, 'image');
  const none = stalenessFindings({
    target: 't',
    now: at(0),
    packages: { problems: [], notes: ['apk records build times'] },
  })[0]!;
  assert.equal(none.status, 'unknown');
  assert.match(none.message, /apk records build times/);
});

test('findings: OS end of life — high after, medium within 90 days, info with only extended support left', () => {
  const row = eolTable().products.debian!.releases.find((r) => r.cycle === '12')!;
  const eol = Date.parse(`${row.eol}T12:00:00Z`);
  const f = (now: number, opts = {}): Finding =>
    byCheck(stalenessFindings({ target: 't', now: new Date(now), os: debian12 }, opts)).get(
      STALENESS_CHECKS.osEol,
    )!;
  assert.deepEqual([f(eol - 200 * DAY).status, f(eol - 200 * DAY).severity], ['pass', 'info']);
  assert.deepEqual([f(eol - 90 * DAY).status, f(eol - 90 * DAY).severity], ['fail', 'medium']);
  assert.match(f(eol - 90 * DAY).message, /in 90 days/);
  assert.deepEqual([f(eol - 100 * DAY, { eolWarningDays: 120 }).severity], ['medium']);
  const lts = f(eol + DAY);
  assert.deepEqual([lts.status, lts.severity], ['fail', 'info']);
  assert.match(lts.message, new RegExp(`LTS.*${row.extended}`));
  const dead = f(Date.parse(`${row.extended}T12:00:00Z`) + DAY);
  assert.deepEqual([dead.status, dead.severity], ['fail', 'high']);
  assert.equal(dead.evidence?.file, '/etc/os-release');
  assert.equal(dead.references?.[0]?.url, 'https://endoflife.date/debian');
  assert.equal(f(eol - 200 * DAY).id, dead.id, 'the fingerprint does not change with the outcome');
  const gentoo = byCheck(
    stalenessFindings({ target: 't', now: new Date(eol), os: { ...debian12, id: 'gentoo' } }),
  ).get(STALENESS_CHECKS.osEol)!;
  assert.equal(gentoo.status, 'unknown');
});

test('findings: ClamAV signature age and updates, from real database headers', () => {
  const root = join(dir, 'av');
  mkdirSync(join(root, 'var/lib/clamav'), { recursive: true });
  mkdirSync(join(root, 'etc/clamav'), { recursive: true });
  const fix = (n: string): URL => new URL(`../../fixtures/clamav/${n}`, import.meta.url);
  copyFileSync(fix('daily-23182.cvd-head'), join(root, 'var/lib/clamav/daily.cvd'));
  copyFileSync(fix('daily-utc.cud'), join(root, 'var/lib/clamav/daily.cld'));
  copyFileSync(fix('freshclam.conf.sample'), join(root, 'etc/clamav/freshclam.conf'));
  const info = readClamAv(new DirRoot(root));
  // The newest daily database is the one to judge; its build time is in its header (see clamav.test.ts).
  const newest = info.databases.find((d) => d.kind === 'cld')!;
  const at = (days: number): Date => new Date(newest.buildTime.getTime() + days * DAY);
  const f = (days: number, opts = {}): Map<string, Finding> =>
    byCheck(stalenessFindings({ target: 't', now: at(days), clamav: info }, opts));
  assert.equal(f(7).get(STALENESS_CHECKS.avSignaturesStale)!.status, 'pass');
  const stale = f(8).get(STALENESS_CHECKS.avSignaturesStale)!;
  assert.deepEqual([stale.status, stale.severity], ['fail', 'medium']);
  assert.equal(stale.evidence?.file, '/var/lib/clamav/daily.cld');
  assert.match(stale.evidence!.value!, /version 27001/);
  assert.equal(f(31).get(STALENESS_CHECKS.avSignaturesStale)!.severity, 'high');
  assert.equal(f(3, { maxAvAgeDays: 2 }).get(STALENESS_CHECKS.avSignaturesStale)!.status, 'fail');
  assert.equal(f(-2).get(STALENESS_CHECKS.avSignaturesStale)!.status, 'unknown');
  // The shipped sample still has its Example line, and nothing runs freshclam.
  const upd = f(1).get(STALENESS_CHECKS.avNoUpdates)!;
  assert.deepEqual([upd.status, upd.severity], ['fail', 'medium']);
  assert.match(upd.message, /Example/);
  assert.match(upd.message, /nothing runs freshclam/);
  // Configured and enabled: a pass.
  writeFileSync(join(root, 'etc/clamav/freshclam.conf'), 'DatabaseMirror database.clamav.net\n');
  mkdirSync(join(root, 'etc/systemd/system/timers.target.wants'), { recursive: true });
  symlinkSync(
    '/lib/systemd/system/clamav-freshclam-once.timer',
    join(root, 'etc/systemd/system/timers.target.wants/clamav-freshclam-once.timer'),
  );
  const ok = byCheck(
    stalenessFindings({ target: 't', now: at(1), clamav: readClamAv(new DirRoot(root)) }),
  ).get(STALENESS_CHECKS.avNoUpdates)!;
  assert.equal(ok.status, 'pass');
  assert.equal(ok.id, upd.id);
  writeFileSync(join(root, 'etc/clamav/freshclam.conf'), 'DatabaseMirror database.clamav.net\nChecks 0\n');
  assert.match(
    byCheck(stalenessFindings({ target: 't', now: at(1), clamav: readClamAv(new DirRoot(root)) })).get(
      STALENESS_CHECKS.avNoUpdates,
    )!.message,
    /Checks 0/,
  );
});

test('findings: no ClamAV, no AV findings; databases without freshclam.conf or a daily database are failures', () => {
  const empty = readClamAv(new DirRoot(rootWithLogs('noav', {})));
  assert.deepEqual(stalenessFindings({ target: 't', now: new Date('2026-01-01'), clamav: empty }), []);
  const root = join(dir, 'mainonly');
  mkdirSync(join(root, 'var/lib/clamav'), { recursive: true });
  copyFileSync(
    new URL('../../fixtures/clamav/main-newyork.cud', import.meta.url),
    join(root, 'var/lib/clamav/main.cud'),
  );
  const fs = byCheck(
    stalenessFindings({
      target: 't',
      now: new Date('2026-11-27T00:00:00Z'),
      clamav: readClamAv(new DirRoot(root)),
    }),
  );
  assert.match(fs.get(STALENESS_CHECKS.avSignaturesStale)!.message, /no daily database/);
  assert.match(fs.get(STALENESS_CHECKS.avNoUpdates)!.message, /no freshclam\.conf/);
});
