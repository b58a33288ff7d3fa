import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import type { OsInfo } from '../model/inventory.js';
import { DirRoot } from '../source/dir.js';
import { loadFixtureManifest } from '../../test/fixtures/build.js';
import { run } from '../../test/helpers/tmp.js';
import { endOfLife, eolProductOf, eolTable, parseIsoDay, type EolProduct, type EolRelease } from './eol.js';
import { detectOs, familyOf } from './os-release.js';

const DAY = 86_400_000;
const table = eolTable();

/** An OsInfo as detectOs makes it from os-release, for an os-release ID and VERSION_ID. */
function os(id: string, versionId?: string, extra: Partial<OsInfo> = {}): OsInfo {
  const o: OsInfo = { id, idLike: [], family: familyOf(id), source: '/etc/os-release', ...extra };
  if (versionId !== undefined) o.versionId = versionId;
  return o;
}

/** A VERSION_ID of this release line with one more component (a point release, `9.1`, `3.18.1`) where it can. */
function versionIdFor(p: EolProduct, r: EolRelease): string {
  return r.cycle.split('.').length === Math.max(...p.versionParts) ? `${r.cycle}.1` : r.cycle;
}

/** Noon UTC of a table day, plus whole days. */
function noon(day: string, plus = 0): Date {
  return new Date(Date.parse(`${day}T12:00:00Z`) + plus * DAY);
}

test('eol table: every row parses, dates ordered, cycles unique, sources recorded', () => {
  const t = JSON.parse(readFileSync(new URL('./eol-data.json', import.meta.url), 'utf8')) as typeof table;
  assert.match(t._source.retrieved, /^\d{4}-\d{2}-\d{2}$/);
  const ids = new Set<string>();
  let rows = 0;
  for (const [key, p] of Object.entries(t.products)) {
    assert.ok(p._source.length > 0, key);
    for (const s of p._source) {
      assert.match(s.commit, /^[0-9a-f]{40}$/, `${key} source commit`);
      assert.ok(s.repository.includes('endoflife'), `${key} source repository`);
    }
    assert.match(p.page, /^https:\/\/endoflife\.date\//);
    for (const id of p.osIds) {
      assert.ok(!ids.has(id), `os id ${id} in two products`);
      ids.add(id);
    }
    const cycles = new Set<string>();
    for (const r of p.releases) {
      rows++;
      assert.ok(!cycles.has(r.cycle), `${key} ${r.cycle} twice`);
      cycles.add(r.cycle);
      assert.match(r.cycle, /^\d+(\.\d+)?$/, `${key} cycle ${r.cycle}`);
      const rel = parseIsoDay(r.releaseDate!);
      assert.ok(rel, `${key} ${r.cycle} releaseDate ${r.releaseDate}`);
      const eol = r.eol === null ? undefined : parseIsoDay(r.eol);
      assert.ok(r.eol === null || eol, `${key} ${r.cycle} eol ${r.eol}`);
      if (eol) assert.ok(rel! <= eol, `${key} ${r.cycle}: released after its end of life`);
      if (r.extended !== undefined) {
        const ext = parseIsoDay(r.extended);
        assert.ok(ext, `${key} ${r.cycle} extended ${r.extended}`);
        if (eol) assert.ok(eol <= ext!, `${key} ${r.cycle}: extended support ends before regular support`);
      }
    }
  }
  assert.ok(rows > 150, 'all products and releases present');
  for (const id of [
    'debian',
    'ubuntu',
    'rhel',
    'centos',
    'rocky',
    'almalinux',
    'alpine',
    'sles',
    'opensuse-leap',
    'fedora',
  ]) {
    assert.ok(ids.has(id), `no product for ${id}`);
  }
});

test('every table row: supported through its last day, then extended-only or eol, then eol', () => {
  for (const [key, p] of Object.entries(table.products)) {
    for (const r of p.releases) {
      const sys = os(p.osIds[0]!, versionIdFor(p, r));
      const label = `${key} ${r.cycle}`;
      if (r.eol === null) {
        const e = endOfLife(sys, noon(r.releaseDate!, 1));
        assert.equal(e.status, 'supported', label);
        assert.equal(e.eol, undefined, label);
        assert.equal(e.release, r.cycle, label);
        continue;
      }
      const before = endOfLife(sys, noon(r.eol, -10));
      assert.equal(before.status, 'supported', label);
      assert.equal(before.daysLeft, 10, label);
      assert.equal(before.release, r.cycle, label);
      assert.equal(before.product, key, label);
      const lastDay = endOfLife(sys, new Date(Date.parse(`${r.eol}T23:59:59Z`)));
      assert.equal(lastDay.status, 'supported', label);
      assert.equal(lastDay.daysLeft, 0, label);
      assert.equal(lastDay.eol?.toISOString().slice(0, 10), r.eol, label);
      const after = endOfLife(sys, new Date(Date.parse(`${r.eol}T00:00:00Z`) + DAY));
      assert.equal(after.daysLeft, -1, label);
      const extendedLonger = r.extended !== undefined && r.extended > r.eol;
      assert.equal(after.status, extendedLonger ? 'extended-only' : 'eol', label);
      if (r.extended !== undefined) {
        assert.equal(after.extended?.toISOString().slice(0, 10), r.extended, label);
        assert.equal(endOfLife(sys, noon(r.extended, 1)).status, 'eol', label);
      }
      assert.ok(before.source?.includes(r.cycle), label);
    }
  }
});

test('days left agree with GNU date', () => {
  const now = new Date('2026-11-26T19:00:00Z');
  for (const [id, v] of [
    ['ubuntu', '22.04'],
    ['rhel', '9.4'],
    ['alpine', '3.22.1'],
    ['fedora', '43'],
  ] as const) {
    const e = endOfLife(os(id, v), now);
    const p = eolProductOf(os(id, v));
    assert.ok(!('reason' in p));
    const row = p.product.releases.find((r) => r.cycle === e.release)!;
    const eolS = Number(run('date', ['-u', '-d', `${row.eol} 00:00`, '+%s']).trim());
    const todayS = Number(run('date', ['-u', '-d', '2026-11-26 00:00', '+%s']).trim());
    assert.equal(e.daysLeft, (eolS - todayS) / 86_400, `${id} ${v}`);
  }
});

test('the Debian 12 fixture image: os-release from the real tree, judged on fixed days', () => {
  const tree = loadFixtureManifest().trees.base!;
  const sys = detectOs(new DirRoot(tree.root))!;
  assert.equal(sys.versionId, tree.osRelease.VERSION_ID);
  const row = table.products.debian!.releases.find((r) => r.cycle === tree.osRelease.VERSION_ID)!;
  assert.ok(row.eol !== null && row.extended !== undefined);
  assert.equal(endOfLife(sys, noon(row.releaseDate!, 30)).status, 'supported');
  const lts = endOfLife(sys, noon(row.eol!, 30));
  assert.equal(lts.status, 'extended-only');
  assert.equal(lts.daysLeft, -30);
  assert.equal(endOfLife(sys, noon(row.extended, 30)).status, 'eol');
});

test('release matching: major, major.minor, point releases, code names, and what is not a release', () => {
  const at = new Date('2026-11-26T00:00:00Z');
  assert.equal(endOfLife(os('rhel', '9.3'), at).release, '9');
  assert.equal(endOfLife(os('centos', '7.9.2009'), at).release, '7');
  assert.equal(endOfLife(os('rocky', '10.0'), at).release, '10');
  assert.equal(endOfLife(os('alpine', '3.18.4'), at).release, '3.18');
  assert.equal(endOfLife(os('alpine', '3.10.9'), at).release, '3.10');
  assert.equal(endOfLife(os('sles', '15.5'), at).release, '15.5');
  assert.equal(endOfLife(os('sles', '12'), at).release, '12');
  assert.equal(endOfLife(os('opensuse-leap', '15.6'), at).release, '15.6');
  assert.equal(endOfLife(os('opensuse', '42.3'), at).release, '42.3');
  assert.equal(endOfLife(os('ubuntu', '24.04'), at).release, '24.04');
  // Debian before 7 numbered releases x.y; /etc/debian_version 6.0.10 is release 6, 3.1r8 is 3.1.
  assert.equal(endOfLife(os('debian', '6.0'), at).release, '6');
  assert.equal(endOfLife(os('debian', undefined, { version: '3.1' }), at).release, '3.1');
  // A service pack the table does not list is not the SP0 row of its major version.
  const sp = endOfLife(os('sles', '15.9'), at);
  assert.equal(sp.status, 'unknown');
  assert.match(sp.reason!, /15\.9/);
  assert.equal(endOfLife(os('alpine', '3.21.0_alpha20240807'), at).status, 'unknown');
  assert.equal(endOfLife(os('ubuntu', undefined, { versionCodename: 'jammy' }), at).release, '22.04');
  assert.equal(endOfLife(os('debian', undefined, { versionCodename: 'sid' }), at).status, 'unknown');
  const stream = endOfLife(os('centos', '9', { name: 'CentOS Stream' }), at);
  assert.equal(stream.status, 'unknown');
  assert.match(stream.reason!, /Stream/);
  assert.match(endOfLife(os('gentoo', '2.14'), at).reason!, /gentoo/);
  // SLES 15 SP6: the source announced no end yet.
  const sp6 = endOfLife(os('sles', '15.6'), at);
  assert.equal(sp6.status, 'supported');
  assert.equal(sp6.daysLeft, undefined);
  assert.match(sp6.reason!, /no end/);
});

test('Ubuntu: standard support and ESM apart', () => {
  const row = table.products.ubuntu!.releases.find((r) => r.cycle === '20.04')!;
  const e = endOfLife(os('ubuntu', '20.04'), noon(row.eol!, 1));
  assert.equal(e.status, 'extended-only');
  assert.equal(e.extended?.toISOString().slice(0, 10), row.extended);
  const interim = table.products.ubuntu!.releases.find((r) => r.extended === undefined)!;
  assert.equal(endOfLife(os('ubuntu', interim.cycle), noon(interim.eol!, 1)).status, 'eol');
});

test('fuzz: parseIsoDay accepts exactly the real calendar days', () => {
  fc.assert(
    fc.property(
      fc.date({ min: new Date('1900-01-01'), max: new Date('2999-12-31'), noInvalidDate: true }),
      (d) => {
        const day = d.toISOString().slice(0, 10);
        assert.equal(parseIsoDay(day)?.toISOString().slice(0, 10), day);
      },
    ),
  );
  fc.assert(
    fc.property(fc.string({ maxLength: 20 }), (s) => {
      const d = parseIsoDay(s);
      if (d) assert.equal(d.toISOString().slice(0, 10), s);
    }),
  );
  for (const bad of ['2023-02-29', '2024-13-01', '2024-00-10', '2024-04-31', '24-01-01', '2024-1-1']) {
    assert.equal(parseIsoDay(bad), undefined, bad);
  }
});

test('fuzz: endOfLife never throws on odd os-release values', () => {
  const ids = ['debian', 'ubuntu', 'rhel', 'alpine', 'sles', 'fedora', 'opensuse-leap', 'x'];
  fc.assert(
    fc.property(
      fc.constantFrom(...ids),
      fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
      fc.option(fc.string({ maxLength: 30 }), { nil: undefined }),
      fc.date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }),
      (id, v, code, now) => {
        const e = endOfLife(os(id, v, code !== undefined ? { versionCodename: code } : {}), now);
        assert.ok(['supported', 'extended-only', 'eol', 'unknown'].includes(e.status));
        if (e.status !== 'unknown') assert.ok(e.release);
      },
    ),
  );
});
