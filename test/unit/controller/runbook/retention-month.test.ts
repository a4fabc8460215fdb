/**
 * Issue #14: alert occurrences over simulated days through the real retention rules leave a
 * bounded cluster (bench/lib/retention-month.ts; `npm run bench:retention-month` runs the full
 * 100,000-occurrence month and prints its figures).
 */
import { describe, expect, it } from '@jest/globals';
import { MONTH_DEFAULTS, simulateMonth } from '../../../../bench/lib/retention-month.js';

describe('retention over simulated days', () => {
  it('keeps the cluster within the history limits plus loop-protection evidence plus what runs', () => {
    const r = simulateMonth({
      ...MONTH_DEFAULTS,
      occurrences: 4000,
      days: 3,
      runbooks: 2,
      targetsPerRunbook: 5,
    });
    // 2 Runbooks x (20 + 20) + 10 targets x 3 + in flight.
    expect(r.bound).toBe(2 * 40 + 10 * 3 + r.peakRunning);
    expect(r.peak).toBeLessThanOrEqual(r.bound);
    expect(r.final).toBeLessThanOrEqual(r.bound);
    expect(r.deleted).toBe(r.created - r.final);
    // Each Runbook keeps its full history: 20 failed and 20 of the others.
    expect(r.byPhaseAtEnd.Failed).toBeGreaterThanOrEqual(2 * 20);
  });

  it('keeps everything below the limits (nothing to delete in a quiet week)', () => {
    const r = simulateMonth({
      ...MONTH_DEFAULTS,
      occurrences: 15,
      days: 6,
      runbooks: 1,
      targetsPerRunbook: 3,
    });
    expect(r.deleted).toBe(0);
    expect(r.final).toBe(15);
  });
});
