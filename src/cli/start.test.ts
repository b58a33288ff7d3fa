import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BIN } from '../../test/helpers/cli.js';
import { codeCacheDir, commandKey, ownedByMe, readOwnCache, trustedCacheDir } from './start.js';

describe('commandKey', () => {
  it('names a cache by the leading command words, at most two', () => {
    assert.equal(commandKey(['scan', 'image', 'disk.qcow2', '--format', 'json']), 'scan-image');
    assert.equal(commandKey(['db', 'import', '--db', 'x.db', 'all.zip']), 'db-import');
    assert.equal(commandKey(['scan', 'host']), 'scan-host');
    assert.equal(commandKey(['diff', 'a.json', 'b.json']), 'diff');
    assert.equal(commandKey(['--version']), 'cli');
    assert.equal(commandKey([]), 'cli');
  });
  it('never takes a path, an option or an odd word into a file name', () => {
    assert.equal(commandKey(['../../etc', 'x']), 'cli');
    assert.equal(commandKey(['scan', '/tmp/x']), 'scan');
    assert.equal(commandKey(['Scan']), 'cli');
    assert.equal(commandKey(['a'.repeat(100)]), 'cli');
  });
});

describe('codeCacheDir', () => {
  it('follows XDG_CACHE_HOME when absolute, else ~/.cache', () => {
    assert.equal(codeCacheDir({ XDG_CACHE_HOME: '/x/c', HOME: '/h' }), '/x/c/hyperward/code');
    assert.equal(codeCacheDir({ XDG_CACHE_HOME: 'rel', HOME: '/h' }), '/h/.cache/hyperward/code');
  });
});

describe('ownedByMe', () => {
  it('accepts only what the user owns and nobody else can write', () => {
    assert.equal(ownedByMe({ uid: 1000, mode: 0o100600 }, 1000), true);
    assert.equal(ownedByMe({ uid: 1000, mode: 0o40755 }, 1000), true);
    assert.equal(ownedByMe({ uid: 1001, mode: 0o100600 }, 1000), false, "another user's");
    assert.equal(ownedByMe({ uid: 1000, mode: 0o100620 }, 1000), false, 'group-writable');
    assert.equal(ownedByMe({ uid: 1000, mode: 0o40777 }, 1000), false, 'world-writable');
  });
});

describe('trustedCacheDir', () => {
  const base = mkdtempSync(join(tmpdir(), 'hw-trusted-'));
  after(() => rmSync(base, { recursive: true, force: true }));
  const uid = process.geteuid!();

  it('creates what is missing, 0700, only when asked, and gives the real path', () => {
    const want = join(base, 'a', 'hyperward', 'code');
    assert.equal(trustedCacheDir(want, false), undefined);
    assert.equal(existsSync(join(base, 'a')), false, 'nothing created when only reading');
    assert.equal(trustedCacheDir(want, true), realpathSync(base) + '/a/hyperward/code');
    assert.equal(statSync(want).mode & 0o777, 0o700);
    symlinkSync(join(base, 'a'), join(base, 'link'));
    assert.equal(trustedCacheDir(join(base, 'link', 'hyperward', 'code'), false), realpathSync(want));
  });

  it('refuses a path through a directory others can write (unless sticky) or its own when not private', () => {
    const open = join(base, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    assert.equal(trustedCacheDir(join(open, 'c'), true), undefined);
    assert.equal(existsSync(join(open, 'c')), false);
    chmodSync(open, 0o1777); // sticky, as /tmp
    assert.ok(trustedCacheDir(join(open, 'c'), true));
    chmodSync(join(open, 'c'), 0o755);
    assert.ok(trustedCacheDir(join(open, 'c'), false), 'readable by others is fine');
    chmodSync(join(open, 'c'), 0o775);
    assert.equal(trustedCacheDir(join(open, 'c'), false), undefined, 'group-writable is not');
  });

  it("creates nothing inside another user's directory (sudo with the caller's HOME)", (t) => {
    if (uid !== 0) {
      t.skip('needs root to make a directory of another user');
      return;
    }
    const home = join(base, 'home-of-12345');
    mkdirSync(home, { mode: 0o755 });
    chownSync(home, 12345, 12345);
    assert.equal(trustedCacheDir(join(home, '.cache', 'hyperward', 'code'), true), undefined);
    assert.deepEqual(readdirSync(home), []);
  });
});

describe('the CLI through the code cache (built bundle)', () => {
  const home = mkdtempSync(join(tmpdir(), 'hw-codecache-'));
  after(() => rmSync(home, { recursive: true, force: true }));
  const run = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [BIN, ...args], {
      env: { ...process.env, XDG_CACHE_HOME: home, ...env },
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };
  const dir = join(home, 'hyperward', 'code');
  const caches = () => readdirSync(dir).filter((f) => f.endsWith('.v8'));

  it('writes one cache per command after a successful run and runs the same from it', () => {
    const first = run(['checks', 'list', '--format', 'json']);
    assert.deepEqual(
      caches().map((f) => f.split('.')[0]),
      ['checks-list'],
    );
    const cache = readFileSync(join(dir, caches()[0]!));
    assert.ok(cache.length > 1000, 'a real V8 cache');
    assert.equal(run(['checks', 'list', '--format', 'json']), first);
    // Used, not rewritten: V8 accepted it.
    assert.deepEqual(readFileSync(join(dir, caches()[0]!)), cache);
  });

  it('survives a damaged cache: the run is the same and the cache is written again', () => {
    const name = caches()[0]!;
    const garbage = Buffer.alloc(4096, 0x5a);
    writeFileSync(join(dir, name), garbage);
    const out = run(['checks', 'list', '--format', 'json']);
    assert.equal(out, run(['checks', 'list', '--format', 'json'], { HYPERWARD_CODE_CACHE: '0' }));
    assert.notDeepEqual(readFileSync(join(dir, name)), garbage);
  });

  it('neither reads nor writes a cache in a directory others can write', () => {
    for (const f of caches()) rmSync(join(dir, f));
    chmodSync(dir, 0o777);
    try {
      run(['checks', 'list', '--format', 'json']);
      assert.deepEqual(caches(), []);
    } finally {
      chmodSync(dir, 0o700);
    }
    run(['checks', 'list', '--format', 'json']);
    assert.ok(caches().some((f) => f.startsWith('checks-list.')));
  });

  it("reads a cache only when it and its directory are the user's own, and never through a link", () => {
    const d = join(home, 'gate');
    mkdirSync(d, { mode: 0o700 });
    chmodSync(d, 0o700);
    const f = join(d, 'c.v8');
    writeFileSync(f, 'bytecode', { mode: 0o600 });
    chmodSync(f, 0o600);
    assert.equal(readOwnCache(d, f)?.toString(), 'bytecode');
    chmodSync(f, 0o666);
    assert.equal(readOwnCache(d, f), undefined, 'a file others can write');
    chmodSync(f, 0o600);
    chmodSync(d, 0o777);
    assert.equal(readOwnCache(d, f), undefined, 'a directory others can write');
    chmodSync(d, 0o700);
    symlinkSync(f, join(d, 'link.v8'));
    assert.equal(readOwnCache(d, join(d, 'link.v8')), undefined, 'a symbolic link');
    assert.equal(readOwnCache(d, join(d, 'absent.v8')), undefined);
  });

  it('writes nothing with HYPERWARD_CODE_CACHE=0', () => {
    run(['--version'], { HYPERWARD_CODE_CACHE: '0' });
    assert.ok(!caches().some((f) => f.startsWith('cli.')));
    run(['--version']);
    assert.ok(caches().some((f) => f.startsWith('cli.')));
  });
});
