/** rolloutUndo, deletePod and waitForRollout against the real control plane and the fake kubelet. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ActionOutcome } from '../../../src/actions/types.js';
import { getAction } from '../../../src/actions/index.js';
import { PATCH } from '../../../src/kube/client.js';
import { startFakeKubelet, type FakeKubelet } from '../../../tools/cluster/fake-kubelet.js';
import {
  createDaemonSet,
  createDeployment,
  createNamespace,
  createStatefulSet,
  deleteNamespace,
  testClients,
  testKubeConfig,
  waitDeploymentReady,
  waitFor,
} from '../../support/kube.js';
import { actionCtx, runStep, type CtxOptions } from './helpers.js';

const REVISION = 'deployment.kubernetes.io/revision';
const STAMP = 'kube-remediator.io/last-action';

describe('rolloutUndo, deletePod, waitForRollout', () => {
  let ns: string;
  let kubelet: FakeKubelet;
  const apps = () => testClients().apps;
  const core = () => testClients().core;
  const ctx = (o: Omit<CtxOptions, 'namespace'>) => actionCtx({ namespace: ns, ...o });
  const imageOf = (w: { spec?: { template: { spec?: { containers: { image?: string }[] } } } }) =>
    w.spec?.template.spec?.containers[0]?.image;
  const setImage = (name: string, image: string) => ({
    name,
    namespace: ns,
    body: { spec: { template: { spec: { containers: [{ name: 'main', image }] } } } },
  });

  beforeAll(async () => {
    ns = await createNamespace('act-undo');
    kubelet = startFakeKubelet(testKubeConfig(), { namespace: ns });
  });
  afterAll(async () => {
    kubelet.stop();
    await deleteNamespace(ns);
  });

  describe('rolloutUndo', () => {
    it('Deployment: back to the previous ReplicaSet template, once per stamp, then to a named revision', async () => {
      await createDeployment(ns, 'web', { replicas: 1, image: 'app:1' });
      await waitDeploymentReady(ns, 'web');
      await apps().patchNamespacedDeployment(setImage('web', 'app:2'), PATCH.strategic);
      await waitFor(
        async () =>
          (await apps().readNamespacedDeployment({ name: 'web', namespace: ns })).metadata?.annotations?.[
            REVISION
          ] === '2',
        { what: 'revision 2' },
      );
      await waitDeploymentReady(ns, 'web');

      const c = ctx({
        step: { action: 'rolloutUndo', rolloutUndo: {} },
        target: { kind: 'Deployment', name: 'web' },
        stamp: 'undo/0/1',
      });
      const run = await runStep(c);
      expect(run.plan).toEqual({ before: { revision: 2 }, after: { revision: 1 } });
      expect(run.outcome).toMatchObject({
        kind: 'done',
        message: expect.stringMatching(/rolled back .* from revision 2 to revision 1/),
      });
      const d = await waitFor(
        async () => {
          const x = await apps().readNamespacedDeployment({ name: 'web', namespace: ns });
          return x.metadata?.annotations?.[REVISION] === '3' ? x : undefined;
        },
        { what: 'revision 3' },
      );
      expect(imageOf(d)).toBe('app:1');
      expect(d.spec?.template.metadata?.labels?.['pod-template-hash']).toBeUndefined();
      expect(d.metadata?.annotations?.[STAMP]).toBe('undo/0/1');

      // The same checkpoint again must not undo a second time (which would go back to app:2).
      expect((await runStep(c)).outcome).toMatchObject({
        kind: 'done',
        message: expect.stringMatching(/already rolled back/),
      });
      await sleep(1000);
      const same = await apps().readNamespacedDeployment({ name: 'web', namespace: ns });
      expect(imageOf(same)).toBe('app:1');
      expect(same.metadata?.annotations?.[REVISION]).toBe('3');

      const to2 = await runStep(
        ctx({
          step: { action: 'rolloutUndo', rolloutUndo: { toRevision: 2 } },
          target: { kind: 'Deployment', name: 'web' },
          stamp: 'undo/1/1',
        }),
      );
      expect(to2.plan).toEqual({ before: { revision: 3 }, after: { revision: 2 } });
      expect(imageOf(await apps().readNamespacedDeployment({ name: 'web', namespace: ns }))).toBe('app:2');
      // The deployment controller numbers the undo revision 4; the dry-run test below reads it.
      await waitFor(
        async () =>
          (await apps().readNamespacedDeployment({ name: 'web', namespace: ns })).metadata?.annotations?.[
            REVISION
          ] === '4',
        { what: 'revision 4' },
      );
    });

    it('refuses a paused Deployment and a missing revision', async () => {
      await createDeployment(ns, 'paused', { replicas: 1, paused: true });
      const paused = await runStep(
        ctx({ step: { action: 'rolloutUndo' }, target: { kind: 'Deployment', name: 'paused' } }),
      );
      expect(paused.plan.refused).toMatchObject({ reason: 'Paused' });
      const missing = await runStep(
        ctx({
          step: { action: 'rolloutUndo', rolloutUndo: { toRevision: 42 } },
          target: { kind: 'Deployment', name: 'web' },
        }),
      );
      expect(missing.plan.refused).toMatchObject({
        reason: 'RevisionNotFound',
        message: expect.stringMatching(/revision 42 not found/),
      });
    });

    it.each([
      ['StatefulSet', 'db'],
      ['DaemonSet', 'agent'],
    ])('%s: back to the previous ControllerRevision, once per stamp', async (kind, name) => {
      const read = async () =>
        kind === 'StatefulSet'
          ? apps().readNamespacedStatefulSet({ name, namespace: ns })
          : apps().readNamespacedDaemonSet({ name, namespace: ns });
      const revisions = async () =>
        (await apps().listNamespacedControllerRevision({ namespace: ns, labelSelector: `app=${name}` })).items
          .length;
      if (kind === 'StatefulSet') await createStatefulSet(ns, name, { replicas: 1, image: `${name}:1` });
      else await createDaemonSet(ns, name, { image: `${name}:1` });
      await waitFor(async () => (await revisions()) === 1, { what: 'first revision' });
      if (kind === 'StatefulSet')
        await apps().patchNamespacedStatefulSet(setImage(name, `${name}:2`), PATCH.strategic);
      else await apps().patchNamespacedDaemonSet(setImage(name, `${name}:2`), PATCH.strategic);
      await waitFor(async () => (await revisions()) === 2, { what: 'second revision' });

      const c = ctx({ step: { action: 'rolloutUndo' }, target: { kind, name }, stamp: `${name}/0/1` });
      const run = await runStep(c);
      expect(run.plan).toEqual({ before: { revision: 2 }, after: { revision: 1 } });
      expect(run.outcome?.kind).toBe('done');
      const w = await read();
      expect(imageOf(w)).toBe(`${name}:1`);
      expect(w.metadata?.annotations?.[STAMP]).toBe(`${name}/0/1`);
      expect((await runStep(c)).outcome?.message).toMatch(/already rolled back/);
      expect(imageOf(await read())).toBe(`${name}:1`);
    });

    it('dry run changes nothing and records the diff', async () => {
      const before = await apps().readNamespacedDeployment({ name: 'web', namespace: ns });
      const run = await runStep(
        ctx({
          step: { action: 'rolloutUndo' },
          target: { kind: 'Deployment', name: 'web' },
          dryRun: true,
          stamp: 'dry/0/1',
        }),
      );
      expect(run.outcome).toMatchObject({
        kind: 'done',
        diff: { before: { revision: 4 }, after: { revision: 3 } },
      });
      const after = await apps().readNamespacedDeployment({ name: 'web', namespace: ns });
      expect(after.metadata?.generation).toBe(before.metadata?.generation);
      expect(imageOf(after)).toBe(imageOf(before));
    });
  });

  describe('deletePod', () => {
    const podNames = async (selector: string) =>
      (await core().listNamespacedPod({ namespace: ns, labelSelector: selector })).items
        .filter((p) => !p.metadata?.deletionTimestamp)
        .map((p) => p.metadata!.name!);

    it('refuses when more pods match than maxCount', async () => {
      await createDeployment(ns, 'many', { replicas: 3 });
      await waitDeploymentReady(ns, 'many');
      const run = await runStep(
        ctx({ step: { action: 'deletePod', deletePod: { labelSelector: 'app=many', maxCount: 2 } } }),
      );
      expect(run.plan.refused).toMatchObject({
        reason: 'TooManyPods',
        message: expect.stringMatching(
          /^3 pods in .* match selector "app=many", more than deletePod.maxCount 2$/,
        ),
      });
      expect(await podNames('app=many')).toHaveLength(3);
    });

    it('dry run deletes nothing', async () => {
      const [victim] = await podNames('app=many');
      const run = await runStep(
        ctx({ step: { action: 'deletePod', deletePod: { names: [victim!], maxCount: 1 } }, dryRun: true }),
      );
      expect(run.outcome).toMatchObject({ kind: 'done', diff: { delete: [victim] } });
      expect(await podNames('app=many')).toContain(victim);
    });

    it('deletes exactly the planned pod; a repeat does not delete its StatefulSet replacement', async () => {
      await createStatefulSet(ns, 'ss', { replicas: 1 });
      const uid = await waitFor(
        async () => (await core().readNamespacedPod({ name: 'ss-0', namespace: ns })).metadata?.uid,
        { what: 'pod ss-0' },
      );
      const c = ctx({ step: { action: 'deletePod', deletePod: { names: ['ss-0'], maxCount: 1 } } });
      const run = await runStep(c);
      expect(run.plan).toEqual({ before: { pods: [{ name: 'ss-0', uid }] }, after: { pods: ['ss-0'] } });
      expect(run.outcome).toMatchObject({
        kind: 'done',
        message: expect.stringMatching(/deleted 1 pod\(s\) in .*: ss-0/),
      });
      const replacement = await waitFor(
        async () => {
          const p = await core().readNamespacedPod({ name: 'ss-0', namespace: ns });
          return p.metadata?.uid !== uid && !p.metadata?.deletionTimestamp ? p.metadata?.uid : undefined;
        },
        { what: 'replacement ss-0' },
      );
      const again = await getAction('deletePod').apply(c, run.record);
      expect(again.kind).toBe('done');
      await sleep(500);
      const now = await core().readNamespacedPod({ name: 'ss-0', namespace: ns });
      expect(now.metadata?.uid).toBe(replacement);
      expect(now.metadata?.deletionTimestamp).toBeUndefined();
    });
  });

  describe('waitForRollout', () => {
    const poll = async (
      kind: string,
      name: string,
      until: (o: ActionOutcome) => boolean,
      timeoutMs = 60_000,
    ) =>
      waitFor(
        async () => {
          const run = await runStep(ctx({ step: { action: 'waitForRollout' }, target: { kind, name } }));
          return until(run.outcome!) ? run.outcome : undefined;
        },
        { timeoutMs, intervalMs: 300, what: `${kind} ${name} waitForRollout` },
      );

    it('is in progress until a Deployment is rolled out, then done', async () => {
      await createDeployment(ns, 'roll', { replicas: 2 });
      const first = await runStep(
        ctx({ step: { action: 'waitForRollout' }, target: { kind: 'Deployment', name: 'roll' } }),
      );
      expect(first.outcome?.kind).toBe('inProgress');
      const out = await poll('Deployment', 'roll', (o) => o.kind === 'done');
      expect(out.message).toMatch(/rolled out/);
    });

    it('is done for a rolled-out StatefulSet', async () => {
      await createStatefulSet(ns, 'sts', { replicas: 2 });
      const out = await poll('StatefulSet', 'sts', (o) => o.kind === 'done');
      expect(out.message).toMatch(/StatefulSet sts rolled out$/);
      // Done means the StatefulSet itself is rolled out: every replica ready and current.
      const sts = await testClients().apps.readNamespacedStatefulSet({ namespace: ns, name: 'sts' });
      expect(sts.status).toMatchObject({ readyReplicas: 2, updatedReplicas: 2 });
    });

    it.each([
      [
        'crashLoop',
        'crashy',
        /CrashLoopBackOff: 0 of 1 pods ready.*pod crashy-[a-z0-9-]+ container main \(restarts 5\) is in CrashLoopBackOff/,
      ],
      [
        'oomKilled',
        'oomy',
        /OOMKilled: 0 of 1 pods ready.*pod oomy-[a-z0-9-]+ container main \(restarts 3\) was OOMKilled/,
      ],
      ['neverReady', 'slow', /PodsNotReady: 0 of 1 pods ready \(0 available\)$/],
    ] as const)('names the fault %s while waiting', async (fault, name, message) => {
      kubelet.setFault(ns, `${name}-`, fault);
      await createDeployment(ns, name, { replicas: 1 });
      const out = await poll('Deployment', name, (o) => o.kind === 'inProgress' && message.test(o.message));
      expect(out.kind).toBe('inProgress');
    });
  });
});
