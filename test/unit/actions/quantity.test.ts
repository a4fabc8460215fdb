import { describe, expect, test } from '@jest/globals';
import { compareQuantity, isQuantity, parseQuantity } from '../../../src/actions/kubernetes/quantity.js';

describe('parseQuantity', () => {
  test.each([
    ['1', 1_000_000_000n],
    ['1.5', 1_500_000_000n],
    ['.5', 500_000_000n],
    ['250m', 250_000_000n],
    ['1k', 1_000_000_000_000n],
    ['1Ki', 1024n * 1_000_000_000n],
    ['1.5Gi', 1610612736n * 1_000_000_000n],
    ['512Mi', 536870912n * 1_000_000_000n],
    ['1e3', 1_000_000_000_000n],
    ['1E3', 1_000_000_000_000n],
    ['100n', 100n],
    ['0.1n', 1n],
    ['-1', -1_000_000_000n],
    [2, 2_000_000_000n],
    [0.5, 500_000_000n],
  ])('%p', (q, nanos) => {
    expect(parseQuantity(q)).toBe(nanos);
  });

  test.each(['', 'abc', '1Gb', '1 Gi', 'Gi', '1.2.3', '--1'])('rejects %p', (q) => {
    expect(() => parseQuantity(q)).toThrow(/not a Kubernetes quantity/);
    expect(isQuantity(q)).toBe(false);
  });
});

describe('compareQuantity', () => {
  test.each([
    ['1Gi', '1073741824', 0],
    ['100m', '0.1', 0],
    ['1Gi', '1G', 1],
    ['1000Mi', '1Gi', -1],
    ['2', '1500m', 1],
    ['1.5Gi', '1536Mi', 0],
    ['4Gi', '2Gi', 1],
    ['500m', '1', -1],
    ['1e9', '1G', 0],
  ])('%s vs %s', (a, b, want) => {
    expect(compareQuantity(a, b)).toBe(want);
  });
});
