/**
 * The HTML report in a real browser: headless Chromium (Debian's `chromium`, installed by scripts/system-deps.sh)
 * loads the file offline, its DOM holds the findings as text and no script, and a screenshot shows the styled
 * page (the fail badge colour is on screen).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { after, test } from 'node:test';
import { allFindings, assessmentReport, HOSTILE } from '../helpers/assessment.js';
import { tempDir } from '../helpers/tmp.js';
import { toHtml } from '../../src/report/html.js';

const tmp = tempDir('hyperward-html-');
after(() => tmp.cleanup());

function chromium(args: string[]): string {
  const r = spawnSync(
    'chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      `--user-data-dir=${join(tmp.dir, 'profile')}`,
      ...args,
    ],
    { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
  );
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    assert.fail('chromium is not installed: run scripts/system-deps.sh (Debian package chromium)');
  }
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** Decodes an 8-bit, non-interlaced RGB or RGBA PNG into its size and a pixel reader. */
function decodePng(buf: Buffer): {
  width: number;
  height: number;
  pixel: (x: number, y: number) => [number, number, number];
} {
  assert.deepEqual([...buf.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'PNG signature');
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos < buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      assert.equal(data[8], 8, 'bit depth');
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      assert.ok(channels > 0, `colour type ${data[9]}`);
      assert.equal(data[12], 0, 'not interlaced');
    } else if (type === 'IDAT') {
      idat.push(data);
    }
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const px = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i]!;
      const a = i >= channels ? px[y * stride + i - channels]! : 0;
      const b = y > 0 ? px[(y - 1) * stride + i]! : 0;
      const c = i >= channels && y > 0 ? px[(y - 1) * stride + i - channels]! : 0;
      let v: number;
      if (filter === 0) v = x;
      else if (filter === 1) v = x + a;
      else if (filter === 2) v = x + b;
      else if (filter === 3) v = x + ((a + b) >> 1);
      else {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
      }
      px[y * stride + i] = v & 0xff;
    }
  }
  return {
    width,
    height,
    pixel: (x, y) => {
      const o = y * stride + x * channels;
      return [px[o]!, px[o + 1]!, px[o + 2]!];
    },
  };
}

test('headless Chromium renders the HTML report offline: findings as text, no script, styled', () => {
  const report = assessmentReport({ hostile: HOSTILE });
  const file = join(tmp.dir, 'report.html');
  writeFileSync(file, toHtml(report));
  const url = pathToFileURL(file).href;

  const dom = chromium(['--dump-dom', url]);
  assert.doesNotMatch(dom, /<script/i, 'no script element, even from hostile strings');
  assert.match(dom, /<title>Hyperward report: 4 targets<\/title>/);
  assert.equal((dom.match(/<details class="finding"/g) ?? []).length, allFindings(report).length);
  assert.ok(dom.includes('&lt;script&gt;alert("x")&lt;/script&gt;'), 'the hostile markup is text in the DOM');

  const png = join(tmp.dir, 'report.png');
  chromium([`--screenshot=${png}`, '--window-size=1280,1600', '--hide-scrollbars', url]);
  const img = decodePng(readFileSync(png));
  assert.equal(img.width, 1280);
  assert.equal(img.height, 1600);
  const colours = new Set<number>();
  let failBadge = 0;
  for (let y = 0; y < img.height; y += 2) {
    for (let x = 0; x < img.width; x += 2) {
      const [r, g, b] = img.pixel(x, y);
      colours.add((r << 16) | (g << 8) | b);
      if (r === 0xc6 && g === 0x28 && b === 0x28) failBadge++;
    }
  }
  assert.ok(colours.size > 50, `a rendered page, not a blank one (${colours.size} colours)`);
  assert.ok(failBadge > 20, 'the stylesheet applied: the red fail badges are on screen');
});
