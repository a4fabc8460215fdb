import { describe, expect, it } from '@jest/globals';
import { conditionChanged, setCondition } from '../../../../src/api/v1alpha1/conditions.js';
import { derivePhase, progressOf, statusPatch } from '../../../../src/controller/remediation/status.js';
import { cond, stepRec } from './builders.js';

const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T00:05:00Z');

describe('setCondition', () => {
  it('adds a condition with lastTransitionTime now', () => {
    const c = setCondition(
      undefined,
      { type: 'Ready', status: 'True', reason: 'Valid', message: 'ok' },
      t0,
      3,
    );
    expect(c).toEqual([
      {
        type: 'Ready',
        status: 'True',
        reason: 'Valid',
        message: 'ok',
        lastTransitionTime: '2026-01-01T00:00:00Z',
        observedGeneration: 3,
      },
    ]);
  });

  it.each([
    ['same status, new reason and message: time kept', 'True', 'Other', '2026-01-01T00:00:00Z'],
    ['status flips: time moves', 'False', 'Valid', '2026-01-01T00:05:00Z'],
  ] as const)('%s', (_n, status, reason, time) => {
    const before = setCondition(
      undefined,
      { type: 'Ready', status: 'True', reason: 'Valid', message: 'a' },
      t0,
    );
    const after = setCondition(before, { type: 'Ready', status, reason, message: 'b' }, t1);
    expect(after[0]?.lastTransitionTime).toBe(time);
    expect(after[0]?.message).toBe('b');
  });

  it('keeps other conditions and their order', () => {
    const before = [cond('A', 'True', 'X'), cond('B', 'False', 'Y')];
    const after = setCondition(before, { type: 'A', status: 'False', reason: 'Z', message: '' }, t1);
    expect(after.map((c) => c.type)).toEqual(['A', 'B']);
    expect(after[1]).toBe(before[1]);
  });

  it.each([
    ['new', undefined, 'True', 'R', true],
    ['same', 'True', 'True', 'R', false],
    ['reason only', 'True', 'True', 'S', true],
    ['status', 'True', 'False', 'R', true],
  ] as const)('conditionChanged: %s', (_n, prior, status, reason, changed) => {
    const before = prior ? [cond('A', prior, 'R')] : undefined;
    const after = setCondition(before, { type: 'A', status, reason, message: '' }, t1);
    expect(conditionChanged(before, after, 'A')).toBe(changed);
  });
});

describe('derivePhase', () => {
  it.each([
    ['nothing yet', [], 'Pending'],
    ['awaiting approval', [cond('Approved', 'False', 'AwaitingApproval')], 'AwaitingApproval'],
    ['blocked by budget', [cond('Blocked', 'True', 'ClusterBudget')], 'Pending'],
    ['running', [cond('Progressing', 'True', 'StepRunning')], 'Running'],
    [
      'running though target-locked',
      [cond('Progressing', 'True', 'StepRunning'), cond('Blocked', 'True', 'TargetLocked')],
      'Running',
    ],
    ['succeeded', [cond('Succeeded', 'True', 'AllStepsSucceeded')], 'Succeeded'],
    ['dry run', [cond('Succeeded', 'True', 'DryRun')], 'DryRun'],
    ['failed', [cond('Succeeded', 'False', 'StepFailed')], 'Failed'],
    ['rejected', [cond('Succeeded', 'False', 'Rejected')], 'Skipped'],
    [
      'loop protection',
      [cond('Succeeded', 'False', 'LoopProtection'), cond('Blocked', 'True', 'LoopProtection')],
      'Blocked',
    ],
    [
      'out of scope',
      [cond('Succeeded', 'False', 'OutOfScope'), cond('Blocked', 'True', 'OutOfScope')],
      'Failed',
    ],
    [
      'reverting',
      [cond('Succeeded', 'True', 'AllStepsSucceeded'), cond('Reverted', 'Unknown', 'RevertRequested')],
      'Reverting',
    ],
    [
      'reverted',
      [cond('Succeeded', 'True', 'AllStepsSucceeded'), cond('Reverted', 'True', 'RevertSucceeded')],
      'Reverted',
    ],
    [
      'revert failed',
      [cond('Succeeded', 'True', 'AllStepsSucceeded'), cond('Reverted', 'False', 'RevertFailed')],
      'Failed',
    ],
  ] as const)('%s → %s', (_n, conditions, phase) => {
    expect(derivePhase({ conditions: [...conditions] })).toBe(phase);
  });

  const running = [cond('Progressing', 'True', 'StepRunning')];
  const step = (action: string, phase: string) => ({ name: action.toLowerCase(), action, phase });
  it.each([
    [
      'the change done, a wait left',
      [step('rolloutRestart', 'Succeeded'), step('waitForRollout', 'Running')],
      'Verifying',
    ],
    [
      'the change done, two checks left',
      [step('setEnv', 'Succeeded'), step('waitForRollout', 'Pending'), step('httpCheck', 'Pending')],
      'Verifying',
    ],
    [
      'the change still running',
      [step('rolloutRestart', 'Running'), step('waitForRollout', 'Pending')],
      'Running',
    ],
    [
      'a change left after the check',
      [step('scale', 'Succeeded'), step('httpCheck', 'Running'), step('scale', 'Pending')],
      'Running',
    ],
    [
      'only checks, none changed anything',
      [step('httpCheck', 'Succeeded'), step('redisCheck', 'Running')],
      'Running',
    ],
  ] as const)('steps: %s → %s', (_n, steps, phase) => {
    expect(derivePhase({ conditions: [...running], steps: steps.map((s) => ({ ...s })) as never })).toBe(
      phase,
    );
  });
});

describe('status helpers', () => {
  it('progress counts finished steps', () => {
    expect(
      progressOf([
        stepRec({ phase: 'Succeeded' }),
        stepRec({ phase: 'Running' }),
        stepRec({ phase: 'Pending' }),
      ]),
    ).toBe('1/3');
    expect(progressOf([])).toBeUndefined();
  });

  it('statusPatch is empty when nothing changed, null for removed keys', () => {
    expect(
      statusPatch({ phase: 'Running', progress: '1/2' }, { phase: 'Running', progress: '1/2' }),
    ).toBeUndefined();
    expect(statusPatch({ phase: 'Running', message: 'x' }, { phase: 'Failed' })).toEqual({
      phase: 'Failed',
      message: null,
    });
  });
});
