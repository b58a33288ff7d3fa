import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { CvssScore } from '../model/finding.js';
import { cvssSeverity, cvssV2Severity, preferredScore, scoreVector } from './cvss.js';

/**
 * Published vector/score pairs: each is the `vectorString` and `baseScore` a CVE Numbering Authority published in
 * the CVE record, as stored in github.com/CVEProject/cvelistV5 (path and commit given). The scores were computed by
 * the CNAs' own tools (VulDB, GitHub, Red Hat, IBM, huntr), not by this project.
 */
const PUBLISHED: Array<{ vector: string; score: number; source: string }> = [
  // CVSS 4.0
  {
    vector: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N',
    score: 5.3,
    source: 'cves/2025/0xxx/CVE-2025-0700.json @0568cfd0 (VulDB)',
  },
  {
    vector: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:L/VI:N/VA:N/SC:N/SI:N/SA:N',
    score: 5.3,
    source: 'cves/2025/0xxx/CVE-2025-0703.json @e25a5c84 (VulDB)',
  },
  {
    vector: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N',
    score: 8.7,
    source: 'cves/2024/47xxx/CVE-2024-47874.json @8711eac2 (GitHub)',
  },
  {
    // Exploit maturity P lowers the CVSS-BT score: GitHub published 7.7 as the score of this vector.
    vector: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:H/VA:N/SC:N/SI:N/SA:N/E:P',
    score: 7.7,
    source: 'cves/2025/47xxx/CVE-2025-47273.json @46c4d78e (GitHub)',
  },
  // CVSS 3.1
  {
    vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H',
    score: 10,
    source: 'cves/2024/3xxx/CVE-2024-3094.json @01f4ef05 (Red Hat)',
  },
  {
    vector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H',
    score: 8.1,
    source: 'cves/2024/6xxx/CVE-2024-6387.json @057b96fd (Red Hat)',
  },
  {
    vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L',
    score: 7.3,
    source: 'cves/2024/3xxx/CVE-2024-3000.json @332e242f (VulDB)',
  },
  {
    vector: 'CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:L',
    score: 6.3,
    source: 'cves/2025/0xxx/CVE-2025-0700.json @0568cfd0 (VulDB)',
  },
  {
    vector: 'CVSS:3.1/AV:N/AC:H/PR:L/UI:N/S:U/C:N/I:N/A:H',
    score: 5.3,
    source: 'cves/2025/1xxx/CVE-2025-1000.json @444f72c0 (IBM)',
  },
  {
    vector: 'CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N',
    score: 4.3,
    source: 'cves/2025/0xxx/CVE-2025-0703.json @e25a5c84 (VulDB)',
  },
  // CVSS 3.0
  {
    vector: 'CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:H/A:N',
    score: 7.1,
    source: 'cves/2024/9xxx/CVE-2024-9000.json @5f517206 (huntr)',
  },
  {
    vector: 'CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L',
    score: 7.3,
    source: 'cves/2024/3xxx/CVE-2024-3000.json @332e242f (VulDB)',
  },
  // CVSS 2.0
  {
    vector: 'AV:N/AC:L/Au:N/C:P/I:P/A:P',
    score: 7.5,
    source: 'cves/2024/3xxx/CVE-2024-3000.json @332e242f (VulDB)',
  },
  {
    vector: 'AV:N/AC:L/Au:S/C:P/I:P/A:P',
    score: 6.5,
    source: 'cves/2025/0xxx/CVE-2025-0700.json @0568cfd0 (VulDB)',
  },
  {
    vector: 'AV:N/AC:L/Au:S/C:P/I:N/A:N',
    score: 4.0,
    source: 'cves/2025/0xxx/CVE-2025-0703.json @e25a5c84 (VulDB)',
  },
];

describe('scoreVector against published scores', () => {
  for (const { vector, score, source } of PUBLISHED) {
    it(`${vector} = ${score} (${source})`, () => {
      const s = scoreVector(vector);
      assert.ok(s, 'vector accepted');
      assert.equal(s.baseScore, score);
      assert.equal(s.vector, vector);
      assert.equal(s.version, vector.startsWith('CVSS:') ? vector.slice(5, 8) : '2.0');
    });
  }

  it('a CVSS 3.1 base score ignores temporal and environmental metrics', () => {
    // Same base metrics as CVE-2024-6387 above (8.1).
    const s = scoreVector('CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:U/CR:L/MAV:P');
    assert.equal(s?.baseScore, 8.1);
  });

  it('CVSS 2.0 in NVD parentheses or with a CVSS:2.0 prefix', () => {
    assert.equal(scoreVector('(AV:N/AC:L/Au:N/C:P/I:P/A:P)')?.baseScore, 7.5);
    assert.equal(scoreVector('CVSS:2.0/AV:N/AC:L/Au:N/C:P/I:P/A:P')?.baseScore, 7.5);
  });
});

describe('qualitative ratings', () => {
  it('v3/v4: FIRST table boundaries (CVSS v3.1 specification, section 5)', () => {
    const table: Array<[number, string]> = [
      [0, 'info'],
      [0.1, 'low'],
      [3.9, 'low'],
      [4.0, 'medium'],
      [6.9, 'medium'],
      [7.0, 'high'],
      [8.9, 'high'],
      [9.0, 'critical'],
      [10, 'critical'],
    ];
    for (const [score, sev] of table) assert.equal(cvssSeverity(score), sev, String(score));
    // The CNAs' own baseSeverity in the records cited above agrees.
    assert.equal(scoreVector('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H')?.severity, 'critical');
    assert.equal(
      scoreVector('CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N')?.severity,
      'medium',
    );
  });

  it('v2: NVD bands (no critical)', () => {
    assert.equal(cvssV2Severity(10), 'high');
    assert.equal(cvssV2Severity(4.0), 'medium');
    assert.equal(cvssV2Severity(3.9), 'low');
    assert.equal(scoreVector('AV:N/AC:L/Au:N/C:C/I:C/A:C')?.severity, 'high');
  });
});

describe('invalid vectors are refused, not guessed', () => {
  const bad = [
    '',
    'hello',
    'CVSS:3.1/AV:N/AC:L', // base metrics missing
    'CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', // unknown value
    'CVSS:3.1/AV:N/AV:L/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', // metric twice
    'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/XX:Y', // unknown metric
    'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/', // empty part
    'CVSS:4.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', // a 3.x body under a 4.0 prefix
    'CVSS:3.1/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', // a 4.0 body under 3.1
    'CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', // no such version
    'AV:N/AC:L/Au:N/C:P/I:P', // v2 missing A
    `CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H${'/E:X'.repeat(200)}`, // absurd length
  ];
  for (const v of bad) it(JSON.stringify(v.slice(0, 60)), () => assert.equal(scoreVector(v), undefined));

  it('never throws on random input (fast-check)', () => {
    const metric = fc.tuple(
      fc.constantFrom(
        'AV',
        'AC',
        'AT',
        'PR',
        'UI',
        'S',
        'C',
        'I',
        'A',
        'VC',
        'VI',
        'VA',
        'SC',
        'SI',
        'SA',
        'Au',
        'E',
        'U',
        'MSI',
      ),
      fc.constantFrom('N', 'L', 'H', 'P', 'A', 'R', 'U', 'C', 'X', 'S', 'M', 'Clear', 'ND', ''),
    );
    fc.assert(
      fc.property(
        fc.constantFrom('CVSS:4.0/', 'CVSS:3.1/', 'CVSS:3.0/', 'CVSS:2.0/', '', '('),
        fc.array(metric, { maxLength: 14 }),
        fc.string({ maxLength: 8 }),
        (prefix, metrics, tail) => {
          const s = scoreVector(prefix + metrics.map(([k, v]) => `${k}:${v}`).join('/') + tail);
          if (s) {
            assert.ok(s.baseScore >= 0 && s.baseScore <= 10);
            assert.ok(['2.0', '3.0', '3.1', '4.0'].includes(s.version));
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe('preferredScore', () => {
  const s = (version: CvssScore['version'], baseScore: number): CvssScore => ({
    version,
    vector: `${version}/${baseScore}`,
    baseScore,
    severity: cvssSeverity(baseScore),
  });
  it('4.0 over 3.x over 2.0, the highest within the version', () => {
    assert.equal(preferredScore([s('2.0', 10), s('3.1', 5), s('4.0', 3)])?.baseScore, 3);
    assert.equal(preferredScore([s('2.0', 10), s('3.1', 5), s('3.0', 6)])?.baseScore, 6);
    assert.equal(preferredScore([s('2.0', 4), s('2.0', 9)])?.baseScore, 9);
    assert.equal(preferredScore([]), undefined);
  });
});
