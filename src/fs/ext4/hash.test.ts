import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { run, tempDir } from '../../../test/helpers/tmp.js';
import { dxHash } from './hash.js';

/** Names without whitespace or quotes (debugfs splits its command line), ASCII and UTF-8, 1..255 bytes. */
function names(): string[] {
  const out = ['a', 'hello', 'lost+found', 'x'.repeat(255), 'é'.repeat(127), '日本語', 'ÿ', '\u0080abc'];
  let x = 12345;
  const next = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  const alphabet = [...'abcXYZ019._-+~', 'é', 'ß', 'ü', '€', '日', '😀'];
  for (let i = 0; i < 120; i++) {
    let s = '';
    const len = 1 + next(i < 60 ? 40 : 90);
    while (Buffer.byteLength(s) < len) s += alphabet[next(alphabet.length)];
    // A leading '-' would read as an option.
    if (s.startsWith('-')) s = `n${s}`;
    while (Buffer.byteLength(s) > 255) s = [...s].slice(0, -1).join('');
    out.push(s);
  }
  return out;
}

describe('htree name hashes against debugfs dx_hash', () => {
  let tmp: { dir: string; cleanup: () => void };
  let img: string;
  before(() => {
    tmp = tempDir('hyperward-dxhash-');
    img = join(tmp.dir, 'h.img');
    run('mkfs.ext4', ['-q', '-F', img, '2M']);
  });
  after(() => tmp.cleanup());

  it('matches for all six hash versions, with the default and with a custom seed', () => {
    const seed = '0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9';
    const seedBytes = Buffer.from(seed.replace(/-/g, ''), 'hex');
    const seedWords = [0, 1, 2, 3].map((i) => seedBytes.readUInt32LE(i * 4));
    const list = names();
    const cases: Array<{ name: string; version: number; seeded: boolean }> = [];
    for (let version = 0; version <= 5; version++) {
      for (const seeded of [false, true]) for (const name of list) cases.push({ name, version, seeded });
    }
    const cmds = join(tmp.dir, 'cmds');
    writeFileSync(
      cmds,
      cases.map((c) => `dx_hash -h ${c.version}${c.seeded ? ` -s ${seed}` : ''} ${c.name}\n`).join(''),
    );
    const hashes = [...run('debugfs', ['-f', cmds, img]).matchAll(/^Hash of .* is 0x([0-9a-f]+) /gm)].map(
      (m) => parseInt(m[1]!, 16),
    );
    assert.equal(hashes.length, cases.length);
    cases.forEach((c, i) => {
      const got = dxHash(Buffer.from(c.name, 'utf8'), c.version, c.seeded ? seedWords : undefined);
      assert.equal(got, hashes[i], `version ${c.version} ${c.seeded ? 'seeded' : 'default'} ${c.name}`);
    });
  });

  it('treats an all-zero seed as the default seed and refuses unknown versions', () => {
    const n = Buffer.from('some-name');
    assert.equal(dxHash(n, 1, [0, 0, 0, 0]), dxHash(n, 1));
    assert.equal(dxHash(n, 6), undefined);
  });
});
