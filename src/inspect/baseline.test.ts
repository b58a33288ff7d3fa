/**
 * Signed baselines on real ext4 images built with `mkfs.ext4 -d` from trees made here. Oracles: the source
 * trees themselves (listed with GNU find, hashed from the host's files), Python's `json.dumps` for the
 * canonical form, and OpenSSL for the key fingerprint and the Ed25519 signature. A second tree, copied and
 * changed in known ways, must be reported as exactly those changes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  copyFileSync,
  lchownSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  linkSync,
  chmodSync,
  utimesSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { expectError } from '../../test/helpers/errors.js';
import { onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { mulberry32 } from '../../test/helpers/pattern.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import type { FileType } from '../fs/types.js';
import { isHyperwardError } from '../errors.js';
import { mountImage, type MountedImage } from '../scan/image.js';
import { Mounts } from '../scan/mounts.js';
import {
  SIGNATURE_CONTEXT,
  baselineFindings,
  canonicalJson,
  compareToBaseline,
  createBaseline,
  diffEntries,
  generateKeyPair,
  parseManifest,
  publicKeyFingerprint,
  signManifest,
  verifyManifest,
  type Manifest,
  type ManifestEntry,
  type ManifestField,
} from './baseline.js';

const OLD = 1_500_000_000; // every entry of the trees gets this mtime, so any later change moves it
const MiB = 1024 * 1024;

function pseudoRandom(length: number, seed: number): Buffer {
  const next = mulberry32(seed);
  const out = Buffer.alloc(length + 3);
  for (let i = 0; i < length; i += 4) out.writeUInt32LE(next(), i);
  return out.subarray(0, length);
}

const FIND_TYPES: Record<string, FileType> = {
  f: 'file',
  d: 'dir',
  l: 'symlink',
  p: 'fifo',
  c: 'chardev',
  b: 'blockdev',
  s: 'socket',
};

/** What GNU find and the host's files say about a tree, in manifest form (paths under `prefix`). */
function oracle(tree: string, prefix = ''): ManifestEntry[] {
  const out = execFileSync(
    'find',
    [tree, '-mindepth', '1', '-printf', '%P\\0%y\\0%m\\0%U\\0%G\\0%T@\\0%s\\0%l\\0'],
    {
      maxBuffer: 64 * MiB,
    },
  ).toString('utf8');
  const f = out.split('\0');
  const entries: ManifestEntry[] = [];
  for (let i = 0; i + 8 <= f.length; i += 8) {
    const [rel, y, m, u, g, t, s, l] = f.slice(i, i + 8) as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const e: ManifestEntry = {
      path: `${prefix}/${rel}`,
      type: FIND_TYPES[y]!,
      mode: parseInt(m, 8),
      uid: Number(u),
      gid: Number(g),
      mtime: Math.floor(Number(t)),
    };
    if (y === 'f') {
      e.size = Number(s);
      e.sha256 = createHash('sha256')
        .update(readFileSync(join(tree, rel)))
        .digest('hex');
    } else if (y === 'l') {
      e.size = Number(s);
      e.target = l;
    }
    entries.push(e);
  }
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Sets every entry's mtime (links included, deepest first so parents keep theirs). */
function ageTree(tree: string): void {
  const paths = execFileSync('find', [tree, '-depth', '-print0'])
    .toString('utf8')
    .split('\0')
    .filter(Boolean);
  for (const p of paths) lutimesSync(p, OLD, OLD);
}

function makeTreeA(root: string): void {
  const at = (p: string): string => {
    mkdirSync(join(root, p, '..'), { recursive: true });
    return join(root, p);
  };
  writeFileSync(at('etc/os-release'), 'ID=hwtest\nNAME="Hyperward test"\n');
  writeFileSync(at('etc/app.conf'), 'key=value\n');
  copyFileSync('/usr/bin/true', at('usr/bin/tool'));
  chmodSync(join(root, 'usr/bin/tool'), 0o755);
  copyFileSync('/usr/bin/false', at('usr/bin/suid'));
  chmodSync(join(root, 'usr/bin/suid'), 0o4755);
  copyFileSync('/usr/lib/x86_64-linux-gnu/libacl.so.1', at('usr/lib/libx.so.1'));
  writeFileSync(at('data/empty'), '');
  writeFileSync(at('data/one'), 'x');
  linkSync(join(root, 'data/one'), join(root, 'data/one-hardlink'));
  writeFileSync(at('data/big'), pseudoRandom(3 * MiB + 17, 7)); // several read chunks
  const sparse = openSync(at('data/sparse'), 'w');
  writeSync(sparse, Buffer.from('end'), 0, 3, 8 * MiB - 3);
  closeSync(sparse);
  writeFileSync(at('data/deep/a/b/c/d/e/f/file'), 'deep\n');
  for (let i = 0; i < 300; i++) writeFileSync(at(`data/many/f${String(i).padStart(3, '0')}`), `${i}\n`);
  writeFileSync(at('data/owned'), 'owned\n');
  lchownSync(join(root, 'data/owned'), 1234, 5678);
  mkdirSync(at('data/private'), { mode: 0o700 });
  chmodSync(join(root, 'data/private'), 0o700);
  mkdirSync(at('data/sticky'));
  chmodSync(join(root, 'data/sticky'), 0o1777);
  for (const n of ['with space', 'ünïcödé', 'émoji-😀', 'n'.repeat(255)]) writeFileSync(at(`names/${n}`), n);
  symlinkSync('../usr/bin/tool', at('links/short'));
  symlinkSync('../' + 'long/'.repeat(30) + 'target', at('links/long'));
  symlinkSync('/etc/os-release', at('links/absolute'));
  symlinkSync('nowhere', at('links/dangling'));
  run('mkfifo', [at('data/fifo')]);
  run('mknod', [at('data/null'), 'c', '1', '3']);
  mkdirSync(at('boot'));
  chmodSync(join(root, 'boot'), 0o700);
  ageTree(root);
}

/** ext4 from a tree, with a fixed clock so `/` and `/lost+found` are the same in every image. */
function ext4(tree: string, raw: string, mib = 64): MountedImage {
  run('truncate', ['-s', `${mib}M`, raw]);
  run('mkfs.ext4', ['-q', '-F', '-d', tree, raw], {
    env: { ...process.env, E2FSPROGS_FAKE_TIME: String(OLD) },
  });
  return mountImage(raw);
}

const without = (entries: ManifestEntry[], ...paths: string[]): ManifestEntry[] =>
  entries.filter((e) => !paths.includes(e.path));

describe('baselines of real ext4 images', () => {
  let tmp: { dir: string; cleanup: () => void };
  let treeA = '';
  let treeB = '';
  let treeBoot = '';
  let a: MountedImage;
  let b: MountedImage;
  let boot: MountedImage;
  let manifest: Manifest;
  let keys: { publicKey: string; privateKey: string };
  let signed = '';
  /** Path → fields this test changed between tree A and tree B. */
  const changes = new Map<string, ManifestField[]>();
  const added = ['/data/many/new', '/usr/bin/dropped'];
  const removed = [
    '/data/deep/a/b/c',
    '/data/deep/a/b/c/d',
    '/data/deep/a/b/c/d/e',
    '/data/deep/a/b/c/d/e/f',
    '/data/deep/a/b/c/d/e/f/file',
    '/data/many/f100',
  ];

  before(() => {
    tmp = tempDir('hyperward-baseline-');
    treeA = join(tmp.dir, 'a');
    makeTreeA(treeA);
    a = ext4(treeA, join(tmp.dir, 'a.raw'));
    assert.ok(a.root, 'image A has an OS root');

    treeB = join(tmp.dir, 'b');
    run('cp', ['-a', treeA, treeB]);
    const p = (rel: string): string => join(treeB, rel);
    // Content only (same size, mtime put back).
    const fd = openSync(p('data/big'), 'r+');
    writeSync(fd, Buffer.from([0xaa ^ readFileSync(p('data/big'))[MiB + 5]!]), 0, 1, MiB + 5);
    closeSync(fd);
    utimesSync(p('data/big'), OLD, OLD);
    changes.set('/data/big', ['sha256']);
    appendFileSync(p('usr/bin/tool'), 'implant');
    changes.set('/usr/bin/tool', ['size', 'mtime', 'sha256']);
    chmodSync(p('usr/bin/suid'), 0o755);
    changes.set('/usr/bin/suid', ['mode']);
    lchownSync(p('data/owned'), 0, 0);
    changes.set('/data/owned', ['uid', 'gid']);
    rmSync(p('links/short'));
    symlinkSync('../usr/bin/loot', p('links/short'));
    lutimesSync(p('links/short'), OLD, OLD);
    utimesSync(p('links'), OLD, OLD);
    changes.set('/links/short', ['target']);
    rmSync(p('data/one'));
    symlinkSync('empty', p('data/one'));
    lutimesSync(p('data/one'), OLD, OLD);
    utimesSync(p('data'), OLD, OLD);
    changes.set('/data/one', ['type', 'size', 'mode', 'sha256', 'target']); // 1-byte file → 5-byte link
    utimesSync(p('data/empty'), OLD + 60, OLD + 60);
    changes.set('/data/empty', ['mtime']);
    // Entries added and removed: their directories' mtimes move.
    rmSync(p('data/many/f100'));
    writeFileSync(p('data/many/new'), 'new\n');
    changes.set('/data/many', ['mtime']);
    rmSync(p('data/deep/a/b/c'), { recursive: true });
    changes.set('/data/deep/a/b', ['mtime']);
    copyFileSync('/usr/bin/true', p('usr/bin/dropped'));
    changes.set('/usr/bin', ['mtime']);
    b = ext4(treeB, join(tmp.dir, 'b.raw'));

    treeBoot = join(tmp.dir, 'boot');
    mkdirSync(join(treeBoot, 'grub'), { recursive: true });
    writeFileSync(join(treeBoot, 'vmlinuz'), pseudoRandom(200_000, 3));
    writeFileSync(join(treeBoot, 'grub/grub.cfg'), 'set default=0\n');
    ageTree(treeBoot);
    boot = ext4(treeBoot, join(tmp.dir, 'boot.raw'), 16);

    manifest = createBaseline(a.root!, { image: 'a.raw', created: new Date('2026-01-02T03:04:05Z') });
    keys = generateKeyPair();
    signed = signManifest(manifest, keys.privateKey);
  });
  after(() => {
    a?.close();
    b?.close();
    boot?.close();
    tmp.cleanup();
  });

  it('records every entry as the source tree has it', () => {
    assert.equal(manifest.format, 'hyperward-baseline');
    assert.equal(manifest.version, 1);
    assert.equal(manifest.created, '2026-01-02T03:04:05.000Z');
    assert.equal(manifest.image, 'a.raw');
    assert.deepEqual(without(manifest.entries, '/', '/lost+found'), oracle(treeA));
    // The two entries mkfs makes itself.
    const root = manifest.entries.find((e) => e.path === '/')!;
    const lf = manifest.entries.find((e) => e.path === '/lost+found')!;
    assert.deepEqual([root.type, root.uid, lf.type, lf.mode], ['dir', 0, 'dir', 0o700]);
    assert.ok(manifest.entries.every((e) => e.error === undefined));
    // The same from a bare filesystem (Vfs) as from the assembled image (Mounts).
    assert.deepEqual(
      createBaseline(a.rootVolume!.vfs!, { image: 'a.raw', created: new Date('2026-01-02T03:04:05Z') }),
      manifest,
    );
  });

  it('walks into filesystems mounted below the root, as a running system shows them', () => {
    const mounts = new Mounts(a.rootVolume!.vfs!, [{ at: '/boot', vfs: boot.volumes[0]!.vfs! }]);
    const m = createBaseline(mounts, { image: 'a.raw' });
    const underBoot = m.entries.filter((e) => e.path.startsWith('/boot/'));
    assert.deepEqual(without(underBoot, '/boot/lost+found'), oracle(treeBoot, '/boot'));
    // /boot is the mounted filesystem's root (0755 from mkfs), not the 0700 directory beneath it.
    const bootDir = m.entries.find((e) => e.path === '/boot')!;
    assert.equal(manifest.entries.find((e) => e.path === '/boot')!.mode, 0o700);
    assert.equal(bootDir.mode, 0o755);
    assert.deepEqual(
      m.entries.filter((e) => !e.path.startsWith('/boot')),
      manifest.entries.filter((e) => !e.path.startsWith('/boot')),
    );
  });

  it('the signed file: canonical JSON (as Python writes it); OpenSSL checks signature and key', () => {
    assert.ok(signed.endsWith('}\n'));
    const doc = JSON.parse(signed) as {
      manifest: Manifest;
      signature: { algorithm: string; keyFingerprint: string; value: string };
    };
    const py = (value: unknown): string =>
      execFileSync(
        'python3',
        [
          '-c',
          'import json,sys; sys.stdout.write(json.dumps(json.load(sys.stdin), sort_keys=True, ' +
            'separators=(",", ":"), ensure_ascii=False))',
        ],
        { input: JSON.stringify(value), maxBuffer: 64 * MiB },
      ).toString('utf8');
    assert.equal(signed, py(doc) + '\n');
    assert.equal(canonicalJson(doc), py(doc));

    const dir = join(tmp.dir, 'ossl');
    mkdirSync(dir);
    writeFileSync(join(dir, 'pub.pem'), keys.publicKey);
    const der = execFileSync('openssl', ['pkey', '-pubin', '-in', join(dir, 'pub.pem'), '-outform', 'DER']);
    const fp = 'sha256:' + createHash('sha256').update(der).digest('hex');
    assert.equal(doc.signature.keyFingerprint, fp);
    assert.equal(doc.manifest.keyFingerprint, fp);
    assert.equal(publicKeyFingerprint(keys.publicKey), fp);
    writeFileSync(join(dir, 'data'), SIGNATURE_CONTEXT + py(doc.manifest));
    writeFileSync(join(dir, 'sig'), Buffer.from(doc.signature.value, 'base64'));
    const out = execFileSync('openssl', [
      'pkeyutl',
      '-verify',
      '-pubin',
      '-inkey',
      join(dir, 'pub.pem'),
      '-rawin',
      '-in',
      join(dir, 'data'),
      '-sigfile',
      join(dir, 'sig'),
    ]).toString();
    assert.match(out, /Signature Verified Successfully/);
  });

  it('verifies with the right key and gives the manifest back', () => {
    const m = verifyManifest(signed, keys.publicKey);
    assert.deepEqual(m, { ...manifest, keyFingerprint: publicKeyFingerprint(keys.publicKey) });
    assert.deepEqual(verifyManifest(signed.trimEnd(), keys.publicKey), m);
  });

  it('refuses another key, an altered byte, a reformatted file, and keys that are not Ed25519', () => {
    expectError(() => verifyManifest(signed, generateKeyPair().publicKey), 'E_AUTH', /not the trusted key/);
    // One hex digit of a file's SHA-256, one digit of a uid, one byte of the signature.
    const sha = manifest.entries.find((e) => e.path === '/usr/bin/tool')!.sha256!;
    const i = signed.indexOf(sha) + 10;
    const flip = (s: string, at: number, c: string): string => s.slice(0, at) + c + s.slice(at + 1);
    expectError(
      () => verifyManifest(flip(signed, i, signed[i] === '0' ? '1' : '0'), keys.publicKey),
      'E_AUTH',
      /altered/,
    );
    const u = signed.indexOf('"uid":1234') + 7;
    expectError(() => verifyManifest(flip(signed, u, '9'), keys.publicKey), 'E_AUTH');
    const s = signed.indexOf('"value":"') + 12;
    expectError(
      () => verifyManifest(flip(signed, s, signed[s] === 'A' ? 'B' : 'A'), keys.publicKey),
      'E_AUTH',
    );
    // Same meaning, other bytes.
    expectError(
      () => verifyManifest(JSON.stringify(JSON.parse(signed), null, 1), keys.publicKey),
      'E_AUTH',
      /byte for byte/,
    );
    expectError(
      () => verifyManifest(signed.replace('{"manifest"', '{"extra":1,"manifest"'), keys.publicKey),
      'E_AUTH',
    );
    expectError(() => verifyManifest(signed.slice(0, 1000), keys.publicKey), 'E_CONFIG_SYNTAX');
    expectError(() => verifyManifest('{"a":1}', keys.publicKey), 'E_CONFIG_SYNTAX');
    const rsa = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    expectError(() => verifyManifest(signed, rsa.publicKey), 'E_USAGE', /Ed25519/);
    expectError(() => signManifest(manifest, rsa.privateKey), 'E_USAGE', /Ed25519/);
    expectError(() => verifyManifest(signed, 'not a key'), 'E_USAGE');
  });

  it('any one byte changed is refused, never accepted', () => {
    const codes = new Set<string>();
    fc.assert(
      fc.property(fc.nat({ max: signed.length - 1 }), fc.integer({ min: 0x20, max: 0x7e }), (at, c) => {
        const ch = String.fromCharCode(c);
        fc.pre(signed[at] !== ch);
        const text = signed.slice(0, at) + ch + signed.slice(at + 1);
        try {
          verifyManifest(text, keys.publicKey);
        } catch (e) {
          assert.ok(isHyperwardError(e), String(e));
          assert.ok(['E_AUTH', 'E_CONFIG_SYNTAX', 'E_LIMIT'].includes(e.code), e.message);
          codes.add(e.code);
          return;
        }
        assert.fail(`accepted a manifest with byte ${at} changed to ${JSON.stringify(ch)}`);
      }),
      { numRuns: 300 },
    );
    assert.ok(codes.has('E_AUTH'));
  });

  it('a changed image: exactly the changes made to its tree', () => {
    const trusted = verifyManifest(signed, keys.publicKey);
    const diff = compareToBaseline(trusted, b.root!);
    // The oracle: the two source trees compared field by field (/ and /lost+found are mkfs's, equal in both).
    const want = diffEntries(oracle(treeA), oracle(treeB));
    assert.deepEqual(
      { added: diff.added, removed: diff.removed, changed: diff.changed.map((c) => [c.path, c.fields]) },
      { added: want.added, removed: want.removed, changed: want.changed.map((c) => [c.path, c.fields]) },
    );
    // And that is what this test did to tree B.
    assert.deepEqual(diff.added, added);
    assert.deepEqual(diff.removed, removed);
    assert.deepEqual(
      diff.changed.map((c) => [c.path, c.fields]),
      [...changes.entries()].sort(([x], [y]) => (x < y ? -1 : 1)),
    );
    const tool = diff.changed.find((c) => c.path === '/usr/bin/tool')!;
    assert.equal(
      tool.current.sha256,
      createHash('sha256')
        .update(readFileSync(join(treeB, 'usr/bin/tool')))
        .digest('hex'),
    );
    assert.equal(diff.entries, oracle(treeB).length + 2);
    // The unchanged image compares clean; ignoring mtime hides the changes that are only mtime.
    assert.deepEqual(compareToBaseline(trusted, a.root!), {
      added: [],
      removed: [],
      changed: [],
      entries: manifest.entries.length,
    });
    const noTimes = compareToBaseline(trusted, b.root!, { ignore: ['mtime'] });
    assert.deepEqual(
      noTimes.changed.map((c) => c.path),
      [...changes.entries()]
        .filter(([, f]) => !(f.length === 1 && f[0] === 'mtime'))
        .map(([p]) => p)
        .sort(),
    );
  });

  it('findings for the differences', () => {
    const diff = compareToBaseline(manifest, b.root!);
    const fs = baselineFindings(diff, 'b.raw', manifest);
    assert.equal(fs.length, diff.added.length + diff.removed.length + diff.changed.length);
    const of = (p: string) => fs.find((f) => f.resource.id === p)!;
    assert.deepEqual(
      [of('/usr/bin/tool').checkId, of('/usr/bin/tool').severity],
      ['image.baseline-changed', 'high'],
    );
    assert.deepEqual(
      [of('/usr/bin/dropped').checkId, of('/usr/bin/dropped').severity],
      ['image.baseline-added', 'high'],
    );
    assert.equal(of('/usr/bin/suid').severity, 'medium');
    assert.match(of('/usr/bin/suid').message, /mode 04755 → 0755/);
    assert.equal(of('/data/empty').severity, 'info');
    assert.equal(of('/data/many/f100').checkId, 'image.baseline-removed');
    assert.equal(new Set(fs.map((f) => f.id)).size, fs.length);
    assert.deepEqual(
      baselineFindings(diff, 'b.raw', manifest).map((f) => f.id),
      fs.map((f) => f.id),
    );
  });

  it('limits on entries and depth', () => {
    expectError(() => createBaseline(a.root!, { image: 'a', maxEntries: 50 }), 'E_LIMIT', /entries/);
    expectError(() => createBaseline(a.root!, { image: 'a', maxDepth: 4 }), 'E_LIMIT', /deeper than 4/);
    // Big files can be left unhashed, visibly.
    const m = createBaseline(a.root!, { image: 'a', maxFileBytes: MiB });
    const big = m.entries.filter((e) => e.error !== undefined).map((e) => e.path);
    assert.deepEqual(big, ['/data/big', '/data/sparse']);
    const progress: number[] = [];
    createBaseline(a.root!, { image: 'a', onProgress: (n) => progress.push(n) });
    assert.equal(progress.at(-1), manifest.entries.length);
  });
});

describe('manifest parsing and canonical JSON', () => {
  const entry = fc.record(
    {
      path: fc.string({ minLength: 1, maxLength: 30 }).map((s) => '/' + s.replace(/\0/g, '')),
      type: fc.constantFrom<FileType>(
        'file',
        'dir',
        'symlink',
        'fifo',
        'chardev',
        'blockdev',
        'socket',
        'unknown',
      ),
      mode: fc.integer({ min: 0, max: 0o7777 }),
      uid: fc.integer({ min: 0, max: 0xffffffff }),
      gid: fc.integer({ min: 0, max: 0xffffffff }),
      mtime: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
      size: fc.nat(),
      sha256: fc.stringMatching(/^[0-9a-f]{64}$/),
      target: fc.string({ maxLength: 40 }),
      error: fc.string({ maxLength: 40 }),
    },
    { requiredKeys: ['path', 'type', 'mode', 'uid', 'gid', 'mtime'], noNullPrototype: true },
  );
  const manifestArb = fc
    .record(
      {
        image: fc.string({ maxLength: 20 }),
        created: fc
          .date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true })
          .map((d) => d.toISOString()),
        entries: fc.uniqueArray(entry, { selector: (e) => e.path, maxLength: 8 }),
      },
      { noNullPrototype: true },
    )
    .map((r) => ({ format: 'hyperward-baseline' as const, version: 1 as const, ...r }));

  it('every valid manifest survives signing and verification unchanged', () => {
    const keys = generateKeyPair();
    const fp = publicKeyFingerprint(keys.publicKey);
    fc.assert(
      fc.property(manifestArb, (m) => {
        const got = verifyManifest(signManifest(m as Manifest, keys.privateKey), keys.publicKey);
        assert.deepEqual(got, { ...m, keyFingerprint: fp });
      }),
      { numRuns: 60 },
    );
  });

  it('arbitrary JSON and mutated manifests give HyperwardErrors, never crashes', () => {
    fc.assert(fc.property(fc.jsonValue(), (v) => onlyHyperwardErrors(() => parseManifest(v))));
    fc.assert(
      fc.property(
        manifestArb,
        fc.string({ maxLength: 10 }),
        fc.jsonValue(),
        fc.nat({ max: 10 }),
        (m, k, v, n) => {
          const mutated = JSON.parse(JSON.stringify(m)) as Record<string, unknown> & {
            entries: Array<Record<string, unknown>>;
          };
          const target = mutated.entries[n % Math.max(1, mutated.entries.length)] ?? mutated;
          target[k || 'path'] = v;
          onlyHyperwardErrors(() => parseManifest(mutated));
        },
      ),
    );
    const pub = generateKeyPair().publicKey;
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => onlyHyperwardErrors(() => verifyManifest(s, pub))),
    );
  });

  it('canonical JSON sorts keys at every level and drops nothing but undefined', () => {
    assert.equal(
      canonicalJson({ b: 1, a: [{ d: 'x', c: null }, true], e: undefined }),
      '{"a":[{"c":null,"d":"x"},true],"b":1}',
    );
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const c = canonicalJson(v);
        assert.equal(canonicalJson(JSON.parse(c)), c);
        assert.deepEqual(JSON.parse(c), JSON.parse(JSON.stringify(v)));
      }),
    );
    expectError(() => canonicalJson({ a: () => 1 }), 'E_USAGE');
  });
});
