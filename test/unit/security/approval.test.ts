import { describe, expect, it } from '@jest/globals';
import { ANNOTATIONS } from '../../../src/api/v1alpha1/constants.js';
import type { Remediation } from '../../../src/api/v1alpha1/schema.js';
import { decisionRefusal, readSignoff } from '../../../src/security/approval.js';
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
