import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { isHyperwardError } from '../../errors.js';
import { tempDir } from '../../../test/helpers/tmp.js';
import { zipArchive } from '../../../test/helpers/zip-writer.js';
import { AdvisoryDb } from '../db/store.js';
import { detectKind, importAdvisories, MAX_ISSUES } from './run.js';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/advisories/osv/', import.meta.url));

const TRACKER = {
  openssl: {
    'CVE-2024-4741': {
      description: 'Use After Free with SSL_free_buffers',
      releases: {
        bookworm: { status: 'resolved', fixed_version: '3.0.14-1~deb12u1', urgency: 'not yet assigned' },
      },
    },
  },
};
const SECDB = {
  distroversion: 'v3.19',
  reponame: 'main',
  packages: [{ pkg: { name: 'openssl', secfixes: { '3.1.4-r1': ['CVE-2023-5678'] } } }],
};
const RHSA = {
  id: 'RHSA-2024:0001',
  modified: '2024-01-02T00:00:00Z',
  affected: [
    {
      package: { ecosystem: 'Red Hat:enterprise_linux:9::baseos', name: 'openssl-libs' },
      ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1:3.0.7-25.el9_3' }] }],
    },
  ],
};
const NPM = {
  id: 'GHSA-aaaa-bbbb-cccc',
  modified: '2024-01-01T00:00:00Z',
  affected: [{ package: { ecosystem: 'npm', name: 'x' } }],
};

test('kinds are told by content', () => {
  assert.equal(detectKind(RHSA), 'osv');
  assert.equal(detectKind([RHSA, NPM]), 'osv-list');
  assert.equal(detectKind([]), 'osv-list');
  assert.equal(detectKind(TRACKER), 'debian-tracker');
  assert.equal(detectKind(SECDB), 'alpine-secdb');
  assert.equal(detectKind([1, 2]), undefined);
  assert.equal(detectKind({ hello: 'world' }), undefined);
  assert.equal(detectKind('x'), undefined);
});

test('one import of every kind of input; hostile files are issues and the rest goes in', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const feeds = join(dir, 'feeds');
    mkdirSync(feeds);
    mkdirSync(join(feeds, 'osv'));
    for (const f of ['USN-5811-1.json', 'USN-6409-1.json', 'UBUNTU-CVE-2023-22809.json']) {
      cpSync(join(FIXTURES, 'ubuntu', f), join(feeds, 'osv', f));
    }
    writeFileSync(join(feeds, 'tracker.json'), JSON.stringify(TRACKER));
    writeFileSync(join(feeds, 'v3.19-main.json'), JSON.stringify(SECDB));
    writeFileSync(join(feeds, 'npm.json'), JSON.stringify(NPM));
    writeFileSync(join(feeds, 'broken.json'), '{"id": "X-1", "modified": ');
    writeFileSync(join(feeds, 'deep.json'), '['.repeat(100_000) + ']'.repeat(100_000));
    writeFileSync(join(feeds, 'other.json'), '{"hello": "world"}');
    writeFileSync(join(feeds, 'bad-record.json'), JSON.stringify({ id: 'X-2', modified: 'not a date' }));
    const zip = join(dir, 'RedHat.zip');
    writeFileSync(
      zip,
      zipArchive([
        { name: 'RHSA-2024:0001.json', data: JSON.stringify(RHSA) },
        { name: '../../etc/passwd.json', data: '{}' },
      ]),
    );
    const db = join(dir, 'adv.db');
    const seen: string[] = [];
    const s = await importAdvisories(db, [feeds, zip], {
      now: new Date('2024-06-01T00:00:00Z'),
      onProgress: (p) => seen.push(p.file),
    });
    assert.equal(s.added, 3 + 1 + 1 + 1);
    assert.equal(s.ignored, 1);
    assert.deepEqual(
      s.sources.map((x) => [x.path, x.kind, x.records]).sort(),
      [
        [feeds, 'alpine-secdb', 1],
        [feeds, 'debian-tracker', 1],
        [feeds, 'osv', 3],
        [zip, 'osv', 1],
      ].sort(),
    );
    const why = new Map(s.issues.map((i) => [i.file.slice(dir.length + 1), i]));
    assert.match(why.get('feeds/broken.json')!.message, /not valid JSON/);
    assert.match(why.get('feeds/deep.json')!.message, /nested deeper/);
    assert.match(why.get('feeds/other.json')!.message, /not an OSV record/);
    assert.equal(why.get('feeds/bad-record.json')!.record, 'X-2');
    assert.match(why.get('RedHat.zip!../../etc/passwd.json')!.message, /refused/);
    assert.equal(s.issues.length, 5);
    assert.ok(seen.length >= 11);

    const adv = AdvisoryDb.open(db, { readonly: true });
    try {
      assert.equal(adv.lookup('debian:12', 'openssl')[0]?.advisoryKey, 'debian-tracker:CVE-2024-4741');
      assert.equal(
        adv.lookup('alpine:3.19', 'openssl')[0]?.advisoryKey,
        'alpine-secdb:v3.19/main:CVE-2023-5678',
      );
      assert.equal(adv.lookup('rhel:9', 'openssl-libs')[0]?.advisoryKey, 'osv:RHSA-2024:0001');
      assert.equal(adv.advisory('debian-tracker:CVE-2024-4741')?.modified, '2024-06-01T00:00:00.000Z');
    } finally {
      adv.close();
    }
    // The tracker and secdb have no dates: unchanged content stays unchanged on the next day's import.
    const again = await importAdvisories(db, [feeds, zip], { now: new Date('2024-06-02T00:00:00Z') });
    assert.deepEqual([again.added, again.updated, again.unchanged], [0, 0, 6]);
  } finally {
    cleanup();
  }
});

test('every real advisory file under fixtures/advisories is imported; only the real data quirks are issues', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const all = fileURLToPath(new URL('../../../fixtures/advisories/', import.meta.url));
    const s = await importAdvisories(join(dir, 'adv.db'), [all]);
    // The quirks of the real files, as fixtures/advisories/README.md describes them: each is reported, with the
    // file and record, and skipped; the rest of the file is imported.
    const quirks = s.issues.map((i) => `${basename(i.file)} ${i.record ?? '-'}`).sort();
    assert.deepEqual(
      quirks,
      [
        'vulnerablecode-v3.11-main.json xen "4.10-1-r1"', // not an apk version
        'vuln-list-update-312-main.json ansible 2.8.0-r0', // fixed ids as an object, not an array
        'vuln-list-update-edge-main.json -', // the edge branch has no release to match
        'vunnel-debian.json chromium-browser/CVE-2022-0358', // "releases": []
      ].sort(),
    );
    assert.ok(s.added >= 3);
    // Two excerpts of Alpine v3.11 main (vuln-list-update and vulnerablecode) share keys: the later file updates.
    assert.ok(s.updated <= 1);
  } finally {
    cleanup();
  }
});

test('usage errors come before the database is touched', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = join(dir, 'adv.db');
    await assert.rejects(
      importAdvisories(db, []),
      (e: unknown) => isHyperwardError(e) && e.code === 'E_USAGE',
    );
    await assert.rejects(
      importAdvisories(db, [FIXTURES, join(dir, 'missing.zip')]),
      (e: unknown) => isHyperwardError(e) && e.code === 'E_NOT_FOUND' && e.message.includes('missing.zip'),
    );
    assert.equal(existsSync(db), false);
  } finally {
    cleanup();
  }
});

test(`issues are capped at ${MAX_ISSUES}, the rest counted`, async () => {
  const { dir, cleanup } = tempDir();
  try {
    const bad = Array.from({ length: MAX_ISSUES + 50 }, (_, i) => ({ id: `X-${i}`, modified: 'never' }));
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(bad));
    const s = await importAdvisories(join(dir, 'adv.db'), [join(dir, 'bad.json')]);
    assert.equal(s.issues.length, MAX_ISSUES + 1);
    assert.equal(s.issues.at(-1)!.message, '50 more issues not listed');
  } finally {
    cleanup();
  }
});

test('property: random JSON files import without crashing; each is stored, ignored or an issue', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const db = join(dir, 'adv.db');
    const any = fc.jsonValue({ maxDepth: 4 });
    const doc = fc.oneof(
      any,
      fc.array(fc.record({ id: fc.string(), modified: fc.constant('2024-01-01T00:00:00Z'), affected: any })),
      fc.dictionary(fc.string(), fc.dictionary(fc.string(), fc.record({ releases: any }))),
      fc.record({ packages: any, distroversion: any }),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(doc, { minLength: 1, maxLength: 4 }), async (docs) => {
        const input = join(dir, `in${run++}`);
        mkdirSync(input);
        docs.forEach((d, i) => writeFileSync(join(input, `${i}.json`), JSON.stringify(d)));
        const s = await importAdvisories(db, [input]);
        // Every issue names a file of the input and says something printable.
        for (const i of s.issues) {
          assert.ok(i.file.startsWith(input), i.file);
          assert.ok(i.message.length > 0);
          // eslint-disable-next-line no-control-regex
          assert.ok(!/[\u0000-\u0008\u000b-\u001f]/.test(i.message + (i.record ?? '')), JSON.stringify(i));
        }
      }),
      { numRuns: 60 },
    );
  } finally {
    cleanup();
  }
});
