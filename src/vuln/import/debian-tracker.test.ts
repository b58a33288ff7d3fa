import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import type { Advisory, ImportIssue } from '../types.js';
import { debianTrackerAdvisories, looksLikeDebianTracker } from './debian-tracker.js';

const NOW = '2024-06-01T00:00:00.000Z';

/**
 * A dump in the shape the tracker serves (security-tracker's `data/json`: package → issue → releases, with
 * `repositories`, `fixed_version`, `urgency`, `nodsa`, `nodsa_reason`), for two packages sharing one CVE.
 */
const DUMP = {
  openssl: {
    'CVE-2024-4741': {
      description: 'Use After Free with SSL_free_buffers',
      scope: 'remote',
      debianbug: 1072000,
      releases: {
        bookworm: {
          status: 'resolved',
          repositories: { bookworm: '3.0.13-1~deb12u1' },
          fixed_version: '3.0.14-1~deb12u1',
          urgency: 'not yet assigned',
        },
        bullseye: {
          status: 'open',
          repositories: { bullseye: '1.1.1w-0+deb11u1' },
          urgency: 'low*',
          nodsa: 'Minor issue',
          nodsa_reason: '',
        },
        trixie: { status: 'resolved', fixed_version: '0', urgency: 'unimportant' },
        sid: { status: 'resolved', fixed_version: '3.3.1-1', urgency: 'medium**' },
        experimental: { status: 'resolved', fixed_version: '3.4.0-1' },
      },
    },
    'TEMP-0000000-ABCDEF': {
      description: 'no CVE yet',
      releases: { bookworm: { status: 'undetermined', urgency: 'not yet assigned' } },
    },
  },
  'openssl1.1': {
    'CVE-2024-4741': {
      releases: {
        buster: { status: 'open', urgency: 'end-of-life', nodsa: '', nodsa_reason: 'ignored' },
        bookworm: { status: 'open', urgency: 'high', nodsa: 'Fix later', nodsa_reason: 'postponed' },
      },
    },
  },
};

function run(doc: unknown): { advisories: Advisory[]; issues: ImportIssue[] } {
  const issues: ImportIssue[] = [];
  const advisories = [
    ...debianTrackerAdvisories(doc as Record<string, unknown>, 'tracker.json', NOW, issues),
  ];
  return { advisories, issues };
}

test('one advisory per CVE across packages, one entry per affected package and release', () => {
  assert.ok(looksLikeDebianTracker(DUMP));
  const { advisories, issues } = run(DUMP);
  assert.deepEqual(issues, []);
  assert.deepEqual(
    advisories.map((a) => a.key),
    ['debian-tracker:CVE-2024-4741', 'debian-tracker:TEMP-0000000-ABCDEF'],
  );
  const cve = advisories[0]!;
  assert.equal(cve.id, 'CVE-2024-4741');
  assert.equal(cve.origin, 'debian-tracker');
  assert.equal(cve.summary, 'Use After Free with SSL_free_buffers');
  assert.equal(cve.modified, NOW);
  assert.deepEqual(cve.references, [
    { type: 'ADVISORY', url: 'https://security-tracker.debian.org/tracker/CVE-2024-4741' },
    { type: 'REPORT', url: 'https://bugs.debian.org/1072000' },
  ]);
  const byKey = new Map(cve.affected.map((a) => [`${a.package}@${a.distro}`, a]));
  // trixie resolved with fixed_version 0: never affected. experimental: not a release this tool knows.
  assert.deepEqual([...byKey.keys()].sort(), [
    'openssl1.1@debian:10',
    'openssl1.1@debian:12',
    'openssl@debian:11',
    'openssl@debian:12',
    'openssl@debian:sid',
  ]);
  const fixed = byKey.get('openssl@debian:12')!;
  assert.deepEqual(fixed.ranges, [[{ introduced: '0' }, { fixed: '3.0.14-1~deb12u1' }]]);
  assert.equal(fixed.ecosystem, 'Debian:12');
  assert.equal(fixed.scheme, 'deb');
  assert.equal(fixed.distroSeverity, undefined, '"not yet assigned" is no rating');
  assert.equal(fixed.wontFix, undefined);
  const nodsa = byKey.get('openssl@debian:11')!;
  assert.deepEqual(nodsa.ranges, [[{ introduced: '0' }]]);
  assert.equal(nodsa.wontFix, true);
  assert.equal(nodsa.distroSeverity, 'low');
  assert.equal(byKey.get('openssl@debian:sid')!.distroSeverity, 'medium');
  assert.equal(byKey.get('openssl1.1@debian:10')!.wontFix, true, 'ignored / end-of-life');
  const postponed = byKey.get('openssl1.1@debian:12')!;
  assert.equal(postponed.wontFix, undefined, 'postponed is a fix to come');
  assert.equal(postponed.distroSeverity, 'high');
  const temp = advisories[1]!;
  assert.equal(temp.id, 'TEMP-0000000-ABCDEF');
  assert.deepEqual(temp.affected[0]?.ranges, [[{ introduced: '0' }]]);
});

test('bad entries are issues, the rest is kept', () => {
  const { advisories, issues } = run({
    'bad name!': { 'CVE-1': { releases: {} } },
    zlib: {
      'CVE-2024-1': {
        releases: {
          bookworm: { status: 'resolved', fixed_version: '1:1.2.13.dfsg-1 \u001b[2J' },
          bullseye: { status: 'weird' },
          buster: 'x',
          trixie: { status: 'resolved', fixed_version: '1:1.3.dfsg-3' },
        },
      },
      'CVE 2': { releases: {} },
      'CVE-2024-2': { releases: 'x' },
    },
  });
  assert.deepEqual(
    advisories.map((a) => [a.id, a.affected.map((x) => x.distro)]),
    [['CVE-2024-1', ['debian:13']]],
  );
  assert.equal(issues.length, 6, JSON.stringify(issues, null, 1));
  assert.ok(issues.every((i) => i.file === 'tracker.json' && !i.message.includes('\u001b')));
});

test('only tracker-shaped documents are recognized', () => {
  assert.equal(looksLikeDebianTracker({ id: 'X', modified: 'x' }), false);
  assert.equal(looksLikeDebianTracker({ packages: [], distroversion: 'v3.19' }), false);
  assert.equal(looksLikeDebianTracker({ a: 1 }), false);
  assert.equal(looksLikeDebianTracker({ a: { b: { c: 1 } } }), false);
  assert.equal(looksLikeDebianTracker([]), false);
});

test('property: random dumps never crash, only issues', () => {
  const any = fc.jsonValue({ maxDepth: 2 });
  const release = fc.oneof(
    any,
    fc.record(
      {
        status: fc.oneof(fc.constantFrom('resolved', 'open', 'undetermined'), any),
        fixed_version: fc.oneof(fc.constantFrom('0', '1.0-1', '2:3.4~rc1-2'), any),
        urgency: fc.oneof(fc.constantFrom('low', 'medium**', 'not yet assigned', 'end-of-life'), any),
        nodsa: any,
        nodsa_reason: fc.oneof(fc.constantFrom('', 'ignored', 'postponed'), any),
      },
      { requiredKeys: [] },
    ),
  );
  const issue = fc.oneof(
    any,
    fc.record(
      {
        description: any,
        debianbug: any,
        releases: fc.oneof(any, fc.dictionary(fc.constantFrom('bookworm', 'sid', 'x', '__proto__'), release)),
      },
      { requiredKeys: [] },
    ),
  );
  const dump = fc.dictionary(
    fc.oneof(fc.constantFrom('openssl', 'linux'), fc.string()),
    fc.oneof(any, fc.dictionary(fc.oneof(fc.constantFrom('CVE-2024-1', 'TEMP-1'), fc.string()), issue)),
  );
  fc.assert(
    fc.property(dump, (d) => onlyHyperwardErrors(() => void run(d))),
    { numRuns: 500 },
  );
});
