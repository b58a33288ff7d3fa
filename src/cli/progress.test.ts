import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Progress } from './progress.js';

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; out: string[] } {
  const out: string[] = [];
  const stream = {
    isTTY,
    columns: 60,
    write: (s: string) => out.push(s) > 0,
  } as unknown as NodeJS.WriteStream;
  return { stream, out };
}

test('draws a bar on a terminal, clears it when done', () => {
  const { stream, out } = fakeStream(true);
  const p = new Progress('cat', 100, false, stream);
  p.update(100);
  assert.match(out.join(''), /cat \[#{30}\] 100%/);
  p.done();
  assert.match(out[out.length - 1]!, /^\r +\r$/);
});

test('draws nothing when stderr is not a terminal, or with --quiet', () => {
  for (const [tty, quiet] of [
    [false, false],
    [true, true],
  ] as const) {
    const { stream, out } = fakeStream(tty);
    const p = new Progress('scan', 10, quiet, stream);
    p.update(5);
    p.done();
    assert.deepEqual(out, []);
  }
});
