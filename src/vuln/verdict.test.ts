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
import { encodeVerdicts, MAX_VERDICT_WORK, VerdictRow } from './verdict.js';
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
});

test('damaged verdicts give a HyperwardError naming the row, never another exception or a hang (fast-check)', () => {
  const { record, version } = arbitraries('deb');
  fc.assert(
    fc.property(
      fc.array(record, { minLength: 1, maxLength: 4 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      fc.nat(),
      version,
      (recs, flips, cut, installed) => {
        const { inputs } = build('deb', recs, 'debian:12', 'pkg');
        const row = new PackedRow(encodePackedRow('deb', inputs), 'test.db', 'debian:12', 'pkg');
        const bytes = Buffer.from(encodeVerdicts(row, 'debian'));
        for (const [at, value] of flips) bytes[at % bytes.length] = value;
        const damaged = bytes.subarray(0, bytes.length - (cut % 3 === 0 ? cut % bytes.length : 0));
        try {
          const v = new VerdictRow(damaged, 'test.verdicts', 'debian:12', 'pkg');
          if (!v.usable || !isValidVersion('deb', installed)) return;
          for (const hit of v.match(prepareVersion('deb', installed))) v.entries(hit);
        } catch (e) {
          assert.ok(isHyperwardError(e) && e.code === 'E_IO', `unexpected ${String(e)}`);
          assert.match((e as Error).message, /debian:12 pkg/);
        }
      },
    ),
    { numRuns: 500 },
  );
});
