/**
 * GitOps-aware remediation on the real control plane: the Argo CD and Flux CRDs installed from
 * test/fixtures/gitops (stand-ins of the real manifests: same group, version, kind, open spec),
 * and a stand-in self-heal loop that puts Git's replica count back while the owner's self-heal
 * is on, as Argo CD's (selfHeal) and Flux's (not suspended) controllers would.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ANNOTATIONS, CONDITION_TYPES, REASONS } from '../../../src/api/v1alpha1/constants.js';
import type { Remediation, RunbookSpec } from '../../../src/api/v1alpha1/schema.js';
import { PAUSE_ANNOTATIONS } from '../../../src/actions/kubernetes/gitops-pause.js';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';
import { PATCH } from '../../../src/kube/client.js';
import { createDeployment, createNamespace, kubectl, testClients, waitFor } from '../../support/kube.js';
import {
  annotate,
  createRemediation,
  createRunbook,
  harness,
  reconcileUntilStable,
  type Harness,
} from './helpers.js';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'gitops');
const ARGO = { group: 'argoproj.io', version: 'v1alpha1', plural: 'applications' };
const KS = { group: 'kustomize.toolkit.fluxcd.io', version: 'v1', plural: 'kustomizations' };
const HR = { group: 'helm.toolkit.fluxcd.io', version: 'v2', plural: 'helmreleases' };

let ns: string;
let argoNs: string;
let fluxNs: string;
let h: Harness;

type Obj = { metadata: { annotations?: Record<string, string> }; spec: Record<string, unknown> };
const custom = () => testClients().custom;
const getOwner = async (
  kind: typeof ARGO | typeof KS | typeof HR,
  namespace: string,
  name: string,
): Promise<Obj> => (await custom().getNamespacedCustomObject({ ...kind, namespace, name })) as Obj;
const selfHeal = async (app: string): Promise<unknown> =>
  ((await getOwner(ARGO, argoNs, app)).spec.syncPolicy as { automated?: { selfHeal?: unknown } }).automated
    ?.selfHeal;
const replicas = async (name: string): Promise<number | undefined> =>
  (await testClients().apps.readNamespacedDeployment({ name, namespace: ns })).spec?.replicas;

/**
 * Stand-in for the GitOps controllers' self-heal (nothing real can run here): while the owner
 * lets it (Application selfHeal true, Kustomization not suspended), it puts Git's replica count
 * back on each Deployment it deploys, a few times a second. `rounds` counts its passes, so a
 * test can say "it looked N times and left the change alone" without sleeping on a clock.
 */
class StandInSelfHeal {
  rounds = 0;
  private stopped = false;
  private readonly loop: Promise<void>;
  readonly git = new Map<string, { owner: 'argo' | 'flux'; ownerName: string; replicas: number }>();
  constructor() {
    this.loop = this.run();
  }
  private async run(): Promise<void> {
    while (!this.stopped) {
      for (const [deployment, g] of this.git) {
        try {
          const on =
            g.owner === 'argo'
              ? (await selfHeal(g.ownerName)) === true
              : (await getOwner(KS, fluxNs, g.ownerName)).spec.suspend !== true;
          if (on && (await replicas(deployment)) !== g.replicas)
            await testClients().apps.patchNamespacedDeploymentScale(
              {
                name: deployment,
                namespace: ns,
                body: { spec: { replicas: g.replicas } },
                fieldManager: 'stand-in-gitops-controller',
              },
              PATCH.merge,
            );
        } catch {
          // An object being created or deleted: next round.
        }
      }
      this.rounds++;
      await sleep(100);
    }
  }
  async waitRounds(n: number): Promise<void> {
    const target = this.rounds + n;
    await waitFor(() => Promise.resolve(this.rounds >= target), {
      what: `${n} self-heal rounds`,
      timeoutMs: 30_000,
    });
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}
let selfHealLoop: StandInSelfHeal;

async function argoDeployment(name: string, app: string, opts: { createApp?: boolean } = {}): Promise<void> {
  await createDeployment(ns, name, { replicas: 1 });
  await kubectl(
    ['annotate', 'deployment', name, `argocd.argoproj.io/tracking-id=${app}:apps/Deployment:${ns}/${name}`],
    {
      namespace: ns,
    },
  );
  if (opts.createApp !== false)
    await custom().createNamespacedCustomObject({
      ...ARGO,
      namespace: argoNs,
      body: {
        apiVersion: 'argoproj.io/v1alpha1',
        kind: 'Application',
        metadata: { name: app, namespace: argoNs },
        spec: {
          project: 'default',
          source: { repoURL: 'https://git.example/shop.git', path: 'deploy', targetRevision: 'main' },
          destination: { server: 'https://kubernetes.default.svc', namespace: ns },
          syncPolicy: { automated: { prune: true, selfHeal: true } },
        },
      },
    });
  selfHealLoop.git.set(name, { owner: 'argo', ownerName: app, replicas: 1 });
}

async function fluxDeployment(name: string, ks: string): Promise<void> {
  await createDeployment(ns, name, { replicas: 1 });
  await kubectl(
    [
      'label',
      'deployment',
      name,
      `kustomize.toolkit.fluxcd.io/name=${ks}`,
      `kustomize.toolkit.fluxcd.io/namespace=${fluxNs}`,
    ],
    { namespace: ns },
  );
  await custom().createNamespacedCustomObject({
    ...KS,
    namespace: fluxNs,
    body: {
      apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
      kind: 'Kustomization',
      metadata: { name: ks, namespace: fluxNs },
      spec: {
        interval: '10m',
        path: './deploy',
        prune: true,
        sourceRef: { kind: 'GitRepository', name: 'shop' },
      },
    },
  });
  selfHealLoop.git.set(name, { owner: 'flux', ownerName: ks, replicas: 1 });
}

const SCALE_UP = {
  name: 'scale-up',
  action: 'scale',
  scale: { replicas: 3 },
  revertOnResolve: true,
} as const;

async function run(
  name: string,
  deployment: string,
  spec: Partial<RunbookSpec>,
  until?: (r: Remediation) => boolean,
): Promise<Remediation> {
  await createRunbook(ns, name, {
    target: { apiVersion: 'apps/v1', kind: 'Deployment', name: deployment },
    steps: [SCALE_UP],
    ...spec,
  });
  await createRemediation(ns, name, { runbookRef: { name }, alert: { name: 'ShopDown', status: 'firing' } });
  return reconcileUntilStable(h, { namespace: ns, name }, until);
}

const condition = (r: Remediation, type: string) => r.status?.conditions?.find((c) => c.type === type);

beforeAll(async () => {
  const res = await kubectl(['apply', '-f', FIXTURES]);
  expect(res.exitCode).toBe(0);
  const est = await kubectl(['wait', '--for=condition=established', '--timeout=60s', '-f', FIXTURES]);
  expect(est.exitCode).toBe(0);
  [ns, argoNs, fluxNs] = await Promise.all([
    createNamespace('gitops'),
    createNamespace('argocd'),
    createNamespace('flux'),
  ]);
  h = harness({
    gitops: {
      defaultPolicy: 'Refuse',
      defaultMaxPause: '30m',
      argocdNamespace: argoNs,
      argocdTrackingLabel: '',
      driftCheckInterval: '300ms',
      driftWatch: '2m',
    },
  });
  selfHealLoop = new StandInSelfHeal();
}, 120_000);

afterAll(async () => {
  await selfHealLoop?.stop();
});

describe('GitOps-deployed targets', () => {
  it('Refuse (the default): changes nothing, ends Skipped, says who deploys the target', async () => {
    await argoDeployment('refused', 'shop-refused');
    const rem = await run('refuse', 'refused', {});
    expect(rem.status?.phase).toBe('Skipped');
    expect(condition(rem, CONDITION_TYPES.succeeded)).toMatchObject({
      status: 'False',
      reason: REASONS.gitopsManaged,
    });
    expect(rem.status?.gitops?.owners).toEqual([
      expect.objectContaining({
        controller: 'ArgoCD',
        kind: 'Application',
        namespace: argoNs,
        name: 'shop-refused',
      }),
    ]);
    expect(rem.status?.steps?.every((s) => s.phase === 'Pending')).toBe(true);
    expect(await replicas('refused')).toBe(1);
    expect(h.events.events.some((e) => e.reason === 'GitOpsManaged' && e.type === 'Warning')).toBe(true);
  });

  it('Pause: self-heal paused for the change, which stays; the revert restores the exact prior value last', async () => {
    await argoDeployment('paused', 'shop-paused');
    const rem = await run('pause', 'paused', { gitops: { policy: 'Pause' } });
    expect(rem.status?.phase).toBe('Succeeded');
    expect(rem.status?.steps?.map((s) => [s.name, s.phase])).toEqual([
      ['gitops-pause', 'Succeeded'],
      ['scale-up', 'Succeeded'],
    ]);
    expect(rem.status?.steps?.[0]?.before).toEqual({
      path: '/spec/syncPolicy/automated/selfHeal',
      prior: { value: true },
      holders: [],
    });
    expect(condition(rem, CONDITION_TYPES.gitopsPaused)?.status).toBe('True');
    expect(await selfHeal('shop-paused')).toBe(false);
    // The stand-in self-heal looks several times and leaves the change alone.
    await selfHealLoop.waitRounds(5);
    expect(await replicas('paused')).toBe(3);

    await annotate(ns, 'pause', { [ANNOTATIONS.revert]: 'true' });
    const reverted = await reconcileUntilStable(
      h,
      { namespace: ns, name: 'pause' },
      (r) => r.status?.phase === 'Reverted',
    );
    expect(reverted.status?.steps?.map((s) => s.phase)).toEqual(['Reverted', 'Reverted']);
    expect(await selfHeal('shop-paused')).toBe(true);
    const app = await getOwner(ARGO, argoNs, 'shop-paused');
    expect(app.metadata.annotations?.[PAUSE_ANNOTATIONS.holders]).toBeUndefined();
    expect(app.metadata.annotations?.[PAUSE_ANNOTATIONS.prior]).toBeUndefined();
    expect(await replicas('paused')).toBe(1);
    expect(condition(reverted, CONDITION_TYPES.gitopsPaused)).toMatchObject({
      status: 'False',
      reason: REASONS.gitopsRestored,
    });
  });

  it('Pause under Flux: a failed run restores the Kustomization (suspend was not set: removed again)', async () => {
    await fluxDeployment('flux-fail', 'apps-fail');
    const rem = await run(
      'flux-fail',
      'flux-fail',
      {
        gitops: { policy: 'Pause' },
        safety: { bounds: { maxReplicas: 5 } },
        steps: [
          { name: 'scale-up', action: 'scale', scale: { replicas: 2 } },
          { name: 'too-far', action: 'scale', scale: { replicas: 50 } },
        ],
      },
      (r) => r.status?.steps?.[0]?.phase === 'Reverted',
    );
    expect(rem.status?.phase).toBe('Failed');
    expect(rem.status?.steps?.[0]?.before).toEqual({
      path: '/spec/suspend',
      prior: { absent: true },
      holders: [],
    });
    const ks = await getOwner(KS, fluxNs, 'apps-fail');
    expect('suspend' in ks.spec).toBe(false);
    expect(ks.metadata.annotations?.[PAUSE_ANNOTATIONS.holders]).toBeUndefined();
  });

  it('Pause under a Flux HelmRelease: the alert resolving restores suspend to exactly false', async () => {
    await createDeployment(ns, 'podinfo', { replicas: 1 });
    await kubectl(
      [
        'label',
        'deployment',
        'podinfo',
        'app.kubernetes.io/managed-by=Helm',
        'app.kubernetes.io/instance=podinfo',
        'helm.toolkit.fluxcd.io/name=podinfo',
        `helm.toolkit.fluxcd.io/namespace=${fluxNs}`,
      ],
      { namespace: ns },
    );
    await custom().createNamespacedCustomObject({
      ...HR,
      namespace: fluxNs,
      body: {
        apiVersion: 'helm.toolkit.fluxcd.io/v2',
        kind: 'HelmRelease',
        metadata: { name: 'podinfo', namespace: fluxNs },
        spec: { interval: '5m', suspend: false, chart: { spec: { chart: 'podinfo', version: '6.5.4' } } },
      },
    });
    const rem = await run('helmrelease', 'podinfo', { gitops: { policy: 'Pause' } });
    expect(rem.status?.gitops?.owners?.[0]).toMatchObject({
      controller: 'Flux',
      kind: 'HelmRelease',
      name: 'podinfo',
    });
    expect((await getOwner(HR, fluxNs, 'podinfo')).spec.suspend).toBe(true);
    await testClients().custom.patchNamespacedCustomObject(
      {
        group: 'kube-remediator.io',
        version: 'v1alpha1',
        plural: 'remediations',
        namespace: ns,
        name: 'helmrelease',
        body: { spec: { alert: { name: 'ShopDown', status: 'resolved' } } },
      },
      PATCH.merge,
    );
    const reverted = await reconcileUntilStable(
      h,
      { namespace: ns, name: 'helmrelease' },
      (r) => r.status?.phase === 'Reverted',
    );
    expect(reverted.status?.steps?.map((s) => s.phase)).toEqual(['Reverted', 'Reverted']);
    expect((await getOwner(HR, fluxNs, 'podinfo')).spec.suspend).toBe(false);
  });

  it('after maxPause the owner is restored anyway, the person is told, and the change put back is reported as drift', async () => {
    await argoDeployment('short', 'shop-short');
    const rem = await run(
      'short',
      'short',
      { gitops: { policy: 'Pause', maxPause: '2s' } },
      (r) => condition(r, CONDITION_TYPES.drifted)?.status === 'True',
    );
    expect(rem.status?.phase).toBe('Succeeded');
    expect(rem.status?.steps?.[0]?.phase).toBe('Reverted');
    expect(rem.status?.steps?.[0]?.message).toMatch(/restored spec.syncPolicy.automated.selfHeal=true/);
    expect(await selfHeal('shop-short')).toBe(true);
    expect(h.events.events.some((e) => e.type === 'Warning' && /maxPause/.test(e.message))).toBe(true);
    expect(condition(rem, CONDITION_TYPES.drifted)).toMatchObject({ reason: REASONS.changedBack });
    expect(rem.status?.gitops?.drift).toEqual([
      expect.objectContaining({ step: 'scale-up', expected: { replicas: 3 }, found: { replicas: 1 } }),
    ]);
    expect(h.events.events.some((e) => e.reason === 'Drifted')).toBe(true);
    const metric = await h.metrics.gitopsDrift.get();
    expect(metric.values.find((v) => v.labels.runbook === 'short')?.value).toBe(1);
  });

  it('Coexist: changes it as kube-remediator; when self-heal puts it back, the Remediation says so', async () => {
    await argoDeployment('coexist', 'shop-coexist');
    const rem = await run(
      'coexist',
      'coexist',
      { gitops: { policy: 'Coexist' } },
      (r) => condition(r, CONDITION_TYPES.drifted)?.status === 'True',
    );
    expect(rem.status?.steps?.map((s) => s.action)).toEqual(['scale']);
    expect(rem.status?.gitops?.policy).toBe('Coexist');
    expect(rem.status?.message).toMatch(/did not stay/);
  });

  it('two remediations share one pause: it ends only when the last one lets go', async () => {
    await argoDeployment('api', 'shop-shared');
    await argoDeployment('web', 'shop-shared', { createApp: false });
    await run('shared-api', 'api', { gitops: { policy: 'Pause' } });
    await run('shared-web', 'web', { gitops: { policy: 'Pause' } });
    const app = await getOwner(ARGO, argoNs, 'shop-shared');
    expect(app.metadata.annotations?.[PAUSE_ANNOTATIONS.holders]?.split(',')).toHaveLength(2);
    await annotate(ns, 'shared-api', { [ANNOTATIONS.revert]: 'true' });
    await reconcileUntilStable(
      h,
      { namespace: ns, name: 'shared-api' },
      (r) => r.status?.phase === 'Reverted',
    );
    expect(await selfHeal('shop-shared')).toBe(false);
    await annotate(ns, 'shared-web', { [ANNOTATIONS.revert]: 'true' });
    await reconcileUntilStable(
      h,
      { namespace: ns, name: 'shared-web' },
      (r) => r.status?.phase === 'Reverted',
    );
    expect(await selfHeal('shop-shared')).toBe(true);
  });
});
