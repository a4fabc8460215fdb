import { describe, expect, it } from '@jest/globals';
import { ANNOTATIONS } from '../../../src/api/v1alpha1/constants.js';
import type { Remediation } from '../../../src/api/v1alpha1/schema.js';
import { decisionRefusal, fourEyesRefusal, readSignoff } from '../../../src/security/approval.js';
import type { IdentitySettings } from '../../../src/security/identity.js';

const SA: IdentitySettings = { mode: 'serviceAccount', defaultServiceAccount: 'default' };
const OP: IdentitySettings = { mode: 'operator', defaultServiceAccount: 'default' };
const at = '2026-12-07T12:00:00Z';

const rem = (annotations: Record<string, string>, status: Remediation['status'] = {}): Remediation => ({
  apiVersion: 'kube-remediator.io/v1alpha1',
  kind: 'Remediation',
  metadata: { name: 'r', namespace: 'ns', annotations },
  spec: {},
  status,
});

describe('readSignoff', () => {
  it.each<[string, Remediation, IdentitySettings | undefined, string | undefined, boolean | undefined]>([
    ['annotation, single-tenant', rem({ [ANNOTATIONS.approvedBy]: 'alice' }), OP, 'alice', false],
    [
      'annotation, no settings (older callers): single-tenant',
      rem({ [ANNOTATIONS.approvedBy]: 'alice' }),
      undefined,
      'alice',
      false,
    ],
    [
      'annotation, serviceAccount mode: ignored',
      rem({ [ANNOTATIONS.approvedBy]: 'alice' }),
      SA,
      undefined,
      undefined,
    ],
    [
      'verified record, serviceAccount mode',
      rem({}, { approval: { by: 'bob', at, verified: true } }),
      SA,
      'bob',
      true,
    ],
    [
      'verified record wins over the annotation',
      rem({ [ANNOTATIONS.approvedBy]: 'alice' }, { approval: { by: 'bob', at, verified: true } }),
      OP,
      'bob',
      true,
    ],
    [
      'an unverified record (copied from an annotation) does not count in serviceAccount mode',
      rem({}, { approval: { by: 'alice', at } }),
      SA,
      undefined,
      undefined,
    ],
    ['nothing', rem({}), OP, undefined, undefined],
  ])('%s', (_n, r, settings, by, verified) => {
    const s = readSignoff(r, 'approve', settings);
    expect([s?.by, s?.verified]).toEqual([by, verified]);
  });

  it('rejections read the same way', () => {
    expect(readSignoff(rem({ [ANNOTATIONS.rejectedBy]: 'alice' }), 'reject', SA)).toBeUndefined();
    expect(readSignoff(rem({}, { rejection: { by: 'bob', at, verified: true } }), 'reject', SA)?.by).toBe(
      'bob',
    );
  });
});

describe('decisionRefusal', () => {
  it.each<[string, Remediation['status'], string | undefined]>([
    [
      'awaiting approval',
      { phase: 'AwaitingApproval', steps: [{ name: 'a', action: 'notify', phase: 'Pending' }] },
      undefined,
    ],
    ['not started yet', {}, undefined],
    ['already approved', { approval: { by: 'bob', at, verified: true } }, 'already approved by bob'],
    ['already rejected', { rejection: { by: 'bob', at, verified: true } }, 'already rejected by bob'],
    [
      'started',
      { phase: 'Running', steps: [{ name: 'a', action: 'notify', phase: 'Running' }] },
      'it has started',
    ],
    ['finished', { phase: 'Skipped' }, 'it has finished'],
  ])('%s', (_n, status, want) => {
    const got = decisionRefusal({ status });
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(want);
  });
});

describe('readSignoff of a step (steps[].requireApproval)', () => {
  const stepKey = 'approved-by.kube-remediator.io/flush';
  it.each<[string, Remediation, IdentitySettings, string | undefined, boolean | undefined]>([
    ['step annotation, single-tenant', rem({ [stepKey]: 'alice' }), OP, 'alice', false],
    ['step annotation, serviceAccount mode: ignored', rem({ [stepKey]: 'alice' }), SA, undefined, undefined],
    [
      'verified step record, serviceAccount mode',
      rem({}, { stepApprovals: [{ step: 'flush', by: 'bob', at, verified: true }] }),
      SA,
      'bob',
      true,
    ],
    [
      "another step's verified record does not count",
      rem({}, { stepApprovals: [{ step: 'other', by: 'bob', at, verified: true }] }),
      SA,
      undefined,
      undefined,
    ],
    [
      'the run-level verified approval does not approve a step',
      rem({}, { approval: { by: 'bob', at, verified: true } }),
      SA,
      undefined,
      undefined,
    ],
    [
      'the run-level annotation does not approve a step',
      rem({ [ANNOTATIONS.approvedBy]: 'alice' }),
      OP,
      undefined,
      undefined,
    ],
  ])('%s', (_n, r, settings, by, verified) => {
    const s = readSignoff(r, 'approve', settings, 'flush');
    expect([s?.by, s?.verified]).toEqual([by, verified]);
  });

  it('returns the run-level shape of the record (no step field)', () => {
    const r = rem({}, { stepApprovals: [{ step: 'flush', by: 'bob', at, verified: true, groups: ['g'] }] });
    expect(readSignoff(r, 'approve', SA, 'flush')?.record).toEqual({
      by: 'bob',
      at,
      verified: true,
      groups: ['g'],
    });
  });
});

describe('decisionRefusal of a step', () => {
  const waitingStep = (over: Partial<NonNullable<Remediation['status']>> = {}): Remediation['status'] => ({
    phase: 'AwaitingApproval',
    approval: { by: 'bob', at, verified: true },
    awaitingApproval: { step: 'flush', index: 1, since: at },
    steps: [
      { name: 'first', action: 'notify', phase: 'Succeeded' },
      {
        name: 'flush',
        action: 'redisCommand',
        phase: 'Pending',
        spec: { name: 'flush', action: 'redisCommand', requireApproval: {} },
        approval: { requestedAt: at },
      },
      { name: 'plain', action: 'notify', phase: 'Pending', spec: { name: 'plain', action: 'notify' } },
    ],
    ...over,
  });
  it.each<[string, Remediation['status'], 'approve' | 'reject', string | undefined, string | undefined]>([
    ['a waiting step may be approved after the run was', waitingStep(), 'approve', 'flush', undefined],
    [
      'already approved step',
      waitingStep({ stepApprovals: [{ step: 'flush', by: 'carol', at, verified: true }] }),
      'approve',
      'flush',
      'step flush is already approved by carol',
    ],
    ['no such step', waitingStep(), 'approve', 'nope', 'it has no step nope'],
    ['a step that does not ask', waitingStep(), 'approve', 'plain', 'does not ask for approval'],
    ['a step that ran', waitingStep(), 'approve', 'first', 'does not ask for approval'],
    ['finished', waitingStep({ phase: 'Succeeded' }), 'approve', 'flush', 'it has finished'],
    ['a rejection while a step waits is taken', waitingStep(), 'reject', undefined, undefined],
    [
      'a rejection of a started run that waits for nothing is refused',
      waitingStep({ awaitingApproval: undefined, phase: 'Running' }),
      'reject',
      undefined,
      'already approved by bob',
    ],
  ])('%s', (_n, status, decision, step, want) => {
    const got = decisionRefusal({ status }, decision, step);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(want);
  });
});

describe('fourEyesRefusal (approvals.fourEyes)', () => {
  const created = (by?: string): Remediation => rem(by === undefined ? {} : { [ANNOTATIONS.createdBy]: by });
  it.each<[string, Remediation, string, boolean | undefined, boolean]>([
    ['off: the creator may approve', created('alice'), 'alice', false, false],
    ['on: the creator may not approve', created('alice'), 'alice', true, true],
    ['on: another person may', created('alice'), 'bob', true, false],
    ['on: made by the intake (no annotation): anyone may', created(), 'alice', true, false],
  ])('%s', (_n, r, approver, fourEyes, refused) => {
    const got = fourEyesRefusal(r, approver, fourEyes);
    expect(got !== undefined).toBe(refused);
    if (refused) expect(got).toContain(`approval by ${approver} refused: they created this Remediation`);
  });
});
