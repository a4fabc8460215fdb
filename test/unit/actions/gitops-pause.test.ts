import { describe, expect, it } from '@jest/globals';
import { PAUSE_ANNOTATIONS, pauseSwitch, planPause } from '../../../src/actions/kubernetes/gitops-pause.js';
import type { KubeObject } from '../../../src/kube/raw-object.js';

const app = (
  automated: Record<string, unknown> | undefined,
  annotations?: Record<string, string>,
): KubeObject => ({
  apiVersion: 'argoproj.io/v1alpha1',
  kind: 'Application',
  metadata: { name: 'shop', namespace: 'argocd', ...(annotations ? { annotations } : {}) },
  spec: { syncPolicy: automated ? { automated } : {} },
});
const ks = (suspend?: boolean): KubeObject => ({
  apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
  kind: 'Kustomization',
  metadata: { name: 'apps', namespace: 'flux-system' },
  spec: { interval: '10m', ...(suspend === undefined ? {} : { suspend }) },
});

describe('pauseSwitch', () => {
  it.each([
    ['an Application with automated sync', app({ selfHeal: true }), '/spec/syncPolicy/automated/selfHeal'],
    ['an Application without automated sync', app(undefined), undefined],
    [
      'an Application with automated sync turned off (3.x enabled: false)',
      app({ enabled: false, selfHeal: true }),
      undefined,
    ],
    ['a Kustomization', ks(), '/spec/suspend'],
  ])('%s', (_n, obj, path) => {
    const sw = pauseSwitch(obj);
    expect('path' in sw ? sw.path : undefined).toBe(path);
  });
});

describe('planPause', () => {
  it('first holder: the exact prior value, present', () => {
    expect(planPause(app({ prune: true, selfHeal: true }), 'u1')).toEqual({
      before: { path: '/spec/syncPolicy/automated/selfHeal', prior: { value: true }, holders: [] },
      after: { path: '/spec/syncPolicy/automated/selfHeal', value: false, holders: ['u1'] },
    });
  });
  it('first holder: a prior value that was not set is recorded as absent', () => {
    expect(planPause(ks(), 'u1').before).toEqual({
      path: '/spec/suspend',
      prior: { absent: true },
      holders: [],
    });
  });
  it('a second holder records the first one’s prior value, not the paused one', () => {
    const held = app(
      { selfHeal: false },
      {
        [PAUSE_ANNOTATIONS.holders]: 'u1',
        [PAUSE_ANNOTATIONS.prior]: JSON.stringify({
          path: '/spec/syncPolicy/automated/selfHeal',
          prior: { value: true },
        }),
      },
    );
    expect(planPause(held, 'u2')).toEqual({
      before: { path: '/spec/syncPolicy/automated/selfHeal', prior: { value: true }, holders: ['u1'] },
      after: { path: '/spec/syncPolicy/automated/selfHeal', value: false, holders: ['u1', 'u2'] },
    });
  });
  it('nothing to pause: empty before and after', () => {
    expect(planPause(app(undefined), 'u1')).toEqual({ before: {}, after: {} });
  });
});
