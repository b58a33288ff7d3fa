import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tempDir } from '../../test/helpers/tmp.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const UBUNTU = join(REPO, 'fixtures', 'advisories', 'osv', 'ubuntu');

/** Three real Ubuntu records (fixtures/advisories) in `dir/osv`: 3 advisories, 9 entries, 5 releases. */
function threeRecords(dir: string): string {
  const out = join(dir, 'osv');
  mkdirSync(out, { recursive: true });
  for (const f of ['USN-5811-1.json', 'USN-6409-1.json', 'UBUNTU-CVE-2023-22809.json']) {
    cpSync(join(UBUNTU, f), join(out, f));
  }
  return out;
}
const DB_CMD = pathToFileURL(join(REPO, 'src', 'cli', 'db-cmd.ts')).href;

/** Runs `runDbImport` / `runDbInfo` in a child process, as the CLI would, and returns what it printed. */
function call(dir: string, args: unknown[]): { code: number; stdout: string; stderr: string } {
  const script = join(dir, 'call.mts');
  writeFileSync(
    script,
    `import { runDbImport, runDbInfo } from ${JSON.stringify(DB_CMD)};
const [cmd, a, b] = JSON.parse(process.argv[2]);
process.exitCode = cmd === 'import' ? await runDbImport(a, b) : runDbInfo(a);
`,
  );
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, JSON.stringify(args)], {
    cwd: REPO,
    encoding: 'utf8',
    env: { ...process.env, HYPERWARD_DB: join(dir, 'default.db') },
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('db import: summary on stdout, issues on stderr (made printable), exit 0', () => {
  const { dir, cleanup } = tempDir();
  try {
    const FIXTURES = threeRecords(dir);
    const evil = join(dir, 'evil\u001b[2J.json');
    writeFileSync(evil, '{"id": ');
    const r = call(dir, ['import', [FIXTURES, evil], { quiet: true }]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Added 3, updated 0, unchanged 0; ignored 0 .*; 1 issue\n/);
    assert.match(r.stdout, new RegExp(`osv +3 +${FIXTURES}`));
    assert.match(r.stdout, new RegExp(`Database: ${join(dir, 'default.db')}`), 'HYPERWARD_DB is the default');
    assert.match(r.stderr, /1 issue .*\n {2}.*evil\?\[2J\.json: not valid JSON/);
    assert.ok(!r.stderr.includes('\u001b') && !r.stdout.includes('\u001b'));
    const again = call(dir, ['import', [FIXTURES], { db: join(dir, 'other.db'), format: 'json' }]);
    assert.equal(again.code, 0);
    const s = JSON.parse(again.stdout);
    assert.equal(s.database, join(dir, 'other.db'));
    assert.equal(s.added, 3);
    assert.deepEqual(s.issues, []);
    assert.equal(again.stderr, '');
  } finally {
    cleanup();
  }
});

test('db import: a missing path or an unusable database is exit 2 with the reason', () => {
  const { dir, cleanup } = tempDir();
  try {
    const FIXTURES = threeRecords(dir);
    let r = call(dir, ['import', [join(dir, 'nope')], {}]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nope: no such file or directory \[E_NOT_FOUND\]/);
    writeFileSync(join(dir, 'junk.db'), 'junk'.repeat(100));
    r = call(dir, ['import', [FIXTURES], { db: join(dir, 'junk.db') }]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /junk\.db.*not a SQLite database/);
  } finally {
    cleanup();
  }
});

test('db info: path, schema, last import and age, sources, counts per feed and distribution', () => {
  const { dir, cleanup } = tempDir();
  try {
    const FIXTURES = threeRecords(dir);
    const db = join(dir, 'adv.db');
    assert.equal(call(dir, ['import', [FIXTURES], { db, quiet: true }]).code, 0);
    const t = call(dir, ['info', { db }]);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, new RegExp(`^Database +${db}$`, 'm'));
    assert.match(t.stdout, /^Schema +4$/m);
    assert.match(t.stdout, new RegExp(`^Verdicts +${db}-verdicts \\(current\\)$`, 'm'));
    assert.match(t.stdout, /^Last import +\d{4}-\d\d-\d\dT[\d:.]+Z \(0 days ago\)$/m);
    assert.match(
      t.stdout,
      /^Advisories +3 \(osv 3, debian-tracker 0, alpine-secdb 0, nvd 0\); 0 withdrawn$/m,
    );
    assert.match(t.stdout, new RegExp(`^ +osv +3 +\\S+ +0 +${FIXTURES}$`, 'm'));
    assert.match(t.stdout, /^ +ubuntu:22\.04 +3$/m);
    assert.match(t.stdout, /^ +ubuntu-pro:14\.04 +1$/m);
    const j = call(dir, ['info', { db, format: 'json' }]);
    const info = JSON.parse(j.stdout);
    assert.equal(info.advisories, 3);
    assert.equal(info.ageDays, 0);
    assert.equal(info.sources[0].path, FIXTURES);
    assert.deepEqual(info.verdicts, { path: `${db}-verdicts`, state: 'current' });
    // Without its verdict file the database still answers, and says so.
    rmSync(`${db}-verdicts`);
    assert.match(call(dir, ['info', { db }]).stdout, /^Verdicts +\S+ \(missing: matching is slower/m);
    const missing = call(dir, ['info', { db: join(dir, 'none.db') }]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /none\.db.*db import/);
  } finally {
    cleanup();
  }
});
