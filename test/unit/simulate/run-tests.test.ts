/** How an expectation is compared with what followed: only what it gives, lists whole, messages as parts. */
import { describe, expect, it } from '@jest/globals';
import { compare, fingerprintOf, type Difference } from '../../../src/simulate/run-tests.js';

function diff(expected: unknown, got: unknown): string[] {
  const out: Difference[] = [];
  compare(expected, got, 'x', out);
  return out.map((d) => d.path);
}

describe('compare', () => {
  it.each([
    ['equal scalars', 'a', 'a', []],
    ['different scalars', 'a', 'b', ['x']],
    ['a subset of an object', { a: 1 }, { a: 1, b: 2 }, []],
    ['a missing field', { c: 1 }, { a: 1 }, ['x.c']],
    ['nested', { a: { b: 1 } }, { a: { b: 2, c: 3 } }, ['x.a.b']],
    ['{} is nothing', {}, {}, []],
    ['{} against absent', {}, undefined, []],
    ['{} against something', {}, { a: 1 }, ['x']],
    ['lists compare whole: length', [1], [1, 2], ['x']],
    ['lists item by item', [{ a: 1 }, { a: 2 }], [{ a: 1, b: 0 }, { a: 3 }], ['x[1].a']],
    ['a list against an object', [1], { a: 1 }, ['x']],
  ])('%s', (_what, expected, got, want) => {
    expect(diff(expected, got)).toEqual(want);
  });

  it('compares a message as a part of the text', () => {
    const out: Difference[] = [];
    compare({ message: 'cooldown' }, { message: 'a cooldown of 15m' }, 'r', out);
    expect(out).toEqual([]);
    compare({ message: 'rate' }, { message: 'a cooldown of 15m' }, 'r', out);
    expect(out).toEqual([
      { path: 'r.message', expected: 'a text containing "rate"', got: 'a cooldown of 15m' },
    ]);
  });
});

describe('fingerprintOf', () => {
  it('is 16 hex digits, the same for the same labels in any order', () => {
    const a = fingerprintOf({ alertname: 'X', namespace: 'n' });
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(fingerprintOf({ namespace: 'n', alertname: 'X' })).toBe(a);
    expect(fingerprintOf({ alertname: 'X', namespace: 'm' })).not.toBe(a);
  });
});
