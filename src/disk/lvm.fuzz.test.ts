import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { byteEditsIn, onlyHyperwardErrors } from '../../test/helpers/fuzz.js';
import { run, tempDir } from '../../test/helpers/tmp.js';
import { isHyperwardError } from '../errors.js';
import { readLvm } from './lvm.js';
import { MDA_HEADER_SIZE, lvmCrc, readMetadataArea, readPvLabel } from './lvm/label.js';
import { checkRange, type BlockDevice, type DeviceInfo } from './types.js';

const NUM_RUNS = 200;
const MiB = 1024 * 1024;

/** A read-only device over an image in memory with byte ranges laid over it (no copy of the image per run). */
class PatchedDevice implements BlockDevice {
  readonly format = 'raw';
  readonly size: number;
  readonly info: DeviceInfo;
  constructor(
    readonly name: string,
    private readonly base: Buffer,
    private readonly patches: ReadonlyArray<{ offset: number; data: Buffer }>,
  ) {
    this.size = base.length;
    this.info = { format: 'raw', virtualSize: this.size, files: [name] };
  }
  read(offset: number, length: number): Buffer {
    checkRange(this, offset, length);
    const out = Buffer.from(this.base.subarray(offset, offset + length));
    for (const p of this.patches) {
      const from = Math.max(offset, p.offset);
      const to = Math.min(offset + length, p.offset + p.data.length);
      if (from < to) p.data.copy(out, from - offset, from - p.offset, to - p.offset);
    }
    return out;
  }
  close(): void {}
}

const edits = (list: ReadonlyArray<readonly [number, number]>): Array<{ offset: number; data: Buffer }> =>
  list.map(([offset, v]) => ({ offset, data: Buffer.from([v]) }));

/** Opens and reads every LV the scan offers; only HyperwardErrors may come out. */
function walk(devices: BlockDevice[]): void {
  const scan = readLvm(devices);
  for (const i of scan.issues) assert.equal(typeof i.message, 'string');
  for (const vg of scan.vgs) {
    for (const lv of vg.lvs) {
      let dev: BlockDevice;
      try {
        dev = lv.open();
      } catch (e) {
        if (isHyperwardError(e)) continue;
        throw e;
      }
      const n = Math.min(dev.size, 64 * 1024);
      onlyHyperwardErrors(() => dev.read(0, n));
      onlyHyperwardErrors(() => dev.read(dev.size - n, n));
      onlyHyperwardErrors(() =>
        dev.read(Math.floor(dev.size / 3), Math.min(n, dev.size - Math.floor(dev.size / 3))),
      );
    }
  }
}

describe('LVM2 reader under mutated labels, metadata headers and metadata text (fast-check)', () => {
  let tmp: { dir: string; cleanup: () => void };
  let a: Buffer;
  let b: Buffer;
  let mdaOffset = 0;
  let textOffset = 0;
  let text = '';

  before(() => {
    tmp = tempDir('hyperward-lvmfz-');
    const files = ['fz-a.img', 'fz-b.img'].map((n) => join(tmp.dir, n));
    for (const f of files) run('truncate', ['-s', String(8 * MiB), f]);
    const loops: string[] = [];
    try {
      for (const f of files) loops.push(run('losetup', ['--find', '--show', f]).trim());
      const accept = loops.map((l) => `"a|^${l}$|"`).join(', ');
      const config = `devices { global_filter = [ ${accept}, "r|.*|" ] hints = "none" } backup { backup = 0 archive = 0 }`;
      const env = { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' };
      const lvm = (cmd: string, ...args: string[]): string =>
        run(cmd, ['--config', config, ...args], { env });
      const vg = `hwfz${process.pid.toString(36)}x${(Date.now() % 1e6).toString(36)}`;
      lvm('pvcreate', '-q', ...loops);
      lvm('vgcreate', '-q', '-s', '1m', vg, ...loops);
      lvm('lvcreate', '-q', '--driverloaded', 'n', '-an', '-Zn', '-L', '2M', '-n', 'lin', vg);
      lvm(
        'lvcreate',
        '-q',
        '--driverloaded',
        'n',
        '-an',
        '-Zn',
        '-i',
        '2',
        '-I',
        '4k',
        '-L',
        '4M',
        '-n',
        'str',
        vg,
      );
    } finally {
      for (const l of loops) spawnSync('losetup', ['-d', l]);
    }
    a = readFileSync(files[0]!);
    b = readFileSync(files[1]!);
    const dev = new PatchedDevice('fz-a.img', a, []);
    const label = readPvLabel(dev)!;
    mdaOffset = label.metadataAreas[0]!.offset;
    const copy = readMetadataArea(dev, label.metadataAreas[0]!)!;
    textOffset = copy.textOffset;
    text = copy.text;
  });
  after(() => tmp.cleanup());

  /** PV A with its metadata text replaced by `t`, sealed with valid checksums so the parser gets to see it. */
  function withText(t: Buffer): Array<{ offset: number; data: Buffer }> {
    const h = Buffer.from(a.subarray(mdaOffset, mdaOffset + MDA_HEADER_SIZE));
    const body = Buffer.concat([t, Buffer.from([0])]);
    h.writeBigUInt64LE(BigInt(body.length), 48);
    h.writeUInt32LE(lvmCrc(body), 56);
    h.writeUInt32LE(lvmCrc(h, 4, MDA_HEADER_SIZE), 0);
    return [
      { offset: mdaOffset, data: h },
      { offset: textOffset, data: body },
    ];
  }

  it('reads the pristine PVs, and resealed unchanged text the same way', () => {
    const scan = readLvm([new PatchedDevice('a', a, []), new PatchedDevice('b', b, [])]);
    assert.deepEqual(scan.issues, []);
    assert.deepEqual(scan.vgs[0]!.lvs.map((l) => l.name).sort(), ['lin', 'str']);
    const again = readLvm([
      new PatchedDevice('a', a, withText(Buffer.from(text))),
      new PatchedDevice('b', b, []),
    ]);
    assert.deepEqual(
      again.vgs[0]!.lvs.map((l) => [l.name, l.size]),
      scan.vgs[0]!.lvs.map((l) => [l.name, l.size]),
    );
    walk([new PatchedDevice('a', a, []), new PatchedDevice('b', b, [])]);
  });

  it('survives edits of the label sector', () => {
    fc.assert(
      fc.property(byteEditsIn(512, 1024, 8), (e) =>
        walk([new PatchedDevice('a', a, edits(e)), new PatchedDevice('b', b, [])]),
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('survives edits of the metadata area header (checksum fixed up, so the fields are used)', () => {
    fc.assert(
      fc.property(byteEditsIn(mdaOffset + 4, mdaOffset + 128, 6), fc.boolean(), (e, fix) => {
        const h = Buffer.from(a.subarray(mdaOffset, mdaOffset + MDA_HEADER_SIZE));
        for (const [off, v] of e) h[off - mdaOffset] = v;
        if (fix) h.writeUInt32LE(lvmCrc(h, 4, MDA_HEADER_SIZE), 0);
        walk([new PatchedDevice('a', a, [{ offset: mdaOffset, data: h }])]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('survives byte edits of the metadata text (resealed)', () => {
    const raw = Buffer.from(text);
    fc.assert(
      fc.property(byteEditsIn(0, raw.length, 8), (e) => {
        const t = Buffer.from(raw);
        for (const [off, v] of e) t[off] = v;
        walk([new PatchedDevice('a', a, withText(t)), new PatchedDevice('b', b, [])]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('survives structural edits of the metadata text: cut, repeated and replaced pieces (resealed)', () => {
    const replacement = fc.constantFrom(
      '',
      '}',
      '{',
      '[',
      '"',
      '0',
      '-1',
      '9007199254740991',
      '1.5',
      'x',
      '"pv9"',
      '"striped"',
      '"thin"',
      '"snapshot"',
      'segment2 { start_extent = 0 extent_count = 1 type = "striped" stripe_count = 1 stripes = ["pv0", 0] }',
      'lv { status = ["VISIBLE"] segment1 { } }',
    );
    const arb = fc.tuple(fc.nat({ max: text.length }), fc.nat({ max: 200 }), replacement, fc.nat({ max: 3 }));
    fc.assert(
      fc.property(fc.array(arb, { minLength: 1, maxLength: 4 }), (ops) => {
        let t = text;
        for (const [at, len, rep, times] of ops) {
          const piece = t.slice(at, at + len);
          t = t.slice(0, at) + rep + piece.repeat(times) + t.slice(at + len);
        }
        walk([new PatchedDevice('a', a, withText(Buffer.from(t))), new PatchedDevice('b', b, [])]);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('survives edits anywhere in the first MiB of both PVs', () => {
    fc.assert(
      fc.property(byteEditsIn(0, MiB, 24), byteEditsIn(0, MiB, 24), (ea, eb) =>
        walk([new PatchedDevice('a', a, edits(ea)), new PatchedDevice('b', b, edits(eb))]),
      ),
      { numRuns: NUM_RUNS },
    );
  });
});
