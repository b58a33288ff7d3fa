import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { isHyperwardError } from '../../errors.js';
import { tempDir } from '../../../test/helpers/tmp.js';
import { parseOsvRecord } from '../import/osv.js';
import { importAdvisories } from '../import/run.js';
import type { OsInfo, Package, SystemInventory } from '../../model/inventory.js';
import { FACTS_VERSION, matchFactsOf } from '../facts.js';
import { matchInventory, matchPackages } from '../match.js';
import { MemoryAdvisoryIndex } from '../memory-index.js';
import type { Advisory, AdvisoryIndex, AffectedPackage, RangeEvent } from '../types.js';
import { AdvisoryDb, SCHEMA_VERSION, verdictFilePath } from './store.js';
import { openVulnContext } from '../../scan/vulns.js';
import { osvRangeEvent } from '../../../test/helpers/fuzz.js';

const DEBIAN_12: OsInfo = {
  id: 'debian',
  idLike: [],
  versionId: '12',
  family: 'debian',
  source: '/etc/os-release',
};

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const UBUNTU = join(REPO, 'fixtures', 'advisories', 'osv', 'ubuntu');
/** Three real Ubuntu records about sudo and glibc (fixtures/advisories), the set these tests count on. */
const THREE = ['USN-5811-1.json', 'USN-6409-1.json', 'UBUNTU-CVE-2023-22809.json'];

/** Copies the three records into `dir/osv` and returns that directory. */
function threeRecords(dir: string): string {
  const out = join(dir, 'osv');
  mkdirSync(out, { recursive: true });
  for (const f of THREE) cpSync(join(UBUNTU, f), join(out, f));
  return out;
}

/** Affected entries of the three records, read with plain JSON.parse. */
function threeEntries(): number {
  return THREE.reduce((n, f) => n + JSON.parse(readFileSync(join(UBUNTU, f), 'utf8')).affected.length, 0);
}
const RUN_TS = pathToFileURL(join(REPO, 'src', 'vuln', 'import', 'run.ts')).href;

/** An OSV record for Debian 12 `pkg` fixed in `fixed`. */
function osv(
  id: string,
  pkg: string,
  fixed: string,
  modified = '2024-01-01T00:00:00Z',
): Record<string, unknown> {
  return {
    id,
    modified,
    summary: `${pkg} issue`,
    aliases: [`CVE-${id}`],
    affected: [
      {
        package: { ecosystem: 'Debian:12', name: pkg },
        ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }],
      },
    ],
  };
}

function dbFiles(path: string): string[] {
  return [path, `${path}-wal`, `${path}-shm`].filter((p) => existsSync(p));
}

test('defaultPath: $HYPERWARD_DB, else the XDG cache directory, else ~/.cache', () => {
  assert.equal(AdvisoryDb.defaultPath({ HYPERWARD_DB: '/x/a.db' }), '/x/a.db');
  assert.equal(AdvisoryDb.defaultPath({ XDG_CACHE_HOME: '/c', HOME: '/h' }), '/c/hyperward/advisories.db');
  assert.equal(
    AdvisoryDb.defaultPath({ XDG_CACHE_HOME: 'relative', HOME: '/h' }),
    '/h/.cache/hyperward/advisories.db',
  );
  assert.equal(AdvisoryDb.defaultPath({ HYPERWARD_DB: '', HOME: '/h' }), '/h/.cache/hyperward/advisories.db');
});

test('import of real records: stored as parsed, looked up by distro and package, re-import changes nothing', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'sub', 'adv.db');
    const FIXTURES = threeRecords(dir);
    const now = new Date('2024-05-01T00:00:00Z');
    const first = await importAdvisories(path, [FIXTURES], { now });
    assert.equal(first.added, 3);
    assert.deepEqual(first.issues, []);
    const db = AdvisoryDb.open(path, { readonly: true });
    try {
      // What the database gives back is what the parser made of the file.
      const usnFile = join(FIXTURES, 'USN-5811-1.json');
      const parsed = parseOsvRecord(JSON.parse(readFileSync(usnFile, 'utf8')), usnFile).advisory!;
      assert.deepEqual(db.record('osv:USN-5811-1'), parsed);
      const { affected: _affected, ...withoutEntries } = parsed;
      assert.deepEqual(db.advisory('osv:USN-5811-1'), withoutEntries);
      assert.equal(db.advisory('osv:USN-5811-1'), db.advisory('osv:USN-5811-1'), 'cached');
      assert.equal(db.advisory('osv:nothing'), undefined);
      const hits = db.lookup('ubuntu:22.04', 'sudo');
      assert.deepEqual(hits.map((h) => h.advisoryKey).sort(), [
        'osv:UBUNTU-CVE-2023-22809',
        'osv:USN-5811-1',
      ]);
      assert.deepEqual(
        hits.find((h) => h.advisoryKey === 'osv:USN-5811-1')!.affected,
        parsed.affected.find((a) => a.distro === 'ubuntu:22.04'),
      );
      assert.deepEqual(db.lookup('ubuntu:22.04', 'nothing'), []);
      assert.deepEqual(db.lookup('debian:12', 'sudo'), []);
      const info = db.info();
      assert.equal(info.schemaVersion, SCHEMA_VERSION);
      assert.equal(info.advisories, 3);
      assert.deepEqual(info.counts, { osv: 3, 'debian-tracker': 0, 'alpine-secdb': 0, nvd: 0 });
      assert.equal(info.lastImport, now.toISOString());
      assert.deepEqual(info.sources, [
        { path: FIXTURES, kind: 'osv', importedAt: now.toISOString(), records: 3 },
      ]);
      assert.equal(info.distros[0]?.distro, 'ubuntu:22.04');
      assert.equal(info.distros[0]?.advisories, 3);
      assert.equal(info.affectedRows, threeEntries());
      const raw = new Database(path, { readonly: true });
      assert.equal(raw.pragma('page_size', { simple: true }), 16_384, 'a package is a run of 16 KiB pages');
      raw.close();
    } finally {
      db.close();
    }
    const later = new Date('2024-05-02T00:00:00Z');
    const second = await importAdvisories(path, [FIXTURES], { now: later });
    assert.deepEqual([second.added, second.updated, second.unchanged], [0, 0, 3]);
    const again = AdvisoryDb.open(path, { readonly: true });
    assert.equal(again.info().affectedRows, threeEntries());
    assert.equal(again.lastImport(), later.toISOString());
    again.close();
  } finally {
    cleanup();
  }
});

test('incremental: a newer record replaces the old one and its affected rows; an older one is kept out', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'adv.db');
    const feed = join(dir, 'feed.json');
    const put = async (records: unknown[]): Promise<[number, number, number]> => {
      writeFileSync(feed, JSON.stringify(records));
      const s = await importAdvisories(path, [feed]);
      assert.deepEqual(s.issues, []);
      return [s.added, s.updated, s.unchanged];
    };
    assert.deepEqual(await put([osv('A-1', 'zlib', '1.2-1'), osv('A-2', 'curl', '8.0-1')]), [2, 0, 0]);
    const v2 = osv('A-1', 'libz', '1.3-1', '2024-02-01T00:00:00Z');
    assert.deepEqual(await put([v2, osv('A-2', 'curl', '8.0-1')]), [0, 1, 1]);
    let db = AdvisoryDb.open(path, { readonly: true });
    assert.deepEqual(db.lookup('debian:12', 'zlib'), [], 'the old affected row is gone');
    assert.deepEqual(db.lookup('debian:12', 'libz')[0]?.affected.ranges, [
      [{ introduced: '0' }, { fixed: '1.3-1' }],
    ]);
    assert.equal(db.advisory('osv:A-1')?.modified, '2024-02-01T00:00:00Z');
    assert.equal(db.info().affectedRows, 2);
    db.close();
    // An older copy of the record does not win; the same content under a new date is unchanged.
    assert.deepEqual(await put([osv('A-1', 'zlib', '1.2-1')]), [0, 0, 1]);
    assert.deepEqual(await put([osv('A-2', 'curl', '8.0-1', '2025-01-01T00:00:00Z')]), [0, 0, 1]);
    db = AdvisoryDb.open(path, { readonly: true });
    assert.equal(db.lookup('debian:12', 'libz').length, 1);
    // A record withdrawn later is kept, flagged.
    db.close();
    assert.deepEqual(
      await put([{ ...v2, modified: '2024-03-01T00:00:00Z', withdrawn: '2024-03-01T00:00:00Z' }]),
      [0, 1, 0],
    );
    db = AdvisoryDb.open(path, { readonly: true });
    assert.equal(db.advisory('osv:A-1')?.withdrawn, '2024-03-01T00:00:00Z');
    assert.equal(db.info().withdrawn, 1);
    db.close();
  } finally {
    cleanup();
  }
});

test("refused: a file that is not SQLite, a corrupt database, another program's database, a newer schema", () => {
  const { dir, cleanup } = tempDir();
  try {
    const junk = join(dir, 'junk.db');
    writeFileSync(junk, 'this is not a database '.repeat(100));
    for (const ro of [true, false]) {
      assert.throws(
        () => AdvisoryDb.open(junk, { readonly: ro }),
        (e: unknown) => isHyperwardError(e) && e.code === 'E_IO' && e.message.includes(junk),
      );
    }
    assert.throws(
      () => AdvisoryDb.open(join(dir, 'missing.db'), { readonly: true }),
      (e: unknown) => isHyperwardError(e) && e.code === 'E_NOT_FOUND',
    );
    assert.equal(existsSync(join(dir, 'missing.db')), false, 'a read-only open creates nothing');

    const other = join(dir, 'other.db');
    const o = new Database(other);
    o.exec('CREATE TABLE t (x)');
    o.close();
    assert.throws(
      () => AdvisoryDb.open(other),
      (e: unknown) => isHyperwardError(e) && /not a Hyperward advisory database/.test(e.message),
    );

    const newer = join(dir, 'newer.db');
    AdvisoryDb.open(newer).close();
    const n = new Database(newer);
    n.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    n.close();
    for (const ro of [true, false]) {
      assert.throws(
        () => AdvisoryDb.open(newer, { readonly: ro }),
        (e: unknown) =>
          isHyperwardError(e) && e.code === 'E_IO' && /newer/.test(e.message) && e.message.includes(newer),
      );
    }
  } finally {
    cleanup();
  }
});

test('a database whose pages are damaged fails with an error naming the file, not a crash', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'adv.db');
    const FIXTURES = threeRecords(dir);
    await importAdvisories(path, [FIXTURES]);
    assert.deepEqual(dbFiles(path), [path], 'a finished import leaves one file');
    const buf = readFileSync(path);
    const pageSize = buf.readUInt16BE(16);
    for (let i = pageSize; i < buf.length; i++) buf[i] = (i * 131) & 0xff; // everything after page 1
    writeFileSync(path, buf);
    assert.throws(
      () => {
        const db = AdvisoryDb.open(path, { readonly: true });
        try {
          db.info();
          db.lookup('ubuntu:22.04', 'sudo');
        } finally {
          db.close();
        }
      },
      (e: unknown) => isHyperwardError(e) && e.code === 'E_IO' && e.message.includes(path),
    );
  } finally {
    cleanup();
  }
});

test('an import killed with SIGKILL midway leaves the previous database intact', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'adv.db');
    const FIXTURES = threeRecords(dir);
    // The previous contents: the real fixtures and 50 records of our own.
    const old = join(dir, 'old.json');
    writeFileSync(
      old,
      JSON.stringify(Array.from({ length: 50 }, (_, i) => osv(`OLD-${i}`, `pkg${i}`, '1.0-1'))),
    );
    await importAdvisories(path, [FIXTURES, old], { now: new Date('2024-01-01T00:00:00Z') });
    const before = AdvisoryDb.open(path, { readonly: true });
    const infoBefore = before.info();
    const oldRecord = before.advisory('osv:OLD-7');
    before.close();

    // A large set: 80,000 new records, and newer versions of the old ones (so updates must roll back too).
    const big = join(dir, 'big.json');
    const records = Array.from({ length: 80_000 }, (_, i) => osv(`NEW-${i}`, `new${i % 5000}`, `2.${i}-1`));
    for (let i = 0; i < 50; i++)
      records.splice(i * 100, 0, osv(`OLD-${i}`, `pkg${i}`, '9.9-1', '2025-01-01T00:00:00Z'));
    writeFileSync(big, JSON.stringify(records));
    const child = join(dir, 'child.mts');
    writeFileSync(
      child,
      `import { importAdvisories } from ${JSON.stringify(RUN_TS)};
await importAdvisories(process.argv[2], [process.argv[3]], {
  onProgress: (p) => process.stdout.write('progress ' + p.records + '\\n'),
  cacheKiB: 256, // a small cache: uncommitted pages spill to the WAL before the kill
});
process.stdout.write('done\\n');
`,
    );
    const proc = spawn(process.execPath, ['--import', 'tsx', child, path, big], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let killedAt = -1;
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /progress (\d+)\n(?![\s\S]*progress)/.exec(out);
      if (killedAt < 0 && m && Number(m[1]) >= 5000) {
        killedAt = Number(m[1]);
        proc.kill('SIGKILL');
      }
    });
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res) =>
      proc.on('exit', (c, s) => res([c, s])),
    );
    assert.equal(signal, 'SIGKILL', `the child was killed midway (exit ${code}): ${err}`);
    assert.ok(killedAt >= 5000, 'it had stored thousands of records when killed');
    assert.ok(!out.includes('done'));
    assert.ok(
      existsSync(`${path}-wal`) && statSync(`${path}-wal`).size > 0,
      'the killed import left its WAL behind',
    );

    // A scan right after the crash opens it read-only and sees the old contents.
    const after = AdvisoryDb.open(path, { readonly: true });
    try {
      assert.deepEqual(after.info(), infoBefore);
      assert.deepEqual(after.advisory('osv:OLD-7'), oldRecord);
      assert.equal(after.advisory('osv:NEW-0'), undefined);
      assert.deepEqual(after.lookup('debian:12', 'new0'), []);
    } finally {
      after.close();
    }
    const raw = new Database(path);
    assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
    raw.close();
    // And the database takes the next import.
    const s = await importAdvisories(path, [old]);
    assert.deepEqual([s.added, s.updated, s.unchanged], [0, 0, 50]);
  } finally {
    cleanup();
  }
});

test('scans read the committed contents while an import is running', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'adv.db');
    const FIXTURES = threeRecords(dir);
    await importAdvisories(path, [FIXTURES]);
    const writer = AdvisoryDb.open(path);
    const tx = writer.beginImport('2030-01-01T00:00:00.000Z');
    const parsed = parseOsvRecord(osv('LIVE-1', 'sudo', '9.9-1'), 'x').advisory!;
    assert.equal(tx.put(parsed), 'added');
    const reader = AdvisoryDb.open(path, { readonly: true });
    try {
      assert.equal(reader.info().advisories, 3);
      assert.deepEqual(reader.lookup('debian:12', 'sudo'), []);
      tx.commit();
      assert.equal(reader.info().advisories, 4);
      assert.equal(reader.lookup('debian:12', 'sudo')[0]?.advisoryKey, 'osv:LIVE-1');
      assert.equal(reader.lastImport(), '2030-01-01T00:00:00.000Z');
    } finally {
      reader.close();
      writer.close();
    }
  } finally {
    cleanup();
  }
});

test('a copy of the database can be moved to another machine: one self-contained file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'adv.db');
    const FIXTURES = threeRecords(dir);
    await importAdvisories(path, [FIXTURES]);
    cpSync(path, join(dir, 'copy.db'));
    const db = AdvisoryDb.open(join(dir, 'copy.db'), { readonly: true });
    assert.equal(db.info().advisories, 3);
    db.close();
  } finally {
    cleanup();
  }
});

test('a database of schema 1 (older Hyperward) is refused with a request to import again, and left as it was', () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'v1.db');
    const v1 = new Database(path);
    v1.exec(
      'CREATE TABLE advisories (rid INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, id TEXT NOT NULL, ' +
        'origin TEXT NOT NULL, modified TEXT NOT NULL, withdrawn TEXT, hash TEXT NOT NULL, body TEXT NOT NULL) STRICT;' +
        'CREATE TABLE affected (advisory INTEGER NOT NULL, distro TEXT NOT NULL, package TEXT NOT NULL, ' +
        'entry TEXT NOT NULL) STRICT;',
    );
    v1.pragma('application_id = 1213677892');
    v1.pragma('user_version = 1');
    v1.close();
    for (const ro of [true, false]) {
      assert.throws(
        () => AdvisoryDb.open(path, { readonly: ro }),
        (e: unknown) =>
          isHyperwardError(e) &&
          e.code === 'E_IO' &&
          /older Hyperward/.test(e.message) &&
          /hyperward db import/.test(e.message) &&
          e.message.includes(path),
      );
    }
    const after = new Database(path, { readonly: true });
    assert.equal(after.pragma('user_version', { simple: true }), 1);
    after.close();
  } finally {
    cleanup();
  }
});

test('lookupMany and matchFacts answer as lookup and matchFactsOf(advisory) do, in one query each', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'adv.db');
    await importAdvisories(path, [threeRecords(dir)]);
    const db = AdvisoryDb.open(path, { readonly: true });
    try {
      const names = ['sudo', 'glibc', 'nothing', 'sudo', 'bad\uD800name'];
      const many = db.lookupMany('ubuntu:22.04', names);
      assert.deepEqual([...many.keys()].sort(), ['glibc', 'sudo']);
      for (const n of names) assert.deepEqual(many.get(n) ?? [], db.lookup('ubuntu:22.04', n));
      assert.equal(db.lookupMany('debian:12', names).size, 0);
      const keys = [...new Set([...many.values()].flat().map((h) => h.advisoryKey))];
      assert.equal(keys.length, 3);
      const facts = db.matchFacts([...keys, 'osv:nothing', keys[0]!]);
      assert.deepEqual([...facts.keys()].sort(), [...keys].sort());
      for (const k of keys) assert.deepEqual(facts.get(k), matchFactsOf(db.advisory(k)!));
      // A fresh connection, without the facts lookupMany keeps: read from the file.
      const fresh = AdvisoryDb.open(path, { readonly: true });
      try {
        assert.deepEqual(fresh.matchFacts([...keys, 'osv:nothing']), facts);
      } finally {
        fresh.close();
      }
    } finally {
      db.close();
    }
  } finally {
    cleanup();
  }
});

test('facts of another FACTS_VERSION are derived again: by a reader from the record, by the next import in place', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'adv.db');
    const feed = threeRecords(dir);
    await importAdvisories(path, [feed]);
    const raw = new Database(path);
    raw.prepare("UPDATE meta SET value = '0' WHERE name = 'facts_version'").run();
    raw.prepare(`UPDATE affected SET facts = '{"stale":true}'`).run();
    raw.close();
    const check = (): void => {
      const db = AdvisoryDb.open(path, { readonly: true });
      try {
        const keys = ['osv:USN-5811-1', 'osv:USN-6409-1', 'osv:UBUNTU-CVE-2023-22809'];
        const facts = db.matchFacts(keys);
        for (const k of keys) assert.deepEqual(facts.get(k), matchFactsOf(db.advisory(k)!));
      } finally {
        db.close();
      }
    };
    check();
    const again = await importAdvisories(path, [feed]);
    assert.equal(again.unchanged, 3);
    const raw2 = new Database(path, { readonly: true });
    assert.equal(
      raw2.prepare("SELECT value FROM meta WHERE name = 'facts_version'").pluck().get(),
      String(FACTS_VERSION),
    );
    assert.equal(raw2.prepare("SELECT count(*) FROM affected WHERE facts LIKE '%stale%'").pluck().get(), 0);
    raw2.close();
    check();
  } finally {
    cleanup();
  }
});

test('matching through the database gives exactly what matching in memory gives (fast-check)', () => {
  const { dir, cleanup } = tempDir();
  try {
    const version = fc.oneof(
      fc.constantFrom('1.0-1', '1:1.0-1', '1.0-1+deb12u1', '1.0~rc1-1', '2.0-1', '0.9-3', '1.0-1~deb12u1'),
      fc.constantFrom('not a version', ''),
    );
    const event = osvRangeEvent(version);
    const vector = fc.constantFrom(
      'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
      'CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N',
      'AV:N/AC:L/Au:N/C:P/I:P/A:P',
      'CVSS:3.1/AV:X',
    );
    const name = fc.constantFrom('openssl', 'glibc', 'sudo');
    const rec = fc.record({
      id: fc.constantFrom('DSA-1-1', 'DLA-2-1', 'DEBIAN-CVE-2024-0001', 'CVE-2024-0002', 'USN-3-1'),
      aliases: fc.array(fc.constantFrom('CVE-2024-0001', 'CVE-2024-0003', 'GHSA-1'), { maxLength: 3 }),
      summary: fc.option(fc.constantFrom('a problem', '  ', 'x'.repeat(300))),
      withdrawn: fc.boolean(),
      severity: fc.array(vector, { maxLength: 3 }),
      distroSeverity: fc.option(fc.constantFrom('high', 'unimportant', 'x')),
      refs: fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 30 }),
      affected: fc.array(
        fc.record({
          name,
          ranges: fc.array(fc.array(event, { maxLength: 4 }), { maxLength: 2 }),
          versions: fc.array(version, { maxLength: 2 }),
          arches: fc.option(fc.array(fc.constantFrom('amd64', 'arm64'), { maxLength: 2 })),
          urgency: fc.option(fc.constantFrom('low', 'medium', 'not yet assigned')),
          wontFix: fc.boolean(),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    });
    const pkg = fc.tuple(name, version, fc.constantFrom('amd64', 'arm64', 'all'), fc.constantFrom('', 'lib'));
    let run = 0;
    fc.assert(
      fc.property(fc.array(rec, { maxLength: 8 }), fc.array(pkg, { maxLength: 6 }), (recs, pkgs) => {
        const advs: Advisory[] = recs.map((r, i) => {
          const a: Advisory = {
            key: `osv:${r.id}#${i}`,
            id: r.id,
            origin: 'osv',
            aliases: r.aliases,
            upstream: [],
            related: [],
            modified: `2024-01-${String(1 + (i % 28)).padStart(2, '0')}T00:00:00Z`,
            severity: r.severity.map((v) => ({ type: 'CVSS_V3' as const, vector: v })),
            references: r.refs.map((n) => ({
              type: n % 7 === 0 ? 'ADVISORY' : 'WEB',
              url: `https://example.org/${n}`,
            })),
            affected: r.affected.map((e) => {
              const p: AffectedPackage = {
                ecosystem: 'Debian:12',
                distro: 'debian:12',
                scheme: 'deb',
                package: e.name,
                ranges: e.ranges as RangeEvent[][],
                versions: e.versions,
              };
              if (e.arches !== null) p.arches = e.arches;
              if (e.urgency !== null) p.distroSeverity = e.urgency;
              if (e.wontFix) p.wontFix = true;
              return p;
            }),
          };
          if (r.summary !== null) a.summary = r.summary;
          if (r.withdrawn) a.withdrawn = '2024-02-01T00:00:00Z';
          if (r.distroSeverity !== null) a.distroSeverity = r.distroSeverity;
          return a;
        });
        const packages: Package[] = pkgs.map(([n, v, arch, prefix]) => ({
          ecosystem: 'deb',
          name: `${prefix}${n}`,
          version: v,
          arch,
          sourceName: n,
          sourceVersion: v,
          source: '/var/lib/dpkg/status',
        }));
        const inv: SystemInventory = { os: DEBIAN_12, packages };
        const path = join(dir, `p${run++}.db`);
        const w = AdvisoryDb.open(path);
        const tx = w.beginImport('2024-03-01T00:00:00Z');
        for (const a of advs) tx.put(a);
        tx.commit();
        w.close();
        const db = AdvisoryDb.open(path, { readonly: true });
        try {
          const fromDb = matchInventory(inv, db, { target: 't' });
          const inMemory = matchInventory(inv, new MemoryAdvisoryIndex(advs), { target: 't' });
          assert.deepEqual(fromDb, inMemory);
        } finally {
          db.close();
          for (const f of dbFiles(path)) rmSync(f);
        }
      }),
      { numRuns: 150 },
    );
  } finally {
    cleanup();
  }
});

/** Ubuntu 22.04 with the packages the three records are about, below their fixes. */
const JAMMY: SystemInventory = {
  os: { id: 'ubuntu', idLike: ['debian'], versionId: '22.04', family: 'debian', source: '/etc/os-release' },
  packages: [
    ['sudo', 'sudo', '1.9.9-1ubuntu2'],
    ['libc6', 'glibc', '2.35-0ubuntu3.1'],
    ['libc-bin', 'glibc', '2.35-0ubuntu3.1'],
  ].map(([name, source, version]) => ({
    ecosystem: 'deb' as const,
    name: name!,
    version: version!,
    arch: 'amd64',
    sourceName: source!,
    sourceVersion: version!,
    source: '/var/lib/dpkg/status',
  })),
};

/** A Debian 12 inventory of the named source packages, each one binary of the same name at 1.0-1. */
function debian12At10(names: readonly string[]): SystemInventory {
  return {
    os: DEBIAN_12,
    packages: names.map((n) => ({
      ecosystem: 'deb' as const,
      name: n,
      version: '1.0-1',
      arch: 'amd64',
      sourceName: n,
      sourceVersion: '1.0-1',
      source: '/var/lib/dpkg/status',
    })),
  };
}

/** Runs `fn` on the database at `path` opened read-only, then closes it. */
/** Imports the three records again into `path`: nothing changes, no issue, and the verdict file is current. */
async function reimportWritesVerdicts(path: string, feed: string): Promise<void> {
  const s = await importAdvisories(path, [feed]);
  assert.equal(s.unchanged, 3);
  assert.deepEqual(s.issues, []);
  reading(path, (db) => assert.equal(db.info().verdicts.state, 'current'));
}

function reading(path: string, fn: (db: AdvisoryDb) => void): void {
  const db = AdvisoryDb.open(path, { readonly: true });
  try {
    fn(db);
  } finally {
    db.close();
  }
}

/** The same index without its packed rows: what matching reads of a file without usable ones. */
function withoutRows(db: AdvisoryDb): AdvisoryIndex {
  return {
    lookup: (d, p) => db.lookup(d, p),
    lookupMany: (d, ps) => db.lookupMany(d, ps),
    advisory: (k) => db.advisory(k),
    matchFacts: (ks) => db.matchFacts(ks),
  };
}

test('matching reads the packed rows, and finds what it finds from the affected rows', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'adv.db');
    await importAdvisories(path, [threeRecords(dir)]);
    reading(path, (db) => {
      const rows = db.matchRows('ubuntu:22.04', ['sudo', 'glibc', 'nothing']);
      assert.deepEqual([...(rows?.keys() ?? [])].sort(), ['glibc', 'sudo']);
      const packed = matchInventory(JAMMY, db, { target: 't' });
      assert.equal(packed.findings.length, 6);
      assert.deepEqual(packed, matchInventory(JAMMY, withoutRows(db), { target: 't' }));
    });
    // Rows packed by another format are not read; matching reads the affected rows and finds the same.
    const raw = new Database(path);
    raw.prepare("UPDATE meta SET value = '0' WHERE name = 'match_version'").run();
    raw.close();
    reading(path, (db) => {
      assert.equal(db.matchRows('ubuntu:22.04', ['sudo']), undefined);
      assert.equal(matchInventory(JAMMY, db, { target: 't' }).findings.length, 6);
    });
    // The next import packs them again.
    await importAdvisories(path, [threeRecords(dir)]);
    reading(path, (db) => assert.equal(db.matchRows('ubuntu:22.04', ['sudo'])?.size, 1));
  } finally {
    cleanup();
  }
});

test('a database of schema 2: read as it is (the same findings, from its affected rows), upgraded in place by an import', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'v2.db');
    const feed = threeRecords(dir);
    await importAdvisories(path, [feed]);
    const raw = new Database(path);
    raw.exec("DROP TABLE match_rows; DELETE FROM meta WHERE name = 'match_version'");
    raw.pragma('user_version = 2');
    raw.close();
    reading(path, (db) => {
      assert.equal(db.info().schemaVersion, 2);
      assert.equal(db.matchRows('ubuntu:22.04', ['sudo', 'glibc']), undefined, 'no packed rows');
      assert.equal(matchInventory(JAMMY, db, { target: 't' }).findings.length, 6);
    });
    const ctx = openVulnContext({ db: path });
    ctx.close();
    assert.ok(
      ctx.warnings.some((w) => /older Hyperward \(schema 2\).*hyperward db import/.test(w)),
      ctx.warnings.join('\n'),
    );
    const s = await importAdvisories(path, [feed]);
    assert.equal(s.unchanged, 3);
    reading(path, (db) => {
      assert.equal(db.info().schemaVersion, SCHEMA_VERSION);
      assert.equal(db.matchRows('ubuntu:22.04', ['sudo', 'glibc'])?.size, 2);
      assert.equal(matchInventory(JAMMY, db, { target: 't' }).findings.length, 6);
    });
  } finally {
    cleanup();
  }
});

test('damaged stored facts are an E_IO error naming the database, never a TypeError from inside the matcher', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'facts.db');
    await importAdvisories(path, [threeRecords(dir)]);
    const raw = new Database(path);
    // Valid JSON of the wrong shape (no vulnIds), and matching forced onto the affected rows (no packed rows).
    raw.exec(
      `UPDATE affected SET facts = '{"id":"x","origin":"osv"}'; DELETE FROM meta WHERE name = 'match_version'`,
    );
    raw.close();
    reading(path, (db) => {
      assert.throws(
        () => matchInventory(JAMMY, db, { target: 't' }),
        (e: unknown) =>
          isHyperwardError(e) && e.code === 'E_IO' && /damaged/.test(e.message) && e.message.includes(path),
      );
    });
  } finally {
    cleanup();
  }
});

test('incremental imports pack again exactly the rows they touch: matching follows every update', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'adv.db');
    const feed = join(dir, 'feed.json');
    const inv = debian12At10(['zlib', 'libz', 'curl']);
    /** Imports `records`; matching through the packed rows must give what matching them in memory gives. */
    const step = async (records: Array<Record<string, unknown>>, all: Advisory[]): Promise<string[]> => {
      writeFileSync(feed, JSON.stringify(records));
      assert.deepEqual((await importAdvisories(path, [feed])).issues, []);
      let got: string[] = [];
      reading(path, (db) => {
        assert.ok(db.matchRows('debian:12', ['zlib']), 'packed rows in use');
        const r = matchInventory(inv, db, { target: 't' });
        assert.deepEqual(r, matchInventory(inv, new MemoryAdvisoryIndex(all), { target: 't' }));
        got = r.findings.map(
          (f) => `${f.vulnerability!.package.name} ${f.checkId} ${f.vulnerability!.fixedVersion}`,
        );
      });
      return got.sort();
    };
    const parsed = (r: Record<string, unknown>): Advisory => parseOsvRecord(r, 'feed.json').advisory!;
    const a1 = osv('A-1', 'zlib', '1.2-1');
    const a2 = osv('A-2', 'curl', '8.0-1');
    assert.deepEqual(await step([a1, a2], [parsed(a1), parsed(a2)]), ['curl A-2 8.0-1', 'zlib A-1 1.2-1']);
    // A-1 moves from zlib to libz with another fix: both rows are packed again, zlib's emptied.
    const a1b = osv('A-1', 'libz', '1.3-1', '2024-02-01T00:00:00Z');
    assert.deepEqual(await step([a1b], [parsed(a1b), parsed(a2)]), ['curl A-2 8.0-1', 'libz A-1 1.3-1']);
    reading(path, (db) => assert.equal(db.matchRows('debian:12', ['zlib'])?.size, 0));
    // Withdrawn: it says nothing any more.
    const a1c = { ...a1b, modified: '2024-03-01T00:00:00Z', withdrawn: '2024-03-01T00:00:00Z' };
    assert.deepEqual(await step([a1c], [parsed(a1c), parsed(a2)]), ['curl A-2 8.0-1']);
  } finally {
    cleanup();
  }
});

test('the verdict file: written by each import, read only while it is the file of the rows, the same findings without it', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'adv.db');
    const feed = threeRecords(dir);
    await importAdvisories(path, [feed]);
    const file = verdictFilePath(path);
    assert.ok(existsSync(file));
    let expected: unknown;
    // Read-only, the file is opened by its header: deciding needs no SQLite, building the findings connects.
    reading(path, (db) => {
      assert.equal(db.connected, false);
      const decided = matchPackages(JAMMY, db, { target: 't' });
      assert.equal(db.connected, false);
      assert.deepEqual(
        decided.matches.map((m) => [m.package.name, m.vulnerabilities.length]),
        [
          ['sudo', 2],
          ['libc6', 2],
          ['libc-bin', 2],
        ],
      );
      assert.equal(decided.findings().length, 6);
      assert.equal(db.connected, true);
    });
    reading(path, (db) => {
      assert.equal(db.info().verdicts.state, 'current');
      const rows = db.verdictRows('ubuntu:22.04', ['sudo', 'glibc', 'nothing']);
      assert.deepEqual([...(rows?.keys() ?? [])].sort(), ['glibc', 'sudo']);
      expected = matchInventory(JAMMY, db, { target: 't' });
      assert.equal((expected as { findings: unknown[] }).findings.length, 6);
      assert.deepEqual(expected, matchInventory(JAMMY, withoutRows(db), { target: 't' }));
    });
    const warned = (): string[] => {
      const ctx = openVulnContext({ db: path });
      ctx.close();
      return ctx.warnings;
    };
    assert.deepEqual(warned(), []);

    // An import that committed but was killed before it wrote the file: the database file changed (so SQLite is
    // asked) and its generation is not the file's.
    const raw = new Database(path);
    raw.prepare("UPDATE meta SET value = 'killed' WHERE name = 'verdict_generation'").run();
    raw.close();
    reading(path, (db) => {
      assert.equal(db.verdictRows('ubuntu:22.04', ['sudo']), undefined);
      assert.equal(db.connected, true);
      assert.equal(db.info().verdicts.state, 'stale');
      assert.deepEqual(matchInventory(JAMMY, db, { target: 't' }), expected);
    });
    await importAdvisories(path, [feed]);
    reading(path, (db) => assert.equal(db.info().verdicts.state, 'current'));

    // Another database's verdict file (an import killed between its commit and the file's rename looks the same):
    // not used, the same findings, and the scan says matching is slower.
    const other = join(dir, 'other.db');
    await importAdvisories(other, [feed]);
    cpSync(verdictFilePath(other), file);
    reading(path, (db) => {
      assert.equal(db.info().verdicts.state, 'stale');
      assert.equal(db.verdictRows('ubuntu:22.04', ['sudo']), undefined);
      assert.deepEqual(matchInventory(JAMMY, db, { target: 't' }), expected);
    });
    assert.ok(warned().some((w) => /verdict file .* is out of date: matching is slower/.test(w)));

    // None at all, or a damaged one: the same.
    rmSync(file);
    reading(path, (db) => {
      assert.equal(db.info().verdicts.state, 'missing');
      assert.deepEqual(matchInventory(JAMMY, db, { target: 't' }), expected);
    });
    writeFileSync(file, 'not a keyed file');
    reading(path, (db) => {
      assert.equal(db.info().verdicts.state, 'stale');
      assert.deepEqual(matchInventory(JAMMY, db, { target: 't' }), expected);
    });

    // The next import writes it again, though nothing changed.
    await reimportWritesVerdicts(path, feed);
  } finally {
    cleanup();
  }
});

test('an import whose verdict file cannot be written stands and says so; scans match without the file', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'adv.db');
    const feed = threeRecords(dir);
    // Something the writer's rename cannot replace stands at the verdict file's path: a directory with a file in it.
    const file = verdictFilePath(path);
    mkdirSync(join(file, 'in-the-way'), { recursive: true });
    const s = await importAdvisories(path, [feed]);
    assert.equal(s.added, 3);
    assert.equal(s.issues.length, 1, JSON.stringify(s.issues));
    assert.equal(s.issues[0]!.file, file);
    assert.match(
      s.issues[0]!.message,
      /^the verdict file could not be written \(.+\); scans match without it/,
    );
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('.tmp-')),
      [],
      'no temporary file left beside it',
    );
    reading(path, (db) => {
      assert.equal(db.info().advisories, 3);
      assert.notEqual(db.info().verdicts.state, 'current');
      assert.equal(db.verdictRows('ubuntu:22.04', ['sudo']), undefined);
      const m = matchInventory(JAMMY, db, { target: 't' });
      assert.equal(m.findings.length, 6);
      assert.deepEqual(m.findings, matchInventory(JAMMY, withoutRows(db), { target: 't' }).findings);
    });
    // Once the way is clear, the next import writes it, though nothing changed.
    rmSync(file, { recursive: true });
    await reimportWritesVerdicts(path, feed);
  } finally {
    cleanup();
  }
});

test('verdicts and packed rows come from one import: a handle that lives on follows imports, a scan an import overtook says so', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const path = join(dir, 'adv.db');
    const feed = join(dir, 'feed.json');
    const inv = debian12At10(['zlib', 'curl']);
    const fixes = (m: { findings: Array<{ vulnerability?: { id: string; fixedVersion?: string } }> }) =>
      m.findings.map((f) => `${f.vulnerability!.id} ${f.vulnerability!.fixedVersion ?? '-'}`).sort();
    writeFileSync(feed, JSON.stringify(osv('A-1', 'zlib', '2.0-1')));
    await importAdvisories(path, [feed]);

    // One handle, kept open across an import that changes a fix and adds a package.
    const db = AdvisoryDb.open(path, { readonly: true });
    try {
      assert.deepEqual(fixes(matchInventory(inv, db, { target: 't' })), ['A-1 2.0-1']);
      writeFileSync(
        feed,
        JSON.stringify([osv('A-1', 'zlib', '1.5-1', '2024-02-01T00:00:00Z'), osv('B-1', 'curl', '3.0-1')]),
      );
      await importAdvisories(path, [feed]);
      const now = matchInventory(inv, db, { target: 't' });
      assert.deepEqual(fixes(now), ['A-1 1.5-1', 'B-1 3.0-1']);
      reading(path, (fresh) => assert.deepEqual(matchInventory(inv, fresh, { target: 't' }), now));

      // Decided, then an import committed before the findings were built: they are not built from other rows.
      const decided = matchPackages(inv, db, { target: 't' });
      writeFileSync(feed, JSON.stringify(osv('B-1', 'curl', '4.0-1', '2024-03-01T00:00:00Z')));
      await importAdvisories(path, [feed]);
      assert.throws(
        () => decided.findings(),
        (e: unknown) =>
          isHyperwardError(e) &&
          e.code === 'E_IO' &&
          /changed while this scan matched.*scan again/.test(e.message),
      );
    } finally {
      db.close();
    }
    assert.throws(
      () => db.verdictRows('debian:12', ['zlib']),
      (e: unknown) => isHyperwardError(e) && e.code === 'E_USAGE',
    );
  } finally {
    cleanup();
  }
});

test('the verdict file is trusted by the database file it names only when nothing waits in the WAL, followed through a symbolic link', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const real = join(dir, 'real.db');
    const link = join(dir, 'link.db');
    await importAdvisories(real, [threeRecords(dir)]);
    symlinkSync(real, link);
    reading(link, (db) => {
      matchPackages(JAMMY, db, { target: 't' });
      assert.equal(db.connected, false, 'opened by its header, decided from the verdict file');
    });
    // A reader holds the WAL, so a commit stays in it: the file as it is on disk is not all there is.
    const reader = new Database(real, { readonly: true });
    const writer = new Database(real);
    try {
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM meta').get();
      writer.prepare("UPDATE meta SET value = 'pending' WHERE name = 'verdict_generation'").run();
      assert.ok(statSync(`${real}-wal`).size > 0);
      reading(link, (db) => {
        assert.equal(db.connected, true, 'a WAL with something in it: SQLite is asked');
        assert.equal(db.verdictRows('ubuntu:22.04', ['sudo']), undefined);
        assert.equal(db.info().verdicts.state, 'stale');
      });
    } finally {
      reader.exec('COMMIT');
      reader.close();
      writer.close();
    }
  } finally {
    cleanup();
  }
});

test('a handle opened through a symbolic link keeps to the file it opened when the link is pointed elsewhere', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const first = join(dir, 'first.db');
    const second = join(dir, 'second.db');
    const link = join(dir, 'link.db');
    await importAdvisories(first, [threeRecords(dir)]);
    // The second database knows one of the three records: fewer findings.
    const one = join(dir, 'one');
    mkdirSync(one);
    cpSync(join(UBUNTU, THREE[0]!), join(one, THREE[0]!));
    await importAdvisories(second, [one]);
    symlinkSync(first, link);
    let expected: number | undefined;
    reading(first, (db) => (expected = matchInventory(JAMMY, db, { target: 't' }).findings.length));
    let fewer: number | undefined;
    reading(second, (db) => (fewer = matchInventory(JAMMY, db, { target: 't' }).findings.length));
    assert.ok(fewer! < expected!, `${fewer} findings from the second database, ${expected} from the first`);
    const db = AdvisoryDb.open(link, { readonly: true });
    try {
      assert.equal(db.connected, false);
      const decided = matchPackages(JAMMY, db, { target: 't' });
      rmSync(link);
      symlinkSync(second, link);
      // Deciding and building, before and after: the first database's, never an error or a mix.
      assert.equal(decided.findings().length, expected);
      assert.equal(matchInventory(JAMMY, db, { target: 't' }).findings.length, expected);
      assert.equal(db.info().verdicts.path, verdictFilePath(first));
      assert.equal(db.info().verdicts.state, 'current');
    } finally {
      db.close();
    }
    reading(link, (db2) => assert.equal(matchInventory(JAMMY, db2, { target: 't' }).findings.length, fewer));
  } finally {
    cleanup();
  }
});

test(
  'a FIFO or a directory named as the database is refused at once, never waited on',
  { timeout: 10_000 },
  () => {
    const { dir, cleanup } = tempDir();
    try {
      const fifo = join(dir, 'fifo.db');
      execFileSync('mkfifo', [fifo]);
      for (const ro of [true, false]) {
        for (const p of [fifo, dir]) {
          assert.throws(
            () => AdvisoryDb.open(p, { readonly: ro }),
            (e: unknown) => isHyperwardError(e) && e.code === 'E_IO' && /not a regular file/.test(e.message),
          );
        }
      }
    } finally {
      cleanup();
    }
  },
);
