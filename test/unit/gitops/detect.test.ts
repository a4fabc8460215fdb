import { describe, expect, it } from '@jest/globals';
import {
  detectOwner,
  parseTrackingId,
  type DetectOptions,
  type TargetMeta,
} from '../../../src/gitops/detect.js';
import { comparable, gitopsWouldRevert } from '../../../src/gitops/policy.js';
import type { RunbookSpec } from '../../../src/api/v1alpha1/schema.js';
import { validateRunbook } from '../../../src/runbook/validate.js';
import { aRunbook, aStep } from '../controller/remediation/builders.js';

const deployment = (
  name: string,
  namespace: string,
  meta: { labels?: Record<string, string>; annotations?: Record<string, string> },
): TargetMeta => ({ apiVersion: 'apps/v1', kind: 'Deployment', name, namespace, ...meta });

// Label and annotation sets as the tools write them on the objects they deploy.
const HELM_LABELS = {
  'app.kubernetes.io/managed-by': 'Helm',
  'app.kubernetes.io/instance': 'my-redis',
  'app.kubernetes.io/name': 'redis',
  'helm.sh/chart': 'redis-18.6.1',
};
const HELM_ANNOTATIONS = {
  'meta.helm.sh/release-name': 'my-redis',
  'meta.helm.sh/release-namespace': 'cache',
};

const LABEL_MODE: DetectOptions = {
  argoNamespace: 'argocd',
  argoTrackingLabel: 'app.kubernetes.io/instance',
};
const DEFAULTS: DetectOptions = { argoNamespace: 'argocd', argoTrackingLabel: '' };

describe('detectOwner', () => {
  const rows: [string, TargetMeta, DetectOptions, ReturnType<typeof detectOwner>][] = [
    [
      'Argo CD 3.x annotation tracking',
      deployment('guestbook-ui', 'default', {
        annotations: { 'argocd.argoproj.io/tracking-id': 'guestbook:apps/Deployment:default/guestbook-ui' },
      }),
      DEFAULTS,
      {
        controller: 'ArgoCD',
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        namespace: 'argocd',
        name: 'guestbook',
        via: 'annotation argocd.argoproj.io/tracking-id',
      },
    ],
    [
      'Argo CD apps in any namespace: <namespace>_<name>',
      deployment('web', 'shop', {
        annotations: { 'argocd.argoproj.io/tracking-id': 'team-a_web:apps/Deployment:shop/web' },
      }),
      DEFAULTS,
      {
        controller: 'ArgoCD',
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        namespace: 'team-a',
        name: 'web',
        via: 'annotation argocd.argoproj.io/tracking-id',
      },
    ],
    [
      'Argo CD annotation+label mode: the annotation decides',
      deployment('web', 'shop', {
        labels: { 'app.kubernetes.io/instance': 'web-label' },
        annotations: { 'argocd.argoproj.io/tracking-id': 'web:apps/Deployment:shop/web' },
      }),
      LABEL_MODE,
      {
        controller: 'ArgoCD',
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        namespace: 'argocd',
        name: 'web',
        via: 'annotation argocd.argoproj.io/tracking-id',
      },
    ],
    [
      'a tracking id written for another object (copied with its annotations) is not Argo CD’s',
      deployment('web-copy', 'shop', {
        annotations: { 'argocd.argoproj.io/tracking-id': 'web:apps/Deployment:shop/web' },
      }),
      DEFAULTS,
      undefined,
    ],
    [
      'a malformed tracking id counts for nothing',
      deployment('web', 'shop', { annotations: { 'argocd.argoproj.io/tracking-id': 'web' } }),
      DEFAULTS,
      undefined,
    ],
    [
      'Argo CD 2.x label mode, when the operator is told Argo CD tracks by label',
      deployment('guestbook-ui', 'default', {
        labels: { 'app.kubernetes.io/instance': 'guestbook' },
      }),
      LABEL_MODE,
      {
        controller: 'ArgoCD',
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        namespace: 'argocd',
        name: 'guestbook',
        via: 'label app.kubernetes.io/instance',
      },
    ],
    [
      'the same label without that setting: not taken for Argo CD',
      deployment('guestbook-ui', 'default', { labels: { 'app.kubernetes.io/instance': 'guestbook' } }),
      DEFAULTS,
      undefined,
    ],
    [
      'a Helm-only object (Helm sets app.kubernetes.io/instance too): not Argo CD',
      deployment('my-redis-master', 'cache', { labels: HELM_LABELS, annotations: HELM_ANNOTATIONS }),
      DEFAULTS,
      undefined,
    ],
    [
      'Flux Kustomization',
      deployment('podinfo', 'apps', {
        labels: {
          'kustomize.toolkit.fluxcd.io/name': 'apps',
          'kustomize.toolkit.fluxcd.io/namespace': 'flux-system',
        },
      }),
      DEFAULTS,
      {
        controller: 'Flux',
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        namespace: 'flux-system',
        name: 'apps',
        via: 'label kustomize.toolkit.fluxcd.io/name',
      },
    ],
    [
      'Flux HelmRelease (Helm labels too, even with Argo label mode on): the HelmRelease',
      deployment('podinfo', 'podinfo', {
        labels: {
          ...HELM_LABELS,
          'app.kubernetes.io/instance': 'podinfo',
          'helm.toolkit.fluxcd.io/name': 'podinfo',
          'helm.toolkit.fluxcd.io/namespace': 'podinfo',
        },
        annotations: { 'meta.helm.sh/release-name': 'podinfo', 'meta.helm.sh/release-namespace': 'podinfo' },
      }),
      LABEL_MODE,
      {
        controller: 'Flux',
        apiVersion: 'helm.toolkit.fluxcd.io/v2',
        kind: 'HelmRelease',
        namespace: 'podinfo',
        name: 'podinfo',
        via: 'label helm.toolkit.fluxcd.io/name',
      },
    ],
    [
      'Flux label without its namespace label: not enough to name the owner',
      deployment('web', 'shop', { labels: { 'kustomize.toolkit.fluxcd.io/name': 'apps' } }),
      DEFAULTS,
      undefined,
    ],
    ['nothing at all', deployment('web', 'shop', {}), DEFAULTS, undefined],
  ];
  it.each(rows)('%s', (_name, target, opts, want) => {
    expect(detectOwner(target, opts)).toEqual(want);
  });

  it('reads a core kind’s tracking id (empty group)', () => {
    expect(
      detectOwner(
        {
          apiVersion: 'v1',
          kind: 'Service',
          namespace: 'default',
          name: 'guestbook-ui',
          annotations: { 'argocd.argoproj.io/tracking-id': 'guestbook:/Service:default/guestbook-ui' },
        },
        DEFAULTS,
      )?.name,
    ).toBe('guestbook');
  });
});

describe('parseTrackingId', () => {
  it.each([
    [
      'guestbook:apps/Deployment:default/guestbook-ui',
      { app: 'guestbook', group: 'apps', kind: 'Deployment', namespace: 'default', name: 'guestbook-ui' },
    ],
    [
      'app:rbac.authorization.k8s.io/ClusterRole:/reader',
      { app: 'app', group: 'rbac.authorization.k8s.io', kind: 'ClusterRole', namespace: '', name: 'reader' },
    ],
    ['nope', undefined],
    ['a:b:c', undefined],
  ])('%s', (id, want) => expect(parseTrackingId(id)).toEqual(want));
});

describe('gitopsWouldRevert', () => {
  it.each([
    ['scale', 'ArgoCD', true],
    ['setEnv', 'Flux', true],
    ['patch', 'ArgoCD', true],
    ['rolloutUndo', 'Flux', true],
    // An annotation Git does not declare: Argo CD leaves it, Flux's apply strips it.
    ['rolloutRestart', 'ArgoCD', false],
    ['rolloutRestart', 'Flux', true],
    ['deletePod', 'ArgoCD', false],
    ['notify', 'Flux', false],
    ['waitForRollout', 'ArgoCD', false],
  ] as const)('%s under %s: %s', (action, controller, want) => {
    expect(gitopsWouldRevert(action, controller)).toBe(want);
  });
});

describe('comparable', () => {
  it('drops the list index that only a read records', () => {
    expect(comparable({ containers: { web: { MODE: { value: 'x', index: 2 } } } })).toEqual({
      containers: { web: { MODE: { value: 'x' } } },
    });
  });
});

describe('Runbook validation of the GitOps settings', () => {
  const spec = (over: Partial<RunbookSpec>): RunbookSpec => ({ ...aRunbook().spec, ...over });
  it.each<[string, Partial<RunbookSpec>, string]>([
    ['an unknown policy', { gitops: { policy: 'Ignore' as 'Refuse' } }, 'gitops.policy'],
    [
      'a maxPause that is not a duration',
      { gitops: { policy: 'Pause', maxPause: 'soon' } },
      'gitops.maxPause',
    ],
    [
      'the controller-only gitopsPause step',
      {
        steps: [
          aStep({
            action: 'gitopsPause',
            rolloutRestart: undefined,
            gitopsPause: { controller: 'ArgoCD', maxPause: '1m' },
          }),
        ],
      },
      'gitopsPause is added by the controller',
    ],
  ])('%s: the problem names the field', (_n, over, want) => {
    expect(validateRunbook(spec(over), 'shop').join('\n')).toContain(want);
  });
  it('valid settings pass', () => {
    expect(validateRunbook(spec({ gitops: { policy: 'Pause', maxPause: '10m' } }), 'shop')).toEqual([]);
  });
});
