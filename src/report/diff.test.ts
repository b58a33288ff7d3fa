import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assessmentReport } from '../../test/helpers/assessment.js';
import { isHyperwardError } from '../errors.js';
import type { Finding } from '../model/finding.js';
import type { ScanReport } from '../model/report.js';
import { diffReports, parseReport, renderDiff } from './diff.js';
import { jsonWriter } from './json.js';

const open = (f: Finding) => f.status === 'fail' || f.status === 'unknown';
const ids = (l: Finding[]) => l.map((f) => f.id).sort();
const find = (r: ScanReport, check: string, resource: string) =>
  r.results.flatMap((x) => x.findings).find((f) => f.checkId === check && f.resource.id === resource)!;

/** Both runs go through the JSON writer and back, as `hyperward diff OLD.json NEW.json` reads them. */
function roundTrip(r: ScanReport, name: string): ScanReport {
  return parseReport(JSON.parse(jsonWriter.write(r)), name);
}

test('finding ids are stable across runs: the same estate gives no new and no fixed findings', () => {
  const a = roundTrip(assessmentReport(), 'old.json');
  const b = roundTrip(assessmentReport(), 'new.json');
  const d = diffReports(a, b);
  assert.deepEqual(d.new, []);
  assert.deepEqual(d.fixed, []);
  assert.deepEqual(ids(d.unchanged), ids(a.results.flatMap((r) => r.findings).filter(open)));
});

test('one change later: the fixed failure, its retired waiver finding, and the new failure', () => {
  const before = roundTrip(assessmentReport(), 'old.json');
  const after = roundTrip(assessmentReport({ later: true }), 'new.json');
  const d = diffReports(before, after);

  const fixedConsole = find(before, 'vm-8.limit-console-connections', 'web01');
  const expiredWaiver = before.results[0]!.findings.find((f) => f.checkId === 'hyperward.waiver-expired')!;
  const newFailure = find(after, 'vm-8.vmrc-lock', 'db01');
  assert.equal(fixedConsole.status, 'fail');
  assert.equal(find(after, 'vm-8.limit-console-connections', 'web01').status, 'pass');
  assert.equal(find(before, 'vm-8.vmrc-lock', 'db01').status, 'pass');
  assert.equal(newFailure.status, 'fail');

  assert.deepEqual(ids(d.new), [newFailure.id]);
  assert.deepEqual(ids(d.fixed), ids([fixedConsole, expiredWaiver]));
  assert.deepEqual(
    d.fixed.find((f) => f.id === fixedConsole.id),
    fixedConsole,
    'fixed lists what was wrong',
  );
  // Everything open in both runs, and nothing else, is unchanged; the three lists never overlap.
  const openBefore = new Set(ids(before.results.flatMap((r) => r.findings).filter(open)));
  const openAfter = ids(after.results.flatMap((r) => r.findings).filter(open));
  assert.deepEqual(
    ids(d.unchanged),
    openAfter.filter((id) => openBefore.has(id)),
  );
  assert.deepEqual(ids([...d.new, ...d.unchanged]), openAfter);
  assert.deepEqual(ids([...d.fixed, ...d.unchanged]), [...openBefore].sort());
});

test('waived now counts as fixed; a waiver lifted counts as new; a target gone is not assessed, not fixed', () => {
  const before = assessmentReport();
  const after = structuredClone(before);
  const vmrc = find(after, 'vm-8.vmrc-lock', 'app');
  vmrc.status = 'waived';
  const copy = find(after, 'vm-8.deactivate-console-copy', 'db01');
  assert.equal(copy.status, 'waived');
  copy.status = 'fail';
  const unreadable = after.results[0]!.findings.find((f) => f.checkId === 'hyperward.unreadable')!;
  after.results[0]!.findings = after.results[0]!.findings.filter((f) => f !== unreadable);
  const d = diffReports(before, after);
  assert.ok(
    d.fixed.some((f) => f.id === vmrc.id),
    'waived in NEW',
  );
  assert.ok(
    d.fixed.some((f) => f.id === unreadable.id),
    'absent in NEW',
  );
  assert.deepEqual(ids(d.new), [copy.id]);
  // From nothing to something: all open findings are new.
  const empty: ScanReport = { ...before, results: [] };
  assert.deepEqual(
    ids(diffReports(empty, before).new),
    ids(before.results.flatMap((r) => r.findings).filter(open)),
  );
  const gone = diffReports(before, empty);
  assert.deepEqual(gone.fixed, []);
  assert.deepEqual(ids(gone.notAssessed), ids(before.results.flatMap((r) => r.findings).filter(open)));
  // A target that could not be read in NEW fixes nothing either.
  const unreadableNow = structuredClone(before);
  unreadableNow.results[0] = {
    ...unreadableNow.results[0]!,
    findings: [],
    error: { code: 'E_IO', message: 'gone' },
  };
  const d2 = diffReports(before, unreadableNow);
  assert.ok(before.results[0]!.findings.filter(open).every((f) => d2.notAssessed.some((x) => x.id === f.id)));
  assert.ok(!d2.fixed.some((f) => before.results[0]!.findings.some((x) => x.id === f.id)));
});

test('renderings: a table with the three sections and counts, and JSON with a summary', () => {
  const d = diffReports(assessmentReport(), assessmentReport({ later: true }));
  const table = renderDiff(d, 'table');
  assert.match(table, /^New \(1\)$/m);
  assert.match(table, new RegExp(`^Fixed \\(${d.fixed.length}\\)$`, 'm'));
  assert.match(table, new RegExp(`^Unchanged \\(${d.unchanged.length}\\)$`, 'm'));
  assert.match(table, /vm-8\.vmrc-lock\s+db01/);
  assert.match(table, new RegExp(`^1 new, ${d.fixed.length} fixed, ${d.unchanged.length} unchanged$`, 'm'));
  const json = JSON.parse(renderDiff(d, 'json')) as { summary: Record<string, number>; new: Finding[] };
  assert.deepEqual(json.summary, {
    new: d.new.length,
    fixed: d.fixed.length,
    unchanged: d.unchanged.length,
    notAssessed: d.notAssessed.length,
  });
  assert.deepEqual(json.new, d.new);
  const none = renderDiff({ new: [], fixed: [], unchanged: [], notAssessed: [] }, 'table');
  assert.match(none, /0 new, 0 fixed, 0 unchanged/);
});

test('parseReport rejects what is not a Hyperward JSON report, naming the file', () => {
  const good = JSON.parse(jsonWriter.write(assessmentReport())) as {
    results: Array<{ findings: Array<Record<string, unknown>> }>;
  };
  const bad: Array<[unknown, RegExp]> = [
    [null, /not a JSON object/],
    [[], /not a JSON object/],
    [{ runs: [] }, /no "results" array/],
    [{ results: [1] }, /results\[0\] is not an object/],
    [{ results: [{}] }, /no "findings" array/],
  ];
  const noStatus = structuredClone(good);
  delete noStatus.results[0]!.findings[0]!.status;
  bad.push([noStatus, /results\[0\]\.findings\[0\] is not a finding/]);
  const badSeverity = structuredClone(good);
  badSeverity.results[0]!.findings[1]!.severity = 'urgent';
  bad.push([badSeverity, /findings\[1\] is not a finding/]);
  for (const [json, why] of bad) {
    assert.throws(
      () => parseReport(json, 'old.json'),
      (e: unknown) =>
        isHyperwardError(e) &&
        e.code === 'E_USAGE' &&
        why.test(e.message) &&
        e.message.startsWith('old.json: '),
    );
  }
});

test('a vulnerability a VEX statement now suppresses counts as fixed; the status survives the JSON round trip', async () => {
  const { vulnerabilityReport } = await import('./testdata/vulnerability-report.js');
  const before = vulnerabilityReport();
  const glibc = before.results[0]!.findings.find((f) => f.checkId === 'CVE-2024-2961')!;
  glibc.status = 'fail';
  delete glibc.vulnerability!.vex;
  const after = roundTrip(vulnerabilityReport(), 'new.json');
  assert.equal(find(after, 'CVE-2024-2961', glibc.resource.id).status, 'suppressed');
  const d = diffReports(roundTrip(before, 'old.json'), after);
  assert.deepEqual(ids(d.fixed), [glibc.id]);
  assert.deepEqual(d.new, []);
  // And back: the VEX statement withdrawn makes it new again.
  const back = diffReports(after, roundTrip(before, 'old.json'));
  assert.deepEqual(ids(back.new), [glibc.id]);
});
