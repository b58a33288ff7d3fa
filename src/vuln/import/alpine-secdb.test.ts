import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { onlyHyperwardErrors } from '../../../test/helpers/fuzz.js';
import type { ImportIssue } from '../types.js';
import { alpineSecdbAdvisories, looksLikeAlpineSecdb } from './alpine-secdb.js';

const NOW = '2024-06-01T00:00:00.000Z';

/** A secdb file in the shape secdb.alpinelinux.org serves (`v3.19/main.json`). */
const SECDB = {
  apkurl: '{{urlprefix}}/{{distroversion}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk',
  archs: ['aarch64', 'x86_64'],
  reponame: 'main',
  urlprefix: 'https://dl-cdn.alpinelinux.org/alpine',
  distroversion: 'v3.19',
  packages: [
    {
      pkg: {
        name: 'openssl',
        secfixes: {
          '3.1.4-r1': ['CVE-2023-5678'],
          '3.1.4-r3': ['CVE-2023-6129 CVE-2023-6237'],
          '0': ['CVE-2022-1292'],
        },
      },
    },
    { pkg: { name: 'xen', secfixes: { '4.18.0-r2': ['CVE-2023-46837 XSA-447', 'XSA-448 (partially)'] } } },
    { pkg: { name: 'libssl3-compat', secfixes: { '3.1.4-r1': ['CVE-2023-5678'] } } },
  ],
};

test('each secfixes version fixes its ids; version 0 means never affected; several ids per entry', () => {
  assert.ok(looksLikeAlpineSecdb(SECDB));
  const issues: ImportIssue[] = [];
  const out = alpineSecdbAdvisories(SECDB, 'main.json', NOW, issues);
  assert.deepEqual(issues, []);
  const byId = new Map(out.map((a) => [a.id, a]));
  assert.deepEqual([...byId.keys()].sort(), [
    'CVE-2023-46837',
    'CVE-2023-5678',
    'CVE-2023-6129',
    'CVE-2023-6237',
    'XSA-447',
    'XSA-448',
  ]);
  const a = byId.get('CVE-2023-5678')!;
  assert.equal(a.key, 'alpine-secdb:v3.19/main:CVE-2023-5678');
  assert.equal(a.origin, 'alpine-secdb');
  assert.equal(a.modified, NOW);
  assert.deepEqual(
    a.affected.map((x) => [x.package, x.distro, x.ecosystem, x.scheme, x.ranges]),
    [
      ['openssl', 'alpine:3.19', 'Alpine:v3.19', 'apk', [[{ introduced: '0' }, { fixed: '3.1.4-r1' }]]],
      [
        'libssl3-compat',
        'alpine:3.19',
        'Alpine:v3.19',
        'apk',
        [[{ introduced: '0' }, { fixed: '3.1.4-r1' }]],
      ],
    ],
  );
  assert.deepEqual(byId.get('XSA-447')!.affected[0]?.ranges, [[{ introduced: '0' }, { fixed: '4.18.0-r2' }]]);
  assert.equal(byId.get('XSA-447')!.references.length, 0);
});

test('a branch that is not vX.Y, bad versions and bad packages are issues', () => {
  const issues: ImportIssue[] = [];
  assert.deepEqual(alpineSecdbAdvisories({ ...SECDB, distroversion: 'edge' }, 'edge.json', NOW, issues), []);
  assert.equal(issues.length, 1);
  const more: ImportIssue[] = [];
  const out = alpineSecdbAdvisories(
    {
      distroversion: 'v3.18',
      reponame: 'community',
      packages: [
        { pkg: { name: 'a', secfixes: { 'not a version!': ['CVE-2024-1'], '1.0-r0': 'CVE-2024-2' } } },
        { pkg: { name: 'b c', secfixes: {} } },
        null,
        { pkg: { name: 'd', secfixes: { '2.0-r1': ['CVE-2024-3', 7] } } },
      ],
    },
    'community.json',
    NOW,
    more,
  );
  assert.deepEqual(
    out.map((a) => a.key),
    ['alpine-secdb:v3.18/community:CVE-2024-3'],
  );
  assert.equal(more.length, 4);
});

test('property: random secdb documents never crash', () => {
  const any = fc.jsonValue({ maxDepth: 2 });
  const doc = fc.record(
    {
      distroversion: fc.oneof(fc.constantFrom('v3.19', 'edge'), any),
      reponame: fc.oneof(fc.constantFrom('main', '../x'), any),
      packages: fc.oneof(
        any,
        fc.array(
          fc.oneof(
            any,
            fc.record({
              pkg: fc.oneof(
                any,
                fc.record(
                  {
                    name: fc.oneof(fc.constantFrom('openssl'), any),
                    secfixes: fc.oneof(
                      any,
                      fc.dictionary(
                        fc.oneof(fc.constantFrom('0', '1.0-r0', '2.3_rc1-r2'), fc.string()),
                        fc.oneof(
                          any,
                          fc.array(fc.oneof(fc.constantFrom('CVE-2024-1 XSA-2', '(x)'), fc.string())),
                        ),
                      ),
                    ),
                  },
                  { requiredKeys: [] },
                ),
              ),
            }),
          ),
        ),
      ),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(doc, (d) => onlyHyperwardErrors(() => void alpineSecdbAdvisories(d, 'f.json', NOW, []))),
    { numRuns: 500 },
  );
});
