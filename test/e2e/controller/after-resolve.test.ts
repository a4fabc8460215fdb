/**
 * Work after resolve and holds through the reconcilers on the real control plane, with a real
 * Redis this test starts on its own port (and stops by pid):
 * - the dedup store's switch-back: the alert resolves while the store is down; the revert waits
 *   at its gate (PING) and happens once the store answers, then /health is verified;
 * - a hold whose check fails mid-way fails its step, and onFailure.revert undoes the change;
 * - bad input (a hold interval past its duration) leaves the Runbook Ready=False naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONDITION_TYPES, REASONS } from '../../../src/api/v1alpha1/constants.js';
import type { Remediation, RemediationSpec, RunbookSpec } from '../../../src/api/v1alpha1/schema.js';
import { findCondition } from '../../../src/api/v1alpha1/conditions.js';
import { remediations, runbooks } from '../../../src/kube/resources.js';
import { startFakeKubelet, type FakeKubelet } from '../../../tools/cluster/fake-kubelet.js';
import {
  createDeployment,
  createNamespace,
  deleteNamespace,
  testClients,
  testKubeConfig,
  waitDeploymentReady,
} from '../../support/kube.js';
import { startRedis, type TestRedis } from '../../support/services.js';
import {
  createRemediation,
  createRunbook,
  harness,
  reconcileOnce,
  reconcileRunbook,
  reconcileUntilStable,
  type Harness,
} from './helpers.js';

const target = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'backend' };
const alert: RemediationSpec['alert'] = { name: 'FLKRedisDown', status: 'firing', labels: {} };

/** A stand-in for the backend's /health (an app's endpoint: nothing real runs here). */
function healthApp(): Server {
  return createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
}

describe('onResolve and hold through the reconcilers', () => {
  let ns: string;
  let kubelet: FakeKubelet;
  let redis: TestRedis;
  let app: Server;
  let appUrl: string;

  beforeAll(async () => {
    ns = await createNamespace('after-resolve');
    kubelet = startFakeKubelet(testKubeConfig(), { namespace: ns });
    await createDeployment(ns, 'backend', { replicas: 1 });
    await waitDeploymentReady(ns, 'backend');
    redis = await startRedis();
    app = healthApp();
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
    appUrl = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await redis?.destroy();
    kubelet?.stop();
    await new Promise((r) => app?.close(r));
    await deleteNamespace(ns);
  });

  const envOf = async (name: string): Promise<string | undefined> => {
    const d = await testClients().apps.readNamespacedDeployment({ name: 'backend', namespace: ns });
    return d.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === name)?.value;
  };
  const get = (name: string): Promise<Remediation> => remediations(testClients()).get(ns, name);

  async function ready(name: string, spec: RunbookSpec) {
    await createRunbook(ns, name, spec);
    await reconcileRunbook(harness(), { namespace: ns, name });
    const rb = await runbooks(testClients()).get(ns, name);
    return findCondition(rb.status?.conditions, CONDITION_TYPES.ready);
  }

  it('the switch-back waits at its gate while Redis is down and happens once it answers PING', async () => {
    const spec: RunbookSpec = {
      target,
      steps: [
        {
          name: 'enable-memory-dedup',
          action: 'setEnv',
          revertOnResolve: true,
          setEnv: { env: [{ name: 'DEDUP_BACKEND', value: 'memory' }] },
        },
      ],
      onResolve: {
        gate: {
          checks: [
            { name: 'redis-answers', timeout: '1s', redisCheck: { url: redis.url, command: ['PING'] } },
          ],
          interval: '1s',
          timeout: '5m',
        },
        after: [
          {
            name: 'verify-health',
            action: 'httpCheck',
            timeout: '30s',
            httpCheck: { url: `${appUrl}/health` },
          },
        ],
      },
    };
    expect(await ready('dedup', spec)).toMatchObject({ status: 'True' });
    const h: Harness = harness();
    const req = { namespace: ns, name: 'dedup-1' };
    await createRemediation(ns, 'dedup-1', { runbookRef: { name: 'dedup' }, alert });
    expect((await reconcileUntilStable(h, req)).status?.phase).toBe('Succeeded');
    expect(await envOf('DEDUP_BACKEND')).toBe('memory');

    // The store goes down; then the alert resolves (as a flapping exporter would have it).
    await redis.stop();
    await remediations(testClients()).patch(ns, 'dedup-1', { spec: { alert: { status: 'resolved' } } });
    const waiting = await reconcileUntilStable(
      h,
      req,
      (r) =>
        findCondition(r.status?.conditions, CONDITION_TYPES.reverted)?.reason ===
          REASONS.awaitingRevertGate &&
        /ECONNREFUSED|refused|connect/i.test(r.status?.steps?.[1]?.message ?? ''),
    );
    expect(waiting.status?.phase).toBe('Reverting');
    expect(waiting.status?.steps?.[1]).toMatchObject({
      name: 'revert-gate',
      stage: 'RevertGate',
      phase: 'Running',
    });
    expect(waiting.status?.steps?.[1]?.output).toMatchObject({
      checks: [{ name: 'redis-answers', result: 'Error' }],
    });
    // A few more looks at the interval: still down, still waiting, nothing reverted.
    for (let i = 0; i < 3; i++) {
      await reconcileOnce(h, req);
      await new Promise((r) => setTimeout(r, 400));
    }
    expect(await envOf('DEDUP_BACKEND')).toBe('memory');
    expect((await get('dedup-1')).status?.steps?.[0]?.phase).toBe('Succeeded');

    await redis.restart();
    const backAt = Date.now();
    const end = await reconcileUntilStable(h, req);
    expect(end.status?.phase).toBe('Reverted');
    expect(end.status?.steps?.map((s) => [s.name, s.phase])).toEqual([
      ['enable-memory-dedup', 'Reverted'],
      ['revert-gate', 'Succeeded'],
      ['verify-health', 'Succeeded'],
    ]);
    expect(await envOf('DEDUP_BACKEND')).toBeUndefined();
    // revertedAt has whole seconds: compare at that precision.
    expect(Date.parse(end.status!.steps![0]!.revertedAt!)).toBeGreaterThanOrEqual(
      Math.floor(backAt / 1000) * 1000,
    );
    expect(end.status?.steps?.[1]?.output).toMatchObject({
      checks: [{ name: 'redis-answers', result: 'Met' }],
    });
    // The phases are in the audit trail and in Events.
    expect(
      h.audit.rows.some((r) => r.event === 'blocked' && r.details?.reason === REASONS.awaitingRevertGate),
    ).toBe(true);
    expect(h.events.events.map((e) => e.reason)).toEqual(
      expect.arrayContaining(['AwaitingRevertGate', 'RevertGateOpen', 'Reverted']),
    );
  });

  it('a gate that times out with onTimeout Keep keeps the change and says so', async () => {
    await redis.stop();
    const spec: RunbookSpec = {
      target,
      steps: [
        {
          name: 'enable-memory-dedup',
          action: 'setEnv',
          revertOnResolve: true,
          setEnv: { env: [{ name: 'DEDUP_KEEP', value: 'memory' }] },
        },
      ],
      onResolve: {
        gate: {
          checks: [{ name: 'redis-answers', timeout: '1s', redisCheck: { url: redis.url } }],
          interval: '1s',
          timeout: '3s',
        },
      },
    };
    expect(await ready('keep', spec)).toMatchObject({ status: 'True' });
    const h = harness();
    const req = { namespace: ns, name: 'keep-1' };
    await createRemediation(ns, 'keep-1', { runbookRef: { name: 'keep' }, alert });
    expect((await reconcileUntilStable(h, req)).status?.phase).toBe('Succeeded');
    await remediations(testClients()).patch(ns, 'keep-1', { spec: { alert: { status: 'resolved' } } });
    const end = await reconcileUntilStable(h, req, (r) => r.status?.phase === 'Failed');
    expect(findCondition(end.status?.conditions, CONDITION_TYPES.reverted)).toMatchObject({
      status: 'False',
      reason: REASONS.revertGateTimeout,
    });
    expect(await envOf('DEDUP_KEEP')).toBe('memory');
    expect(h.events.events.some((e) => e.reason === 'RevertGateTimeout' && e.type === 'Warning')).toBe(true);
    // Counted as revert_failed (the chart's alert on it tells the on-call a change stayed).
    expect(h.audit.rows.some((r) => r.event === 'reverted' && r.result === 'revert_failed')).toBe(true);
    await redis.restart();
  });

  it('a hold whose check fails mid-way fails the step; onFailure.revert undoes the change', async () => {
    const spec: RunbookSpec = {
      target,
      steps: [
        {
          name: 'ramp',
          action: 'setEnv',
          setEnv: { env: [{ name: 'TRAFFIC_PERCENT', value: '10' }] },
        },
        {
          name: 'soak',
          action: 'hold',
          hold: {
            duration: '10m',
            interval: '1s',
            checks: [{ name: 'redis-answers', timeout: '1s', redisCheck: { url: redis.url } }],
          },
        },
      ],
      onFailure: { revert: true },
    };
    expect(await ready('soak', spec)).toMatchObject({ status: 'True' });
    const h = harness();
    const req = { namespace: ns, name: 'soak-1' };
    await createRemediation(ns, 'soak-1', { runbookRef: { name: 'soak' }, alert });
    const holding = await reconcileUntilStable(
      h,
      req,
      (r) => r.status?.steps?.[1]?.phase === 'Running' && /^holding/.test(r.status.steps[1].message ?? ''),
    );
    expect(await envOf('TRAFFIC_PERCENT')).toBe('10');
    const startedAt = holding.status!.steps![1]!.startedAt!;
    // A restart of the operator: a new reconciler resumes the same hold from its checkpoint.
    const h2 = harness();
    await reconcileOnce(h2, req);
    expect((await get('soak-1')).status?.steps?.[1]).toMatchObject({ phase: 'Running', startedAt });

    await redis.stop();
    const end = await reconcileUntilStable(h2, req);
    expect(end.status?.phase).toBe('Reverted');
    expect(end.status?.steps?.[1]).toMatchObject({ phase: 'Failed' });
    expect(end.status?.steps?.[1]?.message).toMatch(/^hold broken after \d+s of 10m: redis-answers: Error/);
    expect(findCondition(end.status?.conditions, CONDITION_TYPES.succeeded)).toMatchObject({
      status: 'False',
    });
    expect(await envOf('TRAFFIC_PERCENT')).toBeUndefined();
    await redis.restart();
  });

  it('a recovery ramp in onResolve.after: 10 %, hold, 50 %, hold, 100 %, each hold passing', async () => {
    const weight = (name: string, value: string) => ({
      name,
      action: 'setEnv' as const,
      setEnv: { env: [{ name: 'REGION_WEIGHT', value }] },
    });
    const soak = (name: string) => ({
      name,
      action: 'hold' as const,
      hold: {
        duration: '2s',
        interval: '1s',
        checks: [
          { name: 'redis-answers', timeout: '5s', redisCheck: { url: redis.url } },
          { name: 'health', timeout: '5s', httpCheck: { url: `${appUrl}/health` } },
        ],
      },
    });
    expect(
      await ready('ramp', {
        target,
        steps: [weight('drain-region', '0')],
        onResolve: {
          after: [
            weight('ramp-10', '10'),
            soak('soak-10'),
            weight('ramp-50', '50'),
            soak('soak-50'),
            weight('ramp-100', '100'),
          ],
        },
      }),
    ).toMatchObject({ status: 'True' });
    const h = harness();
    const req = { namespace: ns, name: 'ramp-1' };
    await createRemediation(ns, 'ramp-1', { runbookRef: { name: 'ramp' }, alert });
    expect((await reconcileUntilStable(h, req)).status?.phase).toBe('Succeeded');
    expect(await envOf('REGION_WEIGHT')).toBe('0');
    await remediations(testClients()).patch(ns, 'ramp-1', { spec: { alert: { status: 'resolved' } } });
    // Succeeded is final for the default predicate: wait for the end of the work after resolve.
    const end = await reconcileUntilStable(h, req, (r) =>
      ['Reverted', 'Failed'].includes(r.status?.phase ?? ''),
    );
    expect({ phase: end.status?.phase, message: end.status?.message }).toMatchObject({ phase: 'Reverted' });
    expect(await envOf('REGION_WEIGHT')).toBe('100');
    const steps = end.status!.steps!;
    expect(steps.map((x) => [x.name, x.stage ?? '', x.phase])).toEqual([
      ['drain-region', '', 'Succeeded'],
      ['ramp-10', 'AfterRevert', 'Succeeded'],
      ['soak-10', 'AfterRevert', 'Succeeded'],
      ['ramp-50', 'AfterRevert', 'Succeeded'],
      ['soak-50', 'AfterRevert', 'Succeeded'],
      ['ramp-100', 'AfterRevert', 'Succeeded'],
    ]);
    for (const held of [steps[2]!, steps[4]!]) {
      expect(held.message).toBe('held 2s: every check kept passing');
      expect(Date.parse(held.finishedAt!) - Date.parse(held.startedAt!)).toBeGreaterThanOrEqual(2000);
      expect(held.output).toMatchObject({
        checks: [
          { name: 'redis-answers', result: 'Met' },
          { name: 'health', result: 'Met' },
        ],
      });
    }
    // each ramp came after the hold before it
    expect(Date.parse(steps[3]!.startedAt!)).toBeGreaterThanOrEqual(Date.parse(steps[2]!.finishedAt!));
  });

  it('bad input: a hold interval past its duration leaves the Runbook Ready=False naming the field', async () => {
    const cond = await ready('bad-hold', {
      target,
      steps: [
        {
          name: 'soak',
          action: 'hold',
          hold: { duration: '1m', interval: '5m', checks: [{ name: 'p', redisCheck: { url: redis.url } }] },
        },
      ],
    });
    expect(cond).toMatchObject({ status: 'False' });
    expect(cond?.message).toMatch(/steps\[0\]\.hold\.interval: at most the duration/);
    const h = harness();
    await createRemediation(ns, 'bad-hold-1', { runbookRef: { name: 'bad-hold' }, alert });
    await reconcileOnce(h, { namespace: ns, name: 'bad-hold-1' });
    const rem = await get('bad-hold-1');
    expect(rem.status?.phase).toBe('Pending');
    expect(rem.status?.startedAt).toBeUndefined();
  });
});
