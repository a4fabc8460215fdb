import { describe, expect, it } from '@jest/globals';
import { finishResult } from '../../../../src/controller/remediation/finish-result.js';
import type { Note } from '../../../../src/controller/remediation/decision.js';

type AuditNote = Extract<Note, { kind: 'audit' }>;
const note = (n: Omit<AuditNote, 'kind' | 'message'>): AuditNote => ({ kind: 'audit', message: 'm', ...n });

describe('finishResult: the ends counted by kube_remediator_remediations_finished_total', () => {
  it.each([
    [{ event: 'finished', phase: 'Succeeded' }, 'succeeded'],
    [{ event: 'finished', phase: 'Failed' }, 'failed'],
    [{ event: 'finished', phase: 'Skipped' }, 'skipped'],
    [{ event: 'finished', phase: 'DryRun' }, 'dry_run'],
    [{ event: 'rejected', phase: 'Skipped' }, 'skipped'],
    [{ event: 'blocked', phase: 'Blocked' }, 'blocked'],
    [{ event: 'reverted', phase: 'Reverted' }, 'reverted'],
    [{ event: 'reverted', phase: 'Failed', step: 's' }, 'revert_failed'],
  ] as const)('%j → %s', (n, result) => {
    expect(finishResult(note(n))).toBe(result);
  });

  it.each([
    // waits and steps along the way are not ends
    { event: 'blocked', phase: 'Pending' },
    { event: 'blocked' },
    { event: 'reverted', phase: 'Reverted', step: 's' },
    { event: 'step_finished', phase: 'Failed', step: 's' },
    { event: 'created' },
  ] as const)('%j → nothing', (n) => {
    expect(finishResult(note(n))).toBeUndefined();
  });
});
