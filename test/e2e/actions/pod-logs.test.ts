/**
 * podLogs against the real control plane: the API server's `pods/log`, proxied to the fake
 * kubelet's log endpoint (a real HTTP hop, as to a kubelet), for the pods of real workloads.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { startFakeKubelet, type FakeKubelet, type ServedLog } from '../../../tools/cluster/fake-kubelet.js';
import { makeClients } from '../../../src/kube/client.js';
import type { PodRecord } from '../../../src/actions/checks/pod-logs.js';
import {
  createDeployment,
  createNamespace,
  deleteNamespace,
  kubectl,
  testClients,
  testKubeConfig,
  waitDeploymentReady,
  waitFor,
} from '../../support/kube.js';
import { actionCtx, runStep } from './helpers.js';

interface LogsOutput {
  pods: PodRecord[];
  podCount?: number;
  truncated?: boolean;
}

const outputOf = (outcome: unknown): LogsOutput => (outcome as { output: LogsOutput }).output;

/** A backend's log: a request per line, every third one a 503, one with a password in a URL. */
function backendLog(pod: string): ServedLog {
  const lines = Array.from({ length: 30 }, (_, i) =>
    i % 3 === 2 ? `${pod} GET /api/${i} 503 upstream timeout` : `${pod} GET /api/${i} 200`,
  );
  lines.push(`${pod} connecting to postgres://app:hunter2@db:5432/app`);
  return { lines, previous: [`${pod} panic: out of memory`] };
}

describe('podLogs', () => {
  let ns: string;
  let kubelet: FakeKubelet;

  beforeAll(async () => {
    ns = await createNamespace('act-logs');
    kubelet = startFakeKubelet(testKubeConfig(), { namespace: ns });
    await kubelet.serveLogs(ns, 'web-', (pod, container) =>
      container === 'main' ? backendLog(pod) : undefined,
    );
    await kubelet.serveLogs(ns, 'quiet-', () => ({ lines: [] }));
    await kubelet.serveLogs(ns, 'chatty-', (pod) => ({
      lines: Array.from({ length: 1000 }, (_, i) => `${pod} line ${i} ${'x'.repeat(80)}`),
    }));
    await createDeployment(ns, 'web', { replicas: 3 });
    await createDeployment(ns, 'chatty', { replicas: 1 });
    await waitDeploymentReady(ns, 'web');
    await waitDeploymentReady(ns, 'chatty');
    // The pods whose logs are served are bound to the fake kubelet's node, as by a scheduler.
    await waitFor(
      async () =>
        (await testClients().core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' })).items.every(
          (p) => p.spec?.nodeName,
        ),
      { what: 'web pods bound' },
    );
  });
  afterAll(async () => {
    await kubelet.stopLogs();
    kubelet.stop();
    await deleteNamespace(ns);
  });

  const webPods = async () =>
    (await testClients().core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' })).items
      .map((p) => p.metadata!.name!)
      .sort();

  it('the API server serves these logs as on any cluster: kubectl logs reads them', async () => {
    const [pod] = await webPods();
    const res = await kubectl(['logs', `pod/${pod}`, '--tail=2'], { namespace: ns });
    expect(res.stdout.split('\n')).toEqual([
      `${pod} GET /api/29 503 upstream timeout`,
      `${pod} connecting to postgres://app:hunter2@db:5432/app`,
    ]);
  });

  it('reads the matching lines of each pod of a Deployment into the output, masked', async () => {
    const { outcome } = await runStep(
      actionCtx({
        namespace: ns,
        step: { action: 'podLogs', podLogs: { match: '\\b503\\b|postgres', tailLines: 100, maxPods: 3 } },
        target: { kind: 'Deployment', name: 'web' },
      }),
    );
    expect(outcome).toMatchObject({
      kind: 'done',
      message: `logs of Deployment/${ns}/web: 33 line(s) matching /\\b503\\b|postgres/ from 3 of 3 pod(s)`,
    });
    const pods = outputOf(outcome).pods;
    expect(pods.map((p) => p.name).sort()).toEqual(await webPods());
    for (const p of pods) {
      expect(p).toMatchObject({ container: 'main', matched: 11 });
      expect(p.lines).toHaveLength(11);
      expect(p.lines![0]).toBe(`${p.name} GET /api/2 503 upstream timeout`);
      // the password in the URL is masked before it is recorded
      expect(p.lines![10]).toBe(`${p.name} connecting to postgres://app:***@db:5432/app`);
      expect(p.truncated).toBeUndefined();
    }
  });

  it('tailLines and maxPods bound what is read; the record says how many pods there were', async () => {
    const { outcome } = await runStep(
      actionCtx({
        namespace: ns,
        step: { action: 'podLogs', podLogs: { tailLines: 4, maxPods: 2 } },
        target: { kind: 'Deployment', name: 'web' },
      }),
    );
    const output = outputOf(outcome);
    expect(output).toMatchObject({ podCount: 3, truncated: true });
    expect(output.pods).toHaveLength(2);
    for (const p of output.pods) expect(p.lines).toHaveLength(4);
  });

  it('maxBytes keeps the newest lines and marks the cut', async () => {
    const { outcome } = await runStep(
      actionCtx({
        namespace: ns,
        step: { action: 'podLogs', podLogs: { tailLines: 1000, maxBytes: 1024 } },
        target: { kind: 'Deployment', name: 'chatty' },
      }),
    );
    const [pod] = outputOf(outcome).pods;
    expect(pod!.truncated).toBe(true);
    expect(pod!.lines!.at(-1)).toMatch(/ line 999 x+$/);
    expect(Buffer.byteLength(JSON.stringify(pod!.lines))).toBeLessThanOrEqual(1024);
  });

  it('previous: the last run of a crashed container; a pod with none is recorded with the error', async () => {
    const [pod] = await webPods();
    const { outcome } = await runStep(
      actionCtx({
        namespace: ns,
        step: { action: 'podLogs', podLogs: { previous: true } },
        target: { kind: 'Pod', name: pod! },
      }),
    );
    expect(outputOf(outcome).pods).toEqual([
      { name: pod, container: 'main', lines: [`${pod} panic: out of memory`] },
    ]);

    await createDeployment(ns, 'quiet', { replicas: 1 });
    await waitDeploymentReady(ns, 'quiet');
    const quiet = await runStep(
      actionCtx({
        namespace: ns,
        step: { action: 'podLogs', podLogs: { previous: true } },
        target: { kind: 'Deployment', name: 'quiet' },
      }),
    );
    // A diagnostic does not stop a remediation: the step is done, the record says why nothing was read.
    expect(quiet.outcome).toMatchObject({
      kind: 'done',
      message: expect.stringMatching(/from 0 of 1 pod\(s\); not read: quiet-/),
    });
    const [rec] = outputOf(quiet.outcome).pods;
    expect(rec!.error).toMatch(/previous terminated container "main" in pod "quiet-.*" not found/);
  });

  it('a container the pod does not have is recorded, not read', async () => {
    const { outcome } = await runStep(
      actionCtx({
        namespace: ns,
        step: { action: 'podLogs', podLogs: { container: 'sidecar', maxPods: 1 } },
        target: { kind: 'Deployment', name: 'web' },
      }),
    );
    expect(outputOf(outcome).pods[0]).toMatchObject({
      error: 'no container "sidecar" (it has main)',
    });
  });

  it('a kind without pods, or a target that is gone, fails the step and reads nothing', async () => {
    expect(
      (
        await runStep(
          actionCtx({ namespace: ns, step: { action: 'podLogs' }, target: { kind: 'ConfigMap', name: 'x' } }),
        )
      ).outcome,
    ).toMatchObject({ kind: 'failed', reason: 'UnsupportedKind', retryable: false });
    expect(
      (
        await runStep(
          actionCtx({
            namespace: ns,
            step: { action: 'podLogs' },
            target: { kind: 'Deployment', name: 'gone' },
          }),
        )
      ).outcome,
    ).toMatchObject({ kind: 'failed', reason: 'NotFound' });
  });

  it('without RBAC for pods/log the step fails and says what to grant', async () => {
    // A service account that may read the workload and list its pods, but not their logs.
    const core = testClients().core;
    const rbac = testKubeConfig().makeApiClient(k8s.RbacAuthorizationV1Api);
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: 'no-logs' } } });
    await rbac.createNamespacedRole({
      namespace: ns,
      body: {
        metadata: { name: 'no-logs' },
        rules: [
          { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get'] },
          { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
        ],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'no-logs' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'no-logs' },
        subjects: [{ kind: 'ServiceAccount', name: 'no-logs', namespace: ns }],
      },
    });
    const token = await waitFor(async () => {
      const sa = await core.readNamespacedServiceAccount({ name: 'no-logs', namespace: ns });
      const secret = sa.secrets?.[0]?.name;
      if (!secret) return undefined;
      const data = (await core.readNamespacedSecret({ name: secret, namespace: ns })).data?.token;
      return data ? Buffer.from(data, 'base64').toString('utf8') : undefined;
    });
    const kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: testKubeConfig().getCurrentCluster()!.server, skipTLSVerify: true }],
      users: [{ name: 'u', token }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u', namespace: ns }],
      currentContext: 'x',
    });
    const ctx = {
      ...actionCtx({
        namespace: ns,
        step: { action: 'podLogs' },
        target: { kind: 'Deployment', name: 'web' },
      }),
      clients: makeClients(kc),
    };
    expect((await runStep(ctx)).outcome).toMatchObject({
      kind: 'failed',
      reason: 'Forbidden',
      retryable: false,
      // A ServiceAccount refused: the message names it, the verb, the resource and the grant (ADR 0023).
      message: expect.stringMatching(/no-logs.*may not get pods\/log.*grant it/),
    });
  });
});
