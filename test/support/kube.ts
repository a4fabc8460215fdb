/** Helpers for tests against the real control plane started by the e2e global setup. */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import * as k8s from '@kubernetes/client-node';
import { execa } from 'execa';
import { makeClients, type KubeClients } from '../../src/kube/client.js';

export function testKubeConfig(): k8s.KubeConfig {
  const path = process.env.KUBECONFIG;
  if (!path)
    throw new Error('KUBECONFIG is not set: run this test in the e2e Jest project (npm run test:e2e)');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

let clients: KubeClients | undefined;
export function testClients(): KubeClients {
  clients ??= makeClients(testKubeConfig());
  return clients;
}

export async function createNamespace(prefix = 'test'): Promise<string> {
  const name = `${prefix
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 40)}-${randomBytes(3).toString('hex')}`;
  await testClients().core.createNamespace({ body: { metadata: { name } } });
  return name;
}

export async function deleteNamespace(name: string): Promise<void> {
  try {
    await testClients().core.deleteNamespace({ name });
  } catch {
    /* already gone */
  }
}

export interface KubectlResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** The real kubectl against the test cluster. Never throws on a non-zero exit. */
export async function kubectl(
  args: string[],
  opts: { input?: string; namespace?: string } = {},
): Promise<KubectlResult> {
  const ns = opts.namespace ? ['-n', opts.namespace] : [];
  const res = await execa('kubectl', [...ns, ...args], {
    env: { KUBECONFIG: process.env.KUBECONFIG },
    input: opts.input,
    reject: false,
    timeout: 60_000,
  });
  return { stdout: res.stdout, stderr: stripSkewWarning(res.stderr), exitCode: res.exitCode ?? -1 };
}

/** kubectl 1.32 warns about the v1.20 server; that line is noise for tests. */
function stripSkewWarning(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !/version difference between client|Warning: version/.test(l))
    .join('\n')
    .trim();
}

export async function waitFor<T>(
  fn: () => Promise<T | undefined | false | null>,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false && v !== null) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out waiting for ${opts.what ?? 'condition'}${lastErr ? `: ${lastErr instanceof Error ? lastErr.message : JSON.stringify(lastErr)}` : ''}`,
      );
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

/**
 * The object once its controllers stopped writing it: its status has observed its generation
 * and the resourceVersion stayed the same for `quietMs`. A test that asserts "nothing changed"
 * by resourceVersion reads its "before" through this, so a controller's late status write (a
 * deployment's, after a scale or a new Deployment) is not taken for ours.
 */
export async function settled<
  T extends {
    metadata?: { resourceVersion?: string; generation?: number };
    status?: { observedGeneration?: number };
  },
>(read: () => Promise<T>, what: string, quietMs = 1_000): Promise<T> {
  return waitFor(
    async () => {
      const a = await read();
      if (a.status && a.status.observedGeneration !== a.metadata?.generation) return undefined;
      await sleep(quietMs);
      const b = await read();
      return a.metadata?.resourceVersion === b.metadata?.resourceVersion ? b : undefined;
    },
    { what: `${what} settled`, timeoutMs: 60_000, intervalMs: 200 },
  );
}

export interface WorkloadOptions {
  replicas?: number;
  image?: string;
  env?: k8s.V1EnvVar[];
  containers?: k8s.V1Container[];
  labels?: Record<string, string>;
  paused?: boolean;
}

function podTemplate(name: string, o: WorkloadOptions): k8s.V1PodTemplateSpec {
  const labels = { app: name, ...(o.labels ?? {}) };
  return {
    metadata: { labels },
    spec: {
      containers: o.containers ?? [
        {
          name: 'main',
          image: o.image ?? process.env.KR_TEST_IMAGE ?? 'registry.example/app:1.0',
          env: o.env,
          resources: { limits: { memory: '256Mi', cpu: '500m' }, requests: { memory: '128Mi', cpu: '100m' } },
        },
      ],
      terminationGracePeriodSeconds: 0,
    },
  };
}

export async function createDeployment(
  ns: string,
  name: string,
  o: WorkloadOptions = {},
): Promise<k8s.V1Deployment> {
  return testClients().apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name, labels: { app: name } },
      spec: {
        replicas: o.replicas ?? 2,
        paused: o.paused,
        selector: { matchLabels: { app: name } },
        template: podTemplate(name, o),
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      },
    },
  });
}

export async function createStatefulSet(
  ns: string,
  name: string,
  o: WorkloadOptions = {},
): Promise<k8s.V1StatefulSet> {
  return testClients().apps.createNamespacedStatefulSet({
    namespace: ns,
    body: {
      metadata: { name, labels: { app: name } },
      spec: {
        replicas: o.replicas ?? 2,
        serviceName: name,
        selector: { matchLabels: { app: name } },
        template: podTemplate(name, o),
        podManagementPolicy: 'Parallel',
      },
    },
  });
}

export async function createDaemonSet(
  ns: string,
  name: string,
  o: WorkloadOptions = {},
): Promise<k8s.V1DaemonSet> {
  return testClients().apps.createNamespacedDaemonSet({
    namespace: ns,
    body: {
      metadata: { name, labels: { app: name } },
      spec: { selector: { matchLabels: { app: name } }, template: podTemplate(name, o) },
    },
  });
}

/** Waits until a Deployment reports all replicas updated, ready and available. */
export async function waitDeploymentReady(
  ns: string,
  name: string,
  timeoutMs = 60_000,
): Promise<k8s.V1Deployment> {
  return waitFor(
    async () => {
      const d = await testClients().apps.readNamespacedDeployment({ name, namespace: ns });
      const want = d.spec?.replicas ?? 1;
      const s = d.status ?? {};
      const ok =
        (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0) &&
        (s.updatedReplicas ?? 0) === want &&
        (s.readyReplicas ?? 0) === want &&
        (s.availableReplicas ?? 0) === want &&
        (s.replicas ?? 0) === want;
      return ok ? d : undefined;
    },
    { timeoutMs, what: `deployment ${ns}/${name} ready` },
  );
}
