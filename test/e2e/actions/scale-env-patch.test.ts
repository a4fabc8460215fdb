/** scale, setEnv and patch against the real control plane, each with revert and dry run. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type * as k8s from '@kubernetes/client-node';
import {
  createDeployment,
  createNamespace,
  createStatefulSet,
  deleteNamespace,
  settled,
  testClients,
} from '../../support/kube.js';
import { PATCH } from '../../../src/kube/client.js';
import { scale } from '../../../src/actions/kubernetes/scale.js';
import { setEnv } from '../../../src/actions/kubernetes/set-env.js';
import { actionCtx, revertStep, runStep, type CtxOptions } from './helpers.js';

describe('scale, setEnv, patch', () => {
  let ns: string;
  const apps = () => testClients().apps;
  const core = () => testClients().core;
  const deployment = (name: string) => apps().readNamespacedDeployment({ name, namespace: ns });
  const statefulSet = (name: string) => apps().readNamespacedStatefulSet({ name, namespace: ns });
  const ctx = (o: Omit<CtxOptions, 'namespace'>) => actionCtx({ namespace: ns, ...o });

  beforeAll(async () => {
    ns = await createNamespace('act-mutate');
    const env: k8s.V1EnvVar[] = [
      { name: 'MODE', value: 'normal' },
      { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } } },
      { name: 'LAST', value: 'x' },
    ];
    await Promise.all([
      createDeployment(ns, 'web', { replicas: 2, env }),
      createStatefulSet(ns, 'db', { replicas: 2, env }),
      createDeployment(ns, 'api', { replicas: 1 }),
      core().createNamespacedConfigMap({
        namespace: ns,
        body: { metadata: { name: 'cfg' }, data: { a: '1' } },
      }),
    ]);
  });
  afterAll(async () => {
    await deleteNamespace(ns);
  });

  describe('scale', () => {
    it.each([
      ['Deployment', 'web', 0],
      ['StatefulSet', 'db', 3],
    ])('%s %s to %i and back to the recorded count', async (kind, name, replicas) => {
      const read = () => (kind === 'Deployment' ? deployment(name) : statefulSet(name));
      const c = ctx({
        step: { action: 'scale', scale: { replicas } },
        target: { kind, name },
        bounds: { minReplicas: 0, maxReplicas: 5 },
      });
      const run = await runStep(c);
      expect(run.plan).toEqual({ before: { replicas: 2 }, after: { replicas } });
      expect(run.outcome).toMatchObject({ kind: 'done', before: { replicas: 2 }, after: { replicas } });
      expect((await read()).spec?.replicas).toBe(replicas);
      // idempotent by nature
      expect((await runStep(c)).outcome?.kind).toBe('done');
      const back = await revertStep(c, run.record);
      expect(back).toMatchObject({ kind: 'done', after: { replicas: 2 } });
      expect((await read()).spec?.replicas).toBe(2);
    });

    it('revert refuses when the count changed since the step, and is done when already back', async () => {
      const c = ctx({
        step: { action: 'scale', scale: { replicas: 3 } },
        target: { kind: 'Deployment', name: 'api' },
      });
      const run = await runStep(c);
      expect(run.outcome).toMatchObject({ kind: 'done', before: { replicas: 1 }, after: { replicas: 3 } });
      // An HPA or a person scales it after the step.
      await apps().patchNamespacedDeploymentScale(
        { name: 'api', namespace: ns, body: { spec: { replicas: 4 } } },
        PATCH.merge,
      );
      // Changed since: the check leaves the refusal to revert() (ADR 0028).
      expect(await scale.checkRevert!(c, run.record)).toBeUndefined();
      expect(await revertStep(c, run.record)).toEqual({
        kind: 'failed',
        retryable: false,
        reason: 'ChangedSince',
        code: 'KR_ERR_ACTION_REFUSED',
        message: `Deployment/${ns}/api: replicas changed since the step (now 4, step set 3); not reverted`,
      });
      expect((await deployment('api')).spec?.replicas).toBe(4);
      // Back at the recorded count (by hand, or a revert that crashed after its write): done.
      await apps().patchNamespacedDeploymentScale(
        { name: 'api', namespace: ns, body: { spec: { replicas: 1 } } },
        PATCH.merge,
      );
      expect(await scale.checkRevert!(c, run.record)).toBe(`Deployment/${ns}/api already has 1 replicas`);
      expect(await revertStep(c, run.record)).toMatchObject({ kind: 'done', after: { replicas: 1 } });
      expect((await deployment('api')).spec?.replicas).toBe(1);
    });

    it('refuses a count outside the bounds, naming the bound', async () => {
      const run = await runStep(
        ctx({
          step: { action: 'scale', scale: { replicas: 9 } },
          target: { kind: 'Deployment', name: 'web' },
          bounds: { maxReplicas: 5 },
        }),
      );
      expect(run.plan.refused).toEqual({
        code: 'KR_ERR_BOUND_EXCEEDED',
        reason: 'BoundExceeded',
        message: 'scale.replicas 9 is above the bound maxReplicas 5',
      });
      expect(run.outcome).toBeUndefined();
    });

    it('dry run changes nothing and records the diff', async () => {
      const rv = (await settled(() => deployment('api'), 'api')).metadata?.resourceVersion;
      const run = await runStep(
        ctx({
          step: { action: 'scale', scale: { replicas: 4 } },
          target: { kind: 'Deployment', name: 'api' },
          dryRun: true,
        }),
      );
      expect(run.outcome).toMatchObject({
        kind: 'done',
        diff: { before: { replicas: 1 }, after: { replicas: 4 } },
      });
      const d = await deployment('api');
      expect(d.spec?.replicas).toBe(1);
      expect(d.metadata?.resourceVersion).toBe(rv);
    });
  });

  describe('setEnv', () => {
    it.each([
      ['Deployment', 'web'],
      ['StatefulSet', 'db'],
    ])('on a %s: set, replace valueFrom, add, unset; revert restores exactly', async (kind, name) => {
      const read = async () => (kind === 'Deployment' ? deployment(name) : statefulSet(name));
      const original = (await read()).spec!.template.spec!.containers[0]!.env;
      const step = {
        action: 'setEnv' as const,
        setEnv: {
          env: [
            { name: 'MODE', value: 'degraded' },
            { name: 'TOKEN', value: 'plain' },
            { name: 'NEW', value: 'n' },
            { name: 'LAST', unset: true },
          ],
        },
      };
      const c = ctx({ step, target: { kind, name } });
      const run = await runStep(c);
      expect(run.plan.before).toEqual({
        containers: {
          main: {
            MODE: { value: 'normal', index: 0 },
            TOKEN: { valueFrom: { secretKeyRef: { name: 'creds', key: 'token' } }, index: 1 },
            NEW: { absent: true },
            LAST: { value: 'x', index: 2 },
          },
        },
      });
      expect(run.outcome?.kind).toBe('done');
      expect((await read()).spec!.template.spec!.containers[0]!.env).toEqual([
        { name: 'MODE', value: 'degraded' },
        { name: 'TOKEN', value: 'plain' },
        { name: 'NEW', value: 'n' },
      ]);
      const generation = (await read()).metadata?.generation;
      expect((await runStep(c)).outcome?.message).toMatch(/env already set/);
      expect((await read()).metadata?.generation).toBe(generation);

      // Before the revert's checkpoint: it has something to send (ADR 0028) ...
      expect(await setEnv.checkRevert!(ctx({ step, target: { kind, name } }), run.record)).toBeUndefined();
      expect((await revertStep(c, run.record)).kind).toBe('done');
      expect((await read()).spec!.template.spec!.containers[0]!.env).toEqual(original);
      // ... and once `before` is in place, nothing: the revert is recorded without a checkpoint.
      expect(await setEnv.checkRevert!(ctx({ step, target: { kind, name } }), run.record)).toBe(
        `${kind}/${ns}/${name}: env already restored`,
      );
    });

    it('revert refuses when the env changed by hand since the step, and leaves the hand change', async () => {
      const c = ctx({
        step: { action: 'setEnv', setEnv: { env: [{ name: 'DEDUP_BACKEND', value: 'memory' }] } },
        target: { kind: 'Deployment', name: 'api' },
      });
      const run = await runStep(c);
      expect(run.outcome?.kind).toBe('done');
      const d = await deployment('api');
      const env = d.spec!.template.spec!.containers[0]!.env!;
      const i = env.findIndex((e) => e.name === 'DEDUP_BACKEND');
      await apps().patchNamespacedDeployment(
        {
          name: 'api',
          namespace: ns,
          body: [
            {
              op: 'replace',
              path: `/spec/template/spec/containers/0/env/${i}/value`,
              value: 'postgres',
            },
          ],
        },
        PATCH.json,
      );
      // Changed since: the check leaves the refusal to revert() (it has something to say).
      expect(await setEnv.checkRevert!(c, run.record)).toBeUndefined();
      expect(await revertStep(c, run.record)).toEqual({
        kind: 'failed',
        retryable: false,
        reason: 'ChangedSince',
        code: 'KR_ERR_ACTION_REFUSED',
        message: `Deployment/${ns}/api: env DEDUP_BACKEND of container main changed since the step (now "postgres", step set "memory"); not reverted`,
      });
      const after = (await deployment('api')).spec!.template.spec!.containers[0]!.env!;
      expect(after.find((e) => e.name === 'DEDUP_BACKEND')).toEqual({
        name: 'DEDUP_BACKEND',
        value: 'postgres',
      });

      // A second step that found the value already set records before = after: its revert changes nothing.
      const hand = ctx({
        step: { action: 'setEnv', setEnv: { env: [{ name: 'DEDUP_BACKEND', value: 'postgres' }] } },
        target: { kind: 'Deployment', name: 'api' },
      });
      const second = await runStep(hand);
      expect((await revertStep(hand, second.record)).message).toMatch(/env already restored/);
      expect((await deployment('api')).spec!.template.spec!.containers[0]!.env).toEqual(after);
    });

    it('refuses an unknown container', async () => {
      const run = await runStep(
        ctx({
          step: { action: 'setEnv', setEnv: { containers: ['nope'], env: [{ name: 'A', value: '1' }] } },
          target: { kind: 'Deployment', name: 'api' },
        }),
      );
      expect(run.plan.refused?.message).toMatch(
        /^setEnv.containers: container\(s\) nope not in the pod template \(has main\)/,
      );
    });

    it('dry run changes nothing and records the diff', async () => {
      const rv = (await settled(() => deployment('api'), 'api')).metadata?.resourceVersion;
      const run = await runStep(
        ctx({
          step: { action: 'setEnv', setEnv: { env: [{ name: 'A', value: '1' }] } },
          target: { kind: 'Deployment', name: 'api' },
          dryRun: true,
        }),
      );
      expect(run.outcome).toMatchObject({
        kind: 'done',
        diff: {
          before: { containers: { main: { A: { absent: true } } } },
          after: { containers: { main: { A: { value: '1' } } } },
        },
      });
      expect((await deployment('api')).metadata?.resourceVersion).toBe(rv);
    });
  });

  describe('patch', () => {
    const C0 = '/spec/template/spec/containers/0';
    const bounds = {
      maxMemory: '1Gi',
      maxCpu: '2',
      allowedPatchPaths: ['/spec/template/spec/containers', '/data'],
    };

    it('strategic patch within bounds, then revert', async () => {
      const before = (await deployment('api')).spec!.template.spec!.containers[0]!.resources;
      const c = ctx({
        step: {
          action: 'patch',
          patch: {
            type: 'strategic',
            patch: {
              spec: {
                template: {
                  spec: { containers: [{ name: 'main', resources: { limits: { memory: '1Gi' } } }] },
                },
              },
            },
          },
        },
        target: { kind: 'Deployment', name: 'api' },
        bounds,
      });
      const run = await runStep(c);
      expect(run.plan.before).toEqual({
        type: 'strategic',
        paths: { [`${C0}/resources/limits/memory`]: { value: '256Mi' } },
      });
      expect(run.outcome).toMatchObject({
        kind: 'done',
        after: { paths: { [`${C0}/resources/limits/memory`]: { value: '1Gi' } } },
      });
      expect((await deployment('api')).spec!.template.spec!.containers[0]!.resources?.limits?.memory).toBe(
        '1Gi',
      );
      expect((await revertStep(c, run.record)).kind).toBe('done');
      expect((await deployment('api')).spec!.template.spec!.containers[0]!.resources).toEqual(before);
    });

    it('revert refuses when a patched path changed since the step', async () => {
      const c = ctx({
        step: { action: 'patch', patch: { type: 'merge', patch: { data: { c: 'step' } } } },
        target: { kind: 'ConfigMap', name: 'cfg', apiVersion: 'v1' },
        stamp: 'cas/0/1',
      });
      const run = await runStep(c);
      expect(run.outcome?.kind).toBe('done');
      await core().patchNamespacedConfigMap(
        { name: 'cfg', namespace: ns, body: { data: { c: 'hand' } } },
        PATCH.merge,
      );
      expect(await revertStep(c, run.record)).toMatchObject({
        kind: 'failed',
        reason: 'ChangedSince',
        code: 'KR_ERR_ACTION_REFUSED',
        message: `ConfigMap/${ns}/cfg: /data/c changed since the step (now "hand", step set "step"); not reverted`,
      });
      expect((await core().readNamespacedConfigMap({ name: 'cfg', namespace: ns })).data?.c).toBe('hand');
      await core().patchNamespacedConfigMap(
        { name: 'cfg', namespace: ns, body: { data: { c: null } } },
        PATCH.merge,
      );
      expect((await revertStep(c, run.record)).message).toMatch(/already has the prior values/);
    });

    it('a patch over a bound is refused before anything is sent', async () => {
      // generation, not resourceVersion: the controllers may still write status from the test before.
      const generation = (await deployment('api')).metadata?.generation;
      const run = await runStep(
        ctx({
          step: {
            action: 'patch',
            patch: {
              type: 'json',
              patch: [{ op: 'replace', path: `${C0}/resources/limits/memory`, value: '4Gi' }],
            },
          },
          target: { kind: 'Deployment', name: 'api' },
          bounds,
        }),
      );
      expect(run.plan.refused).toEqual({
        code: 'KR_ERR_BOUND_EXCEEDED',
        reason: 'BoundExceeded',
        message: `patch refused: ${C0}/resources/limits/memory 4Gi is above the bound maxMemory 1Gi`,
      });
      const outside = await runStep(
        ctx({
          step: { action: 'patch', patch: { type: 'merge', patch: { spec: { replicas: 3 } } } },
          target: { kind: 'Deployment', name: 'api' },
          bounds,
        }),
      );
      expect(outside.plan.refused?.message).toBe(
        'patch refused: /spec/replicas is outside the bound allowedPatchPaths [/spec/template/spec/containers, /data]',
      );
      const d = await deployment('api');
      expect(d.metadata?.generation).toBe(generation);
      expect(d.spec?.template.spec?.containers[0]?.resources?.limits?.memory).toBe('256Mi');
    });

    it('JSON patch that appends is applied once per stamp, and reverted', async () => {
      const original = (await statefulSet('db')).spec!.template.spec!.containers[0]!.env;
      const c = ctx({
        step: {
          action: 'patch',
          patch: {
            type: 'json',
            patch: [{ op: 'add', path: `${C0}/env/-`, value: { name: 'APPENDED', value: '1' } }],
          },
        },
        target: { kind: 'StatefulSet', name: 'db' },
        stamp: 'json/0/1',
      });
      const run = await runStep(c);
      expect(Object.keys(run.plan.before!.paths as object)).toEqual([`${C0}/env`]);
      expect(run.outcome?.kind).toBe('done');
      expect((await runStep(c)).outcome?.message).toMatch(/already patched/);
      const env = (await statefulSet('db')).spec!.template.spec!.containers[0]!.env!;
      expect(env.filter((e) => e.name === 'APPENDED')).toHaveLength(1);
      expect((await revertStep(c, run.record)).kind).toBe('done');
      expect((await statefulSet('db')).spec!.template.spec!.containers[0]!.env).toEqual(original);
    });

    it('merge patch on a ConfigMap: add and delete keys, revert restores both', async () => {
      const c = ctx({
        step: { action: 'patch', patch: { type: 'merge', patch: { data: { a: null, b: '2' } } } },
        target: { kind: 'ConfigMap', name: 'cfg', apiVersion: 'v1' },
        bounds,
        stamp: 'merge/0/1',
      });
      const run = await runStep(c);
      expect(run.plan.before!.paths).toEqual({ '/data/a': { value: '1' }, '/data/b': { absent: true } });
      expect(run.outcome?.kind).toBe('done');
      expect((await core().readNamespacedConfigMap({ name: 'cfg', namespace: ns })).data).toEqual({ b: '2' });
      expect((await revertStep(c, run.record)).kind).toBe('done');
      expect((await core().readNamespacedConfigMap({ name: 'cfg', namespace: ns })).data).toEqual({ a: '1' });
    });

    it('dry run changes nothing and records the server-computed diff', async () => {
      const rv = (await core().readNamespacedConfigMap({ name: 'cfg', namespace: ns })).metadata
        ?.resourceVersion;
      const run = await runStep(
        ctx({
          step: { action: 'patch', patch: { type: 'merge', patch: { data: { a: '9' } } } },
          target: { kind: 'ConfigMap', name: 'cfg', apiVersion: 'v1' },
          dryRun: true,
          stamp: 'dry/0/1',
        }),
      );
      expect(run.outcome).toMatchObject({
        kind: 'done',
        diff: { before: { '/data/a': { value: '1' } }, after: { '/data/a': { value: '9' } } },
      });
      expect(
        (await core().readNamespacedConfigMap({ name: 'cfg', namespace: ns })).metadata?.resourceVersion,
      ).toBe(rv);
    });

    it('a missing target fails plan with NotFound', async () => {
      const run = await runStep(
        ctx({
          step: { action: 'patch', patch: { type: 'merge', patch: { data: { a: '1' } } } },
          target: { kind: 'ConfigMap', name: 'ghost', apiVersion: 'v1' },
        }),
      );
      expect(run.plan.refused).toMatchObject({ code: 'KR_ERR_NOT_FOUND' });
    });
  });
});
