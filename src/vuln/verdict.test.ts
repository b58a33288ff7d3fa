import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from '../errors.js';
import type { OsInfo, Package, PackageEcosystem, SystemInventory } from '../model/inventory.js';
import { distroKeysFor } from './ecosystem.js';
import { matchInventory, matchPackages } from './match.js';
import { encodePackedRow, PackedRow } from './packed.js';
import { isValidVersion } from './range.js';
import { ratingSource } from './severity.js';
import type { AdvisoryIndex, AdvisoryRecord, DistroKey } from './types.js';
import { encodeVerdicts, MAX_VERDICT_BYTES_WALKED, MAX_VERDICT_WORK, VerdictRow } from './verdict.js';
import { prepareVersion } from './version/index.js';
import { arbitraries, build, VERSIONS } from '../../test/helpers/advisory-rows.js';

const OS: Record<PackageEcosystem, OsInfo> = {
  deb: { id: 'debian', idLike: [], versionId: '12', family: 'debian', source: '/etc/os-release' },
  rpm: { id: 'rocky', idLike: ['rhel'], versionId: '9.3', family: 'rhel', source: '/etc/os-release' },
  apk: { id: 'alpine', idLike: [], versionId: '3.19.1', family: 'alpine', source: '/etc/os-release' },
};

/**
 * An index over one packed row of package `pkg`, with its verdicts or without: the matcher then evaluates the row
 * entry by entry, as it does for a database without verdicts.
 */
class OneRowIndex implements AdvisoryIndex {
  verdictRows?: AdvisoryIndex['verdictRows'];

  constructor(
    private readonly distro: DistroKey,
    private readonly data: Buffer,
    private readonly ids: Map<string, string>,
    verdicts: Buffer | undefined,
  ) {
    if (verdicts) {
      this.verdictRows = (distro, names) =>
        new Map(
          distro === this.distro && names.includes('pkg')
            ? [['pkg', new VerdictRow(verdicts, 'test.verdicts', distro, 'pkg')]]
            : [],
        );
    }
  }

  lookup(): never[] {
    return [];
  }

  advisory(key: string): AdvisoryRecord | undefined {
    const id = this.ids.get(key);
    return id === undefined ? undefined : ({ key, id } as AdvisoryRecord);
  }

  matchRows(distro: DistroKey, names: readonly string[]): Map<string, PackedRow> {
    return new Map(
      distro === this.distro && names.includes('pkg')
        ? [['pkg', new PackedRow(this.data, 'test.db', distro, 'pkg')]]
        : [],
    );
  }
}

/** Packages keyed `pkg` at the given versions: binaries of one source, or RPMs of several architectures. */
function inventory(scheme: PackageEcosystem, versions: readonly string[]): SystemInventory {
  const packages: Package[] = versions.map((v, i) => {
    const arch = ['amd64', 'all', 'x86_64', 'i686'][i % 4]!;
    return scheme === 'rpm'
      ? {
          ecosystem: scheme,
          name: 'pkg',
          version: v,
          arch,
          sourceName: 'pkg',
          sourceVersion: v,
          source: 'rpmdb',
        }
      : {
          ecosystem: scheme,
          name: i === 0 ? 'pkg' : `pkg-bin${i % 2}`,
          version: v,
          arch,
          sourceName: 'pkg',
          sourceVersion: v,
          source: 'status',
        };
  });
  return { os: OS[scheme], packages } as unknown as SystemInventory;
}

for (const scheme of ['deb', 'rpm', 'apk'] as const) {
  test(`verdicts (${scheme}): the matcher finds exactly what it finds entry by entry, notes included (fast-check)`, () => {
    const records = fc.oneof(
      fc.array(arbitraries(scheme, { plain: true }).record, { minLength: 1, maxLength: 6 }),
      fc.array(arbitraries(scheme).record, { minLength: 1, maxLength: 6 }),
    );
    const distro = distroKeysFor(OS[scheme]).keys[0]!;
    const installed = fc.array(fc.constantFrom(...VERSIONS[scheme], 'not a version'), {
      minLength: 1,
      maxLength: 4,
    });
    let usable = 0;
    fc.assert(
      fc.property(records, installed, (recs, versions) => {
        const { inputs, recs: built } = build(scheme, recs, distro, 'pkg');
        const data = encodePackedRow(scheme, inputs);
        const verdicts = encodeVerdicts(new PackedRow(data, 'test.db', distro, 'pkg'), ratingSource(distro));
        if (new VerdictRow(verdicts, 'test.verdicts', distro, 'pkg').usable) usable++;
        const ids = new Map(built.map((r) => [r.key, r.facts.id]));
        const inv = inventory(scheme, versions);
        const plain = matchInventory(inv, new OneRowIndex(distro, data, ids, undefined), { target: 't' });
        const fast = matchPackages(inv, new OneRowIndex(distro, data, ids, verdicts), { target: 't' });
        assert.deepEqual(fast.findings(), plain.findings);
        assert.deepEqual(fast.notes, plain.notes);
        // Each match is its finding, decided before the finding is built.
        const decided = fast.matches.flatMap((m) => m.vulnerabilities.map((v) => ({ pkg: m.package, v })));
        assert.equal(decided.length, plain.findings.length);
        decided.forEach(({ pkg, v }, i) => {
          const f = plain.findings[i]!;
          assert.equal(v.vulnId, f.vulnerability!.id);
          assert.equal(v.fixedVersion, f.vulnerability!.fixedVersion);
          assert.equal(v.fixState, f.vulnerability!.fixState);
          assert.equal(v.severity, f.severity);
          assert.equal(
            pkg,
            inv.packages.find(
              (p) => `${p.name}@${p.version}` === f.resource.id && p.arch === f.vulnerability!.package.arch,
            ),
          );
        });
      }),
      { numRuns: 500 },
    );
    // The property says little if every row fell back to entry-by-entry evaluation.
    assert.ok(usable > 100, `only ${usable} of 500 rows had verdicts`);
  });
}

test('verdicts are "none" for a row the matcher must evaluate itself: restricted entries, bad vectors, too much work', () => {
  const distro = 'debian:12';
  const entry = (extra: object) => ({
    ecosystem: 'Debian:12',
    scheme: 'deb' as const,
    ranges: [[{ introduced: '0' }, { fixed: '1.0-1' }]],
    versions: [],
    ...extra,
  });
  const rec = (entries: object[], severity: string[] = []) => ({
    id: 'DSA-1-1',
    aliases: ['CVE-2024-0001'],
    summary: null,
    published: null,
    withdrawn: false,
    severity,
    distroSeverity: null,
    refs: [],
    entries: entries as never,
  });
  const verdictOf = (recs: ReturnType<typeof rec>[]) => {
    const { inputs } = build('deb', recs, distro, 'pkg');
    const row = new PackedRow(encodePackedRow('deb', inputs), 'test.db', distro, 'pkg');
    return new VerdictRow(encodeVerdicts(row, 'debian'), 'test.verdicts', distro, 'pkg');
  };
  assert.equal(verdictOf([rec([entry({})])]).usable, true);
  assert.equal(verdictOf([rec([entry({ arches: ['amd64'] })])]).usable, false);
  assert.equal(verdictOf([rec([entry({ ranges: [[{ introduced: 'not a version' }]] })])]).usable, false);
  assert.equal(verdictOf([rec([entry({})], ['CVSS:3.1/AV:X'])]).usable, false);
  // Many entries with many versions: more positions × entries than `MAX_VERDICT_WORK`.
  const many = Math.ceil(Math.sqrt(MAX_VERDICT_WORK / 2)) + 1;
  const big = Array.from({ length: many }, (_, i) =>
    rec([entry({ ranges: [[{ introduced: '0' }, { fixed: `${i + 1}.0-1` }]] })]),
  );
  assert.equal(verdictOf(big).usable, false);
  // One entry of thousands of events: few entries, but each position walks them all (`MAX_VERDICT_BYTES_WALKED`).
  const events: object[] = [];
  for (let i = 0; i < 6000; i += 2) events.push({ introduced: `${i + 1}.0-1` }, { fixed: `${i + 2}.0-1` });
  const ranges = Array.from({ length: 6 }, (_, r) => events.slice(r * 1000, (r + 1) * 1000));
  const long = verdictOf([rec([entry({ ranges })])]);
  assert.equal(long.usable, false);
  const { inputs } = build('deb', [rec([entry({ ranges })])], distro, 'pkg');
  const row = new PackedRow(encodePackedRow('deb', inputs), 'test.db', distro, 'pkg');
  assert.ok(
    row.positions * row.entryCount <= MAX_VERDICT_WORK,
    'the entry count alone would have let it through',
  );
  assert.ok(row.positions * row.entryBytes > MAX_VERDICT_BYTES_WALKED);
});

/**
 * Reads damaged verdicts as the matcher would — the head, then `match` and `entries` for each installed version —
 * which must either work or throw a `HyperwardError` (`E_IO`) naming the row. Says how far the reading got.
 */
function readDamaged(damaged: Buffer, installed: readonly string[]): 'refused' | 'none' | 'read' {
  let reached: 'refused' | 'none' | 'read' = 'refused';
  try {
    const v = new VerdictRow(damaged, 'test.verdicts', 'debian:12', 'pkg');
    if (!v.usable) return (reached = 'none');
    reached = 'read';
    for (const version of installed) {
      if (!isValidVersion('deb', version)) continue;
      for (const hit of v.match(prepareVersion('deb', version))) v.entries(hit);
    }
  } catch (e) {
    assert.ok(
      isHyperwardError(e) && e.code === 'E_IO',
      `unexpected ${(e as Error)?.stack ?? String(e)}\nverdicts: ${damaged.toString('hex')}\ninstalled: ${JSON.stringify(installed)}`,
    );
    assert.match(e.message, /debian:12 pkg/);
  }
  return reached;
}

/** The undamaged verdicts of random plain Debian rows (nearly all with verdicts), and how many had them. */
function plainDebVerdicts() {
  const { record, version } = arbitraries('deb', { plain: true });
  const stats = { rows: 0, usable: 0, refused: 0, read: 0 };
  const verdicts = fc.array(record, { minLength: 1, maxLength: 4 }).map((recs) => {
    const { inputs } = build('deb', recs, 'debian:12', 'pkg');
    const row = new PackedRow(encodePackedRow('deb', inputs), 'test.db', 'debian:12', 'pkg');
    const bytes = Buffer.from(encodeVerdicts(row, 'debian'));
    return { bytes, usable: new VerdictRow(bytes, 'test.verdicts', 'debian:12', 'pkg').usable };
  });
  // The installed versions read: one random, then every version the rows are made of (each reads other intervals).
  const installed = version.map((v) => [v, ...VERSIONS.deb]);
  const count = (usable: boolean, reached: ReturnType<typeof readDamaged>) => {
    stats.rows++;
    if (usable) stats.usable++;
    if (reached === 'refused') stats.refused++;
    if (reached === 'read') stats.read++;
  };
  return { verdicts, installed, stats, count };
}

test('damaged verdicts give a HyperwardError naming the row, never another exception or a hang (fast-check)', (t) => {
  const { verdicts, installed, stats, count } = plainDebVerdicts();
  fc.assert(
    fc.property(
      verdicts,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.nat(),
      installed,
      ({ bytes, usable }, flips, cut, versions) => {
        const damaged = Buffer.from(bytes);
        for (const [at, value] of flips) damaged[at % damaged.length] = value;
        const kept = damaged.subarray(0, damaged.length - (cut % 3 === 0 ? cut % damaged.length : 0));
        count(usable, readDamaged(kept, versions));
      },
    ),
    { numRuns: 500 },
  );
  t.diagnostic(JSON.stringify(stats));
  // The property says little unless the rows had verdicts, and the damage reached the reading of them.
  assert.ok(stats.usable > 300, `only ${stats.usable} of ${stats.rows} rows had verdicts`);
  assert.ok(stats.read > 50, `only ${stats.read} of ${stats.rows} damaged rows got past the head`);
});

/**
 * Where the fixed-width numbers of verdicts are (`verdict.ts`: the head's five, then the version table, the intervals
 * and the merged records' spans, after the string section); none for the "none" verdict.
 */
function fixedWidthFields(bytes: Buffer): number[] {
  if (bytes[1] !== 1) return [];
  const w = bytes[4]!;
  const num = (at: number) => (w === 2 ? bytes.readUInt16LE(at) : bytes.readUInt32LE(at));
  const fields: number[] = [];
  for (let k = 0; k < 5; k++) fields.push(5 + k * w);
  const recordBytes = num(5 + 4 * w);
  const tables = 5 + 5 * w + num(5);
  for (let at = tables; at < bytes.length - recordBytes; at += w) fields.push(at);
  return fields;
}

test('damaged fixed-width numbers (head, versions, intervals, spans) give a HyperwardError naming the row (fast-check)', (t) => {
  const { verdicts, installed, stats, count } = plainDebVerdicts();
  const value = fc.oneof(
    fc.constantFrom(0, 1, 2, 3, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xfffe, 0xffff),
    fc.constantFrom(0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff),
    fc.nat({ max: 64 }),
    fc.integer({ min: 0, max: 0xffffffff }),
  );
  // A little-endian number of 2 or 4 bytes written over a number of the tables (aligned) or anywhere from byte 5.
  const edit = fc.record({
    aligned: fc.boolean(),
    pick: fc.nat(),
    size: fc.constantFrom(2 as const, 4 as const),
    value,
  });
  let edited = 0;
  fc.assert(
    fc.property(
      verdicts,
      fc.array(edit, { minLength: 1, maxLength: 4 }),
      installed,
      ({ bytes, usable }, edits, versions) => {
        const damaged = Buffer.from(bytes);
        const fields = fixedWidthFields(bytes);
        for (const { aligned, pick, size, value: v } of edits) {
          const room = damaged.length - 5 - size + 1;
          if (room <= 0) continue;
          let at = aligned && fields.length > 0 ? fields[pick % fields.length]! : 5 + (pick % room);
          at = Math.min(at, damaged.length - size);
          if (size === 2) damaged.writeUInt16LE(v & 0xffff, at);
          else damaged.writeUInt32LE(v >>> 0, at);
          edited++;
        }
        count(usable, readDamaged(damaged, versions));
      },
    ),
    { numRuns: 500 },
  );
  t.diagnostic(JSON.stringify({ ...stats, edited }));
  assert.ok(stats.usable > 300, `only ${stats.usable} of ${stats.rows} rows had verdicts`);
  assert.ok(edited > stats.rows, `only ${edited} numbers overwritten in ${stats.rows} rows`);
  assert.ok(stats.read > 50, `only ${stats.read} of ${stats.rows} damaged rows got past the head`);
});
