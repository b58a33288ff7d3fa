import assert from 'node:assert/strict';
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from '../errors.js';
import { DirRoot } from '../source/dir.js';
import { onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import {
  findFreshclamUpdaters,
  MAX_WHOLE_DATABASE,
  parseClamConf,
  parseCvdHeader,
  parseCvdTime,
  parseFreshclamConf,
  readClamAv,
  type PrefixReader,
} from './clamav.js';

const FIX = new URL('../../fixtures/clamav/', import.meta.url);
const fixture = (name: string): Buffer => readFileSync(new URL(name, FIX));

/** What ClamAV's `sigtool --info` printed for a fixture (see fixtures/clamav/README.md). */
function sigtoolInfo(name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fixture(`${name}.sigtool-info.txt`).toString('utf8').split('\n')) {
    const m = /^([A-Za-z ]+): (.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/** The instant GNU date gives for sigtool's `Build time: 07 Mar 2017 08:02 -0500`, in seconds. */
function gnuDate(text: string): number {
  return Number(run('date', ['-u', '-d', text, '+%s']).trim());
}

const DATABASES = ['daily-23182.cvd-head', 'daily-utc.cud', 'daily-kolkata.cud', 'main-newyork.cud'];

test('database headers: every field as ClamAV sigtool reads it', () => {
  for (const name of DATABASES) {
    const info = sigtoolInfo(name);
    const h = parseCvdHeader(fixture(name), name);
    assert.equal(String(h.version), info['Version'], name);
    assert.equal(String(h.signatures), info['Signatures'], name);
    assert.equal(String(h.functionalityLevel), info['Functionality level'], name);
    assert.equal(h.builder, info['Builder'], name);
    // sigtool prints the text field with ':' for '-'; GNU date turns it into an instant independently.
    const t = gnuDate(info['Build time']!);
    assert.equal(h.buildTimeText.replace(/(\d{2})-(\d{2}) /, '$1:$2 '), info['Build time'], name);
    assert.equal(h.textTime!.getTime(), t * 1000, name);
    // The seconds field is the same instant to the second (the text field has minutes only).
    assert.ok(h.stime! >= t && h.stime! < t + 60, `${name}: stime ${h.stime} vs ${t}`);
    assert.equal(h.buildTime.getTime(), h.stime! * 1000, name);
  }
  assert.equal(parseCvdHeader(fixture('daily-23182.cvd-head'), 'x').md5, 'c1537143239006af01e814a4dcd58a48');
  assert.equal(parseCvdHeader(fixture('daily-utc.cud'), 'x').dsig, 'X');
});

test('damaged headers: a HyperwardError naming the field and its offset', () => {
  const good = fixture('daily-utc.cud').subarray(0, 512).toString('latin1');
  const cases: Array<[string, RegExp, number | undefined]> = [
    ['Clamav-VDB:xx', /not a ClamAV database/, 0],
    [good.replace(':27001:', ':27x01:'), /version/, good.indexOf(':27001:') + 1],
    [good.replace(':216:', ':-216:'), /functionality level/, good.indexOf(':216:') + 1],
    ['ClamAV-VDB:26 Nov 2026 19-19 +0000:1:2:3', /fields/, undefined],
    ['ClamAV-VDB:26 Nov 2026 19-19 +0000:1:2:3:m:d:b:12ab', /seconds/, undefined],
    ['ClamAV-VDB:31 Feb 2026 19-19 +0000:1:2:3:m:d:b', /build time/, 11],
    [
      'ClamAV-VDB:26 Nov 2026 19-19 +0000:1:2:3:m:d\x01:b:5',
      /printable/,
      'ClamAV-VDB:26 Nov 2026 19-19 +0000:1:2:3:m:d'.length,
    ],
  ];
  for (const [text, msg, offset] of cases) {
    try {
      parseCvdHeader(Buffer.from(text, 'latin1'), 'db.cvd');
      assert.fail(`accepted ${JSON.stringify(text.slice(0, 60))}`);
    } catch (e) {
      assert.ok(isHyperwardError(e), String(e));
      assert.match(e.message, msg);
      assert.equal(e.location.file, 'db.cvd');
      if (offset !== undefined) assert.equal(e.location.offset, offset, text.slice(0, 40));
    }
  }
  // Old databases have no seconds field: the text field is the build time.
  const old = parseCvdHeader(
    Buffer.from('ClamAV-VDB:16 Mar 2016 23-17 +0000:57:4218790:60:06386f:sig:x'),
    'main.cvd',
  );
  assert.equal(old.stime, undefined);
  assert.equal(old.buildTime.toISOString(), '2016-03-16T23:17:00.000Z');
  // A line break ends the header, as in cl_cvdhead.
  assert.equal(
    parseCvdHeader(Buffer.from('ClamAV-VDB:16 Mar 2016 23-17 +0000:5:6:7:a:b:c:1458170220\njunk:'), 'x')
      .stime,
    1458170220,
  );
});

test('fuzz: header parser only ever throws HyperwardErrors, on random and on mutated real headers', () => {
  const real = fixture('daily-23182.cvd-head');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      onlyHyperwardErrors(() =>
        parseCvdHeader(Buffer.concat([Buffer.from('ClamAV-VDB:'), Buffer.from(bytes)]), 'f'),
      );
      onlyHyperwardErrors(() => parseCvdHeader(Buffer.from(bytes), 'f'));
    }),
  );
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: 520 }), fc.nat({ max: 255 })), { minLength: 1, maxLength: 8 }),
      (edits) => {
        const b = Buffer.from(real);
        for (const [o, v] of edits) b[o] = v;
        onlyHyperwardErrors(() => {
          const h = parseCvdHeader(b, 'f');
          assert.ok(Number.isFinite(h.buildTime.getTime()));
        });
      },
    ),
  );
});

test('fuzz: headers written in the documented format read back field for field', () => {
  const field = fc.stringMatching(/^[A-Za-z0-9+/]{0,40}$/);
  fc.assert(
    fc.property(
      fc.date({ min: new Date('1990-01-01'), max: new Date('2099-12-31'), noInvalidDate: true }),
      fc.integer({ min: -14 * 60, max: 14 * 60 }),
      fc.nat({ max: 0xffff_ffff }),
      fc.nat({ max: 0xffff_ffff }),
      fc.nat({ max: 10_000 }),
      field,
      field,
      field,
      (date, offMin, version, sigs, fl, md5, dsig, builder) => {
        const at = new Date(Math.floor(date.getTime() / 60_000) * 60_000);
        const local = new Date(at.getTime() + offMin * 60_000);
        const p2 = (n: number): string => String(n).padStart(2, '0');
        const off = `${offMin < 0 ? '-' : '+'}${p2(Math.floor(Math.abs(offMin) / 60))}${p2(Math.abs(offMin) % 60)}`;
        const mon = local.toUTCString().slice(8, 11);
        const text = `${p2(local.getUTCDate())} ${mon} ${local.getUTCFullYear()} ${p2(local.getUTCHours())}-${p2(local.getUTCMinutes())} ${off}`;
        const stime = Math.floor(at.getTime() / 1000) + 17;
        const header =
          `ClamAV-VDB:${text}:${version}:${sigs}:${fl}:${md5}:${dsig}:${builder}:${stime}`.padEnd(512, ' ');
        const h = parseCvdHeader(Buffer.from(header + '\x1f\x8b', 'latin1'), 'f');
        assert.equal(parseCvdTime(text)?.getTime(), at.getTime());
        assert.deepEqual(
          [h.version, h.signatures, h.functionalityLevel, h.md5, h.dsig, h.builder, h.stime, h.buildTimeText],
          [version, sigs, fl, md5, dsig, builder, stime, text],
        );
        assert.equal(h.buildTime.getTime(), stime * 1000);
      },
    ),
  );
});

test('freshclam.conf: ClamAV 1.4.6 sample with its Example line is refused, as freshclam does', () => {
  const text = fixture('freshclam.conf.sample').toString('utf8');
  const { config, problems } = parseFreshclamConf(text, '/etc/clamav/freshclam.conf');
  assert.equal(config.example, true);
  assert.equal(config.valid, false);
  const exampleLine = text.split('\n').findIndex((l) => l.startsWith('Example')) + 1;
  assert.ok(problems.some((p) => p.location.line === exampleLine && /Example/.test(p.message)));
  // With the Example line commented out (what an administrator does), the active options are those grep sees.
  const edited = text.replace(/^Example$/m, '#Example');
  const fixed = parseFreshclamConf(edited, 'f').config;
  assert.equal(fixed.valid, true);
  const mirrors = edited
    .split('\n')
    .filter((l) => /^DatabaseMirror\s/.test(l))
    .map((l) => l.split(/\s+/)[1]);
  assert.ok(mirrors.length > 0);
  assert.deepEqual(fixed.databaseMirrors, mirrors);
  assert.equal(fixed.checksPerDay, undefined);
});

test('freshclam.conf as Debian writes it; quoting, blanks and refusals as ClamAV parses them', () => {
  // The shape clamav-freshclam's postinst generates (1.4.6+dfsg-0+deb12u1).
  const deb = `# Automatically created by the clamav-freshclam postinst
# Comments will get lost when you reconfigure the clamav-freshclam package

DatabaseOwner clamav
UpdateLogFile /var/log/clamav/freshclam.log
LogVerbose false
DatabaseDirectory /srv/clamdb/
ScriptedUpdates yes
NotifyClamd /etc/clamav/clamd.conf
# Check for new database 24 times a day
Checks 24
DatabaseMirror db.local.clamav.net
DatabaseMirror database.clamav.net
`;
  const c = parseFreshclamConf(deb, '/etc/clamav/freshclam.conf');
  assert.deepEqual(c.problems, []);
  assert.deepEqual(
    { ...c.config },
    {
      path: '/etc/clamav/freshclam.conf',
      example: false,
      valid: true,
      databaseMirrors: ['db.local.clamav.net', 'database.clamav.net'],
      privateMirrors: [],
      checksPerDay: 24,
      notifyClamd: '/etc/clamav/clamd.conf',
      databaseDirectory: '/srv/clamdb/',
      scriptedUpdates: true,
    },
  );
  const odd = parseClamConf(
    '\t  DatabaseDirectory   "/var/my db"  \r\nChecks\nX "\nY ""\nZ 1\n#Example\nExample\nAfter 1\n',
    'f',
  );
  assert.deepEqual(
    odd.entries.map((e) => [e.name, e.value, e.line]),
    [
      ['DatabaseDirectory', '/var/my db', 1],
      ['Z', '1', 5],
    ],
  );
  assert.equal(odd.exampleLine, 7);
  assert.deepEqual(
    odd.problems.map((p) => p.location.line),
    [2, 3, 4],
  );
  assert.equal(parseFreshclamConf('Checks 0\nScriptedUpdates off\n', 'f').config.checksPerDay, 0);
  assert.equal(parseFreshclamConf('Checks 12abc\n', 'f').config.checksPerDay, 12);
  assert.equal(parseFreshclamConf('ScriptedUpdates TRUE\n', 'f').config.scriptedUpdates, true);
});

test('fuzz: configuration parser never throws, and reads back generated options', () => {
  fc.assert(fc.property(fc.string({ maxLength: 400 }), (s) => void parseClamConf(s, 'f')));
  const name = fc.stringMatching(/^[A-DF-Z][A-Za-z]{1,20}$/);
  const value = fc.stringMatching(/^[^\s"#][^\n\r"]{0,30}[^\s"]$/);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(name, value, fc.boolean(), fc.constantFrom(' ', '\t', '  ')), { maxLength: 20 }),
      (opts) => {
        const text = opts.map(([n, v, q, sp]) => `${sp}${n}${sp}${q ? `"${v}"` : v}\n# comment\n`).join('');
        const conf = parseClamConf(text, 'f');
        assert.deepEqual(conf.problems, []);
        assert.deepEqual(
          conf.entries.map((e) => [e.name, e.value]),
          opts.map(([n, v]) => [n, v]),
        );
      },
    ),
  );
});

let dir = '';
let cleanup = (): void => {};
before(() => {
  ({ dir, cleanup } = tempDir('hyperward-clamav-'));
});
after(() => cleanup());

/** A root holding ClamAV as Debian lays it out, with a second database directory configured. */
function clamRoot(name: string): string {
  const root = join(dir, name);
  mkdirSync(join(root, 'var/lib/clamav'), { recursive: true });
  mkdirSync(join(root, 'srv/clamdb'), { recursive: true });
  mkdirSync(join(root, 'etc/clamav'), { recursive: true });
  mkdirSync(join(root, 'etc/systemd/system/multi-user.target.wants'), { recursive: true });
  copyFileSync(new URL('daily-utc.cud', FIX), join(root, 'var/lib/clamav/daily.cud'));
  copyFileSync(new URL('main-newyork.cud', FIX), join(root, 'var/lib/clamav/main.cud'));
  copyFileSync(new URL('daily-kolkata.cud', FIX), join(root, 'srv/clamdb/daily.cld'));
  copyFileSync(new URL('daily-23182.cvd-head', FIX), join(root, 'srv/clamdb/daily.cvd'));
  writeFileSync(join(root, 'var/lib/clamav/freshclam.dat'), 'not a database');
  writeFileSync(join(root, 'var/lib/clamav/broken.cvd'), 'ClamAV-VDB:garbage');
  writeFileSync(join(root, 'etc/clamav/freshclam.conf'), 'DatabaseMirror database.clamav.net\nChecks 24\n');
  writeFileSync(
    join(root, 'etc/clamav/clamd.conf'),
    'LocalSocket /run/clamav/clamd.ctl\nDatabaseDirectory /srv/clamdb\n',
  );
  symlinkSync(
    '/lib/systemd/system/clamav-freshclam.service',
    join(root, 'etc/systemd/system/multi-user.target.wants/clamav-freshclam.service'),
  );
  return root;
}

test('readClamAv: databases of every directory, configuration, updaters, and the bad file reported', () => {
  const info = readClamAv(new DirRoot(clamRoot('debian')));
  assert.deepEqual(info.databaseDirectories, ['/var/lib/clamav', '/usr/local/share/clamav', '/srv/clamdb']);
  assert.deepEqual(
    info.databases.map((d) => [d.path, d.name, d.kind, d.version]),
    [
      ['/var/lib/clamav/daily.cud', 'daily', 'cud', 27001],
      ['/var/lib/clamav/main.cud', 'main', 'cud', 62],
      ['/srv/clamdb/daily.cld', 'daily', 'cld', 27002],
      ['/srv/clamdb/daily.cvd', 'daily', 'cvd', 23182],
    ],
  );
  assert.equal(info.freshclam?.path, '/etc/clamav/freshclam.conf');
  assert.equal(info.freshclam?.checksPerDay, 24);
  assert.deepEqual(info.clamdConfigs, ['/etc/clamav/clamd.conf']);
  assert.deepEqual(info.updaters, [
    'systemd:/etc/systemd/system/multi-user.target.wants/clamav-freshclam.service',
  ]);
  assert.equal(info.problems.length, 1);
  assert.equal(info.problems[0]!.location.file, '/var/lib/clamav/broken.cvd');
});

test('readClamAv: updaters from cron, OpenRC and SysV; none when only commented out', () => {
  const root = join(dir, 'cron');
  mkdirSync(join(root, 'etc/cron.d'), { recursive: true });
  mkdirSync(join(root, 'etc/runlevels/default'), { recursive: true });
  mkdirSync(join(root, 'etc/rc2.d'), { recursive: true });
  writeFileSync(
    join(root, 'etc/cron.d/clamav-freshclam'),
    '17 */2 * * *  clamav [ -x /usr/bin/freshclam ] && /usr/bin/freshclam --quiet >/dev/null\n',
  );
  writeFileSync(join(root, 'etc/crontab'), '# 0 * * * * root freshclam\n');
  symlinkSync('/etc/init.d/freshclam', join(root, 'etc/runlevels/default/freshclam'));
  symlinkSync('../init.d/clamav-freshclam', join(root, 'etc/rc2.d/S01clamav-freshclam'));
  symlinkSync('../init.d/clamav-freshclam', join(root, 'etc/rc2.d/K01clamav-freshclam'));
  const updaters = [
    'openrc:/etc/runlevels/default/freshclam',
    'sysv:/etc/rc2.d/S01clamav-freshclam',
    'cron:/etc/cron.d/clamav-freshclam',
  ];
  assert.deepEqual(findFreshclamUpdaters(new DirRoot(root)), updaters);
  // Without any ClamAV (no database, freshclam.conf or clamd.conf) nobody asks what would update it.
  assert.deepEqual(readClamAv(new DirRoot(root)).updaters, []);
  mkdirSync(join(root, 'etc/clamav'), { recursive: true });
  writeFileSync(join(root, 'etc/clamav/freshclam.conf'), 'DatabaseMirror database.clamav.net\n');
  assert.deepEqual(readClamAv(new DirRoot(root)).updaters, updaters);
});

/** A DirRoot that can read the first bytes of a file, as an image root could. */
class PrefixDirRoot extends DirRoot implements PrefixReader {
  readPrefix(path: string, length: number): Buffer | undefined {
    const local = this.resolve(path);
    if (local === undefined) return undefined;
    const fd = openSync(local, 'r');
    try {
      const b = Buffer.alloc(length);
      return b.subarray(0, readSync(fd, b, 0, length, 0));
    } finally {
      closeSync(fd);
    }
  }
}

test('readClamAv: a database over the whole-file cap needs a prefix read', () => {
  const root = join(dir, 'big');
  mkdirSync(join(root, 'var/lib/clamav'), { recursive: true });
  const big = join(root, 'var/lib/clamav/daily.cld');
  writeFileSync(big, fixture('daily-utc.cud'));
  truncateSync(big, MAX_WHOLE_DATABASE + 4096); // sparse: the header and a hole
  const plain = readClamAv(new DirRoot(root));
  assert.equal(plain.databases.length, 0);
  assert.equal(plain.problems[0]?.code, 'E_LIMIT');
  assert.equal(plain.problems[0]?.location.file, '/var/lib/clamav/daily.cld');
  const withPrefix = readClamAv(new PrefixDirRoot(root));
  assert.deepEqual(withPrefix.problems, []);
  assert.equal(withPrefix.databases[0]?.version, 27001);
});
