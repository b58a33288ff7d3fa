import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assessmentReport, HOSTILE } from '../../test/helpers/assessment.js';
import type { ScanReport } from '../model/report.js';
import { loadWriter } from './index.js';
import { FORMATS } from './types.js';

test('every format renders assessment reports of every target kind, hostile and empty ones too', async () => {
  const empty: ScanReport = {
    tool: { name: 'hyperward', version: '0.1.0' },
    createdAt: '2026-11-26T12:00:00.000Z',
    results: [],
  };
  const reports = [assessmentReport(), assessmentReport({ hostile: HOSTILE }), empty];
  assert.deepEqual(new Set(reports[0]!.results.map((r) => r.kind)), new Set(['host', 'config', 'image']));
  for (const format of FORMATS) {
    const writer = await loadWriter(format);
    assert.equal(writer.format, format);
    for (const report of reports) {
      const text = writer.write(report);
      assert.ok(text.length > 0, format);
      assert.ok(text.endsWith('\n'), `${format} ends with a newline`);
      if (['json', 'cyclonedx', 'spdx', 'sarif', 'ocsf'].includes(format)) JSON.parse(text);
    }
  }
});
