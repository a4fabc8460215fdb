/**
 * The GitOps pause is a step with a checkpoint like any other: the operator, as a separate
 * process, is SIGKILLed right after the pause's checkpoint or right after the pause landed (and
 * once more in the middle of the revert), restarted, and the Application still ends with
 * exactly the self-heal it had before, with no pause left behind. Argo CD's Application CRD is
 * the stand-in from test/fixtures/gitops; no self-heal loop is needed here.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { ANNOTATIONS } from '../../../src/api/v1alpha1/constants.js';
import type { Remediation } from '../../../src/api/v1alpha1/schema.js';
import { PAUSE_ANNOTATIONS } from '../../../src/actions/kubernetes/gitops-pause.js';
import { remediations } from '../../../src/kube/resources.js';
import { freePort } from '../../../tools/cluster/cluster.js';
import { REPO_ROOT } from '../../../tools/cluster/crds.js';
import { createDeployment, createNamespace, kubectl, testClients, waitFor } from '../../support/kube.js';
import { startOperator, type OperatorProcess } from '../../support/operator.js';

const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'gitops');
const ARGO = { group: 'argoproj.io', version: 'v1alpha1', plural: 'applications' };

let ns: string;
let argoNs: string;
const procs: OperatorProcess[] = [];

type App = {
  metadata: { annotations?: Record<string, string> };
  spec: { syncPolicy: { automated: { selfHeal?: boolean } } };
};
const app = async (name: string): Promise<App> =>
  (await testClients().custom.getNamespacedCustomObject({ ...ARGO, namespace: argoNs, name })) as App;
const rems = () => remediations(testClients());

async function operator(extra: Record<string, string> = {}): Promise<OperatorProcess> {
  const proc = startOperator({
    env: {
      KR_WATCH_NAMESPACE: ns,
      KR_LEADER_ELECTION: 'false',
      KR_WEBHOOK_ENABLED: 'false',
      KR_PROBES_HOST: '127.0.0.1',
      KR_PROBES_PORT: String(await freePort()),
      KR_GITOPS_DEFAULT_POLICY: 'Pause',
      KR_GITOPS_ARGOCD_NAMESPACE: argoNs,
      ...extra,
    },
  });
  procs.push(proc);
  return proc;
}

async function waitPhase(name: string, phase: string): Promise<Remediation> {
  return waitFor(
    async () => {
      const r = await rems().get(ns, name);
      return r.status?.phase === phase ? r : undefined;
    },
    { timeoutMs: 60_000, what: `remediation ${name} in phase ${phase}` },
  );
}

async function apply(obj: unknown): Promise<void> {
  const res = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(obj) });
  if (res.exitCode !== 0) throw new Error(res.stderr);
}

async function setUp(name: string): Promise<void> {
  await createDeployment(ns, name, { replicas: 1 });
  await kubectl(
    ['annotate', 'deployment', name, `argocd.argoproj.io/tracking-id=${name}:apps/Deployment:${ns}/${name}`],
    {
      namespace: ns,
    },
  );
  await apply({
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: { name, namespace: argoNs },
    spec: { project: 'default', syncPolicy: { automated: { prune: false, selfHeal: true } } },
  });
  await apply({
    apiVersion: 'kube-remediator.io/v1alpha1',
    kind: 'Runbook',
    metadata: { name, namespace: ns },
    spec: {
      target: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      steps: [{ name: 'scale-up', action: 'scale', scale: { replicas: 3 }, revertOnResolve: true }],
    },
  });
}

beforeAll(async () => {
  expect((await kubectl(['apply', '-f', FIXTURES])).exitCode).toBe(0);
  expect(
    (await kubectl(['wait', '--for=condition=established', '--timeout=60s', '-f', FIXTURES])).exitCode,
  ).toBe(0);
  [ns, argoNs] = await Promise.all([createNamespace('gitops-crash'), createNamespace('argocd-crash')]);
}, 120_000);

afterAll(async () => {
  for (const p of procs) {
    p.kill('SIGKILL');
    await p.exited;
  }
});

describe('the pause across SIGKILL and restart', () => {
  it.each([
    ['after the pause was checkpointed', 'after-checkpoint', 'crash-cp'],
    ['after the pause landed, before it was recorded', 'after-apply', 'crash-apply'],
  ])('SIGKILLed %s: paused once, restored to the exact prior value', async (_when, failpoint, name) => {
    await setUp(name);
    const first = await operator({ KR_FAILPOINTS: failpoint });
    await apply({
      apiVersion: 'kube-remediator.io/v1alpha1',
      kind: 'Remediation',
      metadata: { name, namespace: ns },
      spec: { runbookRef: { name }, alert: { name: 'ShopDown', status: 'firing' } },
    });
    await first.exited;
    const mid = await rems().get(ns, name);
    expect(mid.status?.steps?.[0]).toMatchObject({ action: 'gitopsPause', phase: 'Running' });
    expect((await app(name)).spec.syncPolicy.automated.selfHeal).toBe(failpoint === 'after-checkpoint');

    await operator();
    const done = await waitPhase(name, 'Succeeded');
    expect(done.status?.steps?.map((s) => [s.action, s.phase, s.attempt])).toEqual([
      ['gitopsPause', 'Succeeded', 1],
      ['scale', 'Succeeded', 1],
    ]);
    expect(done.status?.steps?.[0]?.before).toMatchObject({ prior: { value: true } });
    const paused = await app(name);
    expect(paused.spec.syncPolicy.automated.selfHeal).toBe(false);
    expect(paused.metadata.annotations?.[PAUSE_ANNOTATIONS.holders]).toBe(done.metadata.uid);

    // Once more, in the middle of the revert: killed after the scale was reverted.
    for (const p of procs.splice(0)) {
      p.kill('SIGKILL');
      await p.exited;
    }
    const third = await operator({ KR_FAILPOINTS: 'after-apply' });
    await rems().patch(ns, name, { metadata: { annotations: { [ANNOTATIONS.revert]: 'true' } } });
    await third.exited;
    await operator();
    const reverted = await waitPhase(name, 'Reverted');
    expect(reverted.status?.steps?.map((s) => s.phase)).toEqual(['Reverted', 'Reverted']);
    const restored = await app(name);
    expect(restored.spec.syncPolicy.automated.selfHeal).toBe(true);
    expect(restored.metadata.annotations?.[PAUSE_ANNOTATIONS.holders]).toBeUndefined();
    expect(restored.metadata.annotations?.[PAUSE_ANNOTATIONS.prior]).toBeUndefined();
    for (const p of procs.splice(0)) {
      p.kill('SIGTERM');
      await p.exited;
    }
  });
});
