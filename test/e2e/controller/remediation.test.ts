/**
 * The Remediation and Runbook reconcilers against the real control plane and the fake kubelet:
 * each test asserts the resulting state of the cluster and of the status, not a call sequence.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import {
  ANNOTATIONS,
  CONDITION_TYPES,
  REASONS,
  stepApprovalAnnotation,
} from '../../../src/api/v1alpha1/constants.js';
import type { Remediation, RemediationSpec, RunbookSpec, Step } from '../../../src/api/v1alpha1/schema.js';
import { ACTIONS_REGISTRY } from '../../../src/actions/index.js';
import type { Action } from '../../../src/actions/types.js';
import { findCondition } from '../../../src/api/v1alpha1/conditions.js';
import { BLOCKED_REQUEUE_MS } from '../../../src/controller/remediation/decision.js';
import type { KubeClients } from '../../../src/kube/client.js';
import { remediations, runbooks } from '../../../src/kube/resources.js';
import { startFakeKubelet, type FakeKubelet } from '../../../tools/cluster/fake-kubelet.js';
import {
  createDeployment,
  createNamespace,
  deleteNamespace,
  settled,
  testClients,
  testKubeConfig,
  waitDeploymentReady,
  waitFor,
} from '../../support/kube.js';
import {
  annotate,
  createRemediation,
  createRunbook,
  harness,
  reconcileOnce,
  reconcileRunbook,
  reconcileUntilStable,
  RecordingTargetReader,
  replicaSetCount,
} from './helpers.js';

const target = { apiVersion: 'apps/v1', kind: 'Deployment', name: '{{ deployment }}' };
const params = [{ name: 'deployment', from: 'labels.deployment' }];
const restart: Step = { name: 'restart', action: 'rolloutRestart', rolloutRestart: {} };
const wait: Step = { name: 'wait', action: 'waitForRollout', waitForRollout: {}, timeout: '45s' };
/** The layering tests' step: degraded mode on, undone when the alert resolves. */
const degrade: Step = {
  name: 'degrade',
  action: 'setEnv',
  setEnv: { env: [{ name: 'DEGRADED', value: 'true' }] },
  revertOnResolve: true,
};
const alertFor = (deployment: string): RemediationSpec['alert'] => ({
  name: 'WebDown',
  status: 'firing',
  labels: { deployment },
});

function envOf(
  d: Awaited<ReturnType<KubeClients['apps']['readNamespacedDeployment']>>,
  name: string,
): string | undefined {
  return d.spec?.template.spec?.containers[0]?.env?.find((e) => e.name === name)?.value;
}

describe('Remediation reconciler on a real API server', () => {
  let ns: string;
  let kubelet: FakeKubelet;
  const apps = () => testClients().apps;
  const dep = (name: string) => apps().readNamespacedDeployment({ name, namespace: ns });

  async function runbook(name: string, spec: Partial<RunbookSpec>): Promise<void> {
    await createRunbook(ns, name, { params, target, steps: [restart], ...spec });
    const h = harness();
    await reconcileRunbook(h, { namespace: ns, name });
  }

  beforeAll(async () => {
    ns = await createNamespace('ctrl');
    kubelet = startFakeKubelet(testKubeConfig(), { namespace: ns });
    await Promise.all(
      ['web', 'dry', 'gate', 'bound', 'bound2', 'crash', 'crash2', 'conflict', 'layer'].map((n) =>
        createDeployment(ns, n, { replicas: 2 }),
      ),
    );
    await Promise.all(
      ['web', 'dry', 'gate', 'bound', 'bound2', 'crash', 'crash2', 'conflict', 'layer'].map((n) =>
        waitDeploymentReady(ns, n),
      ),
    );
  });
  afterAll(async () => {
    kubelet.stop();
    await deleteNamespace(ns);
  });

  describe('restart + scale + setEnv + waitForRollout, then revert', () => {
    const steps: Step[] = [
      restart,
      { name: 'scale-up', action: 'scale', scale: { replicas: 3 }, revertOnResolve: true },
      {
        name: 'env',
        action: 'setEnv',
        setEnv: { env: [{ name: 'CACHE', value: 'off' }] },
        revertOnResolve: true,
      },
      wait,
    ];

    it('runs every step and records before/after', async () => {
      await runbook('full', { steps });
      const rb = await runbooks(testClients()).get(ns, 'full');
      expect(findCondition(rb.status?.conditions, CONDITION_TYPES.ready)).toMatchObject({
        status: 'True',
        reason: REASONS.valid,
      });
      expect(rb.status?.stepCount).toBe(4);

      const h = harness();
      await createRemediation(ns, 'full-1', { runbookRef: { name: 'full' }, alert: alertFor('web') });
      const rem = await reconcileUntilStable(h, { namespace: ns, name: 'full-1' });

      expect(rem.status?.phase).toBe('Succeeded');
      expect(rem.status?.progress).toBe('4/4');
      expect(rem.status?.target).toBe('Deployment/web');
      expect(rem.status?.observedGeneration).toBe(rem.metadata.generation);
      expect(rem.status?.steps?.map((s) => s.phase)).toEqual([
        'Succeeded',
        'Succeeded',
        'Succeeded',
        'Succeeded',
      ]);
      expect(rem.status?.steps?.[1]?.before).toBeDefined();
      expect(JSON.stringify(rem.status?.steps?.[1]?.before)).toContain('2');
      expect(JSON.stringify(rem.status?.steps?.[1]?.after)).toContain('3');
      expect(rem.status?.steps?.every((s) => s.attempt === 1 && s.startedAt && s.finishedAt)).toBe(true);

      const d = await dep('web');
      expect(d.spec?.replicas).toBe(3);
      expect(envOf(d, 'CACHE')).toBe('off');
      expect(d.spec?.template.metadata?.annotations?.['kubectl.kubernetes.io/restartedAt']).toBeDefined();

      // One Event for the run (ADR 0026), on the Remediation, its message telling each step's outcome.
      const mine = h.events.events.filter((e) => e.obj.name === 'full-1');
      expect(mine.map((e) => `${e.type} ${e.reason}`)).toEqual(['Normal RemediationSucceeded']);
      expect(mine[0]!.message).toMatch(
        /^all 4 steps succeeded: restart \(rolloutRestart\): .+; scale-up \(scale\): .+; env \(setEnv\): .+; wait \(waitForRollout\): /,
      );
      // A run that went well records no Event on its target (a Warning one does when it fails).
      expect(h.events.events.some((e) => e.obj.kind === 'Deployment' && e.obj.name === 'web')).toBe(false);
      expect(h.audit.rows.map((r) => r.event)).toEqual(
        expect.arrayContaining(['created', 'step_started', 'step_finished', 'finished']),
      );
      expect(await h.metrics.registry.getSingleMetricAsString('kube_remediator_actions_total')).toMatch(
        /action="scale",result="success"} 1/,
      );
    });

    it('reverts the revertOnResolve steps on the annotation, in reverse order', async () => {
      const h = harness();
      await annotate(ns, 'full-1', { [ANNOTATIONS.revert]: 'true' });
      const rem = await reconcileUntilStable(
        h,
        { namespace: ns, name: 'full-1' },
        (r) => r.status?.phase === 'Reverted' || r.status?.phase === 'Failed',
      );
      expect(rem.status?.phase).toBe('Reverted');
      expect(rem.status?.steps?.map((s) => s.phase)).toEqual([
        'Succeeded',
        'Reverted',
        'Reverted',
        'Succeeded',
      ]);
      const [, scaled, env] = rem.status!.steps!;
      expect(Date.parse(env!.revertedAt!)).toBeLessThanOrEqual(Date.parse(scaled!.revertedAt!));
      const d = await dep('web');
      expect(d.spec?.replicas).toBe(2);
      expect(envOf(d, 'CACHE')).toBeUndefined();
      expect(h.audit.rows.some((r) => r.event === 'reverted')).toBe(true);
      // The revert's one Event: why it ran and what each step restored.
      const revertEvents = h.events.events.filter((e) => e.obj.name === 'full-1');
      expect(revertEvents.map((e) => e.reason)).toEqual(['Reverted']);
      expect(revertEvents[0]!.message).toMatch(
        /^reverted 2 steps \(annotation kube-remediator\.io\/revert=true\): scale-up \(scale\): .+; env \(setEnv\): /,
      );
    });
  });

  it('two Remediations set the same variable: the older revert waits for the newer one', async () => {
    await runbook('degrade', { steps: [degrade] });
    const h = harness();
    const req = (name: string) => ({ namespace: ns, name });
    await createRemediation(ns, 'layer-1', { runbookRef: { name: 'degrade' }, alert: alertFor('layer') });
    expect((await reconcileUntilStable(h, req('layer-1'))).status?.phase).toBe('Succeeded');
    await createRemediation(ns, 'layer-2', { runbookRef: { name: 'degrade' }, alert: alertFor('layer') });
    const second = await reconcileUntilStable(h, req('layer-2'));
    expect(second.status?.steps?.[0]?.layeredOn).toEqual([
      { remediation: `${ns}/layer-1`, uid: expect.any(String), step: 'degrade' },
    ]);

    // The first alert resolves: its revert is held, the variable stays set.
    await annotate(ns, 'layer-1', { [ANNOTATIONS.revert]: 'true' });
    for (let i = 0; i < 3; i++) await reconcileOnce(h, req('layer-1'));
    const held = await remediations(testClients()).get(ns, 'layer-1');
    expect(held.status?.phase).toBe('Succeeded');
    expect(findCondition(held.status?.conditions, CONDITION_TYPES.blocked)).toMatchObject({
      status: 'True',
      reason: REASONS.revertHeld,
    });
    expect(held.status?.message).toContain(`${ns}/layer-2`);
    expect(envOf(await dep('layer'), 'DEGRADED')).toBe('true');
    // The condition, not an Event (ADR 0026); the revert's Event says it was held (below).
    expect(h.events.events.some((e) => e.reason === 'RevertHeld')).toBe(false);

    // The second resolves: it reverts to the first one's value, then the first reverts.
    await annotate(ns, 'layer-2', { [ANNOTATIONS.revert]: 'true' });
    const isReverted = (r: { status?: { phase?: string } }) =>
      r.status?.phase === 'Reverted' || r.status?.phase === 'Failed';
    expect((await reconcileUntilStable(h, req('layer-2'), isReverted)).status?.phase).toBe('Reverted');
    expect(envOf(await dep('layer'), 'DEGRADED')).toBe('true');
    expect((await reconcileUntilStable(h, req('layer-1'), isReverted)).status?.phase).toBe('Reverted');
    expect(envOf(await dep('layer'), 'DEGRADED')).toBeUndefined();
    const revertedEvents = h.events.events.filter((e) => e.reason === 'Reverted');
    expect(revertedEvents.find((e) => e.obj.name === 'layer-1')?.message).toContain(
      'held until the newer changes to the same fields were reverted',
    );
    expect(revertedEvents.find((e) => e.obj.name === 'layer-2')?.message).not.toContain('held');
    const finished = (await h.metrics.remediationsFinished.get()).values;
    expect(finished.find((v) => v.labels.result === 'succeeded')?.value).toBe(2);
    expect(finished.find((v) => v.labels.result === 'reverted')?.value).toBe(2);
  });

  it('two layered alerts resolve together: the older waits without a write, then both revert', async () => {
    await createDeployment(ns, 'layerq', { replicas: 1 });
    await runbook('degrade-q', { steps: [degrade] });
    let h = harness();
    const req = (name: string) => ({ namespace: ns, name });
    await createRemediation(ns, 'lq-1', { runbookRef: { name: 'degrade-q' }, alert: alertFor('layerq') });
    await reconcileUntilStable(h, req('lq-1'));
    await createRemediation(ns, 'lq-2', { runbookRef: { name: 'degrade-q' }, alert: alertFor('layerq') });
    expect((await reconcileUntilStable(h, req('lq-2'))).status?.steps?.[0]?.layeredOn).toHaveLength(1);

    // Both are asked to revert: lq-2's revert is under way, so lq-1's hold clears by itself and
    // is no news for a person: its pass writes nothing (ADR 0026's addendum).
    await annotate(ns, 'lq-1', { [ANNOTATIONS.revert]: 'true' });
    await annotate(ns, 'lq-2', { [ANNOTATIONS.revert]: 'true' });
    // A new reconciler: this harness re-lists its caches instead of watching, so the first
    // one would trust its own last write of lq-2 over the annotation for OWN_WRITE_TTL_MS.
    h = harness();
    const before = await remediations(testClients()).get(ns, 'lq-1');
    expect(await reconcileOnce(h, req('lq-1'))).toBe(BLOCKED_REQUEUE_MS);
    const after = await remediations(testClients()).get(ns, 'lq-1');
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(findCondition(after.status?.conditions, CONDITION_TYPES.blocked)).toBeUndefined();
    expect(envOf(await dep('layerq'), 'DEGRADED')).toBe('true');

    // The phase of each status write from here on, from a watch.
    const phases = new Map<string, string[]>();
    const watch = await new k8s.Watch(testKubeConfig()).watch(
      `/apis/kube-remediator.io/v1alpha1/namespaces/${ns}/remediations`,
      { resourceVersion: after.metadata.resourceVersion },
      (type: string, obj: Remediation) => {
        // From lq-1's resourceVersion: lq-2's annotation comes first (phase Succeeded), skipped.
        if (type !== 'MODIFIED' || !obj.metadata.name?.startsWith('lq-') || obj.status?.phase === 'Succeeded')
          return;
        phases.set(obj.metadata.name, [...(phases.get(obj.metadata.name) ?? []), obj.status?.phase ?? '']);
      },
      () => undefined,
    );
    const isReverted = (r: Remediation) => r.status?.phase === 'Reverted' || r.status?.phase === 'Failed';
    expect((await reconcileUntilStable(h, req('lq-2'), isReverted)).status?.phase).toBe('Reverted');
    expect(envOf(await dep('layerq'), 'DEGRADED')).toBe('true');
    expect((await reconcileUntilStable(h, req('lq-1'), isReverted)).status?.phase).toBe('Reverted');
    expect(envOf(await dep('layerq'), 'DEGRADED')).toBeUndefined();
    // lq-2 restored the value lq-1 set, which was in place: nothing to send, so no Reverting
    // checkpoint, one status write (ADR 0028). lq-1 had something to send: checkpoint first.
    await waitFor(() => Promise.resolve(phases.get('lq-1')?.includes('Reverted') ? true : undefined), {
      what: 'the watch shows lq-1 Reverted',
    });
    watch.abort();
    expect(phases.get('lq-2')).toEqual(['Reverted']);
    expect(phases.get('lq-1')).toEqual(['Reverting', 'Reverted']);
    const get = (name: string) => remediations(testClients()).get(ns, name);
    const [two, one] = [await get('lq-2'), await get('lq-1')];
    expect(two.status?.steps?.[0]).toMatchObject({
      phase: 'Reverted',
      message: expect.stringMatching(/already restored/),
    });
    expect(one.status?.steps?.[0]).toMatchObject({
      phase: 'Reverted',
      message: expect.stringMatching(/^restored env/),
    });
  });

  it('a held revert goes on when the newer revert fails, and leaves a value changed since alone', async () => {
    await createDeployment(ns, 'layerf', { replicas: 1 });
    await runbook('degrade-f', { steps: [degrade] });
    const h = harness();
    const req = (name: string) => ({ namespace: ns, name });
    const isFinal = (r: Remediation) =>
      ['True', 'False'].includes(findCondition(r.status?.conditions, CONDITION_TYPES.reverted)?.status ?? '');
    await createRemediation(ns, 'lf-1', { runbookRef: { name: 'degrade-f' }, alert: alertFor('layerf') });
    await reconcileUntilStable(h, req('lf-1'));
    await createRemediation(ns, 'lf-2', { runbookRef: { name: 'degrade-f' }, alert: alertFor('layerf') });
    expect((await reconcileUntilStable(h, req('lf-2'))).status?.steps?.[0]?.layeredOn).toHaveLength(1);
    await annotate(ns, 'lf-1', { [ANNOTATIONS.revert]: 'true' });
    for (let i = 0; i < 3; i++) await reconcileOnce(h, req('lf-1'));
    const held = await remediations(testClients()).get(ns, 'lf-1');
    expect(findCondition(held.status?.conditions, CONDITION_TYPES.blocked)?.reason).toBe(REASONS.revertHeld);

    // A person sets the variable by hand; then the newer revert fails (ChangedSince), for good.
    await apps().patchNamespacedDeployment(
      {
        name: 'layerf',
        namespace: ns,
        body: [{ op: 'replace', path: '/spec/template/spec/containers/0/env/0/value', value: 'manual' }],
      },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.JsonPatch),
    );
    await annotate(ns, 'lf-2', { [ANNOTATIONS.revert]: 'true' });
    const second = await reconcileUntilStable(h, req('lf-2'), isFinal);
    expect(findCondition(second.status?.conditions, CONDITION_TYPES.reverted)?.reason).toBe(
      REASONS.revertFailed,
    );

    // The older one is no longer held: it runs its compare-and-swap, which leaves 'manual' alone.
    const first = await reconcileUntilStable(h, req('lf-1'), isFinal);
    expect(findCondition(first.status?.conditions, CONDITION_TYPES.blocked)).toMatchObject({
      status: 'False',
      message: expect.stringContaining(`revert of remediation ${ns}/lf-2 (step degrade) failed`),
    });
    expect(findCondition(first.status?.conditions, CONDITION_TYPES.reverted)?.reason).toBe(
      REASONS.revertFailed,
    );
    expect(first.status?.message).toMatch(/changed since the step/);
    expect(envOf(await dep('layerf'), 'DEGRADED')).toBe('manual');
    const finished = (await h.metrics.remediationsFinished.get()).values;
    expect(finished.find((v) => v.labels.result === 'revert_failed')?.value).toBe(2);
  });

  it('dry run: every resourceVersion unchanged, a diff per step, phase DryRun', async () => {
    await runbook('dry', {
      steps: [
        restart,
        { name: 'scale-up', action: 'scale', scale: { replicas: 4 } },
        { name: 'env', action: 'setEnv', setEnv: { env: [{ name: 'X', value: '1' }] } },
      ],
    });
    const before = await settled(() => dep('dry'), 'dry');
    const rsBefore = await replicaSetCount(ns, 'dry');
    const targets = new RecordingTargetReader();
    const h = harness({ targets });
    await createRemediation(ns, 'dry-1', {
      runbookRef: { name: 'dry' },
      alert: alertFor('dry'),
      dryRun: true,
    });
    const rem = await reconcileUntilStable(h, { namespace: ns, name: 'dry-1' });
    expect(rem.status?.phase).toBe('DryRun');
    expect(rem.status?.steps?.map((s) => s.phase)).toEqual(['DryRun', 'DryRun', 'DryRun']);
    expect(rem.status?.steps?.every((s) => s.diff !== undefined)).toBe(true);
    const after = await dep('dry');
    expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(await replicaSetCount(ns, 'dry')).toBe(rsBefore);
    // Read live, not from the target cache: no informer for a kind only a dry run touches.
    expect(targets.asked).toEqual([]);
  });

  describe('approval', () => {
    beforeAll(() =>
      runbook('gated', {
        safety: { requireApproval: true },
        steps: [{ name: 'scale-up', action: 'scale', scale: { replicas: 3 } }],
      }),
    );

    it('waits for approved-by, records who, then runs', async () => {
      const h = harness();
      await createRemediation(ns, 'gated-1', { runbookRef: { name: 'gated' }, alert: alertFor('gate') });
      const waiting = await reconcileUntilStable(h, { namespace: ns, name: 'gated-1' });
      expect(waiting.status?.phase).toBe('AwaitingApproval');
      expect((await dep('gate')).spec?.replicas).toBe(2);
      await annotate(ns, 'gated-1', { [ANNOTATIONS.approvedBy]: 'alice' });
      const rem = await reconcileUntilStable(
        h,
        { namespace: ns, name: 'gated-1' },
        (r) => r.status?.phase === 'Succeeded' || r.status?.phase === 'Failed',
      );
      expect(rem.status?.phase).toBe('Succeeded');
      expect(rem.status?.approval?.by).toBe('alice');
      expect(findCondition(rem.status?.conditions, CONDITION_TYPES.approved)).toMatchObject({
        status: 'True',
        reason: REASONS.approved,
      });
      expect((await dep('gate')).spec?.replicas).toBe(3);
      expect(h.audit.rows.some((r) => r.event === 'approved')).toBe(true);
    });

    it('rejected-by ends it Skipped without touching the target', async () => {
      const h = harness();
      // The generation, not the resourceVersion: the status of 'gate' may still be settling
      // from the previous test's scale-up (which flaked this test).
      const gen = (await dep('gate')).metadata?.generation;
      await createRemediation(ns, 'gated-2', { runbookRef: { name: 'gated' }, alert: alertFor('gate') });
      await reconcileUntilStable(h, { namespace: ns, name: 'gated-2' });
      await annotate(ns, 'gated-2', { [ANNOTATIONS.rejectedBy]: 'bob' });
      const rem = await reconcileUntilStable(
        h,
        { namespace: ns, name: 'gated-2' },
        (r) => r.status?.phase === 'Skipped',
      );
      expect(rem.status?.rejection?.by).toBe('bob');
      expect((await dep('gate')).metadata?.generation).toBe(gen);
    });
  });

  it('a bound refuses the change before it is sent', async () => {
    await runbook('bounded', {
      safety: { bounds: { maxReplicas: 5 } },
      steps: [{ name: 'scale-up', action: 'scale', scale: { replicas: 50 } }],
    });
    const rv = (await settled(() => dep('bound'), 'bound')).metadata?.resourceVersion;
    const targets = new RecordingTargetReader();
    const h = harness({ targets });
    await createRemediation(ns, 'bounded-1', { runbookRef: { name: 'bounded' }, alert: alertFor('bound') });
    const rem = await reconcileUntilStable(h, { namespace: ns, name: 'bounded-1' });
    expect(rem.status?.phase).toBe('Failed');
    const done = findCondition(rem.status?.conditions, CONDITION_TYPES.succeeded);
    expect(done).toMatchObject({ status: 'False', reason: REASONS.boundExceeded });
    expect(done?.message).toContain('maxReplicas');
    const finished = (await h.metrics.remediationsFinished.get()).values;
    expect(finished.find((v) => v.labels.result === 'failed')?.value).toBe(1);
    expect(finished.find((v) => v.labels.result === 'succeeded')?.value).toBe(0);
    expect((await dep('bound')).metadata?.resourceVersion).toBe(rv);
    // A real run plans on the target cache (the dry run above does not).
    expect(targets.asked).toContain(`Deployment/${ns}/bound`);
  });

  describe('restart: refusal and the recorded before', () => {
    it('a paused Deployment is refused before anything is sent: reason Paused', async () => {
      await createDeployment(ns, 'paused', { replicas: 1, paused: true });
      await runbook('restart-paused', {});
      const rv = (await settled(() => dep('paused'), 'paused')).metadata?.resourceVersion;
      const h = harness();
      await createRemediation(ns, 'paused-1', {
        runbookRef: { name: 'restart-paused' },
        alert: alertFor('paused'),
      });
      const rem = await reconcileUntilStable(h, { namespace: ns, name: 'paused-1' });
      expect(rem.status?.phase).toBe('Failed');
      expect(rem.status?.steps?.[0]).toMatchObject({
        phase: 'Failed',
        attempt: 1,
        message: expect.stringMatching(/^refused: .*paused: resume it/),
      });
      expect(findCondition(rem.status?.conditions, CONDITION_TYPES.succeeded)).toMatchObject({
        status: 'False',
        reason: 'Paused',
      });
      expect((await dep('paused')).metadata?.resourceVersion).toBe(rv);
    });

    it('records the prior restartedAt as before', async () => {
      await createDeployment(ns, 'prior', { replicas: 1 });
      await runbook('restart-before', {});
      const prior = '2026-01-02T03:04:05Z';
      await apps().patchNamespacedDeployment(
        {
          name: 'prior',
          namespace: ns,
          body: {
            spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': prior } } } },
          },
        },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      const h = harness();
      await createRemediation(ns, 'before-1', {
        runbookRef: { name: 'restart-before' },
        alert: alertFor('prior'),
      });
      const rem = await reconcileUntilStable(h, { namespace: ns, name: 'before-1' });
      expect(rem.status?.phase).toBe('Succeeded');
      const step = rem.status?.steps?.[0];
      expect(step?.before).toEqual({ restartedAt: prior });
      expect(step?.after?.restartedAt).not.toBe(prior);
      const annotations = (await dep('prior')).spec?.template.metadata?.annotations ?? {};
      expect(annotations['kubectl.kubernetes.io/restartedAt']).toBe(step?.after?.restartedAt);
    });
  });

  it('the bounds copied at start still refuse a later step after the Runbook is deleted', async () => {
    await runbook('bounded-then-deleted', {
      safety: { bounds: { maxReplicas: 5 } },
      steps: [
        { name: 'scale-up', action: 'scale', scale: { replicas: 3 } },
        // Its approval holds it Pending until the Runbook is gone: without a wait, its plan would
        // come with the first step's outcome (ADR 0026), while the Runbook still exists.
        {
          name: 'patch-up',
          action: 'patch',
          patch: { type: 'merge', patch: { spec: { replicas: 50 } } },
          requireApproval: {},
        },
      ],
    });
    const h = harness();
    const req = { namespace: ns, name: 'bounded-then-deleted-1' };
    await createRemediation(ns, req.name, {
      runbookRef: { name: 'bounded-then-deleted' },
      alert: alertFor('bound2'),
    });
    const mid = await reconcileUntilStable(h, req, (r) => r.status?.steps?.[0]?.phase === 'Succeeded');
    expect(mid.status?.steps?.[1]?.phase).toBe('Pending');
    expect(mid.status?.bounds).toEqual({ maxReplicas: 5 });
    await runbooks(testClients()).delete(ns, 'bounded-then-deleted');
    await annotate(ns, req.name, { [stepApprovalAnnotation('patch-up')]: 'alice' });

    const rem = await reconcileUntilStable(h, req);
    expect(rem.status?.phase).toBe('Failed');
    expect(rem.status?.steps?.map((s) => s.phase)).toEqual(['Succeeded', 'Failed']);
    const done = findCondition(rem.status?.conditions, CONDITION_TYPES.succeeded);
    expect(done).toMatchObject({ status: 'False', reason: REASONS.boundExceeded });
    expect(done?.message).toContain('maxReplicas 5');
    expect((await dep('bound2')).spec?.replicas).toBe(3);
  });

  it('three failures on one target: the next ends Blocked; clear-block lets one through', async () => {
    // The target does not exist, so every attempt fails for good at once.
    await runbook('loop', { steps: [{ name: 'scale-up', action: 'scale', scale: { replicas: 1 } }] });
    const h = harness();
    for (const i of [1, 2, 3]) {
      await createRemediation(ns, `loop-${i}`, { runbookRef: { name: 'loop' }, alert: alertFor('ghost') });
      const r = await reconcileUntilStable(h, { namespace: ns, name: `loop-${i}` });
      expect(r.status?.phase).toBe('Failed');
    }
    await createRemediation(ns, 'loop-4', { runbookRef: { name: 'loop' }, alert: alertFor('ghost') });
    const blocked = await reconcileUntilStable(h, { namespace: ns, name: 'loop-4' });
    expect(blocked.status?.phase).toBe('Blocked');
    expect(findCondition(blocked.status?.conditions, CONDITION_TYPES.blocked)).toMatchObject({
      status: 'True',
      reason: REASONS.loopProtection,
    });
    expect(blocked.status?.steps?.every((s) => s.phase === 'Pending' && !s.startedAt)).toBe(true);

    await runbooks(testClients()).patch(ns, 'loop', {
      metadata: { annotations: { [ANNOTATIONS.clearBlock]: `Deployment/${ns}/ghost` } },
    });
    await reconcileRunbook(h, { namespace: ns, name: 'loop' });
    const stamped = (await runbooks(testClients()).get(ns, 'loop')).metadata.annotations?.[
      ANNOTATIONS.clearBlock
    ];
    expect(stamped).toMatch(new RegExp(`^Deployment/${ns}/ghost@\\d{4}-`));
    await createRemediation(ns, 'loop-5', { runbookRef: { name: 'loop' }, alert: alertFor('ghost') });
    expect((await reconcileUntilStable(h, { namespace: ns, name: 'loop-5' })).status?.phase).toBe('Failed');
  });

  it('a step stuck past its timeout fails with the stuck reason', async () => {
    kubelet.setFault(ns, 'stuck-', 'neverReady');
    await createDeployment(ns, 'stuck', { replicas: 1 });
    await runbook('stuck', {
      steps: [{ name: 'wait', action: 'waitForRollout', waitForRollout: {}, timeout: '3s' }],
    });
    const h = harness();
    await createRemediation(ns, 'stuck-1', { runbookRef: { name: 'stuck' }, alert: alertFor('stuck') });
    const rem = await reconcileUntilStable(h, { namespace: ns, name: 'stuck-1' });
    expect(rem.status?.phase).toBe('Failed');
    const msg = rem.status?.steps?.[0]?.message ?? '';
    // the last progress message says where it was stuck (pods not ready)
    expect(msg).toMatch(/timed out after 3s: .+/);
    expect(findCondition(rem.status?.conditions, CONDITION_TYPES.succeeded)?.message).toContain(
      'timed out after 3s',
    );
  });

  it('after the change, while only the wait is left, the phase is Verifying', async () => {
    kubelet.setFault(ns, 'verify-', 'neverReady');
    await createDeployment(ns, 'verify', { replicas: 1 });
    await runbook('verify', { steps: [restart, { ...wait, timeout: '60s' }] });
    const h = harness();
    await createRemediation(ns, 'verify-1', { runbookRef: { name: 'verify' }, alert: alertFor('verify') });
    const req = { namespace: ns, name: 'verify-1' };
    // start, restart: the change is made, only the wait is left (checkpointed with the restart's
    // outcome, ADR 0026)
    await reconcileOnce(h, req);
    const changed = await remediations(testClients()).get(ns, 'verify-1');
    expect(changed.status?.steps?.map((r) => r.phase)).toEqual(['Succeeded', 'Running']);
    expect(changed.status?.phase).toBe('Verifying');
    await reconcileOnce(h, req); // the wait starts and finds the new pod not ready
    const waiting = await remediations(testClients()).get(ns, 'verify-1');
    expect(waiting.status?.steps?.map((r) => r.phase)).toEqual(['Succeeded', 'Running']);
    expect(waiting.status?.phase).toBe('Verifying');
  });

  it('a status conflict (409) is retried by re-reading', async () => {
    await runbook('conflict', { steps: [{ name: 'scale-up', action: 'scale', scale: { replicas: 3 } }] });
    await createRemediation(ns, 'conflict-1', {
      runbookRef: { name: 'conflict' },
      alert: alertFor('conflict'),
    });
    const real = testClients();
    let conflicts = 0;
    let armed = 0;
    // Before each of the first writes, someone else changes the Remediation: a real 409.
    const custom = new Proxy(real.custom, {
      get(t, prop, recv) {
        const v = Reflect.get(t, prop, recv) as unknown;
        if (prop !== 'patchNamespacedCustomObjectStatus' || typeof v !== 'function')
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
        return async (...args: unknown[]) => {
          if (armed < 2) {
            armed++;
            await remediations(real).patch(ns, 'conflict-1', {
              metadata: { annotations: { touched: String(armed) } },
            });
          }
          try {
            return await (v as (...a: unknown[]) => Promise<unknown>).apply(t, args);
          } catch (err) {
            if ((err as { code?: number }).code === 409) conflicts++;
            throw err;
          }
        };
      },
    });
    const h = harness({ clients: { ...real, custom } });
    const rem = await reconcileUntilStable(h, { namespace: ns, name: 'conflict-1' });
    expect(conflicts).toBeGreaterThanOrEqual(2);
    expect(rem.status?.phase).toBe('Succeeded');
    expect((await dep('conflict')).spec?.replicas).toBe(3);
  });

  describe('crash between passes', () => {
    it('after the checkpoint: a fresh reconciler restarts exactly once', async () => {
      await runbook('crash', { steps: [restart, wait] });
      const rs0 = await replicaSetCount(ns, 'crash');
      await createRemediation(ns, 'crash-1', { runbookRef: { name: 'crash' }, alert: alertFor('crash') });
      // A process that dies after the checkpoint was written, before apply() sent anything.
      const diesBeforeApply: Action = {
        ...ACTIONS_REGISTRY.rolloutRestart,
        apply: () => Promise.reject(new Error('process killed')),
      };
      const first = harness({ actions: { ...ACTIONS_REGISTRY, rolloutRestart: diesBeforeApply } });
      await expect(reconcileOnce(first, { namespace: ns, name: 'crash-1' })).rejects.toThrow(
        'process killed',
      ); // start + plan + checkpoint, then the crash
      const cp = await remediations(testClients()).get(ns, 'crash-1');
      expect(cp.status?.steps?.[0]).toMatchObject({ phase: 'Running', attempt: 1 });
      expect(await replicaSetCount(ns, 'crash')).toBe(rs0);
      // the process dies here; a new one (new reconciler, new caches) takes over
      const second = harness();
      const rem = await reconcileUntilStable(second, { namespace: ns, name: 'crash-1' });
      expect(rem.status?.phase).toBe('Succeeded');
      expect(await replicaSetCount(ns, 'crash')).toBe(rs0 + 1);
    });

    it('after a checkpoint written with the previous outcome: the next step runs exactly once', async () => {
      await createDeployment(ns, 'crash3', { replicas: 1 });
      await waitDeploymentReady(ns, 'crash3');
      await runbook('crash3', {
        steps: [{ name: 'scale-up', action: 'scale', scale: { replicas: 2 } }, restart, wait],
      });
      const rs0 = await replicaSetCount(ns, 'crash3');
      await createRemediation(ns, 'crash3-1', { runbookRef: { name: 'crash3' }, alert: alertFor('crash3') });
      const diesBeforeApply: Action = {
        ...ACTIONS_REGISTRY.rolloutRestart,
        apply: () => Promise.reject(new Error('process killed')),
      };
      const first = harness({ actions: { ...ACTIONS_REGISTRY, rolloutRestart: diesBeforeApply } });
      // One pass: start, the scale's checkpoint and change, then its outcome written together
      // with the restart's plan and checkpoint (ADR 0026); the restart waits for the next pass.
      await reconcileOnce(first, { namespace: ns, name: 'crash3-1' });
      const cp = await remediations(testClients()).get(ns, 'crash3-1');
      expect(cp.status?.steps?.map((r) => r.phase)).toEqual(['Succeeded', 'Running', 'Pending']);
      expect(cp.status?.steps?.[1]).toMatchObject({ attempt: 1, before: expect.anything() });
      expect(await replicaSetCount(ns, 'crash3')).toBe(rs0);
      // The process dies before the restart's apply; a new one (new reconciler, new caches) goes on.
      await expect(reconcileOnce(first, { namespace: ns, name: 'crash3-1' })).rejects.toThrow(
        'process killed',
      );
      const second = harness();
      const rem = await reconcileUntilStable(second, { namespace: ns, name: 'crash3-1' });
      expect(rem.status?.phase).toBe('Succeeded');
      expect(rem.status?.steps?.map((r) => r.attempt)).toEqual([1, 1, 1]);
      expect(await replicaSetCount(ns, 'crash3')).toBe(rs0 + 1);
      expect((await dep('crash3')).spec?.replicas).toBe(2);
    });

    it('after apply, before the record: the restart is recognised, not repeated', async () => {
      await runbook('crash2', { steps: [restart, wait] });
      const rs0 = await replicaSetCount(ns, 'crash2');
      await createRemediation(ns, 'crash2-1', { runbookRef: { name: 'crash2' }, alert: alertFor('crash2') });
      // An action that dies right after its side effect, before the outcome is recorded.
      const dying: Action = {
        ...ACTIONS_REGISTRY.rolloutRestart,
        apply: async (ctx, rec) => {
          await ACTIONS_REGISTRY.rolloutRestart.apply(ctx, rec);
          throw new Error('process killed');
        },
      };
      const first = harness({ actions: { ...ACTIONS_REGISTRY, rolloutRestart: dying } });
      // checkpoint, apply, then the crash before the outcome is recorded
      await expect(reconcileOnce(first, { namespace: ns, name: 'crash2-1' })).rejects.toThrow(
        'process killed',
      );
      const cp = await remediations(testClients()).get(ns, 'crash2-1');
      expect(cp.status?.steps?.[0]).toMatchObject({ phase: 'Running', attempt: 1 });
      const second = harness();
      const rem = await reconcileUntilStable(second, { namespace: ns, name: 'crash2-1' });
      expect(rem.status?.phase).toBe('Succeeded');
      expect(rem.status?.steps?.[0]?.attempt).toBe(1);
      expect(await replicaSetCount(ns, 'crash2')).toBe(rs0 + 1);
    });
  });
});
