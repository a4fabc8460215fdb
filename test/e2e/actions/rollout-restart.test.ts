/** rolloutRestart against the real control plane: idempotent by stamp, dry run, paused. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { startFakeKubelet, type FakeKubelet } from '../../../tools/cluster/fake-kubelet.js';
import {
  createDaemonSet,
  createDeployment,
  createNamespace,
  createStatefulSet,
  deleteNamespace,
  settled,
  testClients,
  testKubeConfig,
  waitDeploymentReady,
  waitFor,
} from '../../support/kube.js';
import { actionCtx, runStep } from './helpers.js';

const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
const STAMP = 'kube-remediator.io/last-action';

describe('rolloutRestart', () => {
  let ns: string;
  let kubelet: FakeKubelet;
  const apps = () => testClients().apps;

  beforeAll(async () => {
    ns = await createNamespace('act-restart');
    kubelet = startFakeKubelet(testKubeConfig(), { namespace: ns });
  });
  afterAll(async () => {
    kubelet.stop();
    await deleteNamespace(ns);
  });

  const replicaSets = async (name: string) =>
    (await apps().listNamespacedReplicaSet({ namespace: ns, labelSelector: `app=${name}` })).items;
  const revisions = async (name: string) =>
    (await apps().listNamespacedControllerRevision({ namespace: ns, labelSelector: `app=${name}` })).items;

  it('restarts a Deployment once for the same stamp (counted in ReplicaSets)', async () => {
    await createDeployment(ns, 'web', { replicas: 2 });
    await waitDeploymentReady(ns, 'web');
    expect(await replicaSets('web')).toHaveLength(1);

    const ctx = actionCtx({
      namespace: ns,
      step: { action: 'rolloutRestart' },
      target: { kind: 'Deployment', name: 'web' },
      stamp: 'uid-1/0/1',
    });
    const first = await runStep(ctx);
    expect(first.outcome).toMatchObject({ kind: 'done', after: { restartedAt: expect.any(String) } });
    await waitFor(async () => (await replicaSets('web')).length === 2, { what: 'a second ReplicaSet' });
    await waitDeploymentReady(ns, 'web');

    // A crash after the patch: the reconciler applies the same checkpoint again.
    const again = await runStep(ctx);
    expect(again.outcome).toMatchObject({
      kind: 'done',
      message: expect.stringMatching(/already restarted/),
    });
    await sleep(1500);
    expect(await replicaSets('web')).toHaveLength(2);

    const d = await apps().readNamespacedDeployment({ name: 'web', namespace: ns });
    expect(d.spec?.template.metadata?.annotations?.[STAMP]).toBe('uid-1/0/1');
    expect(d.spec?.template.metadata?.annotations?.[RESTARTED_AT]).toBe(
      first.outcome!.kind === 'done' ? first.outcome!.after!.restartedAt : '',
    );

    // A new attempt (new stamp) restarts again.
    const next = await runStep(
      actionCtx({
        namespace: ns,
        step: { action: 'rolloutRestart' },
        target: { kind: 'Deployment', name: 'web' },
        stamp: 'uid-1/0/2',
      }),
    );
    expect(next.outcome?.kind).toBe('done');
    await waitFor(async () => (await replicaSets('web')).length === 3, { what: 'a third ReplicaSet' });
  });

  it('dry run leaves the resourceVersion unchanged and records the diff', async () => {
    await createDeployment(ns, 'dry', { replicas: 1 });
    await waitDeploymentReady(ns, 'dry');
    const before = await settled(
      () => apps().readNamespacedDeployment({ name: 'dry', namespace: ns }),
      'dry',
    );
    const run = await runStep(
      actionCtx({
        namespace: ns,
        step: { action: 'rolloutRestart' },
        target: { kind: 'Deployment', name: 'dry' },
        dryRun: true,
        stamp: 'dry/0/1',
      }),
    );
    expect(run.outcome).toMatchObject({
      kind: 'done',
      message: expect.stringMatching(/^would restart/),
      diff: { before: {}, after: { restartedAt: expect.any(String) } },
    });
    const after = await apps().readNamespacedDeployment({ name: 'dry', namespace: ns });
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(after.spec?.template.metadata?.annotations?.[STAMP]).not.toBe('dry/0/1');
  });

  it('refuses a paused Deployment with a clear reason', async () => {
    await createDeployment(ns, 'paused', { replicas: 1, paused: true });
    const run = await runStep(
      actionCtx({
        namespace: ns,
        step: { action: 'rolloutRestart' },
        target: { kind: 'Deployment', name: 'paused' },
      }),
    );
    expect(run.plan.refused).toMatchObject({
      reason: 'Paused',
      message: expect.stringMatching(/paused: resume it/),
    });
  });

  it('restarts a StatefulSet once for the same stamp (counted in ControllerRevisions)', async () => {
    await createStatefulSet(ns, 'db', { replicas: 2 });
    await waitFor(async () => (await revisions('db')).length === 1, { what: 'first ControllerRevision' });
    const ctx = actionCtx({
      namespace: ns,
      step: { action: 'rolloutRestart' },
      target: { kind: 'StatefulSet', name: 'db' },
      stamp: 'uid-2/0/1',
    });
    expect((await runStep(ctx)).outcome?.kind).toBe('done');
    await waitFor(async () => (await revisions('db')).length === 2, { what: 'second ControllerRevision' });
    expect((await runStep(ctx)).outcome?.message).toMatch(/already restarted/);
    await sleep(1000);
    expect(await revisions('db')).toHaveLength(2);
  });

  it('restarts a DaemonSet', async () => {
    await createDaemonSet(ns, 'agent');
    const run = await runStep(
      actionCtx({
        namespace: ns,
        step: { action: 'rolloutRestart' },
        target: { kind: 'DaemonSet', name: 'agent' },
        stamp: 'uid-3/0/1',
      }),
    );
    expect(run.outcome?.kind).toBe('done');
    const ds = await apps().readNamespacedDaemonSet({ name: 'agent', namespace: ns });
    expect(ds.spec?.template.metadata?.annotations?.[STAMP]).toBe('uid-3/0/1');
    expect(ds.spec?.template.metadata?.annotations?.[RESTARTED_AT]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
    );
  });

  it('fails without retry when the target does not exist', async () => {
    const run = await runStep(
      actionCtx({
        namespace: ns,
        step: { action: 'rolloutRestart' },
        target: { kind: 'Deployment', name: 'ghost' },
      }),
    );
    expect(run.plan.refused).toMatchObject({ code: 'KR_ERR_NOT_FOUND', reason: 'NotFound' });
  });
});
