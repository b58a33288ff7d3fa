import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isHyperwardError } from './errors.js';
import { Lru } from './lru.js';

const bufBudget = (maxBytes: number): { maxBytes: number; sizeOf: (b: Buffer) => number } => ({
  maxBytes,
  sizeOf: (b) => b.length,
});

function expectInternal(fn: () => unknown): void {
  assert.throws(fn, (e: unknown) => isHyperwardError(e) && e.code === 'E_INTERNAL');
}

describe('Lru', () => {
  it('keeps at most `capacity` entries and drops the least recently set first', () => {
    const lru = new Lru<number, string>(3);
    for (const k of [1, 2, 3, 4, 5]) lru.set(k, `v${k}`);
    assert.equal(lru.size, 3);
    assert.deepEqual([...lru.values()], ['v3', 'v4', 'v5']);
    assert.equal(lru.get(1), undefined);
    assert.equal(lru.get(2), undefined);
    assert.equal(lru.get(3), 'v3');
  });

  it('counts a get as a use: the entry got survives the next eviction', () => {
    const lru = new Lru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    assert.equal(lru.get('a'), 1);
    lru.set('c', 3);
    assert.equal(lru.get('b'), undefined, 'b was the least recently used');
    assert.equal(lru.get('a'), 1);
    assert.equal(lru.get('c'), 3);
    assert.equal(lru.get('missing'), undefined);
  });

  it('replacing a key refreshes it and does not evict or report it', () => {
    const evicted: Array<[string, number]> = [];
    const lru = new Lru<number, string>(2, { onEvict: (v, k) => evicted.push([v, k]) });
    lru.set(1, 'one');
    lru.set(2, 'two');
    lru.set(1, 'uno');
    assert.equal(lru.size, 2);
    assert.deepEqual(evicted, []);
    lru.set(3, 'three');
    assert.deepEqual(evicted, [['two', 2]], 'the refreshed key 1 outlives 2');
    assert.equal(lru.get(1), 'uno');
  });

  it('reports every evicted entry, in order, but not on clear', () => {
    const evicted: number[] = [];
    const lru = new Lru<number, number>(2, { onEvict: (v) => evicted.push(v) });
    for (let i = 0; i < 6; i++) lru.set(i, i * 10);
    assert.deepEqual(evicted, [0, 10, 20, 30]);
    lru.clear();
    assert.equal(lru.size, 0);
    assert.deepEqual(evicted, [0, 10, 20, 30]);
    assert.equal(lru.get(5), undefined);
  });

  it('iterates values least recently used first, without counting as use', () => {
    const lru = new Lru<number, string>(3);
    lru.set(1, 'a');
    lru.set(2, 'b');
    lru.set(3, 'c');
    lru.get(1);
    assert.deepEqual([...lru.values()], ['b', 'c', 'a']);
    assert.deepEqual([...lru.values()], ['b', 'c', 'a']);
    lru.set(4, 'd');
    assert.deepEqual([...lru.values()], ['c', 'a', 'd']);
  });

  it('with a byte budget, drops the oldest entries until the values fit', () => {
    const lru = new Lru<number, Buffer>(100, { budget: bufBudget(1000) });
    lru.set(1, Buffer.alloc(400));
    lru.set(2, Buffer.alloc(400));
    assert.equal(lru.bytes, 800);
    lru.set(3, Buffer.alloc(300));
    assert.equal(lru.get(1), undefined);
    assert.equal(lru.size, 2);
    assert.equal(lru.bytes, 700);
    lru.set(2, Buffer.alloc(100));
    assert.equal(lru.bytes, 400, 'a replaced value no longer counts');
    assert.equal(lru.get(3)?.length, 300);
  });

  it('keeps a value larger than the whole budget alone, and lets it go at the next set', () => {
    const evicted: number[] = [];
    const lru = new Lru<number, Buffer>(10, { budget: bufBudget(100), onEvict: (_v, k) => evicted.push(k) });
    lru.set(1, Buffer.alloc(60));
    lru.set(2, Buffer.alloc(500));
    assert.equal(lru.size, 1);
    assert.equal(lru.get(2)?.length, 500);
    assert.equal(lru.bytes, 500);
    lru.set(3, Buffer.alloc(10));
    assert.equal(lru.get(2), undefined);
    assert.equal(lru.bytes, 10);
    assert.deepEqual(evicted, [1, 2]);
  });

  it('applies the entry bound and the byte budget together', () => {
    const lru = new Lru<number, Buffer>(2, { budget: bufBudget(1000) });
    for (let i = 0; i < 5; i++) lru.set(i, Buffer.alloc(1));
    assert.equal(lru.size, 2);
    assert.equal(lru.bytes, 2);
  });

  it('refuses bounds that are not positive integers, and sizes that are not byte counts', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Infinity]) {
      expectInternal(() => new Lru(bad));
      expectInternal(() => new Lru<number, Buffer>(4, { budget: bufBudget(bad) }));
    }
    for (const bad of [-1, 0.5, Number.NaN]) {
      const lru = new Lru<number, number>(4, { budget: { maxBytes: 10, sizeOf: () => bad } });
      expectInternal(() => lru.set(1, 1));
      assert.equal(lru.size, 0);
    }
  });

  it('behaves like a reference model under random operation sequences (fast-check)', () => {
    type Op = { kind: 'get'; key: number } | { kind: 'set'; key: number; size: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('get' as const), key: fc.nat({ max: 12 }) }),
      fc.record({ kind: fc.constant('set' as const), key: fc.nat({ max: 12 }), size: fc.nat({ max: 60 }) }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.option(fc.integer({ min: 1, max: 150 }), { nil: undefined }),
        fc.array(op, { maxLength: 80 }),
        (capacity, maxBytes, ops) => {
          const evicted: number[] = [];
          const lru = new Lru<number, { key: number; size: number; stamp: number }>(capacity, {
            onEvict: (_v, k) => evicted.push(k),
            ...(maxBytes !== undefined ? { budget: { maxBytes, sizeOf: (v) => v.size } } : {}),
          });
          // The model: entries in recency order, least recent first.
          let model: Array<{ key: number; size: number; stamp: number }> = [];
          const expectedEvicted: number[] = [];
          for (const [stamp, o] of ops.entries()) {
            if (o.kind === 'get') {
              const i = model.findIndex((e) => e.key === o.key);
              const want = i < 0 ? undefined : model[i];
              if (want !== undefined) model = [...model.slice(0, i), ...model.slice(i + 1), want];
              assert.deepEqual(lru.get(o.key), want);
            } else {
              const v = { key: o.key, size: o.size, stamp };
              model = [...model.filter((e) => e.key !== o.key), v];
              const bytes = (): number =>
                maxBytes === undefined ? 0 : model.reduce((s, e) => s + e.size, 0);
              while (
                model.length > capacity ||
                (maxBytes !== undefined && bytes() > maxBytes && model.length > 1)
              ) {
                expectedEvicted.push(model.shift()!.key);
              }
              lru.set(o.key, v);
              assert.equal(lru.bytes, bytes());
            }
            assert.ok(lru.size <= capacity);
            if (maxBytes !== undefined) assert.ok(lru.bytes <= maxBytes || lru.size === 1);
            assert.deepEqual([...lru.values()], model);
            assert.deepEqual(evicted, expectedEvicted);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
