import { describe, expect, test } from '@jest/globals';
import { choosePods } from '../../../src/actions/kubernetes/delete-pod.js';
import { planScale, revertScale } from '../../../src/actions/kubernetes/scale.js';
import {
  alreadyRestarted,
  planRestart,
  restartPatch,
} from '../../../src/actions/kubernetes/rollout-restart.js';
import { planPatch, withStamp } from '../../../src/actions/kubernetes/patch.js';

const pod = (name: string, terminating = false) => ({
  metadata: {
    name,
    uid: `uid-${name}`,
    ...(terminating ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}),
  },
});

describe('choosePods', () => {
  const pods = [pod('a'), pod('b'), pod('c', true)];
  test.each([
    ['by selector within max', { labelSelector: 'app=x', maxCount: 2 }, ['a', 'b']],
    ['by names', { names: ['b', 'zz'], maxCount: 1 }, ['b']],
    ['terminating pods are not counted', { labelSelector: 'app=x', maxCount: 2 }, ['a', 'b']],
    ['none match', { names: ['zz'], maxCount: 1 }, []],
  ])('%s', (_name, params, names) => {
    const plan = choosePods(pods, params, 'ns');
    expect(plan.after).toEqual({ pods: names });
    expect(plan.before).toEqual({ pods: names.map((n) => ({ name: n, uid: `uid-${n}` })) });
  });
  test('more than maxCount is refused', () => {
    expect(choosePods(pods, { labelSelector: 'app=x', maxCount: 1 }, 'ns').refused).toEqual({
      code: 'KR_ERR_ACTION_REFUSED',
      reason: 'TooManyPods',
      message: '2 pods in ns match selector "app=x", more than deletePod.maxCount 1',
    });
  });
});

describe('planScale', () => {
  test.each([
    [3, 0, { minReplicas: 0 }, undefined],
    [3, 0, { minReplicas: 1 }, 'scale.replicas 0 is below the bound minReplicas 1'],
    [3, 20, { maxReplicas: 10 }, 'scale.replicas 20 is above the bound maxReplicas 10'],
    [3, 5, undefined, undefined],
  ])('%i → %i with %p', (prior, replicas, bounds, refusal) => {
    const plan = planScale(prior, replicas, bounds);
    expect(plan.refused?.message).toBe(refusal);
    if (!refusal) expect(plan).toEqual({ before: { replicas: prior }, after: { replicas } });
    else expect(plan.refused?.reason).toBe('BoundExceeded');
  });
});

describe('revertScale: compare-and-swap', () => {
  test.each([
    [0, 3, 0, 'restore'],
    [3, 3, 0, 'done'],
    [3, 3, 3, 'done'],
    [5, 3, 0, { changed: 'replicas changed since the step (now 5, step set 0); not reverted' }],
    [
      5,
      3,
      undefined,
      { changed: 'replicas changed since the step (now 5, step set nothing recorded); not reverted' },
    ],
  ] as const)('now %i, before %i, after %p', (now, before, after, want) => {
    expect(revertScale(now, before, after)).toEqual(want);
  });
});

describe('rolloutRestart', () => {
  const now = new Date('2026-02-03T04:05:06.789Z');
  test('records the prior restartedAt and plans the new one', () => {
    const obj = {
      kind: 'Deployment',
      spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': 'old' } } } },
    };
    expect(planRestart(obj, now)).toEqual({
      before: { restartedAt: 'old' },
      after: { restartedAt: '2026-02-03T04:05:06Z' },
    });
  });
  test('paused Deployment is refused with a clear reason', () => {
    const plan = planRestart({ kind: 'Deployment', metadata: { name: 'web' }, spec: { paused: true } }, now);
    expect(plan.refused).toMatchObject({
      reason: 'Paused',
      message: expect.stringMatching(/web is paused: resume it/),
    });
  });
  test('patch is the kubectl annotation plus the stamp, in the template', () => {
    const body = restartPatch('t', 'u/0/1');
    expect(body).toEqual({
      spec: {
        template: {
          metadata: {
            annotations: {
              'kubectl.kubernetes.io/restartedAt': 't',
              'kube-remediator.io/last-action': 'u/0/1',
            },
          },
        },
      },
    });
    expect(alreadyRestarted(body, 'u/0/1')).toBe(true);
    expect(alreadyRestarted(body, 'u/0/2')).toBe(false);
  });
});

describe('planPatch', () => {
  const obj = {
    metadata: { name: 'web' },
    spec: {
      replicas: 2,
      template: { spec: { containers: [{ name: 'app', resources: { limits: { memory: '1Gi' } } }] } },
    },
  };
  test('records before and after of the touched paths', () => {
    expect(planPatch(obj, 'merge', { spec: { replicas: 3, paused: true } }, undefined)).toEqual({
      before: { type: 'merge', paths: { '/spec/replicas': { value: 2 }, '/spec/paused': { absent: true } } },
      after: { paths: { '/spec/replicas': { value: 3 }, '/spec/paused': { value: true } } },
    });
  });
  test('a bound refuses with BoundExceeded naming bound and value', () => {
    const plan = planPatch(
      obj,
      'strategic',
      {
        spec: {
          template: { spec: { containers: [{ name: 'app', resources: { limits: { memory: '4Gi' } } }] } },
        },
      },
      { maxMemory: '2Gi' },
    );
    expect(plan.refused).toEqual({
      code: 'KR_ERR_BOUND_EXCEEDED',
      reason: 'BoundExceeded',
      message:
        'patch refused: /spec/template/spec/containers/0/resources/limits/memory 4Gi is above the bound maxMemory 2Gi',
    });
  });
  test('a JSON patch that cannot apply is refused before sending', () => {
    expect(
      planPatch(obj, 'json', [{ op: 'test', path: '/spec/replicas', value: 5 }], undefined).refused?.reason,
    ).toBe('PatchDoesNotApply');
  });
  test.each([
    [
      'json with annotations',
      'json',
      [],
      { metadata: { annotations: { x: '1' } } },
      [{ op: 'add', path: '/metadata/annotations/kube-remediator.io~1last-action', value: 's' }],
    ],
    [
      'json without annotations',
      'json',
      [],
      {},
      [{ op: 'add', path: '/metadata/annotations', value: { 'kube-remediator.io/last-action': 's' } }],
    ],
    [
      'merge keeps user metadata',
      'merge',
      { metadata: { labels: { a: 'b' } } },
      {},
      { metadata: { labels: { a: 'b' }, annotations: { 'kube-remediator.io/last-action': 's' } } },
    ],
  ] as const)('withStamp: %s', (_name, type, body, current, want) => {
    expect(withStamp(type, body, current, 's')).toEqual(want);
  });
});
