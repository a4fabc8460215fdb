/**
 * Issue #12 items 1, 5, 6 on the real control plane, through the reconcilers: a guard that is
 * not met leaves the target alone and ends the run Skipped (and one that is met lets the step
 * change it); a step approval that times out skips the step; an escalation is sent once to a
 * small local HTTP receiver (a stand-in for the pager: nothing real runs here) and recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { CONDITION_TYPES, REASONS } from '../../../src/api/v1alpha1/constants.js';
import type { RemediationSpec, Step } from '../../../src/api/v1alpha1/schema.js';
import { findCondition } from '../../../src/api/v1alpha1/conditions.js';
import { startFakeKubelet, type FakeKubelet } from '../../../tools/cluster/fake-kubelet.js';
import {
  createDeployment,
  createNamespace,
  deleteNamespace,
  testClients,
  testKubeConfig,
  waitDeploymentReady,
} from '../../support/kube.js';
import {
  createRemediation,
  createRunbook,
  harness,
  reconcileOnce,
  reconcileRunbook,
  reconcileUntilStable,
  replicaSetCount,
} from './helpers.js';

const REDIS_URL = process.env.KR_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const PG_URL = process.env.KR_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const target = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'backend' };
const alert: RemediationSpec['alert'] = { name: 'BackendDown', status: 'firing', labels: {} };
const restart: Step = { name: 'restart', action: 'rolloutRestart', rolloutRestart: {} };

/** A stand-in for a pager's webhook: records each POST with its headers. */
function receiver(): { server: Server; posts: { headers: IncomingHttpHeaders; body: string }[] } {
  const posts: { headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      posts.push({ headers: req.headers, body });
      res.writeHead(200).end('ok');
    });
  });
  return { server, posts };
}

describe('guards, step approval, escalation through the reconcilers', () => {
  let ns: string;
  let kubelet: FakeKubelet;
  let pager: ReturnType<typeof receiver>;
  let pagerUrl: string;

  beforeAll(async () => {
    ns = await createNamespace('gates');
    kubelet = startFakeKubelet(testKubeConfig(), { namespace: ns });
    await createDeployment(ns, 'backend', { replicas: 1 });
    await waitDeploymentReady(ns, 'backend');
    pager = receiver();
    await new Promise<void>((r) => pager.server.listen(0, '127.0.0.1', r));
    pagerUrl = `http://127.0.0.1:${(pager.server.address() as AddressInfo).port}/page`;
  });
  afterAll(async () => {
    kubelet.stop();
    await new Promise((r) => pager.server.close(r));
    await deleteNamespace(ns);
  });

  async function runbook(name: string, spec: Omit<Parameters<typeof createRunbook>[2], 'target'>) {
    await createRunbook(ns, name, { target, ...spec });
    await reconcileRunbook(harness(), { namespace: ns, name });
  }

  it('a Runbook guard not met: Skipped with GuardNotMet, what it read recorded, the target untouched', async () => {
    await runbook('guarded', {
      steps: [restart],
      guard: {
        checks: [
          { name: 'store-answers', redisCheck: { url: REDIS_URL, command: ['PING'], expect: 'NOPE' } },
        ],
        onNotMet: 'SkipRemediation',
      },
      safety: { maxConsecutiveFailures: 1 },
    });
    const before = await replicaSetCount(ns, 'backend');
    const h = harness();
    await createRemediation(ns, 'guarded-1', { runbookRef: { name: 'guarded' }, alert });
    const rem = await reconcileUntilStable(h, { namespace: ns, name: 'guarded-1' });

    expect(rem.status?.phase).toBe('Skipped');
    expect(findCondition(rem.status?.conditions, CONDITION_TYPES.succeeded)).toMatchObject({
      status: 'False',
      reason: REASONS.guardNotMet,
    });
    expect(rem.status?.guard).toMatchObject({
      result: 'NotMet',
      checks: [{ name: 'store-answers', result: 'NotMet' }],
    });
    expect(rem.status?.guard?.checks[0]?.message).toContain('PONG');
    expect(rem.status?.startedAt).toBeUndefined();
    expect(await replicaSetCount(ns, 'backend')).toBe(before);
    expect(h.audit.rows.map((r) => r.event)).toEqual(expect.arrayContaining(['guard_evaluated', 'finished']));

    // Not a failure: with maxConsecutiveFailures 1, the next one is not blocked (its guard reads again).
    await createRemediation(ns, 'guarded-2', { runbookRef: { name: 'guarded' }, alert });
    const next = await reconcileUntilStable(h, { namespace: ns, name: 'guarded-2' });
    expect(next.status?.phase).toBe('Skipped');
  });

  it('a step guard met (a rollout within the hour, PostgreSQL answering): the step changes the target', async () => {
    await runbook('deploy-caused', {
      steps: [
        {
          ...restart,
          guard: {
            checks: [
              { name: 'deployed-recently', rollout: { changedWithin: '1h' } },
              { name: 'postgres-ready', postgresCheck: { url: PG_URL, query: 'SELECT 1' } },
            ],
            onNotMet: 'SkipRemediation',
          },
        },
      ],
    });
    const before = await replicaSetCount(ns, 'backend');
    const h = harness();
    await createRemediation(ns, 'deploy-caused-1', { runbookRef: { name: 'deploy-caused' }, alert });
    const rem = await reconcileUntilStable(h, { namespace: ns, name: 'deploy-caused-1' });
    expect(rem.status?.phase).toBe('Succeeded');
    expect(rem.status?.steps?.[0]?.guard).toMatchObject({
      result: 'Met',
      checks: [
        { name: 'deployed-recently', result: 'Met' },
        { name: 'postgres-ready', result: 'Met' },
      ],
    });
    expect(await replicaSetCount(ns, 'backend')).toBe(before + 1);
  });

  it('step approval past its deadline with onTimeout Skip: AwaitingApproval, then skipped and recorded', async () => {
    await runbook('approve-step', {
      steps: [
        {
          name: 'scale-up',
          action: 'scale',
          scale: { replicas: 2 },
          requireApproval: { timeout: '2s', onTimeout: 'Skip' },
        },
      ],
    });
    const h = harness();
    await createRemediation(ns, 'approve-step-1', { runbookRef: { name: 'approve-step' }, alert });
    const req = { namespace: ns, name: 'approve-step-1' };
    const waiting = await reconcileUntilStable(h, req, (r) => r.status?.phase === 'AwaitingApproval');
    expect(waiting.status?.awaitingApproval).toMatchObject({ step: 'scale-up', index: 0 });
    expect(waiting.status?.awaitingApproval?.deadline).toBeDefined();
    const done = await reconcileUntilStable(h, req, (r) => r.status?.phase === 'Succeeded');
    expect(done.status?.steps?.[0]).toMatchObject({ phase: 'Skipped', approval: { outcome: 'Skipped' } });
    expect(findCondition(done.status?.conditions, CONDITION_TYPES.approved)?.reason).toBe(
      REASONS.approvalTimedOut,
    );
    expect(h.events.events.map((e) => e.reason)).toContain('ApprovalTimedOut');
    expect(h.audit.rows.map((r) => r.event)).toContain('approval_timed_out');
    const d = await testClients().apps.readNamespacedDeployment({ name: 'backend', namespace: ns });
    expect(d.spec?.replicas).toBe(1);
  });

  it('escalation: sent once while the alert still fires, recorded, beside a run that already succeeded', async () => {
    await runbook('escalating', {
      steps: [{ name: 'note', action: 'notify', notify: { message: 'looking' } }],
      escalation: [
        { after: '2s', notify: { url: pagerUrl, message: 'still down after 2s: paging the DB team' } },
      ],
    });
    const h = harness();
    await createRemediation(ns, 'escalating-1', { runbookRef: { name: 'escalating' }, alert });
    const req = { namespace: ns, name: 'escalating-1' };
    const sent = await reconcileUntilStable(h, req, (r) => r.status?.escalations?.[0]?.state === 'Sent');
    expect(sent.status?.phase).toBe('Succeeded');
    expect(pager.posts).toHaveLength(1);
    expect(JSON.parse(pager.posts[0]!.body)).toEqual({ text: 'still down after 2s: paging the DB team' });
    expect(pager.posts[0]!.headers['idempotency-key']).toBe(`${sent.metadata.uid ?? ''}/escalation/0`);
    expect(h.events.events.map((e) => e.reason)).toContain('Escalated');
    // More passes send nothing more.
    for (let i = 0; i < 3; i++) {
      await reconcileOnce(h, req);
      await sleep(100);
    }
    expect(pager.posts).toHaveLength(1);
  });
});
