/**
 * The target cache against the real control plane: the informer side (lazy start, sync, kinds,
 * namespaces), and the guard that makes a stale cache harmless: plan() on a cached object,
 * apply() with its resourceVersion as a precondition, and on a conflict a GET and a new decision
 * with the true `before`. The stale cache is a test double (`StaleTargets`): a real informer is
 * only ever stale for milliseconds, too short to hit on purpose.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { RawObjectApi, type KubeObject } from '../../../src/kube/raw-object.js';
import { PassReads, type ResolvedTarget, type TargetReader } from '../../../src/actions/types.js';
import { clientNodeFactory } from '../../../src/runtime/informer.js';
import { TargetCache } from '../../../src/runtime/target-cache.js';
import { silentLogger } from '../../../src/observability/logger.js';
import { startFakeKubelet, type FakeKubelet } from '../../../tools/cluster/fake-kubelet.js';
import {
  createDeployment,
  createNamespace,
  deleteNamespace,
  testClients,
  testKubeConfig,
  waitDeploymentReady,
  waitFor,
} from '../../support/kube.js';
import { getAction } from '../../../src/actions/index.js';
import { actionCtx, checkpoint, runStep, type CtxOptions } from './helpers.js';

const RESTARTED_AT = 'kubectl.kubernetes.io/restartedAt';
const STAMP = 'kube-remediator.io/last-action';

/** Test double: a cache that answers with a snapshot taken earlier, as a lagging informer would. */
class StaleTargets implements TargetReader {
  constructor(private readonly snapshot: KubeObject) {}
  peek(ref: ResolvedTarget): KubeObject | undefined {
    return ref.name === this.snapshot.metadata?.name ? this.snapshot : undefined;
  }
}

describe('target cache', () => {
  let ns: string;
  let kubelet: FakeKubelet;
  const apps = () => testClients().apps;
  const raw = () => RawObjectApi.forConfig(testKubeConfig());
  const ref = (name: string): ResolvedTarget => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    namespace: ns,
    name,
  });
  const annotate = (name: string, annotations: Record<string, string>) =>
    apps().patchNamespacedDeployment(
      { name, namespace: ns, body: { spec: { template: { metadata: { annotations } } } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    );

  /** plan, checkpoint and apply of `step` on Deployment `name`, with a cache that answers `stale`. */
  const onStale = (name: string, step: CtxOptions['step'], stale: KubeObject) =>
    runStep(
      actionCtx({
        namespace: ns,
        step,
        target: { kind: 'Deployment', name },
        reads: new PassReads(),
        targets: new StaleTargets(stale),
      }),
    );
  const targetCache = () =>
    new TargetCache({
      kc: testKubeConfig(),
      namespace: ns,
      factory: clientNodeFactory(testKubeConfig()),
      logger: silentLogger(),
    });

  beforeAll(async () => {
    ns = await createNamespace('act-cache');
    kubelet = startFakeKubelet(testKubeConfig(), { namespace: ns });
  });
  afterAll(async () => {
    kubelet.stop();
    await deleteNamespace(ns);
  });

  it('starts an informer per kind on first use, then serves what the API server has', async () => {
    await createDeployment(ns, 'cached', { replicas: 1 });
    const cache = targetCache();
    try {
      // Not started, then not synced: the caller GETs.
      expect(cache.peek(ref('cached'))).toBeUndefined();
      expect(cache.kinds()).toEqual({ deployments: expect.any(Boolean) });
      const hit = await waitFor(() => Promise.resolve(cache.peek(ref('cached'))), {
        what: 'the cache to sync',
      });
      // List items carry no kind: the cache sets it, the actions look at it.
      expect(hit).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'cached' } });
      expect(hit.metadata).not.toHaveProperty('managedFields');

      await annotate('cached', { 'example.com/seen': 'yes' });
      const seen = (): boolean =>
        (
          cache.peek(ref('cached'))?.spec as {
            template?: { metadata?: { annotations?: Record<string, string> } };
          }
        )?.template?.metadata?.annotations?.['example.com/seen'] === 'yes';
      await waitFor(() => Promise.resolve(seen()), { what: 'the update in the cache' });
      // Other kinds, other namespaces, other API versions: not cached.
      expect(cache.peek({ ...ref('cached'), namespace: 'elsewhere' })).toBeUndefined();
      expect(cache.peek({ ...ref('cached'), kind: 'ReplicaSet' })).toBeUndefined();
      expect(cache.peek({ ...ref('cached'), apiVersion: 'apps/v1beta1' })).toBeUndefined();
      expect(cache.kinds()).toEqual({ deployments: true });
    } finally {
      await cache.stop();
    }
    expect(cache.peek(ref('cached'))).toBeUndefined();
  });

  describe('a stale cache never records a wrong before', () => {
    it('rolloutRestart: the conflict is read again; the true prior restartedAt is recorded, one restart', async () => {
      await createDeployment(ns, 'restart', { replicas: 1 });
      await waitDeploymentReady(ns, 'restart');
      const stale = await raw().get(ref('restart'));
      await annotate('restart', { [RESTARTED_AT]: '2026-01-01T00:00:00Z' });

      const ctx = actionCtx({
        namespace: ns,
        step: { action: 'rolloutRestart' },
        target: { kind: 'Deployment', name: 'restart' },
        stamp: 'uid-stale/0/1',
        reads: new PassReads(),
        targets: new StaleTargets(stale),
      });
      const run = await runStep(ctx);
      expect(run.plan.before).toEqual({}); // planned on the stale snapshot
      expect(run.outcome).toMatchObject({ kind: 'done', before: { restartedAt: '2026-01-01T00:00:00Z' } });
      const d = await apps().readNamespacedDeployment({ name: 'restart', namespace: ns });
      expect(d.spec?.template.metadata?.annotations?.[STAMP]).toBe('uid-stale/0/1');
      expect(d.spec?.template.metadata?.annotations?.[RESTARTED_AT]).toBe(run.record.after?.restartedAt);
    });

    it('rolloutRestart: a refusal planned on the cache is confirmed by a GET first', async () => {
      await createDeployment(ns, 'resumed', { replicas: 1, paused: true });
      const stale = await raw().get(ref('resumed'));
      await apps().patchNamespacedDeployment(
        { name: 'resumed', namespace: ns, body: { spec: { paused: false } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      const run = await onStale('resumed', { action: 'rolloutRestart' }, stale);
      expect(run.plan.refused).toBeUndefined();
      expect(run.outcome?.kind).toBe('done');
    });

    it('setEnv: the variable set since the snapshot is recorded as before, the others kept', async () => {
      await createDeployment(ns, 'env', { replicas: 1, env: [{ name: 'KEEP', value: 'k' }] });
      const stale = await raw().get(ref('env'));
      await apps().patchNamespacedDeployment(
        {
          name: 'env',
          namespace: ns,
          body: [
            {
              op: 'add',
              path: '/spec/template/spec/containers/0/env/-',
              value: { name: 'MODE', value: 'primary' },
            },
          ],
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
      );
      const run = await onStale(
        'env',
        { action: 'setEnv', setEnv: { env: [{ name: 'MODE', value: 'degraded' }] } },
        stale,
      );
      expect(run.plan.before).toEqual({ containers: { main: { MODE: { absent: true } } } });
      expect(run.outcome).toMatchObject({
        kind: 'done',
        before: { containers: { main: { MODE: { value: 'primary' } } } },
      });
      const env = (await apps().readNamespacedDeployment({ name: 'env', namespace: ns })).spec?.template.spec
        ?.containers[0]?.env;
      expect(env).toEqual([
        { name: 'KEEP', value: 'k' },
        { name: 'MODE', value: 'degraded' },
      ]);
    });

    it('scale: the count the workload really had is recorded as before', async () => {
      await createDeployment(ns, 'scaled', { replicas: 1 });
      const stale = await raw().get(ref('scaled'));
      await apps().patchNamespacedDeploymentScale(
        { name: 'scaled', namespace: ns, body: { spec: { replicas: 2 } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      const run = await onStale('scaled', { action: 'scale', scale: { replicas: 0 } }, stale);
      expect(run.plan.before).toEqual({ replicas: 1 });
      expect(run.outcome).toMatchObject({ kind: 'done', before: { replicas: 2 }, after: { replicas: 0 } });
      expect((await apps().readNamespacedDeployment({ name: 'scaled', namespace: ns })).spec?.replicas).toBe(
        0,
      );
    });

    it('setEnv: "already set" on the cache is asked of the API server before it is believed', async () => {
      await createDeployment(ns, 'unset', { replicas: 1, env: [{ name: 'MODE', value: 'degraded' }] });
      const stale = await raw().get(ref('unset'));
      await apps().patchNamespacedDeployment(
        {
          name: 'unset',
          namespace: ns,
          body: [{ op: 'remove', path: '/spec/template/spec/containers/0/env' }],
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
      );
      const run = await onStale(
        'unset',
        { action: 'setEnv', setEnv: { env: [{ name: 'MODE', value: 'degraded' }] } },
        stale,
      );
      expect(run.outcome).toMatchObject({
        kind: 'done',
        before: { containers: { main: { MODE: { absent: true } } } },
      });
      const env = (await apps().readNamespacedDeployment({ name: 'unset', namespace: ns })).spec?.template
        .spec?.containers[0]?.env;
      expect(env).toEqual([{ name: 'MODE', value: 'degraded' }]);
    });

    it('rolloutRestart: an object deleted and created again under the name is not taken for the cached one', async () => {
      await createDeployment(ns, 'again', { replicas: 1 });
      const stale = await raw().get(ref('again'));
      await apps().deleteNamespacedDeployment({ name: 'again', namespace: ns });
      await waitFor(
        async () => {
          try {
            await apps().readNamespacedDeployment({ name: 'again', namespace: ns });
            return false;
          } catch {
            return true;
          }
        },
        { what: 'the Deployment gone' },
      );
      await createDeployment(ns, 'again', { replicas: 1 });
      await annotate('again', { [RESTARTED_AT]: '2026-02-02T00:00:00Z', 'example.com/keep': 'me' });
      const fresh = await raw().get(ref('again'));
      // Same generation as the cached one: only the uid tells them apart.
      const run = await onStale(
        'again',
        { action: 'rolloutRestart' },
        {
          ...stale,
          metadata: { ...stale.metadata, generation: fresh.metadata?.generation },
        },
      );
      expect(run.outcome).toMatchObject({ kind: 'done', before: { restartedAt: '2026-02-02T00:00:00Z' } });
      const annotations = (await apps().readNamespacedDeployment({ name: 'again', namespace: ns })).spec
        ?.template.metadata?.annotations;
      expect(annotations?.['example.com/keep']).toBe('me');
      expect(annotations?.[STAMP]).toBeDefined();
    });

    it('scale applied in a later pass than its plan records the count it overwrites', async () => {
      await createDeployment(ns, 'later', { replicas: 1 });
      const planCtx = actionCtx({
        namespace: ns,
        step: { action: 'scale', scale: { replicas: 0 } },
        target: { kind: 'Deployment', name: 'later' },
        reads: new PassReads(),
      });
      const action = getAction('scale');
      const plan = await action.plan(planCtx);
      expect(plan.before).toEqual({ replicas: 1 });
      // Between the checkpoint and the apply (a crash, a wait for the lock) someone scales to 4.
      await apps().patchNamespacedDeploymentScale(
        { name: 'later', namespace: ns, body: { spec: { replicas: 4 } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      const reads = new PassReads();
      reads.startApply();
      const applyCtx = actionCtx({
        namespace: ns,
        step: { action: 'scale', scale: { replicas: 0 } },
        target: { kind: 'Deployment', name: 'later' },
        reads,
      });
      const outcome = await action.apply(applyCtx, checkpoint(applyCtx, plan));
      expect(outcome).toMatchObject({ kind: 'done', before: { replicas: 4 }, after: { replicas: 0 } });
    });

    it('a current cache: planned on the cached read and changed under its precondition, before as the API server has it', async () => {
      await createDeployment(ns, 'fresh', { replicas: 1 });
      const cache = targetCache();
      try {
        cache.peek(ref('fresh'));
        const current = await waitFor(() => Promise.resolve(cache.peek(ref('fresh'))), {
          what: 'the cache to sync',
        });
        const run = await runStep(
          actionCtx({
            namespace: ns,
            step: { action: 'scale', scale: { replicas: 3 } },
            target: { kind: 'Deployment', name: 'fresh' },
            reads: new PassReads(),
            targets: cache,
          }),
        );
        expect(current.metadata?.resourceVersion).toBeDefined();
        expect(run.outcome).toMatchObject({ kind: 'done', before: { replicas: 1 }, after: { replicas: 3 } });
      } finally {
        await cache.stop();
      }
    });
  });
});
