import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isHyperwardError } from '../../errors.js';
import { run, tempDir } from '../../../test/helpers/tmp.js';
import { zipArchive } from '../../../test/helpers/zip-writer.js';
import type { ImportIssue } from '../types.js';
import { DEFAULT_SOURCE_LIMITS, readInput, type SourceLimits } from './sources.js';

async function collect(
  input: string,
  limits: Partial<SourceLimits> = {},
): Promise<{ docs: Map<string, string>; issues: ImportIssue[] }> {
  const issues: ImportIssue[] = [];
  const docs = new Map<string, string>();
  for await (const d of readInput(input, issues, { ...DEFAULT_SOURCE_LIMITS, ...limits }))
    docs.set(d.name, d.text);
  return { docs, issues };
}

/** Whether a tool runs here (zip and unzip are not among the project's system dependencies yet). */

test('a directory is walked recursively: .json files and .zip archives; symlinks only inside it', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const root = join(dir, 'feed');
    mkdirSync(join(root, 'a', 'b'), { recursive: true });
    writeFileSync(join(root, 'one.json'), '\ufeff{"n":1}');
    writeFileSync(join(root, 'a', 'two.JSON'), '{"n":2}');
    writeFileSync(join(root, 'a', 'b', 'three.json'), '{"n":3}');
    writeFileSync(join(root, 'a', 'notes.txt'), 'not read');
    writeFileSync(join(root, 'a', 'pack.zip'), zipArchive([{ name: 'x/four.json', data: '{"n":4}' }]));
    writeFileSync(join(dir, 'outside.json'), '{"secret":true}');
    symlinkSync(join(dir, 'outside.json'), join(root, 'leak.json'));
    symlinkSync(dir, join(root, 'up'));
    symlinkSync(join(root, 'a', 'b', 'three.json'), join(root, 'alias.json'));
    symlinkSync(root, join(root, 'a', 'loop'));
    symlinkSync(join(root, 'gone.json'), join(root, 'dangling.json'));
    const { docs, issues } = await collect(root);
    assert.deepEqual([...docs.entries()].map(([k, v]) => [k.slice(root.length + 1), v]).sort(), [
      ['a/b/three.json', '{"n":3}'],
      ['a/pack.zip!x/four.json', '{"n":4}'],
      ['a/two.JSON', '{"n":2}'],
      ['alias.json', '{"n":3}'],
      ['one.json', '{"n":1}'],
    ]);
    assert.ok(![...docs.values()].some((t) => t.includes('secret')));
    const why = issues.map((i) => `${i.file.slice(root.length + 1)}: ${i.message.split(':')[0]}`).sort();
    assert.deepEqual(why, [
      'dangling.json: dangling symlink',
      `leak.json: symlink leads outside ${root}; not followed`,
      `up: symlink leads outside ${root}; not followed`,
    ]);
  } finally {
    cleanup();
  }
});

test('caps: files per input and directory depth', async () => {
  const { dir, cleanup } = tempDir();
  try {
    for (let i = 0; i < 10; i++) writeFileSync(join(dir, `${i}.json`), '{}');
    let r = await collect(dir, { maxFiles: 4 });
    assert.equal(r.docs.size, 4);
    assert.match(r.issues[0]!.message, /more than 4 entries/);
    const deep = join(dir, 'd1', 'd2', 'd3');
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, 'deep.json'), '{}');
    r = await collect(dir, { maxDepth: 2 });
    assert.equal(r.docs.size, 10);
    assert.ok(r.issues.some((i) => i.file.endsWith('d3') && /deeper than 2/.test(i.message)));
  } finally {
    cleanup();
  }
});

test('a file named directly is read whatever its name; a zip is told by its magic; a missing one throws', async () => {
  const { dir, cleanup } = tempDir();
  try {
    writeFileSync(join(dir, 'tracker'), '{"a":1}');
    writeFileSync(join(dir, 'download'), zipArchive([{ name: 'A-1.json', data: '{"id":"A-1"}' }]));
    assert.deepEqual([...(await collect(join(dir, 'tracker'))).docs.values()], ['{"a":1}']);
    assert.deepEqual(
      [...(await collect(join(dir, 'download'))).docs.keys()],
      [join(dir, 'download') + '!A-1.json'],
    );
    await assert.rejects(
      collect(join(dir, 'nope')),
      (e: unknown) => isHyperwardError(e) && e.code === 'E_NOT_FOUND',
    );
    const big = await collect(join(dir, 'tracker'), { maxFileBytes: 3 });
    assert.equal(big.docs.size, 0);
    assert.match(big.issues[0]!.message, /exceeds the 3-byte limit/);
  } finally {
    cleanup();
  }
});

test('the test zip writer makes archives that unzip accepts', () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, 'ok.zip');
    writeFileSync(
      p,
      zipArchive([
        { name: 'a.json', data: '{"a":1}' },
        { name: 'b/c.json', data: 'x'.repeat(5000), method: 'store' },
      ]),
    );
    const out = run('unzip', ['-t', p]);
    assert.match(out, /No errors detected/);
  } finally {
    cleanup();
  }
});

test('archives: hostile names refused, bombs and oversize members refused, the rest read', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, 'hostile.zip');
    const zeros = Buffer.alloc(4 * 1024 * 1024); // deflates ~1000:1
    writeFileSync(
      p,
      zipArchive([
        { name: 'good.json', data: '{"ok":1}' },
        { name: '../escape.json', data: '{}' },
        { name: '/etc/abs.json', data: '{}' },
        { name: 'C:/win.json', data: '{}' },
        { name: 'bomb.json', data: zeros },
        { name: 'liar.json', data: 'y'.repeat(200_000), declaredSize: 100 },
        { name: 'locked.json', data: '{}', encryptedFlag: true },
        { name: 'readme.txt', data: 'skipped silently' },
        { name: 'dir/', data: '' },
        { name: 'dir/good2.json', data: '{"ok":2}', method: 'store' },
      ]),
    );
    const { docs, issues } = await collect(p);
    assert.deepEqual([...docs.keys()], [`${p}!good.json`, `${p}!dir/good2.json`]);
    const byMember = new Map(issues.map((i) => [i.file.slice(p.length + 1), i.message]));
    assert.match(byMember.get('../escape.json')!, /refused archive member.*relative path/);
    assert.match(byMember.get('/etc/abs.json')!, /refused archive member.*absolute/);
    assert.match(byMember.get('C:/win.json')!, /refused archive member.*absolute/);
    assert.match(byMember.get('bomb.json')!, /zip bomb/);
    assert.match(byMember.get('liar.json')!, /cannot read the member/);
    assert.match(byMember.get('locked.json')!, /encrypted/);
    assert.equal(issues.length, 6);
  } finally {
    cleanup();
  }
});

test('archives: caps on members, member size and total size; a damaged archive is one issue', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const p = join(dir, 'many.zip');
    writeFileSync(
      p,
      zipArchive(
        Array.from({ length: 6 }, (_, i) => ({
          name: `${i}.json`,
          data: `{"i":${i},"pad":"${'p'.repeat(100)}"}`,
        })),
      ),
    );
    let r = await collect(p, { maxFiles: 3 });
    assert.equal(r.docs.size, 3);
    assert.match(r.issues[0]!.message, /more than 3 members/);
    r = await collect(p, { maxFileBytes: 50 });
    assert.equal(r.docs.size, 0);
    assert.equal(r.issues.length, 6);
    r = await collect(p, { maxArchiveBytes: 250 });
    assert.equal(r.docs.size, 2);
    assert.match(r.issues[0]!.message, /add up to more than 250 bytes/);
    const whole = zipArchive([{ name: 'a.json', data: '{}' }]);
    writeFileSync(join(dir, 'cut.zip'), whole.subarray(0, whole.length - 10));
    r = await collect(join(dir, 'cut.zip'));
    assert.equal(r.docs.size, 0);
    assert.equal(r.issues.length, 1);
    assert.match(r.issues[0]!.message, /zip archive/);
  } finally {
    cleanup();
  }
});

test('an archive made by the zip tool is read', async () => {
  const { dir, cleanup } = tempDir();
  try {
    mkdirSync(join(dir, 'in', 'sub'), { recursive: true });
    writeFileSync(join(dir, 'in', 'a.json'), JSON.stringify({ a: 'x'.repeat(3000) }));
    writeFileSync(join(dir, 'in', 'sub', 'b.json'), '{"b":2}');
    run('zip', ['-qr', join(dir, 'all.zip'), '.'], { cwd: join(dir, 'in') });
    const { docs, issues } = await collect(join(dir, 'all.zip'));
    assert.deepEqual(issues, []);
    assert.equal(docs.get(`${join(dir, 'all.zip')}!sub/b.json`), '{"b":2}');
    assert.equal(JSON.parse(docs.get(`${join(dir, 'all.zip')}!a.json`)!).a.length, 3000);
  } finally {
    cleanup();
  }
});
