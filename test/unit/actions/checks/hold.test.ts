/** The hold and waitUntil verdicts: one look's evaluations and the times in, the outcome out. */
import { describe, expect, it } from '@jest/globals';
import {
  HOLD_TIMEOUT_SLACK_MS,
  holdTimeoutMs,
  holdVerdict,
  waitVerdict,
  type NamedEvaluation,
} from '../../../../src/actions/checks/hold.js';
import type { ActionOutcome } from '../../../../src/actions/types.js';
import type { Step } from '../../../../src/api/v1alpha1/schema.js';

const met = (name = 'ratio'): NamedEvaluation => ({ name, result: 'Met', message: '0.002 < 0.01' });
const notMet = (name = 'ratio'): NamedEvaluation => ({
  name,
  result: 'NotMet',
  message: '0.2 is not < 0.01',
});
const error = (name = 'ping'): NamedEvaluation => ({
  name,
  result: 'Error',
  message: 'connect ECONNREFUSED',
});

const MIN = 60_000;
const times = (heldMs: number, durationMs = 10 * MIN, intervalMs = 30_000) => ({
  startedAtMs: 1_000_000,
  nowMs: 1_000_000 + heldMs,
  durationMs,
  intervalMs,
});

const summary = (o: ActionOutcome): string =>
  o.kind === 'inProgress'
    ? `inProgress ${o.requeueAfterMs}`
    : o.kind === 'failed'
      ? `failed ${o.reason}`
      : 'done';

describe('holdVerdict', () => {
  it.each<[string, NamedEvaluation[], number, string]>([
    ['passing at the start: look again at the interval', [met()], 0, 'inProgress 30000'],
    ['passing mid-way', [met(), met('health')], 4 * MIN, 'inProgress 30000'],
    ['passing near the end: requeued at the end, not later', [met()], 10 * MIN - 5_000, 'inProgress 5000'],
    ['passing at the end: done', [met()], 10 * MIN, 'done'],
    ['passing after the end (a late look): done', [met()], 11 * MIN, 'done'],
    ['not met mid-way: fails at once', [met('health'), notMet()], 4 * MIN, 'failed HoldCheckFailed'],
    ['an error mid-way: fails at once', [error()], 4 * MIN, 'failed HoldCheckFailed'],
    ['not met at the very end: fails', [notMet()], 10 * MIN, 'failed HoldCheckFailed'],
  ])('%s', (_what, evals, held, expected) => {
    expect(summary(holdVerdict(evals, times(held)))).toBe(expected);
  });

  it('a failure says how long it held and which check broke it, and records every check', () => {
    const o = holdVerdict([met('health'), notMet()], times(4 * MIN + 10_500));
    expect(o).toMatchObject({
      kind: 'failed',
      retryable: true,
      message: 'hold broken after 250s of 10m: ratio: NotMet: 0.2 is not < 0.01',
      output: {
        checks: [
          { name: 'health', result: 'Met' },
          { name: 'ratio', result: 'NotMet' },
        ],
      },
    });
  });

  it('resumes after a restart: the time held counts from the checkpoint, not from the new process', () => {
    // A new process looks 7 minutes after the checkpoint: 3 minutes are left, not 10.
    const o = holdVerdict([met()], times(7 * MIN));
    expect(o).toMatchObject({ kind: 'inProgress', message: 'holding: 7m of 10m, every check passing' });
    // and the last look, at 10 minutes, ends it
    expect(holdVerdict([met()], times(10 * MIN)).kind).toBe('done');
  });
});

describe('waitVerdict', () => {
  it.each<[string, NamedEvaluation[], string]>([
    ['every check met: done', [met('ping'), met('health')], 'done'],
    ['one not met: look again at the interval', [met('ping'), notMet('health')], 'inProgress 15000'],
    ['an error (a store refusing connections) is "not yet"', [error()], 'inProgress 15000'],
  ])('%s', (_what, evals, expected) => {
    expect(summary(waitVerdict(evals, 15_000))).toBe(expected);
  });

  it('says what it waits for', () => {
    expect(waitVerdict([met('ping'), error('health')], 15_000)).toMatchObject({
      message: 'waiting: health: Error: connect ECONNREFUSED',
    });
  });
});

describe('holdTimeoutMs', () => {
  const hold = (over: Partial<Step> = {}): Step => ({
    name: 'soak',
    action: 'hold',
    hold: { duration: '10m', checks: [{ name: 'p', redisCheck: {} }] },
    ...over,
  });
  it.each<[string, Step, number | undefined]>([
    ['a hold without a timeout: its duration and slack', hold(), 10 * MIN + HOLD_TIMEOUT_SLACK_MS],
    ['a hold with its own timeout: that one (undefined here)', hold({ timeout: '20m' }), undefined],
    ['another action', { name: 'x', action: 'notify', notify: { message: 'x' } }, undefined],
  ])('%s', (_what, step, expected) => {
    expect(holdTimeoutMs(step)).toBe(expected);
  });
});
