/**
 * Verified approvers on the real control plane: `kube-remediator approve` sends the person's own
 * token to the operator's approval endpoint, which asks the API server who it is (TokenReview)
 * and whether they may `approve` remediations there (SubjectAccessReview). A person without the
 * right is refused; one with it is recorded by their verified user name, and the Remediation
 * goes on. In serviceAccount mode an approved-by annotation counts for nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { ANNOTATIONS, CONDITION_TYPES, stepApprovalAnnotation } from '../../../src/api/v1alpha1/constants.js';
import type { RunbookSpec } from '../../../src/api/v1alpha1/schema.js';
import { runApproveCommand } from '../../../src/cli/approve.js';
import { findCondition } from '../../../src/api/v1alpha1/conditions.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { KubeReviewer, registerApprovalRoutes } from '../../../src/security/approval-endpoint.js';
import { systemClock } from '../../../src/util/clock.js';
import { createNamespace, deleteNamespace, testClients } from '../../support/kube.js';
import {
  annotate,
  createRemediation,
  createRunbook,
  reconcileOnce,
  reconcileUntilStable,
  type Harness,
} from '../controller/helpers.js';
import {
  createServiceAccount,
  grant,
  identityHarness,
  serviceAccountToken,
  tokenKubeconfig,
} from './helpers.js';

const needsApproval: RunbookSpec = {
  steps: [{ name: 'tell', action: 'notify', notify: { message: 'approved and running' } }],
  safety: { requireApproval: true },
};

// A step that asks for a person mid-run (steps[].requireApproval), after one that does not.
const stepNeedsApproval: RunbookSpec = {
  steps: [
    { name: 'first', action: 'notify', notify: { message: 'before the gated step' } },
    { name: 'risky', action: 'notify', notify: { message: 'approved step' }, requireApproval: {} },
  ],
};

describe('verified approvers (kube-remediator approve|reject)', () => {
  let ns: string;
  let dir: string;
  let app: FastifyInstance;
  let url: string;
  let h: Harness;
  const kubeconfigs: Record<string, string> = {};

  const cli = async (
    decision: 'approve' | 'reject',
    who: string,
    name: string,
    ...extra: string[]
  ): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const code = await runApproveCommand(
      decision,
      [name, '-n', ns, '--url', url, '--kubeconfig', kubeconfigs[who]!, ...extra],
      {
        stdout: { write: (s: string) => (out += s) },
        stderr: { write: (s: string) => (err += s) },
        env: {},
      },
    );
    return { code, out, err };
  };
  const awaiting = async (name: string): Promise<void> => {
    await createRemediation(ns, name, { runbookRef: { name: 'gated' } });
    const rem = await reconcileUntilStable(h, { namespace: ns, name });
    expect(rem.status?.phase).toBe('AwaitingApproval');
    // Let the list cache show the reconciler's own last write (as an informer would have)
    // before the approval endpoint writes after it.
    await reconcileOnce(h, { namespace: ns, name });
  };

  beforeAll(async () => {
    ns = await createNamespace('approvals');
    dir = mkdtempSync(join(process.env.KR_TEST_CLUSTER_DIR ?? tmpdir(), 'kr-approvers-'));
    h = identityHarness({ mode: 'serviceAccount', defaultServiceAccount: 'default' });
    for (const who of ['approver', 'bystander']) {
      await createServiceAccount(ns, who);
      kubeconfigs[who] = tokenKubeconfig(dir, who, await serviceAccountToken(ns, who));
    }
    await grant(
      ns,
      'remediation-approver',
      [{ apiGroups: ['kube-remediator.io'], resources: ['remediations'], verbs: ['approve'] }],
      { serviceAccount: 'approver', namespace: ns },
    );
    await createRunbook(ns, 'gated', needsApproval);
    await createRunbook(ns, 'step-gated', stepNeedsApproval);
    app = Fastify();
    registerApprovalRoutes(app, {
      clients: testClients(),
      reviewer: new KubeReviewer(testClients()),
      clock: systemClock,
      log: silentLogger(),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
    await deleteNamespace(ns);
  });

  it('an approved-by annotation counts for nothing in serviceAccount mode', async () => {
    await awaiting('annotated');
    await annotate(ns, 'annotated', { [ANNOTATIONS.approvedBy]: 'the-boss' });
    const rem = await reconcileUntilStable(h, { namespace: ns, name: 'annotated' });
    expect(rem.status?.phase).toBe('AwaitingApproval');
    expect(rem.status?.approval).toBeUndefined();
    expect(findCondition(rem.status?.conditions, CONDITION_TYPES.approved)?.message).toContain(
      `kube-remediator approve annotated -n ${ns}`,
    );
  });

  it('refuses an approval by an identity without the right, and records nothing', async () => {
    await awaiting('refused');
    const r = await cli('approve', 'bystander', 'refused');
    expect(r.code).toBe(7);
    expect(r.err).toContain('KR_ERR_APPROVAL_FORBIDDEN');
    expect(r.err).toContain(`user "system:serviceaccount:${ns}:bystander" may not approve`);
    const rem = await reconcileUntilStable(h, { namespace: ns, name: 'refused' });
    expect(rem.status?.phase).toBe('AwaitingApproval');
    expect(rem.status?.approval).toBeUndefined();
  });

  it('records an approval by an identity with the right under its verified name, and the run goes on', async () => {
    await awaiting('approved');
    const r = await cli('approve', 'approver', 'approved');
    expect(r).toMatchObject({ code: 0 });
    expect(r.out).toContain(`approved by system:serviceaccount:${ns}:approver`);
    const rem = await reconcileUntilStable(h, { namespace: ns, name: 'approved' });
    expect(rem.status?.phase).toBe('Succeeded');
    expect(rem.status?.approval).toMatchObject({
      by: `system:serviceaccount:${ns}:approver`,
      verified: true,
    });
    expect(rem.status?.approval?.groups).toContain(`system:serviceaccounts:${ns}`);
    expect(findCondition(rem.status?.conditions, CONDITION_TYPES.approved)?.message).toBe(
      `approved by system:serviceaccount:${ns}:approver`,
    );
    // Once decided, a second decision is refused.
    expect((await cli('reject', 'approver', 'approved')).code).toBe(1);
  });

  it('records a verified rejection: Skipped, nothing run', async () => {
    await awaiting('rejected');
    expect((await cli('reject', 'approver', 'rejected')).code).toBe(0);
    const rem = await reconcileUntilStable(h, { namespace: ns, name: 'rejected' });
    expect(rem.status?.phase).toBe('Skipped');
    expect(rem.status?.rejection).toMatchObject({
      by: `system:serviceaccount:${ns}:approver`,
      verified: true,
    });
  });

  it('refuses a token the API server does not accept', async () => {
    await awaiting('forged');
    kubeconfigs.forger = tokenKubeconfig(dir, 'forger', 'not-a-real-token');
    const r = await cli('approve', 'forger', 'forged');
    expect(r.code).toBe(6);
    expect(r.err).toContain('KR_ERR_UNAUTHORIZED');
  });

  describe('step approvals (steps[].requireApproval) take the same verified path', () => {
    const stepWaiting = async (name: string): Promise<void> => {
      await createRemediation(ns, name, { runbookRef: { name: 'step-gated' } });
      const rem = await reconcileUntilStable(h, { namespace: ns, name });
      expect(rem.status?.phase).toBe('AwaitingApproval');
      expect(rem.status?.awaitingApproval?.step).toBe('risky');
      expect(rem.status?.steps?.[0]?.phase).toBe('Succeeded');
      expect(findCondition(rem.status?.conditions, CONDITION_TYPES.approved)?.message).toContain(
        `kube-remediator approve ${name} -n ${ns} --step risky`,
      );
      await reconcileOnce(h, { namespace: ns, name });
    };

    it('the step annotation counts for nothing; a bystander is refused; the approver is recorded and the step runs', async () => {
      await stepWaiting('step-approved');
      await annotate(ns, 'step-approved', { [stepApprovalAnnotation('risky')]: 'the-boss' });
      let rem = await reconcileUntilStable(h, { namespace: ns, name: 'step-approved' });
      expect(rem.status?.phase).toBe('AwaitingApproval');

      const refused = await cli('approve', 'bystander', 'step-approved', '--step', 'risky');
      expect(refused.code).toBe(7);
      expect(refused.err).toContain('KR_ERR_APPROVAL_FORBIDDEN');

      // A step that does not exist is refused without writing anything.
      const nostep = await cli('approve', 'approver', 'step-approved', '--step', 'nope');
      expect(nostep.code).toBe(1);
      expect(nostep.err).toContain('it has no step nope');

      const ok = await cli('approve', 'approver', 'step-approved', '--step', 'risky');
      expect(ok).toMatchObject({ code: 0 });
      expect(ok.out).toContain(`step risky approved by system:serviceaccount:${ns}:approver`);
      rem = await reconcileUntilStable(h, { namespace: ns, name: 'step-approved' });
      expect(rem.status?.phase).toBe('Succeeded');
      expect(rem.status?.stepApprovals).toEqual([
        expect.objectContaining({
          step: 'risky',
          by: `system:serviceaccount:${ns}:approver`,
          verified: true,
        }),
      ]);
      expect(rem.status?.steps?.[1]?.approval).toMatchObject({
        outcome: 'Approved',
        by: `system:serviceaccount:${ns}:approver`,
      });
      // The step's wait has ended: a second approval is refused.
      expect((await cli('approve', 'approver', 'step-approved', '--step', 'risky')).code).toBe(1);
    });

    it('a verified rejection while the step waits ends the run Skipped, the step not run', async () => {
      await stepWaiting('step-rejected');
      expect((await cli('reject', 'approver', 'step-rejected')).code).toBe(0);
      const rem = await reconcileUntilStable(h, { namespace: ns, name: 'step-rejected' });
      expect(rem.status?.phase).toBe('Skipped');
      expect(rem.status?.rejection).toMatchObject({
        by: `system:serviceaccount:${ns}:approver`,
        verified: true,
      });
      expect(rem.status?.steps?.[1]?.approval?.outcome).toBe('Skipped');
    });
  });

  describe('four eyes (approvals.fourEyes)', () => {
    let fourEyesApp: FastifyInstance;
    let fourEyesUrl: string;
    let h4: Harness;
    beforeAll(async () => {
      h4 = identityHarness({ mode: 'serviceAccount', defaultServiceAccount: 'default', fourEyes: true });
      fourEyesApp = Fastify();
      registerApprovalRoutes(fourEyesApp, {
        clients: testClients(),
        reviewer: new KubeReviewer(testClients()),
        clock: systemClock,
        log: silentLogger(),
        fourEyes: true,
      });
      await fourEyesApp.listen({ host: '127.0.0.1', port: 0 });
      fourEyesUrl = `http://127.0.0.1:${(fourEyesApp.server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await fourEyesApp.close();
    });

    const createdByApprover = async (name: string): Promise<void> => {
      await createRemediation(
        ns,
        name,
        { runbookRef: { name: 'gated' } },
        { [ANNOTATIONS.createdBy]: `system:serviceaccount:${ns}:approver` },
      );
      const rem = await reconcileUntilStable(h4, { namespace: ns, name });
      expect(rem.status?.phase).toBe('AwaitingApproval');
      await reconcileOnce(h4, { namespace: ns, name });
    };

    it('the endpoint refuses the creator’s own approval, and records nothing', async () => {
      await createdByApprover('self-approved');
      const r = await cli('approve', 'approver', 'self-approved', '--url', fourEyesUrl);
      expect(r.code).toBe(7);
      expect(r.err).toContain('KR_ERR_APPROVAL_FORBIDDEN');
      expect(r.err).toContain(
        'they created this Remediation, and four eyes (approvals.fourEyes) needs another person',
      );
      const rem = await reconcileUntilStable(h4, { namespace: ns, name: 'self-approved' });
      expect(rem.status?.approval).toBeUndefined();
      expect(rem.status?.phase).toBe('AwaitingApproval');
    });

    it('a self-approval recorded anyway (four eyes switched on later) is not taken: condition SelfApprovalRefused', async () => {
      await createdByApprover('self-recorded');
      // The endpoint without four eyes records it...
      expect((await cli('approve', 'approver', 'self-recorded')).code).toBe(0);
      // ...and the controller with four eyes does not start on it.
      const rem = await reconcileUntilStable(h4, { namespace: ns, name: 'self-recorded' });
      expect(rem.status?.phase).toBe('AwaitingApproval');
      expect(findCondition(rem.status?.conditions, CONDITION_TYPES.approved)).toMatchObject({
        status: 'False',
        reason: 'SelfApprovalRefused',
      });
    });
  });
});
