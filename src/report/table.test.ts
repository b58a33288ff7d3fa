import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Finding } from '../model/finding.js';
import type { ScanReport, ScanResult } from '../model/report.js';
import { reportSummary, tableWriter } from './table.js';

function vuln(id: string, severity: Finding['severity'], status: Finding['status'] = 'fail'): Finding {
  return {
    id,
    checkId: id,
    severity,
    status,
    title: id,
    message: id,
    resource: { type: 'package', id: 'openssl' },
    vulnerability: {
      id,
      aliases: [],
      advisories: [],
      package: {
        name: 'openssl',
        version: '3.0.0',
        arch: 'amd64',
        ecosystem: 'deb',
        sourceName: 'openssl',
        sourceVersion: '3.0.0',
        purl: 'pkg:deb/debian/openssl@3.0.0',
      },
      matchedName: 'openssl',
      installedVersion: '3.0.0',
      fixState: 'not-fixed',
      cvss: [],
      severitySource: 'none',
    },
  };
}

const web: ScanResult = {
  target: 'lib/web.qcow2',
  kind: 'image',
  os: {
    id: 'debian',
    idLike: [],
    family: 'debian',
    versionId: '12',
    prettyName: 'Debian GNU/Linux 12 (bookworm)',
    source: '/etc/os-release',
  },
  packages: [],
  findings: [
    vuln('CVE-1', 'critical'),
    vuln('CVE-2', 'high'),
    vuln('CVE-3', 'high', 'suppressed'),
    { ...vuln('image.os-eol', 'high'), vulnerability: undefined, checkId: 'image.os-eol' },
  ],
};
const broken: ScanResult = {
  target: 'lib/bad\u001b[31m.vmdk',
  kind: 'image',
  packages: [],
  findings: [],
  error: { code: 'E_IMAGE_CORRUPT', message: 'damaged' },
};

test('a library report opens with one line per image and what was left out', () => {
  const report: ScanReport = {
    tool: { name: 'hyperward', version: '0' },
    createdAt: '2026-01-01T00:00:00Z',
    results: [web, broken],
    advisoryDb: { path: 'db', present: true },
    library: {
      images: 2,
      cached: 1,
      inspected: 1,
      failed: 1,
      seconds: 1,
      skipped: [{ path: 'lib/notes.txt', reason: 'not a disk image' }],
    },
  };
  const s = reportSummary(report)!;
  const lines = s.split('\n');
  assert.match(lines[3]!, /^lib\/web\.qcow2 +Debian GNU\/Linux 12 \(bookworm\) +0 +2 \(1\/1\/0\/0\) +1 *$/);
  assert.match(
    lines[4]!,
    /^lib\/bad \[31m\.vmdk +- +- +- +- +unreadable: E_IMAGE_CORRUPT$/,
    'no escape reaches the terminal',
  );
  assert.match(
    s,
    /2 images: 1 read, 1 unchanged \(from the scan cache\), 1 unreadable; 1 other files left out/,
  );
  assert.match(s, /^ {2}lib\/notes\.txt: not a disk image$/m);
  assert.ok(tableWriter.write(report).startsWith('Report Summary\n'));
});

test('without a database the summary says vulnerabilities were not checked; one image has no summary', () => {
  const two: ScanReport = { tool: { name: 'hyperward', version: '0' }, createdAt: '', results: [web, web] };
  assert.match(reportSummary(two)!, /not checked/);
  assert.equal(reportSummary({ ...two, results: [web] }), undefined);
});
