import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scoreVector } from './cvss.js';
import { decideSeverity, distroRating, ratingSource } from './severity.js';

describe('distroRating', () => {
  it('Debian security tracker urgencies', () => {
    assert.equal(distroRating('unimportant'), 'info');
    assert.equal(distroRating('low'), 'low');
    assert.equal(distroRating('medium'), 'medium');
    assert.equal(distroRating('high'), 'high');
    assert.equal(distroRating('low**'), 'low');
    assert.equal(distroRating('not yet assigned'), undefined);
    assert.equal(distroRating('end-of-life'), undefined);
  });

  it('Ubuntu priorities', () => {
    for (const [p, s] of [
      ['negligible', 'info'],
      ['low', 'low'],
      ['medium', 'medium'],
      ['high', 'high'],
      ['critical', 'critical'],
    ] as const) {
      assert.equal(distroRating(p), s, p);
    }
    assert.equal(distroRating('untriaged'), undefined);
  });

  it('Red Hat / SUSE impact ratings, any case', () => {
    assert.equal(distroRating('Low'), 'low');
    assert.equal(distroRating('Moderate'), 'medium');
    assert.equal(distroRating('Important'), 'high');
    assert.equal(distroRating('Critical'), 'critical');
    assert.equal(distroRating(' IMPORTANT '), 'high');
  });

  it('anything else is no rating', () => {
    for (const r of ['', 'unknown', 'none', 'severe', 'x'.repeat(100)])
      assert.equal(distroRating(r), undefined, r);
  });
});

describe('ratingSource', () => {
  it('names the distribution whose rating it is', () => {
    assert.equal(ratingSource('debian:12'), 'debian');
    assert.equal(ratingSource('ubuntu-pro:18.04'), 'ubuntu');
    assert.equal(ratingSource('rhel:9'), 'redhat');
    assert.equal(ratingSource('sles:15.5'), 'suse');
    assert.equal(ratingSource('opensuse-tumbleweed'), 'suse');
    assert.equal(ratingSource('rocky:9'), 'rocky');
  });
});

describe('decideSeverity', () => {
  // Red Hat's rating and CVSS 3.1 vector of CVE-2024-3094 and CVE-2024-6387 as published in their CVE records
  // (github.com/CVEProject/cvelistV5, cves/2024/3xxx/CVE-2024-3094.json and cves/2024/6xxx/CVE-2024-6387.json).
  const xz = scoreVector('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H')!;
  const regresshion = scoreVector('CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H')!;

  it("the distro's real rating wins over CVSS", () => {
    const d = decideSeverity([{ source: 'redhat', rating: 'Important' }], [xz]);
    assert.deepEqual(d, {
      severity: 'high',
      source: 'distro',
      distro: { source: 'redhat', rating: 'Important' },
    });
  });

  it('the first real rating in preference order wins', () => {
    const d = decideSeverity(
      [
        { source: 'debian', rating: 'not yet assigned' },
        { source: 'redhat', rating: 'Critical' },
        { source: 'redhat', rating: 'Low' },
      ],
      [],
    );
    assert.equal(d.severity, 'critical');
    assert.equal(d.distro?.rating, 'Critical');
  });

  it('no real rating: the CVSS score decides', () => {
    assert.deepEqual(decideSeverity([{ source: 'debian', rating: 'not yet assigned' }], [regresshion]), {
      severity: 'high',
      source: 'cvss',
    });
    assert.equal(decideSeverity([], [xz, regresshion]).severity, 'critical');
  });

  it('CVSS 4.0 is preferred over a higher 3.1 score', () => {
    const v4 = scoreVector('CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N')!; // 5.3
    assert.equal(decideSeverity([], [xz, v4]).severity, 'medium');
  });

  it('nothing at all: medium, marked as assumed', () => {
    assert.deepEqual(decideSeverity([], []), { severity: 'medium', source: 'none' });
  });
});
